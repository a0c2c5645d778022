//! The web app: the built bundle (`web/dist`, embedded in the binary, or a
//! folder given with `--web-dir`) at `/`, with `index.html` for every
//! client route. Hashed assets are cached for good; the page never is.
//! The build writes each large file precompressed beside it (`NAME.br`,
//! `NAME.gz`); a request that accepts one of them gets it, with
//! `Content-Encoding`, and every response that could have been encoded
//! says `Vary: Accept-Encoding` so caches keep the variants apart.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::headers::page_policy;
use crate::AppState;
use crate::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Bundle;

/// The page served before the web app is built.
const PLACEHOLDER: &str = include_str!("../../../web/static/index.html");

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
pub async fn serve(
    State(app): State<AppState>,
    method: Method,
    uri: Uri,
    request: HeaderMap,
) -> Response {
    let path = uri.path();
    if is_server_path(path) || !matches!(method, Method::GET | Method::HEAD) {
        return ApiError::not_found("this path").into_response();
    }
    let dir = app.config.web_dir.as_deref();
    let accepted = accepted_encodings(&request);
    // Browsers ask for `/favicon.ico` on pages that name no icon (the HTML
    // export): the app's own icon answers.
    let wanted = match path.trim_start_matches('/') {
        "favicon.ico" => "favicon.svg",
        wanted => wanted,
    };
    if !wanted.is_empty()
        && let Some(found) = file(dir, wanted, &accepted)
    {
        let immutable = wanted.starts_with("assets/");
        return respond(&app, found, immutable);
    }
    // A path with an extension is a missing file, not a client route.
    if Path::new(wanted).extension().is_some_and(|e| e != "html") {
        return ApiError::not_found("this file").into_response();
    }
    match file(dir, "index.html", &accepted) {
        Some(found) => respond(&app, found, false),
        None => respond(
            &app,
            Found {
                bytes: PLACEHOLDER.as_bytes().to_vec(),
                mime: "text/html; charset=utf-8".to_owned(),
                encoding: None,
                varies: false,
            },
            false,
        ),
    }
}

/// The precompressed variants the build writes, best first: the file name's
/// suffix and the `Content-Encoding` it is served with.
const VARIANTS: &[(&str, &str)] = &[(".br", "br"), (".gz", "gzip")];

/// The encodings of [`VARIANTS`] the request accepts (RFC 9110 §12.5.3):
/// named, or covered by `*`, with a quality above zero.
fn accepted_encodings(request: &HeaderMap) -> Vec<&'static str> {
    let mut named: Vec<(String, bool)> = Vec::new();
    for value in request.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            if coding.is_empty() {
                continue;
            }
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            named.push((coding, !refused));
        }
    }
    let verdict = |coding: &str| {
        named
            .iter()
            .find(|(c, _)| c == coding)
            .or_else(|| named.iter().find(|(c, _)| c == "*"))
            .is_some_and(|(_, ok)| *ok)
    };
    VARIANTS
        .iter()
        .map(|(_, coding)| *coding)
        .filter(|coding| verdict(coding))
        .collect()
}

/// A file of the web app as it will be sent.
struct Found {
    bytes: Vec<u8>,
    /// The `Content-Type` of the file itself.
    mime: String,
    /// `Some` when `bytes` is a precompressed variant.
    encoding: Option<&'static str>,
    /// Whether the file has precompressed variants (the answer depends on
    /// `Accept-Encoding`).
    varies: bool,
}

/// `wanted`, as the best variant `accepted` allows.
fn file(dir: Option<&Path>, wanted: &str, accepted: &[&'static str]) -> Option<Found> {
    let mut varies = false;
    for (suffix, coding) in VARIANTS {
        let Some(bytes) = read(dir, &format!("{wanted}{suffix}")) else {
            continue;
        };
        varies = true;
        if accepted.contains(coding) {
            return Some(Found {
                bytes,
                mime: mime_of(wanted),
                encoding: Some(coding),
                varies,
            });
        }
    }
    Some(Found {
        bytes: read(dir, wanted)?,
        mime: mime_of(wanted),
        encoding: None,
        varies,
    })
}

fn mime_of(wanted: &str) -> String {
    let mime = mime_guess::from_path(wanted)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();
    if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime
    }
}

fn read(dir: Option<&Path>, wanted: &str) -> Option<Vec<u8>> {
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
            std::fs::read(dir.join(relative)).ok()
        }
        None => Bundle::get(wanted).map(|f| f.data.into_owned()),
    }
}

fn respond(app: &AppState, found: Found, immutable: bool) -> Response {
    let mut response = (StatusCode::OK, Body::from(found.bytes)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&found.mime) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(coding) = found.encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if found.varies {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
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
