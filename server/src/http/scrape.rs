//! Who may read `/metrics`, and where. With `--metrics-token`, `/metrics`
//! answers requests bearing that token (`Authorization: Bearer`), on every
//! listener. With `--metrics-listen`, a second listener serves `/metrics`
//! and nothing else (to anyone who reaches it, unless a token is set).
//! With neither, the main listener's `/metrics` is off (404): metrics are
//! never public by default.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::config::ServeConfig;
use crate::error::ApiError;

/// Metrics
///
/// Prometheus metrics in the OpenMetrics text format. Needs no session but the metrics token (`--metrics-token`) as `Authorization: Bearer`; without a token configured it is off here (404). A separate listener (`--metrics-listen`) serves it too, there without the token when none is configured.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    security(("metricsToken" = [])),
    extensions(("x-roles" = json!([]))),
    responses(
        (status = 200, description = "The metrics.", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (status = 401, description = "The metrics token is missing or wrong (`unauthenticated`, with `WWW-Authenticate: Bearer`).",
            body = super::openapi::ErrorBody, headers(("WWW-Authenticate" = String))),
        (status = 404, description = "No metrics token is configured: metrics are not served on this address (`not_found`).",
            body = super::openapi::ErrorBody),
    )
)]
pub async fn on_main(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match app.config.metrics_token.as_deref() {
        Some(token) => guarded(&app, token, &headers),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "metrics are not served on this address",
        )
        .into_response(),
    }
}

/// `GET /metrics` on the metrics listener: with the token when one is set.
async fn on_metrics_listener(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match app.config.metrics_token.as_deref() {
        Some(token) => guarded(&app, token, &headers),
        None => render(&app),
    }
}

fn guarded(app: &AppState, token: &str, headers: &HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    if presented.is_some_and(|p| same_secret(p, token)) {
        return render(app);
    }
    let mut response = ApiError::unauthorized(
        "unauthenticated",
        "metrics need Authorization: Bearer with the metrics token",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"metrics\""),
    );
    response
}

/// Compares in time independent of where the two differ (and of their
/// lengths): their SHA-256 digests, every byte.
fn same_secret(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn render(app: &AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

/// Refuses an empty token (set by mistake: it would open `/metrics` to an
/// empty `Bearer`).
pub fn check(config: &ServeConfig) -> anyhow::Result<()> {
    if config
        .metrics_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        anyhow::bail!("--metrics-token (ACCORD_METRICS_TOKEN) is empty");
    }
    Ok(())
}

/// Binds the metrics listener when one is configured and serves it until
/// `shutdown`.
pub async fn start(
    app: &AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<JoinHandle<std::io::Result<()>>>> {
    let Some(addr) = app.config.metrics_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for metrics on {addr}: {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics");
    let router = Router::new()
        .route("/metrics", get(on_metrics_listener))
        .fallback(|| async { ApiError::not_found("this path").into_response() })
        .layer(axum::middleware::map_response(super::headers::secure))
        .with_state(app.clone());
    Ok(Some(tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    })))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-tokeN", "s3cret-token"));
        assert!(!same_secret("s3cret", "s3cret-token"));
        assert!(!same_secret("", "s3cret-token"));
    }
}
