//! Probes (`/healthz`, `/readyz`) and the API's answers for unknown paths
//! and methods.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;

/// `/healthz`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(inline)]
    pub status: Alive,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Alive {
    Ok,
}

/// `/readyz`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    #[schema(inline)]
    pub status: Readiness,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    Ready,
}

/// Liveness
///
/// Answers while the process serves HTTP. Needs no session.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    security(),
    extensions(("x-roles" = json!([]))),
    responses((status = 200, description = "Alive.", body = Health))
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: Alive::Ok })
}

/// Readiness
///
/// Ready when storage accepts writes: the last commit succeeded and a probe write works. 503 while shutting down or while storage fails. Needs no session.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    security(),
    extensions(("x-roles" = json!([]))),
    responses(
        (status = 200, description = "Ready.", body = Ready),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub async fn readyz(State(app): State<AppState>) -> Result<Json<Ready>, ApiError> {
    if app.shutdown.is_cancelled() {
        return Err(ApiError::unavailable("shutting down"));
    }
    if !app.storage_ok.load(Ordering::Relaxed) {
        return Err(ApiError::unavailable(
            "the last commit to storage failed; waiting for a successful one",
        ));
    }
    if let Err(e) = app.store.check_health().await {
        tracing::warn!(error = %e, "storage probe failed");
        return Err(ApiError::unavailable("storage does not accept writes"));
    }
    Ok(Json(Ready {
        status: Readiness::Ready,
    }))
}

/// `GET /api/v1/users`: who takes part, by name, role and entity.
pub async fn not_found() -> ApiError {
    ApiError::not_found("this API path")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this API path does not take that method",
    )
}

/// This area's routes (the probes, at the root).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(utoipa_axum::routes!(healthz))
        .routes(utoipa_axum::routes!(readyz))
}
