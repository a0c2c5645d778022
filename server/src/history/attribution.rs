//! Who wrote what: an element's text by author, and the deletions each made.

use std::sync::Arc;

use accord_model::authorship::{self};
use accord_protocol::DocumentId;
use automerge::{Automerge, ChangeHash, ObjId};
use serde::Serialize;
use utoipa::ToSchema;

use super::at::{VersionPoint, VersionQuery, initial_heads, resolve};
use super::authors::{Author, Authors};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// `GET /api/v1/drafts/{id}/elements/{eid}/attribution?version=|at=|heads=`:
/// the element's text in spans, each with the user and entity who wrote it,
/// and the deletions each author made (up to that version).
pub async fn attribution(
    app: &AppState,
    auth: &Auth,
    (id, element_id): (String, String),
    q: VersionQuery,
) -> Result<Attribution, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let element = app
        .store
        .all_elements(&draft.id)
        .await?
        .into_iter()
        .find(|e| e.id == element_id)
        .ok_or_else(|| ApiError::not_found("the element"))?;
    let version = resolve(app, &draft, &q).await?;
    let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
    let wanted = version
        .heads
        .as_ref()
        .map(|h| h.get(&element.doc_id).cloned());
    let authors = Arc::new(Authors::load(app).await?);
    let result = app
        .docs
        .inspect(doc, move |d: &Automerge| attribute_doc(d, wanted, &authors))
        .await?
        .ok_or_else(|| ApiError::internal("the element document is missing"))?
        .map_err(ApiError::internal)?;
    Ok(Attribution {
        draft: draft.id,
        element: element.id,
        label: element.label,
        version: VersionPoint::of(&version),
        text: result.0,
        spans: result.1,
        deletions: result.2,
        server_time: iso(app.consensus.clock.now()),
    })
}

pub(super) type Attributed = (String, Vec<AuthoredSpan>, Vec<AuthoredDeletion>);

pub(super) fn attribute_doc(
    d: &Automerge,
    wanted: Option<Option<Vec<ChangeHash>>>,
    authors: &Authors,
) -> Result<Attributed, String> {
    let text: ObjId = accord_model::text_obj(d).map_err(|e| e.to_string())?;
    let heads = match wanted {
        None => d.get_heads(),
        Some(Some(h)) => h,
        Some(None) => initial_heads(d),
    };
    let chars = authorship::char_ops(d, &text, Some(&heads)).map_err(|e| e.to_string())?;
    let spans = authorship::runs(chars.iter().map(|c| (c.ch.clone(), authors.of(&c.op.1))));
    let full: String = chars.iter().map(|c| c.ch.as_str()).collect();
    // Deletions by the changes up to the version, in document order per
    // author (the document itself when the version is now: forking replays
    // every change).
    let mut now = d.get_heads();
    now.sort();
    let mut at = heads.clone();
    at.sort();
    let changes: Vec<automerge::Change> = if at == now {
        d.get_changes(&[])
    } else {
        d.fork_at(&heads)
            .map_err(|e| e.to_string())?
            .get_changes(&[])
    };
    let values = authorship::insertions(&changes);
    let deleted = authorship::deletions(&changes);
    let mut by_author: Vec<(Author, Vec<(u64, String)>)> = Vec::new();
    let mut entries: Vec<(&authorship::OpRef, &authorship::Deletion)> = deleted.iter().collect();
    entries.sort_by(|a, b| (a.0.0, a.0.1.to_bytes()).cmp(&(b.0.0, b.0.1.to_bytes())));
    for (op, del) in entries {
        let Some(ch) = values.get(op) else { continue };
        let author = authors.of(&del.by);
        match by_author.iter_mut().find(|(a, _)| *a == author) {
            Some((_, list)) => list.push((op.0, ch.clone())),
            None => by_author.push((author, vec![(op.0, ch.clone())])),
        }
    }
    let deletions = by_author
        .into_iter()
        .map(|(author, chars)| {
            let text: String = chars.iter().map(|(_, c)| c.as_str()).collect();
            AuthoredDeletion {
                count: chars.len(),
                text,
                user: author.user,
                user_name: author.name,
                entity: author.entity,
            }
        })
        .collect();
    let spans = spans
        .into_iter()
        .map(|(text, author)| AuthoredSpan {
            text,
            user: author.user,
            user_name: author.name,
            entity: author.entity,
        })
        .collect();
    Ok((full, spans, deletions))
}

/// An element's text at a version, by author.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attribution {
    /// The draft's id.
    pub draft: String,
    /// The element's id.
    pub element: String,
    /// The element's label now.
    pub label: String,
    pub version: VersionPoint,
    /// The text at that version.
    pub text: String,
    /// The text in runs: their texts make `text`.
    pub spans: Vec<AuthoredSpan>,
    /// Per author, what the changes up to that version deleted.
    pub deletions: Vec<AuthoredDeletion>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// A run of characters by one author.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthoredSpan {
    pub text: String,
    /// The author's user id; null for the server.
    #[schema(required = true)]
    pub user: Option<String>,
    /// The author's name; "Accord" for the server.
    pub user_name: String,
    /// The author's entity, if any.
    #[schema(required = true)]
    pub entity: Option<String>,
}

/// The characters one author deleted, in document order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthoredDeletion {
    #[schema(minimum = 1)]
    pub count: usize,
    /// The deleted characters, concatenated.
    pub text: String,
    /// The author's user id; null for the server.
    #[schema(required = true)]
    pub user: Option<String>,
    /// The author's name; "Accord" for the server.
    pub user_name: String,
    /// The author's entity, if any.
    #[schema(required = true)]
    pub entity: Option<String>,
}
