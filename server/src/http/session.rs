//! Signing in and out: `/api/v1/session`, `/api/v1/session/device`,
//! `/api/v1/me`.

use std::net::SocketAddr;
use std::time::Duration;

use accord_store::{InviteKind, NewSession, Redeemed};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::drafts::{UserView, server_time};
use super::extract::Body;
use super::openapi;
use crate::AppState;
use crate::auth::{self, Auth};
use crate::clock::iso;
use crate::drafts::EntityView;
use crate::error::ApiError;

/// What `signIn` takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SignInRequest)]
pub struct SignIn {
    /// The invite or device-link token (64 hex digits; surrounding
    /// whitespace is ignored).
    pub invite: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedIn {
    /// The session token, for the bearer header or `?token=` on /sync.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub token: String,
    pub user: UserView,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// A one-time link to sign in on another device.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceLink {
    /// The one-time token.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub invite: String,
    /// The sign-in page with the token.
    #[schema(format = "uri")]
    pub link: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: UserView,
    #[schema(required = true)]
    pub entity: Option<EntityView>,
    #[schema(inline)]
    pub session: SessionExpiry,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub server_time: String,
}

/// The caller's session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionExpiry {
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// Sign in with an invite
///
/// Trades a one-time invite (or a device link) for a session. The token is in the body and in an HttpOnly, SameSite=Strict `accord_session` cookie. Needs no session. A request with an `Origin` header must come from the public URL. Each failed sign-in (401, 403 `user_disabled`, 409) counts against the caller's address; after too many within the window the address gets 429 with `Retry-After`. Malformed bodies do not count.
#[utoipa::path(
    post,
    path = "/session",
    operation_id = "signIn",
    tag = "session",
    security(),
    extensions(("x-roles" = json!([]))),
    request_body(content = SignIn, example = json!({"invite": "0000000000000000000000000000000000000000000000000000000000000000"})),
    responses(
        (status = 200, description = "Signed in.", body = SignedIn, headers(("Set-Cookie" = String, description = "`accord_session=<token>; HttpOnly; SameSite=Strict; Path=/; Max-Age=<seconds>` (plus `Secure` behind https)."))),
        (status = 400, response = openapi::BadRequest),
        (status = 401, description = "The invite is not valid or has expired (`invalid_invite`, `invite_expired`).", body = openapi::ErrorBody),
        (status = 403, description = "The account is disabled (`user_disabled`), or the `Origin` is not the public URL's (`bad_origin`).", body = openapi::ErrorBody),
        (status = 409, description = "The invite has already been used (`invite_used`).", body = openapi::ErrorBody),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 429, response = openapi::TooManyRequests),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn sign_in(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(request): Body<SignIn>,
) -> Result<impl IntoResponse, ApiError> {
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("?"));
    auth::check_plain_origin(origin, &app)?;
    let ip = peer.ip();
    if let Err(wait) = app.throttle.check(ip) {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            format!("too many failed sign-ins from this address: try again in {wait} s"),
        );
        error.retry_after = Some(wait);
        return Err(error);
    }
    let failed = |status: StatusCode, code: &'static str, message: &str| {
        app.throttle.failed(ip);
        ApiError::new(status, code, message)
    };
    let invalid = StatusCode::UNAUTHORIZED;
    if !auth::is_token_shaped(request.invite.trim()) {
        return Err(failed(
            invalid,
            "invalid_invite",
            "this invite is not valid",
        ));
    }
    let token = auth::new_token();
    let now = crate::clock::now_ms();
    let idle = app.config.session_idle().as_millis() as i64;
    let max = app.config.session_max().as_millis() as i64;
    let session = NewSession {
        token_hash: auth::token_hash(&token),
        expires_at: now + idle,
        max_expires_at: now + max,
    };
    let invite_hash = auth::token_hash(request.invite.trim());
    match app.store.redeem_invite(&invite_hash, &session, now).await? {
        Redeemed::Ok(user) => {
            tracing::info!(user = %user.name, "signed in");
            let cookie = auth::session_cookie(
                Some(&token),
                app.config.session_max(),
                app.config.secure_cookies(),
            );
            let body = SignedIn {
                token,
                user: UserView::from(user),
                expires_at: iso(session.expires_at),
                server_time: iso(now),
            };
            Ok(([(header::SET_COOKIE, cookie)], Json(body)))
        }
        Redeemed::Used => Err(failed(
            StatusCode::CONFLICT,
            "invite_used",
            "this invite has already been used: ask for a new one",
        )),
        Redeemed::Expired => Err(failed(
            invalid,
            "invite_expired",
            "this invite has expired: ask for a new one",
        )),
        Redeemed::Disabled => Err(failed(
            StatusCode::FORBIDDEN,
            "user_disabled",
            "this account is disabled",
        )),
        Redeemed::Unknown => Err(failed(
            invalid,
            "invalid_invite",
            "this invite is not valid",
        )),
    }
}

/// Sign out
///
/// Ends the caller's session, closes the websockets opened with it (close code 4001) and clears the cookie. Any role.
#[utoipa::path(
    delete,
    path = "/session",
    operation_id = "signOut",
    tag = "session",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    responses(
        (status = 204, description = "Signed out.", headers(("Set-Cookie" = String, description = "Clears the session cookie (`Max-Age=0`)."))),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn sign_out(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<impl IntoResponse, ApiError> {
    app.store
        .revoke_session(&auth.session, crate::clock::now_ms())
        .await?;
    app.peers.close_session(&auth.session);
    let cookie = auth::session_cookie(None, Duration::ZERO, app.config.secure_cookies());
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]))
}

/// The signed-in user
///
/// The caller, their entity and their session's current expiry. Any role.
#[utoipa::path(
    get,
    path = "/me",
    operation_id = "getMe",
    tag = "session",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn me(State(app): State<AppState>, auth: Auth) -> Result<Json<Me>, ApiError> {
    let entity = match &auth.user.entity {
        Some(code) => app
            .store
            .entities()
            .await?
            .into_iter()
            .find(|e| &e.code == code)
            .map(|e| EntityView {
                code: e.code,
                name: e.name,
            }),
        None => None,
    };
    Ok(Json(Me {
        user: UserView::from(&*auth.user),
        entity,
        session: SessionExpiry {
            expires_at: iso(auth.expires_at),
        },
        server_time: server_time(),
    }))
}

/// Link another device
///
/// Creates a one-time invite that signs in as the caller on another device; it expires after the configured minutes. Takes no body. Any role.
#[utoipa::path(
    post,
    path = "/session/device",
    operation_id = "createDeviceLink",
    tag = "session",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    responses(
        (status = 201, description = "The link.", body = DeviceLink),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn device_link(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<(StatusCode, Json<DeviceLink>), ApiError> {
    let token = auth::new_token();
    let expires_at = crate::clock::now_ms() + app.config.device_link_ttl().as_millis() as i64;
    app.store
        .create_invite(
            &auth.user.id,
            &auth::token_hash(&token),
            InviteKind::Device,
            expires_at,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceLink {
            link: crate::config::invite_link(&app.config.public_url, &token),
            invite: token,
            expires_at: iso(expires_at),
        }),
    ))
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(device_link))
        .routes(routes!(me))
}
