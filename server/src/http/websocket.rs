//! `/sync` in the API's description: the websocket upgrade itself is
//! `sync/ws.rs`'s; this is its operation in the OpenAPI document.

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::response::Response;

use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;

/// Sync websocket
///
/// Upgrades to a websocket speaking the automerge-repo sync protocol (the first frame must be `join`). The session may be presented as the cookie, a bearer header or — here only, because browsers' websocket client cannot set headers — the `token` query parameter. The upgrade happens only with a live session and a matching `Origin`: an `Origin` other than the public URL's is 403 `bad_origin`, and a cookie session without `Origin` is 403 `origin_required`. Every role may connect; delegates can only open the documents of drafts their entity takes part in.
#[utoipa::path(
    get,
    path = "/sync",
    operation_id = "sync",
    tag = "sync",
    security(("sessionCookie" = []), ("bearerToken" = []), ("syncToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(
        ("token" = Option<String>, Query, pattern = "^[0-9a-fA-F]{64}$",
            description = "The session token, for clients that cannot set headers."),
        ("Upgrade" = String, Header, pattern = "^websocket$"),
        ("Sec-WebSocket-Key" = String, Header),
        ("Sec-WebSocket-Version" = String, Header, pattern = "^13$"),
    ),
    responses(
        (status = 101, description = "Switching to the websocket protocol."),
        (status = 400, response = super::openapi::BadRequest),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 500, response = super::openapi::Internal),
    )
)]
pub async fn sync(
    app: State<AppState>,
    auth: Result<Auth, ApiError>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    crate::sync::ws::upgrade(app, auth, ws).await
}
