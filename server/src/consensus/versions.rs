//! Named versions of a draft: every document's heads under a name.

use std::collections::HashMap;

use accord_protocol::DocumentId;
use accord_store::Role;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::answers::{DocumentHeads, Version, VersionList};
use super::facts::{DraftFacts, gather};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::iso;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// The draft's version now: every document's heads.
pub(super) async fn version_heads(app: &AppState, facts: &DraftFacts) -> Result<String, ApiError> {
    let mut heads = serde_json::Map::new();
    let index: DocumentId = facts.draft.index_doc.parse().map_err(ApiError::internal)?;
    if let Some(view) = app.docs.read(index).await? {
        heads.insert(
            index.to_string(),
            json!(accord_model::heads_hex(&view.heads)),
        );
    }
    for element in &facts.elements {
        if let Some(text) = facts.texts.get(&element.id) {
            heads.insert(
                element.doc_id.clone(),
                json!(accord_model::heads_hex(&text.heads)),
            );
        }
    }
    serde_json::to_string(&heads).map_err(ApiError::internal)
}

/// A name for the draft's version now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {
    /// 1 to 100 characters once trimmed (400 `invalid` otherwise), unique
    /// in the draft (409 `version_exists`).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// A version's stored heads (written by [`version_heads`]).
pub(super) fn document_heads(stored: &str) -> Result<DocumentHeads, ApiError> {
    serde_json::from_str(stored).map_err(ApiError::internal)
}

pub(super) fn version(
    names: &HashMap<String, String>,
    row: &accord_store::VersionRow,
) -> Result<Version, ApiError> {
    Ok(Version {
        name: row.name.clone(),
        created_at: iso(row.created_at),
        created_by: row
            .created_by
            .as_ref()
            .map(|u| names.get(u).cloned().unwrap_or_else(|| u.clone())),
        final_version: row.final_version,
        heads: document_heads(&row.heads)?,
    })
}

/// `POST /api/v1/drafts/{id}/versions` (chairs): names the draft's version
/// now — every document's heads — e.g. "Rev.1".
pub async fn name_version(
    app: &AppState,
    auth: &Auth,
    draft_id: String,
    request: VersionRequest,
) -> Result<Version, ApiError> {
    auth.user.require(&[Role::Chair], "name versions")?;
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid",
            "a version name has 1 to 100 characters",
        ));
    }
    let user = auth.user.clone();
    let _guard = app.draft_lock(&draft_id).await;
    let draft = app
        .store
        .draft(&draft_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    let facts = gather(app, draft).await?;
    let heads = version_heads(app, &facts).await?;
    let row = match app
        .store
        .create_version(
            &draft_id,
            &name,
            &heads,
            Some(&user.id),
            false,
            app.consensus.clock.now(),
        )
        .await
    {
        Err(accord_store::Error::Conflict(_)) => {
            return Err(ApiError::conflict(
                "version_exists",
                format!("this draft already has a version named {name:?}"),
            ));
        }
        other => other?,
    };
    version(&facts.user_names, &row)
}

/// `GET /api/v1/drafts/{id}/versions`: the draft's named versions, oldest first.
pub async fn list_versions(
    app: &AppState,
    auth: &Auth,
    draft_id: String,
) -> Result<VersionList, ApiError> {
    visible_draft(app, &auth.user, &draft_id).await?;
    let names: HashMap<String, String> = app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let versions = app
        .store
        .versions(&draft_id)
        .await?
        .iter()
        .map(|v| version(&names, v))
        .collect::<Result<_, _>>()?;
    Ok(VersionList {
        versions,
        server_time: iso(app.consensus.clock.now()),
    })
}
