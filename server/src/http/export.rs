//! `GET /api/v1/drafts/{id}/export`: a draft as Markdown, HTML, Akoma
//! Ntoso or the compilation text (Markdown or HTML), inline, with the
//! content policy its format needs.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Params, PathParams};
use super::headers;
use super::openapi::{self, ErrorBody, params};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::export::{ExportQuery, render};

/// Export the draft
///
/// The draft at a version (the current one unless `version`, `at` or `heads` names another), rendered with each element's status and the positions recorded on it as the ledger stood then: Markdown (`text/markdown`), a printable HTML page with the consensus annex (`text/html`), or Akoma Ntoso 3.0 XML (`application/akn+xml`, carrying the amendments pending then: `del`/`ins` in the text and an `authorialNote` each). Or the compilation text a meeting reads: each element's text with every amendment pending at the version marked in it and tagged with its number and its sponsors' entity codes, then the list of the element's amendments (proposer, sponsors, reason, in conflict or not): `compilation-md` (`text/markdown`; CriticMarkup: `{~~old~>new~~}`, `{--deleted--}`, `{++inserted++}`, each followed by `{>>A3: IOM, UNDP<<}`; the text's own characters are escaped so that they never read as markup) or `compilation-html` (`text/html`: `<del>`/`<ins>` with `data-amendment`). An amendment overlapping one already marked at that place is listed only. The amendments are those pending at the version's time (for `heads`: now), located by their anchors in the text exported; one whose passage cannot be found there is listed only. Any role who can see the draft: delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/export",
    operation_id = "exportDraft",
    tag = "history",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ExportQuery),
    responses(
        (
            status = 200,
            description = "The draft rendered in the format asked for, served inline.",
            headers(("Content-Disposition" = String, description = "`inline; filename=\"accord-{id}.md\"` (`.html`, `.xml` for the other formats; `accord-{id}-compilation.md` and `accord-{id}-compilation.html` for the compilation text).")),
            content(
                (String = "text/markdown; charset=utf-8"),
                (String = "text/html; charset=utf-8"),
                (String = "application/akn+xml; charset=utf-8"),
            ),
        ),
        (status = 400, description = "The format is missing or unknown, or a query parameter is unknown or malformed (`bad_request`), more than one of `version`, `at` and `heads` is given, `at` is not a UTC time, `heads` is not a JSON object of hex change hashes, or the documents cannot be read at those heads (`invalid`).", body = ErrorBody),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, description = "The draft does not exist or a delegate may not see it, or there is no named version by that name (`not_found`, \"that named version does not exist\").", body = ErrorBody),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn export(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let rendered = render(&app, &auth, &id, q).await?;
    // The HTML pages (the export and the compilation text, one style) need
    // their style; every other format gets the strict policy of the
    // headers layer.
    let policy = if rendered.format.is_html() {
        headers::html_export_policy()
    } else {
        headers::STRICT_POLICY
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
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}
