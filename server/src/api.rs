//! The JSON API under `/api/v1`, and the operational endpoints.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use accord_protocol::DocumentId;
use accord_store::{DraftRow, ElementRow, InviteKind, NewSession, Redeemed, Role, UserRow};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::auth::{self, Auth, User};
use crate::clock::iso;
use crate::error::ApiError;
use crate::sync::presence::Present;

/// A JSON request body whose every rejection is an API error: 413 above the
/// body limit, 415 without a JSON content type, 400 for anything malformed.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(body_error(rejection)),
        }
    }
}

/// Query parameters whose rejection is an API error (400).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request("bad_request", rejection.body_text())),
        }
    }
}

/// Path parameters whose rejection is an API error (400).
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S>
    for PathParams<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(ApiError::bad_request("bad_request", rejection.body_text())),
        }
    }
}

/// An optional JSON body: `None` when the request has none.
pub struct OptionalBody<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        "the request body is larger than the server accepts",
                    )
                } else {
                    ApiError::bad_request("bad_request", rejection.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send JSON with Content-Type: application/json",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(|v| OptionalBody(Some(v)))
            .map_err(|e| ApiError::bad_request("bad_request", format!("invalid JSON body: {e}")))
    }
}

fn body_error(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is larger than the server accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
        ),
        _ => ApiError::bad_request("bad_request", rejection.body_text()),
    }
}

fn server_time() -> String {
    iso(crate::clock::now_ms())
}

#[derive(Debug, Serialize)]
pub struct DraftView {
    pub id: String,
    pub title: String,
    pub preamble: String,
    pub index_url: String,
    pub elements: Vec<ElementView>,
    /// Archived elements (restorable by a chair), without their text.
    pub archived_elements: Vec<ArchivedView>,
    pub entities: Vec<EntityView>,
    pub server_time: String,
}

#[derive(Debug, Serialize)]
pub struct ElementView {
    pub id: String,
    pub label: String,
    pub position: i64,
    pub doc_url: String,
    pub text: String,
    /// SHA-256 of the text as UTF-8, lowercase hex.
    pub text_hash: String,
    /// The element document's heads, as lowercase hex change hashes.
    pub heads: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ArchivedView {
    pub id: String,
    pub label: String,
    pub doc_url: String,
}

#[derive(Debug, Serialize)]
pub struct EntityView {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub entity: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            name: user.name.clone(),
            role: user.role.as_str(),
            entity: user.entity.clone(),
        }
    }
}

impl From<UserRow> for UserView {
    fn from(row: UserRow) -> Self {
        (&User::from(row)).into()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub invite: String,
}

/// `POST /api/v1/session`: trades a one-time invite (or device link) for a
/// session: the token in the body and an HttpOnly, SameSite=Strict cookie.
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
            let body = json!({
                "token": token,
                "user": UserView::from(user),
                "expires_at": iso(session.expires_at),
                "server_time": iso(now),
            });
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

/// `DELETE /api/v1/session`: ends the session and its websockets.
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

/// `GET /api/v1/me`.
pub async fn me(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<Json<serde_json::Value>, ApiError> {
    let entity = match &auth.user.entity {
        Some(code) => app
            .store
            .entities()
            .await?
            .into_iter()
            .find(|e| &e.code == code)
            .map(|e| json!({ "code": e.code, "name": e.name })),
        None => None,
    };
    Ok(Json(json!({
        "user": UserView::from(&*auth.user),
        "entity": entity,
        "session": { "expires_at": iso(auth.expires_at) },
        "server_time": server_time(),
    })))
}

/// `POST /api/v1/session/device`: a one-time link to sign in on another
/// device as the same user.
pub async fn device_link(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
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
        Json(json!({
            "invite": token,
            "link": crate::config::invite_link(&app.config.public_url, &token),
            "expires_at": iso(expires_at),
        })),
    ))
}

