//! Drafts, their change log and presence, entities and users as the API
//! shows them: `/api/v1/drafts`, `/api/v1/entities`, `/api/v1/users`.

use accord_protocol::DocumentId;
use accord_store::{DraftRow, ElementRow, Role, UserRow};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::extract::{Params, PathParams};
use crate::AppState;
use crate::auth::{Auth, User};
use crate::clock::iso;
use crate::drafts::access::{visible, visible_draft};
use crate::error::ApiError;
use crate::sync::presence::Present;

pub(super) fn server_time() -> String {
    iso(crate::clock::now_ms())
}

#[derive(Debug, Serialize)]
pub struct DraftView {
    pub id: String,
    pub title: String,
    pub preamble: String,
    pub index_url: String,
    pub elements: Vec<ElementView>,
    /// Archived elements (restorable by a chair), without their text.
    pub archived_elements: Vec<ArchivedView>,
    pub entities: Vec<EntityView>,
    pub server_time: String,
}

#[derive(Debug, Serialize)]
pub struct ElementView {
    pub id: String,
    pub label: String,
    pub position: i64,
    pub doc_url: String,
    pub text: String,
    /// SHA-256 of the text as UTF-8, lowercase hex.
    pub text_hash: String,
    /// The element document's heads, as lowercase hex change hashes.
    pub heads: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ArchivedView {
    pub id: String,
    pub label: String,
    pub doc_url: String,
}

#[derive(Debug, Serialize)]
pub struct EntityView {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub entity: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            role: user.role.as_str(),
            entity: user.entity.clone(),
        }
    }
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        (&User::from(row)).into()
    }
}

pub async fn drafts(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<DraftView>>, ApiError> {
    let mut out = Vec::new();
    for row in app.store.drafts().await? {
        if visible(&app, &auth.user, &row.id).await? {
            out.push(draft_view(&app, row).await?);
        }
    }
    Ok(Json(out))
}

pub async fn draft(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<DraftView>, ApiError> {
    let row = visible_draft(&app, &auth.user, &id).await?;
    Ok(Json(draft_view(&app, row).await?))
}

pub async fn draft_view(app: &AppState, row: DraftRow) -> Result<DraftView, ApiError> {
    let mut elements = Vec::new();
    let mut archived_elements = Vec::new();
    for element in app.store.all_elements(&row.id).await? {
        if element.archived {
            let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
            archived_elements.push(ArchivedView {
                id: element.id,
                label: element.label,
                doc_url: doc.url(),
            });
        } else {
            elements.push(element_view(app, element).await?);
        }
    }
    let entities = app
        .store
        .draft_entities(&row.id)
        .await?
        .into_iter()
        .map(|e| EntityView {
            code: e.code,
            name: e.name,
        })
        .collect();
    let index: DocumentId = row.index_doc.parse().map_err(ApiError::internal)?;
    Ok(DraftView {
        id: row.id,
        title: row.title,
        preamble: row.preamble,
        index_url: index.url(),
        elements,
        archived_elements,
        entities,
        server_time: server_time(),
    })
}

pub async fn element_view(app: &AppState, element: ElementRow) -> Result<ElementView, ApiError> {
    let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
    let view = app
        .docs
        .read(doc)
        .await?
        .ok_or_else(|| ApiError::internal(format!("element document {doc} is missing")))?;
    let text = view.text.unwrap_or_default();
    Ok(ElementView {
        id: element.id,
        label: element.label,
        position: element.position,
        doc_url: doc.url(),
        text_hash: accord_model::text_hash(&text),
        text,
        heads: accord_model::heads_hex(&view.heads),
    })
}

#[derive(Debug, Deserialize)]
pub struct Page {
    /// Return entries after this sequence number.
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/drafts/{id}/changes` (chairs, reviewers): every stored
/// change with who delivered it and when the server committed it.
pub async fn changes(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(page): Params<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.user
        .require(&[Role::Chair, Role::Reviewer], "read the change log")?;
    visible_draft(&app, &auth.user, &id).await?;
    let limit = page.limit.unwrap_or(500).clamp(1, 5000);
    let rows = app
        .store
        .draft_changes(&id, page.after.unwrap_or(0), limit)
        .await?;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    let changes: Vec<_> = rows
        .into_iter()
        .map(|c| {
            json!({
                "seq": c.seq,
                "hash": hex::encode(&c.hash),
                "element": c.element_id,
                "document": c.doc_id,
                "user": c.user_id,
                "user_name": c.user_name,
                "entity": c.entity_code,
                "committed_at": iso(c.committed_at),
            })
        })
        .collect();
    Ok(Json(json!({
        "changes": changes,
        "next": next,
        "server_time": server_time(),
    })))
}

/// `GET /api/v1/drafts/{id}/presence`: who is connected, as the server
/// knows them.
pub async fn presence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_draft(&app, &auth.user, &id).await?;
    let present: Vec<Present> = app.presence.list(&id);
    Ok(Json(json!({
        "draft": id,
        "present": present,
        "server_time": server_time(),
    })))
}

pub async fn entities(
    State(app): State<AppState>,
    _auth: Auth,
) -> Result<Json<Vec<EntityView>>, ApiError> {
    let entities = app.store.entities().await?;
    Ok(Json(
        entities
            .into_iter()
            .map(|e| EntityView {
                code: e.code,
                name: e.name,
            })
            .collect(),
    ))
}

pub async fn users(
    State(app): State<AppState>,
    _auth: Auth,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = app.store.users().await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| !u.disabled)
            .map(UserView::from)
            .collect(),
    ))
}
