//! Probes (`/healthz`, `/readyz`) and the API's answers for unknown paths
//! and methods.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AppState;
use crate::error::ApiError;

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when storage commits: the last commit succeeded and a probe write works.
pub async fn readyz(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
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
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({ "status": "ready" })),
    ))
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
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
}
