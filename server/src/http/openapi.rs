//! The OpenAPI description of the JSON API, served at
//! `/api/v1/openapi.json` (`openapi.json` next to this file; the
//! integration tests check it against the running server).

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
