//! Two versions compared, each insertion and deletion with its author.

use std::sync::Arc;

use accord_model::authorship::{self, CharOp, Piece};
use accord_protocol::DocumentId;
use automerge::{Automerge, ChangeHash, ReadDoc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::at::{Reader, VersionQuery, read_draft, resolve};
use super::authors::{Author, Authors};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The older side: "now", a version name ("name:Rev.1" or just the
    /// name), or a time ("at:2026-05-01T12:00:00Z").
    pub from: String,
    /// The newer side, the same way ("now" when absent).
    pub to: Option<String>,
    /// "char" (default): exactly the characters typed and removed; "word":
    /// widened to whole words ([`authorship::words`]).
    pub granularity: Option<String>,
}

pub(super) fn side(spec: &str) -> VersionQuery {
    if spec == "now" || spec.is_empty() {
        VersionQuery::default()
    } else if let Some(at) = spec.strip_prefix("at:") {
        VersionQuery {
            at: Some(at.into()),
            ..Default::default()
        }
    } else if let Some(heads) = spec.strip_prefix("heads:") {
        VersionQuery {
            heads: Some(heads.into()),
            ..Default::default()
        }
    } else {
        VersionQuery {
            version: Some(spec.strip_prefix("name:").unwrap_or(spec).into()),
            ..Default::default()
        }
    }
}

/// `GET /api/v1/drafts/{id}/compare?from=…&to=…`: per element, the
/// insertions and deletions between two versions, each with its author.
pub async fn compare(
    app: &AppState,
    auth: &Auth,
    id: String,
    q: CompareQuery,
) -> Result<Value, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let by_word = match q.granularity.as_deref() {
        None | Some("char") => false,
        Some("word") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid",
                format!("granularity is \"char\" or \"word\", not {other:?}"),
            ));
        }
    };
    let from = resolve(app, &draft, &side(&q.from)).await?;
    let to = resolve(app, &draft, &side(q.to.as_deref().unwrap_or("now"))).await?;
    let (_, old) = read_draft(&Reader::Live(app), &draft, &from).await?;
    let (_, new) = read_draft(&Reader::Live(app), &draft, &to).await?;
    let authors = Arc::new(Authors::load(app).await?);
    let mut out = Vec::new();
    // Elements in the newer version's order, then any that only the older had.
    let mut order: Vec<(String, String, DocumentId)> = new
        .iter()
        .map(|e| (e.id.clone(), e.label.clone(), e.doc))
        .collect();
    for e in &old {
        if !order.iter().any(|(id, ..)| *id == e.id) {
            order.push((e.id.clone(), e.label.clone(), e.doc));
        }
    }
    for (element_id, label, doc) in order {
        let old_heads = old
            .iter()
            .find(|e| e.id == element_id)
            .map(|e| e.heads.clone());
        let new_heads = new
            .iter()
            .find(|e| e.id == element_id)
            .map(|e| e.heads.clone());
        let authors = authors.clone();
        let deleting = deleting_hashes(app, doc).await?;
        let pieces = app
            .docs
            .inspect(doc, move |d: &Automerge| {
                compare_doc(d, old_heads, new_heads, &deleting, &authors, by_word)
            })
            .await?
            .ok_or_else(|| ApiError::internal("an element document is missing"))?
            .map_err(ApiError::internal)?;
        let changed = pieces.iter().any(|p| p["op"] != "equal");
        out.push(json!({
            "id": element_id,
            "label": label,
            "in_from": old.iter().any(|e| e.id == element_id),
            "in_to": new.iter().any(|e| e.id == element_id),
            "changed": changed,
            "diff": pieces,
        }));
    }
    Ok(json!({
        "draft": draft.id,
        "from": { "label": from.label, "at": iso(from.at) },
        "to": { "label": to.label, "at": iso(to.at) },
        "elements": out,
        "server_time": iso(app.consensus.clock.now()),
    }))
}

/// The changes of a document that may remove characters.
pub(super) async fn deleting_hashes(
    app: &AppState,
    doc: DocumentId,
) -> Result<Vec<ChangeHash>, ApiError> {
    Ok(app
        .store
        .deleting_changes(&doc.to_string())
        .await?
        .into_iter()
        .filter_map(|h| ChangeHash::try_from(h.as_slice()).ok())
        .collect())
}

/// Decodes only the given changes (those that delete).
pub(super) fn changes_by_hash(d: &Automerge, hashes: &[ChangeHash]) -> Vec<automerge::Change> {
    hashes
        .iter()
        .filter_map(|h| d.get_change_by_hash(h))
        .collect()
}

pub(super) fn compare_doc(
    d: &Automerge,
    old_heads: Option<Vec<ChangeHash>>,
    new_heads: Option<Vec<ChangeHash>>,
    deleting: &[ChangeHash],
    authors: &Authors,
    by_word: bool,
) -> Result<Vec<Value>, String> {
    let text = accord_model::text_obj(d).map_err(|e| e.to_string())?;
    let chars = |heads: &Option<Vec<ChangeHash>>| -> Result<Vec<CharOp>, String> {
        match heads {
            Some(h) => authorship::char_ops(d, &text, Some(h)).map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    };
    let old = chars(&old_heads)?;
    let new = chars(&new_heads)?;
    // Who removed what: the delete operations of the changes that delete
    // (a character gone between the versions was removed by one of them).
    let deleted = authorship::deletions(&changes_by_hash(d, deleting));
    let pieces = authorship::compare(
        &old,
        &new,
        |i| deleted.get(&old[i].op).map(|del| authors.of(&del.by)),
        |i| Some(authors.of(&new[i].op.1)),
    );
    let pieces = if by_word {
        authorship::words(pieces)
    } else {
        pieces
    };
    Ok(pieces
        .into_iter()
        .map(|p| match p {
            Piece::Equal(text) => json!({ "op": "equal", "text": text }),
            Piece::Insert(text, who) => {
                let mut v = json!({ "op": "insert", "text": text });
                merge_author(&mut v, who.as_ref());
                v
            }
            Piece::Delete(text, who) => {
                let mut v = json!({ "op": "delete", "text": text });
                merge_author(&mut v, who.as_ref());
                v
            }
        })
        .collect())
}

pub(super) fn merge_author(v: &mut Value, who: Option<&Author>) {
    let author = who
        .map(Author::json)
        .unwrap_or_else(|| json!({ "user": null, "user_name": null, "entity": null }));
    if let (Some(map), Value::Object(extra)) = (v.as_object_mut(), author) {
        map.extend(extra);
    }
}
