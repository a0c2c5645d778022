//! Chairs' structure commands over HTTP ([`crate::drafts::structure`]):
//! each answers with the draft or element as it now is, and the consensus
//! projection follows the new structure.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa::openapi::HttpMethod;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::drafts::{DraftView, ElementView, draft_view, element_view};
use super::extract::{Body, OptionalBody, PathParams};
use super::openapi::{self, optional_body, params};
use crate::AppState;
use crate::amendments;
use crate::auth::Auth;
use crate::consensus;
use crate::drafts::structure::{
    self, DraftPatch, ElementPatch, NewDraftRequest, NewElementRequest, RestoreRequest,
};
use crate::error::ApiError;

/// The draft as it now is.
async fn draft_now(app: &AppState, draft_id: &str) -> Result<Json<DraftView>, ApiError> {
    let row = app
        .store
        .draft(draft_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    Ok(Json(draft_view(app, row).await?))
}

/// Create a draft
///
/// Creates a draft with 1 to 500 elements. `entities` lists the participating entity codes (every entity of the installation when absent; an unknown code is 400 `unknown_entity`). Titles have 1 to 500 characters and labels 1 to 100 (trimmed); texts are limited by the server's `--max-text-chars` (400 `too_long`). Chairs only: delegates and reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts",
    operation_id = "createDraft",
    tag = "drafts",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    request_body(content = NewDraftRequest, example = json!({"title": "Probe draft", "preamble": "", "elements": [{"label": "1", "text": "First element."}], "entities": ["IOM"]})),
    responses(
        (status = 201, description = "The new draft.", body = DraftView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn create_draft(
    State(app): State<AppState>,
    auth: Auth,
    Body(request): Body<NewDraftRequest>,
) -> Result<(StatusCode, Json<DraftView>), ApiError> {
    let row = structure::create_draft(&app, &auth, request).await?;
    consensus::reproject(&app, &row.id).await?;
    amendments::project(&app, &row.id).await?;
    Ok((StatusCode::CREATED, Json(draft_view(&app, row).await?)))
}

/// Change a draft's title or preamble
///
/// Sets the fields given; an empty object changes nothing. The change is applied to the draft's index document by the server and reaches connected clients through sync. Chairs only: delegates and reviewers get 403.
#[utoipa::path(
    patch,
    path = "/drafts/{id}",
    operation_id = "updateDraft",
    tag = "structure",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    request_body(content = DraftPatch, example = json!({"title": "A new title"})),
    responses(
        (status = 200, description = "The draft as it is now.", body = DraftView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn update_draft(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
    Body(patch): Body<DraftPatch>,
) -> Result<Json<DraftView>, ApiError> {
    structure::update_draft(&app, &auth, &draft_id, patch).await?;
    consensus::reproject_soon(&app, &draft_id);
    draft_now(&app, &draft_id).await
}

/// Add an element
///
/// Adds an element at `position` (0-based; the end when absent or beyond it). A draft has at most 500 elements. The change is applied to the draft's index document by the server and reaches connected clients through sync. Chairs only: delegates and reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements",
    operation_id = "addElement",
    tag = "structure",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    request_body(content = NewElementRequest, example = json!({"label": "9", "text": "A new element.", "position": 0})),
    responses(
        (status = 201, description = "The new element.", body = ElementView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn add_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
    Body(request): Body<NewElementRequest>,
) -> Result<(StatusCode, Json<ElementView>), ApiError> {
    let row = structure::add_element(&app, &auth, &draft_id, request).await?;
    consensus::reproject_soon(&app, &draft_id);
    Ok((StatusCode::CREATED, Json(element_view(&app, row).await?)))
}

/// Rename or move an element
///
/// Sets the label, moves the element to `position` (0-based, clamped to the last place) and/or sets its editing `mode`: `open` (delegates type directly) or `amendments` (delegates' sync turns read-only, their typing is refused with the notice `amendments_only`, and they propose amendments instead; chairs still type). An archived element answers 409 `archived`. The change is applied to the draft's index document by the server and reaches connected clients through sync. Chairs only: delegates and reviewers get 403.
#[utoipa::path(
    patch,
    path = "/drafts/{id}/elements/{eid}",
    operation_id = "updateElement",
    tag = "structure",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID)),
    request_body(content = ElementPatch, example = json!({"label": "1 (revised)"})),
    responses(
        (status = 200, description = "The element as it is now.", body = ElementView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn update_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
    Body(mut patch): Body<ElementPatch>,
) -> Result<Json<ElementView>, ApiError> {
    let mode = patch.mode.take();
    let mut row = structure::update_element(&app, &auth, &draft_id, &element_id, patch).await?;
    if let Some(mode) = mode
        && amendments::set_mode(&app, &auth.user, &draft_id, &row, mode).await?
    {
        row.mode = mode.as_str().to_owned();
    }
    consensus::reproject_soon(&app, &draft_id);
    Ok(Json(element_view(&app, row).await?))
}

/// Archive an element
///
/// Removes the element from the draft's index; its document and history stay and it can be restored. An element already archived answers 409 `archived`. The change is applied to the draft's index document by the server and reaches connected clients through sync. Chairs only: delegates and reviewers get 403.
#[utoipa::path(
    delete,
    path = "/drafts/{id}/elements/{eid}",
    operation_id = "archiveElement",
    tag = "structure",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID)),
    responses(
        (status = 200, description = "The draft as it is now.", body = DraftView),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn archive_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
) -> Result<Json<DraftView>, ApiError> {
    structure::archive_element(&app, &auth, &draft_id, &element_id).await?;
    consensus::reproject_soon(&app, &draft_id);
    draft_now(&app, &draft_id).await
}

/// Restore an archived element
///
/// Puts an archived element back at `position` (0-based; the end when absent). The body is optional; when present it must be JSON (415 otherwise). An element that is not archived answers 409 `not_archived`. The change is applied to the draft's index document by the server and reaches connected clients through sync. Chairs only: delegates and reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements/{eid}/restore",
    operation_id = "restoreElement",
    tag = "structure",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID)),
    request_body(content = RestoreRequest, example = json!({"position": 0})),
    responses(
        (status = 200, description = "The restored element.", body = ElementView),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn restore_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
    OptionalBody(body): OptionalBody<RestoreRequest>,
) -> Result<Json<ElementView>, ApiError> {
    let row = structure::restore_element(&app, &auth, &draft_id, &element_id, body).await?;
    consensus::reproject_soon(&app, &draft_id);
    Ok(Json(element_view(&app, row).await?))
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(create_draft))
        .routes(routes!(update_draft))
        .routes(routes!(add_element))
        .routes(routes!(update_element, archive_element))
        .routes(routes!(restore_element));
    // The restore body is optional.
    optional_body(
        &mut router,
        "/drafts/{id}/elements/{eid}/restore",
        HttpMethod::Post,
    );
    router
}
