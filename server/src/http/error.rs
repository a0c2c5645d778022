//! An [`ApiError`] as a response: its status, `{"error", "message", …}`
//! ([`ErrorBody`], the `Error` schema) and `Retry-After` when it has one.

use axum::Json;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::openapi::ErrorBody;
use crate::error::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // `error` and `message` win over extra fields of the same name.
        let extra = match self.extra {
            Some(serde_json::Value::Object(mut extra)) => {
                extra.remove("error");
                extra.remove("message");
                extra
            }
            _ => serde_json::Map::new(),
        };
        let body = ErrorBody {
            error: self.code,
            message: self.message,
            extra,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        response
    }
}
