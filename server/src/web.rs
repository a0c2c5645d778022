//! The web app: the built bundle (`web/dist`, embedded in the binary, or a
//! folder given with `--web-dir`) at `/`, with `index.html` for every
//! client route. Hashed assets are cached for good; the page never is.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::headers::page_policy;

#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Bundle;

/// The page served before the web app is built.
const PLACEHOLDER: &str = include_str!("../../web/static/index.html");

/// Paths that belong to the server, never to the web app.
fn is_server_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || ["/sync", "/healthz", "/readyz", "/metrics"]
            .iter()
            .any(|p| {
                path == *p
                    || path
                        .strip_prefix(p)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
}

/// Serves a file of the web app, or `index.html` for a client route.
pub async fn serve(State(app): State<AppState>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if is_server_path(path) || !matches!(method, Method::GET | Method::HEAD) {
        return ApiError::not_found("this path").into_response();
    }
    let wanted = path.trim_start_matches('/');
    if !wanted.is_empty()
        && let Some((bytes, mime)) = file(app.config.web_dir.as_deref(), wanted)
    {
        let immutable = wanted.starts_with("assets/");
        return respond(&app, bytes, &mime, immutable);
    }
    // A path with an extension is a missing file, not a client route.
    if Path::new(wanted).extension().is_some_and(|e| e != "html") {
        return ApiError::not_found("this file").into_response();
    }
    match file(app.config.web_dir.as_deref(), "index.html") {
        Some((bytes, mime)) => respond(&app, bytes, &mime, false),
        None => respond(
            &app,
            PLACEHOLDER.as_bytes().to_vec(),
            "text/html; charset=utf-8",
            false,
        ),
    }
}

fn file(dir: Option<&Path>, wanted: &str) -> Option<(Vec<u8>, String)> {
    let mime = mime_guess::from_path(wanted)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();
    let mime = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    };
    match dir {
        Some(dir) => {
            let relative = PathBuf::from(wanted);
            // Only plain names below the folder.
            if !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            {
                return None;
            }
            let bytes = std::fs::read(dir.join(relative)).ok()?;
            Some((bytes, mime))
        }
        None => Bundle::get(wanted).map(|f| (f.data.into_owned(), mime)),
    }
}

fn respond(app: &AppState, bytes: Vec<u8>, mime: &str, immutable: bool) -> Response {
    let mut response = (StatusCode::OK, Body::from(bytes)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    if let Ok(policy) = HeaderValue::from_str(&page_policy(&app.config.public_url)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}

/// Besides the page's policy (`page_policy`: its own origin and websocket,
/// its own scripts and WebAssembly, never framed): links never carry the URL
/// (invite tokens) to other sites.
const SECURITY_HEADERS: &[(header::HeaderName, &str)] = &[
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
];
