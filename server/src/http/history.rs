//! Revision history over HTTP: the timeline, its people, the draft at a
//! version, comparisons and attribution ([`crate::history`]).

use axum::Json;
use axum::extract::State;

use super::extract::{Params, PathParams};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::history::{
    self, Attribution, CompareQuery, Comparison, DraftAtVersion, History, HistoryPeople,
    HistoryQuery, VersionQuery,
};

type Answer<T> = Result<Json<T>, ApiError>;

/// `GET /api/v1/drafts/{id}/history`.
pub async fn timeline(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<HistoryQuery>,
) -> Answer<History> {
    history::history(&app, &auth, id, q).await.map(Json)
}

/// `GET /api/v1/drafts/{id}/history/people`.
pub async fn people(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Answer<HistoryPeople> {
    history::people(&app, &auth, id).await.map(Json)
}

/// `GET /api/v1/drafts/{id}/read`.
pub async fn read(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<VersionQuery>,
) -> Answer<DraftAtVersion> {
    history::read(&app, &auth, id, q).await.map(Json)
}

/// `GET /api/v1/drafts/{id}/compare`.
pub async fn compare(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<CompareQuery>,
) -> Answer<Comparison> {
    history::compare(&app, &auth, id, q).await.map(Json)
}

/// `GET /api/v1/drafts/{id}/elements/{eid}/attribution`.
pub async fn attribution(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
    Params(q): Params<VersionQuery>,
) -> Answer<Attribution> {
    history::attribution(&app, &auth, ids, q).await.map(Json)
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .route("/drafts/{id}/history", axum::routing::get(timeline))
        .route("/drafts/{id}/history/people", axum::routing::get(people))
        .route("/drafts/{id}/read", axum::routing::get(read))
        .route("/drafts/{id}/compare", axum::routing::get(compare))
        .route(
            "/drafts/{id}/elements/{eid}/attribution",
            axum::routing::get(attribution),
        )
}
