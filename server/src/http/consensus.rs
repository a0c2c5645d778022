//! Consensus over HTTP: positions, silence procedures, adoption, named
//! versions and the test clock. Each handler hands its request to
//! [`crate::consensus`] and answers with the result.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, OptionalBody, PathParams};
use crate::AppState;
use crate::auth::Auth;
use crate::consensus::{
    self, AdoptDraftRequest, CancelRequest, ClockReading, ClockRequest, ConsensusReport,
    DraftAdopted, ElementState, PositionRecorded, PositionRequest, SilenceRequest,
    SilencesCancelled, SilencesStarted, Version, VersionList, VersionRequest,
};
use crate::error::ApiError;

type Answer<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

fn created<T>(body: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(body))
}

/// `GET /api/v1/drafts/{id}/consensus`.
pub async fn get_consensus(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Answer<ConsensusReport> {
    consensus::get_consensus(&app, &auth, id).await.map(Json)
}

/// `PUT /api/v1/drafts/{id}/elements/{eid}/positions/{entity}` (delegates).
pub async fn put_position(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String, String)>,
    Body(request): Body<PositionRequest>,
) -> Created<PositionRecorded> {
    consensus::put_position(&app, &auth, ids, request)
        .await
        .map(created)
}

/// `POST /api/v1/drafts/{id}/silence` (chairs).
pub async fn start_silence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Body(request): Body<SilenceRequest>,
) -> Created<SilencesStarted> {
    consensus::start_silence(&app, &auth, id, request)
        .await
        .map(created)
}

/// `DELETE /api/v1/drafts/{id}/silence` (chairs).
pub async fn cancel_silence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    OptionalBody(body): OptionalBody<CancelRequest>,
) -> Answer<SilencesCancelled> {
    consensus::cancel_silence(&app, &auth, id, body)
        .await
        .map(Json)
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/adopt` (chairs).
pub async fn adopt_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
) -> Answer<ElementState> {
    consensus::adopt_element(&app, &auth, ids).await.map(Json)
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/reopen` (chairs).
pub async fn reopen_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
) -> Answer<ElementState> {
    consensus::reopen_element(&app, &auth, ids).await.map(Json)
}

/// `POST /api/v1/drafts/{id}/adopt` (chairs).
pub async fn adopt_draft(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    OptionalBody(body): OptionalBody<AdoptDraftRequest>,
) -> Created<DraftAdopted> {
    consensus::adopt_draft(&app, &auth, id, body)
        .await
        .map(created)
}

/// `POST /api/v1/drafts/{id}/versions` (chairs).
pub async fn name_version(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Body(request): Body<VersionRequest>,
) -> Created<Version> {
    consensus::name_version(&app, &auth, id, request)
        .await
        .map(created)
}

/// `GET /api/v1/drafts/{id}/versions`.
pub async fn list_versions(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Answer<VersionList> {
    consensus::list_versions(&app, &auth, id).await.map(Json)
}

/// `POST /api/v1/test/clock` (chairs, with `--test-clock`).
pub async fn advance_clock(
    State(app): State<AppState>,
    auth: Auth,
    Body(request): Body<ClockRequest>,
) -> Answer<ClockReading> {
    consensus::advance_clock(&app, &auth, request)
        .await
        .map(Json)
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .route("/drafts/{id}/consensus", axum::routing::get(get_consensus))
        .route(
            "/drafts/{id}/elements/{eid}/positions/{entity}",
            axum::routing::put(put_position),
        )
        .route(
            "/drafts/{id}/silence",
            axum::routing::post(start_silence).delete(cancel_silence),
        )
        .route(
            "/drafts/{id}/elements/{eid}/adopt",
            axum::routing::post(adopt_element),
        )
        .route(
            "/drafts/{id}/elements/{eid}/reopen",
            axum::routing::post(reopen_element),
        )
        .route("/drafts/{id}/adopt", axum::routing::post(adopt_draft))
        .route(
            "/drafts/{id}/versions",
            axum::routing::get(list_versions).post(name_version),
        )
        .route("/test/clock", axum::routing::post(advance_clock))
}
