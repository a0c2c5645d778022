//! Request extractors whose every rejection is an [`ApiError`]: JSON bodies,
//! query strings, path parameters and the signed-in user.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::auth::{Auth, COOKIE, Via, authenticate, public_origin, same_origin};
use crate::error::ApiError;

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

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::bad_request("bad_request", rejection.body_text())),
        }
    }
}

/// Path parameters whose rejection is an API error (400).
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
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

/// The signed-in user of a request: 401 without a live session, 403 for a
/// cross-site request.
impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let is_sync = parts.uri.path() == "/sync";
        let Some((token, via)) = presented_token(parts, is_sync) else {
            return Err(ApiError::unauthorized(
                "unauthenticated",
                "sign in first: this needs a session",
            ));
        };
        check_origin(parts, app, via, is_sync)?;
        authenticate(app, &token).await
    }
}

fn presented_token(parts: &Parts, allow_query: bool) -> Option<(String, Via)> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION)
        && let Ok(value) = value.to_str()
        && let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
    {
        return Some((token.trim().to_owned(), Via::Bearer));
    }
    if let Some(token) = cookie(parts, COOKIE) {
        return Some((token, Via::Cookie));
    }
    if allow_query {
        let query = parts.uri.query().unwrap_or_default();
        for pair in query.split('&') {
            if let Some(token) = pair.strip_prefix("token=") {
                return Some((token.to_owned(), Via::Query));
            }
        }
    }
    None
}

fn cookie(parts: &Parts, name: &str) -> Option<String> {
    for value in parts.headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((key, val)) = pair.trim().split_once('=')
                && key == name
            {
                return Some(val.to_owned());
            }
        }
    }
    None
}

/// `Origin`, when present, must be the public URL's origin. A browser
/// request that relies on the cookie must carry it when it changes
/// something or opens the websocket.
fn check_origin(parts: &Parts, app: &AppState, via: Via, is_sync: bool) -> Result<(), ApiError> {
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("?"));
    match origin {
        Some(origin) if !same_origin(origin, &app.config.public_url) => Err(ApiError::forbidden(
            "bad_origin",
            format!(
                "requests from {origin} are not accepted; open Accord at {}",
                public_origin(&app.config.public_url)
            ),
        )),
        None if via == Via::Cookie
            && (is_sync || !matches!(parts.method, Method::GET | Method::HEAD)) =>
        {
            Err(ApiError::forbidden(
                "origin_required",
                "a browser request with a session cookie must carry an Origin header",
            ))
        }
        _ => Ok(()),
    }
}