pub async fn drafts(
    State(app): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<DraftView>>, ApiError> {
    let mut out = Vec::new();
    for row in app.store.drafts().await? {
        if visible(&app, &auth.user, &row.id).await? {
            out.push(draft_view(&app, row).await?);
        }
    }
    Ok(Json(out))
}

pub async fn draft(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<DraftView>, ApiError> {
    let row = visible_draft(&app, &auth.user, &id).await?;
    Ok(Json(draft_view(&app, row).await?))
}

/// Delegates see the drafts their entity takes part in.
async fn visible(app: &AppState, user: &User, draft_id: &str) -> Result<bool, ApiError> {
    if user.role != Role::Delegate {
        return Ok(true);
    }
    let Some(entity) = &user.entity else {
        return Ok(false);
    };
    Ok(app
        .store
        .draft_entities(draft_id)
        .await?
        .iter()
        .any(|e| &e.code == entity))
}

/// The draft, or 404 when it does not exist or the user may not see it.
pub async fn visible_draft(app: &AppState, user: &User, id: &str) -> Result<DraftRow, ApiError> {
    match app.store.draft(id).await? {
        Some(row) if visible(app, user, id).await? => Ok(row),
        _ => Err(ApiError::not_found("the draft")),
    }
}

pub async fn draft_view(app: &AppState, row: DraftRow) -> Result<DraftView, ApiError> {
    let mut elements = Vec::new();
    let mut archived_elements = Vec::new();
    for element in app.store.all_elements(&row.id).await? {
        if element.archived {
            let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
            archived_elements.push(ArchivedView {
                id: element.id,
                label: element.label,
                doc_url: doc.url(),
            });
        } else {
            elements.push(element_view(app, element).await?);
        }
    }
    let entities = app
        .store
        .draft_entities(&row.id)
        .await?
        .into_iter()
        .map(|e| EntityView {
            code: e.code,
            name: e.name,
        })
        .collect();
    let index: DocumentId = row.index_doc.parse().map_err(ApiError::internal)?;
    Ok(DraftView {
        id: row.id,
        title: row.title,
        preamble: row.preamble,
        index_url: index.url(),
        elements,
        archived_elements,
        entities,
        server_time: server_time(),
    })
}

pub async fn element_view(app: &AppState, element: ElementRow) -> Result<ElementView, ApiError> {
    let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
    let view = app
        .docs
        .read(doc)
        .await?
        .ok_or_else(|| ApiError::internal(format!("element document {doc} is missing")))?;
    let text = view.text.unwrap_or_default();
    Ok(ElementView {
        id: element.id,
        label: element.label,
        position: element.position,
        doc_url: doc.url(),
        text_hash: accord_model::text_hash(&text),
        text,
        heads: accord_model::heads_hex(&view.heads),
    })
}

#[derive(Debug, Deserialize)]
pub struct Page {
    /// Return entries after this sequence number.
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// `GET /api/v1/drafts/{id}/changes` (chairs, reviewers): every stored
/// change with who delivered it and when the server committed it.
pub async fn changes(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(page): Params<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth.user
        .require(&[Role::Chair, Role::Reviewer], "read the change log")?;
    visible_draft(&app, &auth.user, &id).await?;
    let limit = page.limit.unwrap_or(500).clamp(1, 5000);
    let rows = app
        .store
        .draft_changes(&id, page.after.unwrap_or(0), limit)
        .await?;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|r| r.seq)
    } else {
        None
    };
    let changes: Vec<_> = rows
        .into_iter()
        .map(|c| {
            json!({
                "seq": c.seq,
                "hash": hex::encode(&c.hash),
                "element": c.element_id,
                "document": c.doc_id,
                "user": c.user_id,
                "user_name": c.user_name,
                "entity": c.entity_code,
                "committed_at": iso(c.committed_at),
            })
        })
        .collect();
    Ok(Json(json!({
        "changes": changes,
        "next": next,
        "server_time": server_time(),
    })))
}

/// `GET /api/v1/drafts/{id}/presence`: who is connected, as the server
/// knows them.
pub async fn presence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    visible_draft(&app, &auth.user, &id).await?;
    let present: Vec<Present> = app.presence.list(&id);
    Ok(Json(json!({
        "draft": id,
        "present": present,
        "server_time": server_time(),
    })))
}

pub async fn entities(
    State(app): State<AppState>,
    _auth: Auth,
) -> Result<Json<Vec<EntityView>>, ApiError> {
    let entities = app.store.entities().await?;
    Ok(Json(
        entities
            .into_iter()
            .map(|e| EntityView {
                code: e.code,
                name: e.name,
            })
            .collect(),
    ))
}

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
pub async fn users(
    State(app): State<AppState>,
    _auth: Auth,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let users = app.store.users().await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| !u.disabled)
            .map(UserView::from)
            .collect(),
    ))
}

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

/// A document that could not be loaded is the server's failure.
impl From<crate::documents::LoadError> for ApiError {
    fn from(e: crate::documents::LoadError) -> Self {
        Self::internal(e)
    }
}
