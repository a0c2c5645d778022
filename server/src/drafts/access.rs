//! Who may see a draft — the one rule, for the API, sync and presence alike
//! — and where each document belongs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use accord_protocol::DocumentId;
use accord_store::{DocKind, DraftRow, Role, Store};

use crate::AppState;
use crate::auth::User;
use crate::error::ApiError;

/// Delegates see the drafts their entity takes part in (`participants`:
/// the draft's entity codes); chairs and reviewers see every draft.
pub fn may_see(user: &User, participants: &[String]) -> bool {
    match (user.role, &user.entity) {
        (Role::Delegate, Some(entity)) => participants.contains(entity),
        (Role::Delegate, None) => false,
        _ => true,
    }
}

/// Whether `user` may see the draft `draft_id`.
pub async fn visible(app: &AppState, user: &User, draft_id: &str) -> Result<bool, ApiError> {
    if user.role != Role::Delegate {
        return Ok(true);
    }
    let participants: Vec<String> = app
        .store
        .draft_entities(draft_id)
        .await?
        .into_iter()
        .map(|e| e.code)
        .collect();
    Ok(may_see(user, &participants))
}

/// The draft, or 404 when it does not exist or the user may not see it.
pub async fn visible_draft(app: &AppState, user: &User, id: &str) -> Result<DraftRow, ApiError> {
    match app.store.draft(id).await? {
        Some(row) if visible(app, user, id).await? => Ok(row),
        _ => Err(ApiError::not_found("the draft")),
    }
}

/// Where a document belongs.
#[derive(Debug, Clone)]
pub struct DocInfo {
    pub draft_id: String,
    pub index_doc: DocumentId,
    /// The element's id for an element document; `None` for the index.
    pub element_id: Option<String>,
    /// The draft's participating entities.
    pub participants: Vec<String>,
}

impl DocInfo {
    /// Whether `user` may see this document's draft ([`may_see`]).
    pub fn visible_to(&self, user: &User) -> bool {
        may_see(user, &self.participants)
    }
}

/// Documents the server created, by id, with their draft (cached: a
/// document never moves).
#[derive(Default)]
pub struct Directory(Mutex<HashMap<DocumentId, Arc<DocInfo>>>);

impl Directory {
    pub async fn lookup(
        &self,
        store: &Store,
        id: DocumentId,
    ) -> Result<Option<Arc<DocInfo>>, accord_store::Error> {
        if let Some(info) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return Ok(Some(info.clone()));
        }
        let Some(row) = store.document(&id.to_string()).await? else {
            return Ok(None);
        };
        let Some(draft) = store.draft(&row.draft_id).await? else {
            return Ok(None);
        };
        let Ok(index_doc) = draft.index_doc.parse::<DocumentId>() else {
            return Ok(None);
        };
        let element_id = match row.kind {
            DocKind::Index => None,
            DocKind::Element => store
                .all_elements(&row.draft_id)
                .await?
                .into_iter()
                .find(|e| e.doc_id == row.id)
                .map(|e| e.id),
        };
        let participants = store
            .draft_entities(&row.draft_id)
            .await?
            .into_iter()
            .map(|e| e.code)
            .collect();
        let info = Arc::new(DocInfo {
            draft_id: row.draft_id,
            index_doc,
            element_id,
            participants,
        });
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, info.clone());
        Ok(Some(info))
    }
}
