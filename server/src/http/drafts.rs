//! Drafts, their change log and presence, entities and users as the API
//! shows them: `/api/v1/drafts`, `/api/v1/entities`, `/api/v1/users`.

use accord_protocol::DocumentId;
use accord_store::{DraftRow, ElementRow, Role, UserRow};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Params, PathParams};
use super::openapi::{self, params};
use crate::AppState;
use crate::auth::{Auth, User};
use crate::clock::iso;
use crate::documents::ElementText;
use crate::drafts::EditingMode;
use crate::drafts::EntityView;
use crate::drafts::access::{visible, visible_draft};
use crate::error::ApiError;
use crate::sync::presence::Present;

pub(super) fn server_time() -> String {
    iso(crate::clock::now_ms())
}

/// A draft: its elements with their current text, its archived elements
/// and its participating entities.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Draft)]
pub struct DraftView {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// An automerge-repo document URL.
    #[schema(pattern = "^automerge:")]
    pub index_url: String,
    pub elements: Vec<ElementView>,
    pub archived_elements: Vec<ArchivedView>,
    /// The participating entities.
    pub entities: Vec<EntityView>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// An element with its current text.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Element)]
pub struct ElementView {
    pub id: String,
    pub label: String,
    #[schema(minimum = 0)]
    pub position: i64,
    /// An automerge-repo document URL.
    #[schema(pattern = "^automerge:")]
    pub doc_url: String,
    pub text: String,
    /// SHA-256 of the text as UTF-8, lowercase hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub text_hash: String,
    /// The element document's heads, lowercase hex change hashes.
    #[schema(schema_with = hex_hashes)]
    pub heads: Vec<String>,
    /// Who may type into it.
    pub mode: EditingMode,
}

/// An array of SHA-256 hashes in lowercase hex.
fn hex_hashes() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[0-9a-f]{64}$")),
        )
        .description(Some(
            "The element document's heads, lowercase hex change hashes.",
        ))
        .build()
}

/// An archived element (restorable by a chair), without its text.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ArchivedElement)]
pub struct ArchivedView {
    pub id: String,
    pub label: String,
    /// An automerge-repo document URL.
    #[schema(pattern = "^automerge:")]
    pub doc_url: String,
}

/// What a user may do: chairs manage drafts, delegates speak for one
/// entity, reviewers read everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub enum RoleView {
    Chair,
    Delegate,
    Reviewer,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        match role {
            Role::Chair => RoleView::Chair,
            Role::Delegate => RoleView::Delegate,
            Role::Reviewer => RoleView::Reviewer,
        }
    }
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub role: RoleView,
    /// The entity code; delegates have one.
    #[schema(required = true)]
    pub entity: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            role: user.role.into(),
            entity: user.entity.clone(),
        }
    }
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        (&User::from(row)).into()
    }
}

/// List drafts
///
/// Every draft the caller may see, with its elements' current text. Any role. Delegates see only the drafts their entity takes part in.
#[utoipa::path(
    get,
    path = "/drafts",
    operation_id = "listDrafts",
    tag = "drafts",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    responses(
        (status = 200, description = "The drafts.", body = Vec<DraftView>),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::Internal),
    ),
)]
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

/// Get a draft
///
/// One draft with its elements' current text, heads and text hashes, its archived elements and its participating entities. Any role. Delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}",
    operation_id = "getDraft",
    tag = "drafts",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    responses(
        (status = 200, description = "The draft.", body = DraftView),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
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
    let now = ElementText::live(&app.docs, doc).await?;
    Ok(ElementView {
        id: element.id,
        label: element.label,
        position: element.position,
        doc_url: doc.url(),
        text: now.text,
        text_hash: now.text_hash,
        heads: accord_model::heads_hex(&now.heads),
        mode: EditingMode::parse(&element.mode),
    })
}

/// A page of the change log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return the changes after this sequence number (default 0).
    pub after: Option<i64>,
    /// Most changes to return, clamped to 1..5000 (default 500).
    pub limit: Option<i64>,
}

/// One stored change of a draft's documents.
#[derive(Debug, Serialize, ToSchema)]
pub struct Change {
    /// Commit order over all documents.
    pub seq: i64,
    /// The Automerge change hash.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub hash: String,
    /// The element; null for the index document.
    #[schema(required = true)]
    pub element: Option<String>,
    /// The document id.
    pub document: String,
    /// Who delivered it; null for the server.
    #[schema(required = true)]
    pub user: Option<String>,
    #[schema(required = true)]
    pub user_name: Option<String>,
    #[schema(required = true)]
    pub entity: Option<String>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub committed_at: String,
}

/// A page of a draft's change log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeLog {
    pub changes: Vec<Change>,
    /// `after` for the next page; null on the last.
    #[schema(required = true)]
    pub next: Option<i64>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// Who is connected to a draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct Presence {
    pub draft: String,
    pub present: Vec<Present>,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// The draft's change log
///
/// Every stored change of the draft's documents in commit order, with who delivered it and when the server committed it. Pages by `after`/`limit`; `next` is the `after` for the following page, null on the last one. Chairs and reviewers; delegates get 403.
#[utoipa::path(
    get,
    path = "/drafts/{id}/changes",
    operation_id = "listChanges",
    tag = "drafts",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), Page),
    responses(
        (status = 200, description = "A page of changes.", body = ChangeLog),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn changes(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(page): Params<Page>,
) -> Result<Json<ChangeLog>, ApiError> {
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
    let changes = rows
        .into_iter()
        .map(|c| Change {
            seq: c.seq,
            hash: hex::encode(&c.hash),
            element: c.element_id,
            document: c.doc_id,
            user: c.user_id,
            user_name: c.user_name,
            entity: c.entity_code,
            committed_at: iso(c.committed_at),
        })
        .collect();
    Ok(Json(ChangeLog {
        changes,
        next,
        server_time: server_time(),
    }))
}

/// Who is connected to a draft
///
/// The connections syncing the draft's documents, as the server knows them from their sessions. Any role. Delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/presence",
    operation_id = "getPresence",
    tag = "drafts",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    responses(
        (status = 200, description = "Who is present.", body = Presence),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn presence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<Presence>, ApiError> {
    visible_draft(&app, &auth.user, &id).await?;
    let present: Vec<Present> = app.presence.list(&id);
    Ok(Json(Presence {
        draft: id,
        present,
        server_time: server_time(),
    }))
}

/// List entities
///
/// Every entity of the installation. Any role.
#[utoipa::path(
    get,
    path = "/entities",
    operation_id = "listEntities",
    tag = "directory",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    responses(
        (status = 200, description = "The entities.", body = Vec<EntityView>),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::Internal),
    ),
)]
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

/// List users
///
/// Every user who is not disabled, by name, role and entity. Any role.
#[utoipa::path(
    get,
    path = "/users",
    operation_id = "listUsers",
    tag = "directory",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    responses(
        (status = 200, description = "The users.", body = Vec<UserView>),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::Internal),
    ),
)]
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

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(drafts))
        .routes(routes!(draft))
        .routes(routes!(changes))
        .routes(routes!(presence))
        .routes(routes!(entities))
        .routes(routes!(users))
}
