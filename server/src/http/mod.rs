//! The HTTP layer: the route table, request extractors, one file per API
//! area, the web app, the OpenAPI document, response headers and
//! `/metrics`. Only this folder (and the websocket upgrade in `sync/ws.rs`)
//! knows axum; handlers take their request apart, call the domain modules
//! and shape the answer.

mod amendments;
mod consensus;
mod drafts;
mod error;
mod export;
pub mod extract;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
mod health;
mod history;
pub(crate) mod openapi;
pub mod scrape;
mod session;
mod structure;
mod web;
mod websocket;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub use drafts::Page;
pub use session::SignIn;

/// Serves the route table on `listener` until the server's shutdown token
/// is cancelled; then closes every websocket and returns once the open
/// requests are done.
pub async fn serve(state: AppState, listener: TcpListener) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let peers = state.peers.clone();
    let app = router(state);
    // Keystroke-sized frames must not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.cancelled().await;
        // Websockets do not end by themselves: close them.
        peers.close_all();
    })
    .await
}

/// The route table: every path the server answers, and its handler.
fn router(state: AppState) -> Router {
    let (router, _) = table(state.config.max_body_bytes);
    router.with_state(state)
}

/// The OpenAPI document of the route table.
fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = table(0);
    doc
}

/// The route table with the OpenAPI document it generates: every handler
/// is registered through an [`OpenApiRouter`] (one `routes()` per API
/// area), so the document lists what the server answers.
fn table(max_body_bytes: usize) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, api_doc) = OpenApiRouter::new()
        .merge(session::routes())
        .merge(drafts::routes())
        .merge(structure::routes())
        .merge(consensus::routes())
        .merge(amendments::routes())
        .merge(history::routes())
        .merge(export::routes())
        .merge(openapi::routes())
        .split_for_parts();
    // `OpenApiRouter` has no `method_not_allowed_fallback`: the API's
    // fallbacks and body limit go on its plain router, which then nests
    // under `/api/v1` in both the router and the document.
    let api = api
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes));
    let (router, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(websocket::sync))
        .merge(health::routes())
        .routes(routes!(scrape::on_main))
        .split_for_parts();
    let router = router
        .nest("/api/v1", api)
        .fallback(web::serve)
        .layer(axum::middleware::map_response(headers::secure));
    (router, doc.nest("/api/v1", api_doc))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The OpenAPI document is the route table: every handler is registered
    /// through `OpenApiRouter::routes(routes!(…))`, with its operation. No
    /// source of the HTTP layer registers one on a plain router, except the
    /// metrics listener's own router (`scrape.rs`), which serves `/metrics`
    /// as the main listener's documented one does; the web app is the
    /// fallback, not a route.
    #[test]
    fn every_route_is_in_the_document() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
        let mut plain = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("reading src/http") {
            let path = entry.expect("a folder entry").path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let text = std::fs::read_to_string(&path).expect("reading a source file");
            // Outside the tests and comments.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let line = line.split("//").next().unwrap_or_default();
                let registers = [".route(", ".route_service(", ".nest_service("]
                    .iter()
                    .any(|call| line.contains(call));
                let metrics_listener = name == "scrape.rs" && line.contains(".route(\"/metrics\"");
                if registers && !metrics_listener {
                    plain.push(format!("{name}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(
            plain.is_empty(),
            "routes registered outside the OpenAPI document:\n{}",
            plain.join("\n")
        );
        let paths = super::document().paths.paths;
        for path in ["/sync", "/healthz", "/readyz", "/metrics", "/api/v1/drafts"] {
            assert!(paths.contains_key(path), "{path} is documented");
        }
    }
}
