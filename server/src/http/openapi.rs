//! The OpenAPI description of the JSON API, served at
//! `/api/v1/openapi.json`.
//!
//! The document is generated from the code: [`ApiDoc`] holds what belongs
//! to no operation (info, tags, security schemes, the `Error` schema and
//! the shared responses below); every operation comes from the
//! `#[utoipa::path]` of the handler registered with `routes!(…)` through
//! `utoipa_axum`'s `OpenApiRouter` (each area file's `routes()`), its
//! schemas from the `ToSchema` types the handler really takes and returns.
//!
//! Conventions for the operations:
//! - `operation_id`, `summary` (the doc comment's first paragraph is the
//!   summary, the rest the description) and one `tag` from [`ApiDoc`]'s tags.
//! - `security(("sessionCookie" = []), ("bearerToken" = []))` for an
//!   operation that needs a session, `security()` (no requirement: `[]`)
//!   for one that needs none;
//!   `extensions(("x-roles" = json!(["chair"])))` lists the roles admitted
//!   (`json!([])`: no session needed).
//! - Errors use the shared responses: `(status = 404, response =
//!   crate::http::openapi::NotFound)`.
//! - Path parameters are declared per operation, with the descriptions
//!   [`params`] holds, e.g. `params(("id" = String, Path, description =
//!   params::DRAFT_ID))`; query parameters come from `IntoParams` structs
//!   whose fields' doc comments describe them.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// This document
///
/// The OpenAPI description of the API. Needs no session.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    security(),
    extensions(("x-roles" = json!([]))),
    responses((status = 200, description = "The document.", body = inline(Document)))
)]
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], generated())
}

/// The document the route table generates, written once.
fn generated() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        super::document()
            .to_pretty_json()
            .expect("the OpenAPI document is JSON")
    })
}

/// `/openapi.json`, under `/api/v1`.
pub fn routes() -> OpenApiRouter<crate::AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// An OpenAPI document: what `getOpenApi` answers.
pub struct Document;

impl PartialSchema for Document {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .required("openapi")
            .required("info")
            .required("paths")
            .into()
    }
}

impl ToSchema for Document {}

/// The descriptions of the path parameters several operations share.
pub mod params {
    /// Path parameter `id`.
    pub const DRAFT_ID: &str = "The draft's id.";
    /// Path parameter `eid`.
    pub const ELEMENT_ID: &str = "The element's id.";
    /// Path parameter `entity`.
    pub const ENTITY_CODE: &str = "The entity's code, e.g. `IOM`.";
    /// Path parameter `aid`.
    pub const AMENDMENT_ID: &str = "The amendment's id.";
    /// Path parameter `cid`.
    pub const COMMENT_ID: &str = "The comment's id (a thread's first comment).";
}

/// What belongs to no operation; the operations come from the route table.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Accord",
        version = "1",
        description = "The JSON API of Accord, a server for drafting a consensus text together, and its operational endpoints. Every error is JSON `{\"error\": code, \"message\": text}` unless a response says otherwise. An unknown path under /api/v1 answers 404 `not_found` and a known path with another method 405 `method_not_allowed`. Roles: chairs manage drafts, delegates speak for one entity and see only the drafts it takes part in, reviewers read everything. `x-roles` lists the roles an operation admits (empty: no session needed)."
    ),
    tags(
        (name = "session", description = "Signing in and out."),
        (name = "drafts", description = "Reading drafts."),
        (name = "structure", description = "Chairs' edits of a draft's structure."),
        (name = "consensus", description = "Positions, element statuses, silence procedures and adoption."),
        (name = "amendments", description = "Amendments to elements' text: proposing, sponsoring, objecting, withdrawing; chairs accept or reject them."),
        (name = "comments", description = "Comment threads on elements."),
        (name = "history", description = "The timeline of revisions, positions and events; the draft at a version; comparisons, attribution and exports."),
        (name = "directory", description = "Entities and users."),
        (name = "meta", description = "This description."),
        (name = "operations", description = "Health, readiness and metrics."),
        (name = "sync", description = "The websocket sync protocol."),
        (name = "testing", description = "For tests and rehearsals: only with `--test-clock`."),
    ),
    components(
        schemas(
            ErrorBody,
            crate::consensus::PositionError,
            crate::consensus::SilenceError
        ),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Internal,
            Unavailable,
            PositionBadRequest,
            PositionForbidden,
            PositionConflict,
            SilenceRefused,
            NoSilence,
            AdoptionConflict,
            DraftAdoptionConflict,
        )
    ),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// Every API error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// A stable machine-readable code, e.g. `not_found`, `forbidden`, `unauthenticated`.
    pub error: &'static str,
    /// For people.
    pub message: String,
    /// More fields some errors carry (e.g. `current_hash` with
    /// `text_changed`); their responses document them.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The ways to present a session, and the metrics token.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "sessionCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "accord_session",
                "The browser's session cookie (set by signIn). A request that changes something with it must carry an `Origin` header matching the public URL.",
            ))),
        );
        components.add_security_scheme(
            "bearerToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <token>` with the token signIn returns.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "syncToken",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "The session token as `?token=`; accepted on /sync only.",
            ))),
        );
        components.add_security_scheme(
            "metricsToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <token>` with the server's `--metrics-token` (not a session); /metrics only.",
                    ))
                    .build(),
            ),
        );
    }
}

// The shared error responses, referenced by the operations as
// `response = crate::http::openapi::NotFound`. Each is an `Error` body
// under a description of the codes it carries.

/// The body or a field is invalid (`bad_request`, `invalid`, `too_long`, `unknown_entity`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct BadRequest(ErrorBody);

