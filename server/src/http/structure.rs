//! Chairs' structure commands over HTTP ([`crate::drafts::structure`]):
//! each answers with the draft or element as it now is, and the consensus
//! projection follows the new structure.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::drafts::{DraftView, ElementView, draft_view, element_view};
use super::extract::{Body, OptionalBody, PathParams};
use crate::AppState;
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

/// `POST /api/v1/drafts` (chairs).
pub async fn create_draft(
    State(app): State<AppState>,
    auth: Auth,
    Body(request): Body<NewDraftRequest>,
) -> Result<(StatusCode, Json<DraftView>), ApiError> {
    let row = structure::create_draft(&app, &auth, request).await?;
    consensus::reproject(&app, &row.id).await?;
    Ok((StatusCode::CREATED, Json(draft_view(&app, row).await?)))
}

/// `PATCH /api/v1/drafts/{id}` (chairs): title, preamble.
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

/// `POST /api/v1/drafts/{id}/elements` (chairs).
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

/// `PATCH /api/v1/drafts/{id}/elements/{eid}` (chairs): label, position.
pub async fn update_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
    Body(patch): Body<ElementPatch>,
) -> Result<Json<ElementView>, ApiError> {
    let row = structure::update_element(&app, &auth, &draft_id, &element_id, patch).await?;
    consensus::reproject_soon(&app, &draft_id);
    Ok(Json(element_view(&app, row).await?))
}

/// `DELETE /api/v1/drafts/{id}/elements/{eid}` (chairs): archives it.
pub async fn archive_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
) -> Result<Json<DraftView>, ApiError> {
    structure::archive_element(&app, &auth, &draft_id, &element_id).await?;
    consensus::reproject_soon(&app, &draft_id);
    draft_now(&app, &draft_id).await
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/restore` (chairs).
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
pub fn routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .route("/drafts", axum::routing::post(create_draft))
        .route("/drafts/{id}", axum::routing::patch(update_draft))
        .route("/drafts/{id}/elements", axum::routing::post(add_element))
        .route(
            "/drafts/{id}/elements/{eid}",
            axum::routing::patch(update_element).delete(archive_element),
        )
        .route(
            "/drafts/{id}/elements/{eid}/restore",
            axum::routing::post(restore_element),
        )
}
