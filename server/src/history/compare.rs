//! Two versions compared, each insertion and deletion with its author.

use std::sync::Arc;

use accord_model::authorship::{self, CharOp, Piece};
use accord_protocol::DocumentId;
use automerge::{Automerge, ChangeHash, ReadDoc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::at::{Reader, VersionPoint, VersionQuery, read_draft, resolve};
use super::authors::{Author, Authors};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// The two versions to compare. A version is `now` (or empty), `at:TIME` (a UTC time, e.g. `at:2026-05-01T12:00:00Z`), `heads:JSON` (a JSON object: document id → hex heads), `name:NAME`, or else a named version's name.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CompareQuery {
    /// The older version (required: 400 `bad_request` without it).
    #[param(example = "now")]
    pub from: String,
    /// The newer version; `now` when absent.
    pub to: Option<String>,
    /// `char` (default): exactly the characters each author typed or removed. `word`: widened to whole words — a word with any change reads as the old word deleted and the new word inserted, credited to whoever changed most of its characters; spaces and punctuation are tokens of their own; a word removed and retyped identically is unchanged.
    #[param(value_type = Option<Granularity>, inline)]
    pub granularity: Option<String>,
}

// How finely a comparison cuts the text: `char` (exactly the characters
// typed and removed) or `word` (widened to whole words, [`authorship::words`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Char,
    Word,
}

impl Granularity {
    /// The granularity `name` names (`char` or `word`).
    pub fn parse(name: &str) -> Option<Granularity> {
        use serde::de::IntoDeserializer;
        let name: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            name.into_deserializer();
        Granularity::deserialize(name).ok()
    }
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
) -> Result<Comparison, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let by_word = match q.granularity.as_deref() {
        None => false,
        Some(name) => {
            Granularity::parse(name).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid",
                    format!("granularity is \"char\" or \"word\", not {name:?}"),
                )
            })? == Granularity::Word
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
        let changed = pieces.iter().any(|p| !matches!(p, DiffPiece::Equal(_)));
        out.push(ElementComparison {
            in_from: old.iter().any(|e| e.id == element_id),
            in_to: new.iter().any(|e| e.id == element_id),
            id: element_id,
            label,
            changed,
            diff: pieces,
        });
    }
    Ok(Comparison {
        draft: draft.id,
        from: VersionPoint::of(&from),
        to: VersionPoint::of(&to),
        elements: out,
        server_time: iso(app.consensus.clock.now()),
    })
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
) -> Result<Vec<DiffPiece>, String> {
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
            Piece::Equal(text) => DiffPiece::Equal(DiffEqual {
                op: EqualOp::Equal,
                text,
            }),
            Piece::Insert(text, who) => {
                DiffPiece::Change(DiffChange::new(ChangeOp::Insert, text, who.as_ref()))
            }
            Piece::Delete(text, who) => {
                DiffPiece::Change(DiffChange::new(ChangeOp::Delete, text, who.as_ref()))
            }
        })
        .collect())
}

/// The differences between two versions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comparison {
    /// The draft's id.
    pub draft: String,
    pub from: VersionPoint,
    pub to: VersionPoint,
    pub elements: Vec<ElementComparison>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// One element's differences.
#[derive(Debug, Serialize, ToSchema)]
pub struct ElementComparison {
    pub id: String,
    /// Its label in the newer version, else the older.
    pub label: String,
    /// The older version has the element.
    pub in_from: bool,
    /// The newer version has the element.
    pub in_to: bool,
    /// Some piece is not `equal`.
    pub changed: bool,
    /// The text in order: the pieces' texts of `equal` and `delete` make the older text, of `equal` and `insert` the newer.
    #[schema(inline)]
    pub diff: Vec<DiffPiece>,
}

/// A piece of an element's text in a comparison.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum DiffPiece {
    Equal(DiffEqual),
    Change(DiffChange),
}

// The `op` of a [`DiffEqual`].
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EqualOp {
    Equal,
}

// The `op` of a [`DiffChange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Insert,
    Delete,
}

/// Text both versions have.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiffEqual {
    #[schema(inline)]
    pub op: EqualOp,
    pub text: String,
}

/// Text only the newer version has (`insert`) or only the older one (`delete`), with who inserted or deleted it. The author fields are null when no deletion of the text is known (comparing a version with an older one).
#[derive(Debug, Serialize, ToSchema)]
pub struct DiffChange {
    #[schema(inline)]
    pub op: ChangeOp,
    pub text: String,
    /// The author's user id; null for the server or when unknown.
    #[schema(required = true)]
    pub user: Option<String>,
    /// The author's name ("Accord" for the server); null when unknown.
    #[schema(required = true)]
    pub user_name: Option<String>,
    /// The author's entity, if any.
    #[schema(required = true)]
    pub entity: Option<String>,
}

impl DiffChange {
    fn new(op: ChangeOp, text: String, who: Option<&Author>) -> Self {
        Self {
            op,
            text,
            user: who.and_then(|a| a.user.clone()),
            user_name: who.map(|a| a.name.clone()),
            entity: who.and_then(|a| a.entity.clone()),
        }
    }
}