/// No live session (`unauthenticated`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Unauthorized(ErrorBody);

/// The role may not do this (`forbidden`), or the request's `Origin` is refused (`bad_origin`, `origin_required`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Forbidden(ErrorBody);

/// The draft or element does not exist, or a delegate may not see the draft (`not_found`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct NotFound(ErrorBody);

/// The element is (`archived`) or is not (`not_archived`) archived, or storage refused a conflicting change (`conflict`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Conflict(ErrorBody);

/// The body is larger than the server accepts (`too_large`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct PayloadTooLarge(ErrorBody);

/// The body is not sent as `application/json` (`unsupported_media_type`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct UnsupportedMediaType(ErrorBody);

/// Too many failed sign-ins from this address (`too_many_attempts`), with
/// `Retry-After` (written by hand: the derive cannot say `minimum: 1`).
pub struct TooManyRequests;

impl<'s> ToResponse<'s> for TooManyRequests {
    fn response() -> (&'s str, RefOr<Response>) {
        let retry_after = Header::builder()
            .description(Some("Seconds to wait."))
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .build();
        let response = ResponseBuilder::new()
            .description("Too many failed sign-ins from this address (`too_many_attempts`).")
            .header("Retry-After", retry_after)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Error")))
                    .build(),
            )
            .build();
        ("TooManyRequests", response.into())
    }
}

/// The server could not complete the request (`internal`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Internal(ErrorBody);

/// Not ready (`unavailable`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct Unavailable(ErrorBody);

/// The body or a field is invalid (`bad_request`, `invalid`: an unknown `position`, a `wording` without `object`, a note or wording over its limit, heads that are not 1 to 64 change hashes), or a note is missing: a reservation's (`note_required`) or an objection's reason (`reason_required`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct PositionBadRequest(ErrorBody);

/// Only a delegate of the entity may state its position (`forbidden`); the entity does not take part in the draft (`not_participating`); or the request's `Origin` is refused (`bad_origin`, `origin_required`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct PositionForbidden(ErrorBody);

/// The position cannot be recorded: the server does not have the heads you read yet (`not_synced`: wait until your edits are saved); the text has changed since you read it (`text_changed`, with `current_hash`; while the element is under silence, positions are taken on the locked text only, and `current_hash` is that text's); the element is adopted (`adopted`: a chair must reopen it first).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct PositionConflict(crate::consensus::PositionError);

/// The silence procedure cannot start, and nothing was started: `silence_refused`, with `refusals` saying why for each element refused; `stale_objections`, with `stale_objections` listing the objections given on an earlier text that silence would turn into support, when the request did not confirm them (`confirm_stale_objections`); or storage refused a conflicting change (`conflict`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct SilenceRefused(crate::consensus::SilenceError);

/// No matching silence procedure is running (`no_silence`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct NoSilence(ErrorBody);

/// Adopting: only an `agreed` element can be adopted (`not_agreed`; `ad_ref_pending` while ad referendum support awaits confirmation). Reopening: the element is not adopted (`not_adopted`) or the whole draft is (`draft_adopted`). Or storage refused a conflicting change (`conflict`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct AdoptionConflict(ErrorBody);

/// Not every element is adopted (`not_all_adopted`, naming those that are not, with their status), the draft is already adopted (`already_adopted`), or storage refused a conflicting change, e.g. a version of that name exists (`conflict`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub struct DraftAdoptionConflict(ErrorBody);

/// Marks the request body of `method path` in `router`'s document as not
/// required: an [`OptionalBody`](super::extract::OptionalBody) takes none at
/// all (never `null`), which `request_body(…)` cannot say without making
/// the schema nullable.
pub fn optional_body<S>(
    router: &mut utoipa_axum::router::OpenApiRouter<S>,
    path: &str,
    method: utoipa::openapi::HttpMethod,
) where
    S: Send + Sync + Clone + 'static,
{
    use utoipa::openapi::HttpMethod;
    let Some(item) = router.get_openapi_mut().paths.paths.get_mut(path) else {
        return;
    };
    let operation = match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    };
    if let Some(body) = operation.and_then(|op| op.request_body.as_mut()) {
        body.required = Some(utoipa::openapi::Required::False);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The document the route table generates, as served.
    fn generated() -> Value {
        serde_json::from_str(super::generated()).expect("the document is JSON")
    }

    #[test]
    fn the_document_has_the_shared_parts() {
        let doc = generated();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Accord");
        assert_eq!(
            doc["components"]["schemas"]["Error"]["required"],
            serde_json::json!(["error", "message"])
        );
        assert_eq!(
            doc["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert_eq!(
            doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]["schema"]["minimum"],
            1
        );
        for scheme in ["sessionCookie", "bearerToken", "syncToken", "metricsToken"] {
            assert!(
                doc["components"]["securitySchemes"][scheme].is_object(),
                "{scheme}"
            );
        }
    }

    #[test]
    fn the_operational_endpoints_are_documented() {
        let doc = generated();
        for (path, id) in [
            ("/healthz", "healthz"),
            ("/readyz", "readyz"),
            ("/metrics", "metrics"),
            ("/sync", "sync"),
            ("/api/v1/openapi.json", "getOpenApi"),
        ] {
            assert_eq!(doc["paths"][path]["get"]["operationId"], id, "{path}");
            assert!(doc["paths"][path]["get"]["x-roles"].is_array(), "{path}");
        }
        assert_eq!(
            doc["paths"]["/healthz"]["get"]["security"],
            serde_json::json!([])
        );
    }
}
