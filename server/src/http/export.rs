//! `GET /api/v1/drafts/{id}/export`: a draft as Markdown, HTML or Akoma
//! Ntoso, inline, with the content policy its format needs.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::extract::{Params, PathParams};
use super::headers;
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::export::{ExportQuery, Format, render};

/// `GET /api/v1/drafts/{id}/export?format=md|html|akn[&version=|at=|heads=]`.
pub async fn export(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let rendered = render(&app, &auth, &id, q).await?;
    // The HTML page needs its style; every other format gets the strict
    // policy of the headers layer.
    let policy = match rendered.format {
        Format::Html => headers::html_export_policy(),
        Format::Markdown | Format::AkomaNtoso => headers::STRICT_POLICY,
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                rendered.format.content_type().to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{}\"", rendered.filename),
            ),
            (header::CONTENT_SECURITY_POLICY, policy.to_owned()),
        ],
        rendered.body,
    )
        .into_response())
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .route("/drafts/{id}/export", axum::routing::get(export))
}
