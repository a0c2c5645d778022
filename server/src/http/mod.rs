//! The HTTP layer: the route table, request extractors, one file per API
//! area, the web app, the OpenAPI document, response headers and
//! `/metrics`. Only this folder (and the websocket upgrade in `sync/ws.rs`)
//! knows axum; handlers take their request apart, call the domain modules
//! and shape the answer.

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
mod openapi;
pub mod scrape;
mod session;
mod structure;
mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

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
    let api = Router::new()
        .route("/session", post(session::sign_in).delete(session::sign_out))
        .route("/session/device", post(session::device_link))
        .route("/me", get(session::me))
        .route("/drafts", get(drafts::drafts).post(structure::create_draft))
        .route(
            "/drafts/{id}",
            get(drafts::draft).patch(structure::update_draft),
        )
        .route("/drafts/{id}/elements", post(structure::add_element))
        .route(
            "/drafts/{id}/elements/{eid}",
            axum::routing::patch(structure::update_element).delete(structure::archive_element),
        )
        .route(
            "/drafts/{id}/elements/{eid}/restore",
            post(structure::restore_element),
        )
        .route("/drafts/{id}/changes", get(drafts::changes))
        .route("/drafts/{id}/consensus", get(consensus::get_consensus))
        .route(
            "/drafts/{id}/elements/{eid}/positions/{entity}",
            axum::routing::put(consensus::put_position),
        )
        .route(
            "/drafts/{id}/silence",
            post(consensus::start_silence).delete(consensus::cancel_silence),
        )
        .route(
            "/drafts/{id}/elements/{eid}/adopt",
            post(consensus::adopt_element),
        )
        .route(
            "/drafts/{id}/elements/{eid}/reopen",
            post(consensus::reopen_element),
        )
        .route("/drafts/{id}/adopt", post(consensus::adopt_draft))
        .route("/drafts/{id}/history", get(history::timeline))
        .route("/drafts/{id}/history/people", get(history::people))
        .route("/drafts/{id}/export", get(export::export))
        .route("/drafts/{id}/read", get(history::read))
        .route("/drafts/{id}/compare", get(history::compare))
        .route(
            "/drafts/{id}/elements/{eid}/attribution",
            get(history::attribution),
        )
        .route(
            "/drafts/{id}/versions",
            get(consensus::list_versions).post(consensus::name_version),
        )
        .route("/drafts/{id}/presence", get(drafts::presence))
        .route("/entities", get(drafts::entities))
        .route("/users", get(drafts::users))
        .route("/openapi.json", get(openapi::document))
        .route("/test/clock", post(consensus::advance_clock))
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    Router::new()
        .route("/sync", get(crate::sync::ws::upgrade))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(scrape::on_main))
        .nest("/api/v1", api)
        .fallback(web::serve)
        .layer(axum::middleware::map_response(headers::secure))
        .with_state(state)
}
