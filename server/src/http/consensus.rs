//! Consensus over HTTP: positions, silence procedures, adoption, named
//! versions and the test clock. Each handler hands its request to
//! [`crate::consensus`] and answers with the result; its
//! `#[utoipa::path]` is the operation in the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa::openapi::HttpMethod;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Body, OptionalBody, PathParams};
use super::openapi::{self, ErrorBody, optional_body, params};
use crate::AppState;
use crate::auth::Auth;
use crate::consensus::{
    self, AdoptDraftRequest, CancelRequest, ClockReading, ClockRequest, ConsensusReport,
    DraftAdopted, ElementState, PositionRecorded, PositionRequest, SilenceRequest,
    SilencesCancelled, SilencesStarted, Version, VersionList, VersionRequest,
};
use crate::error::ApiError;

type Answer<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

fn created<T>(body: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(body))
}

/// A draft's consensus state
///
/// The draft's state and progress and, per element that is not archived,
/// its status, silence procedure, adoption, current text hash and heads,
/// the entities that have not responded or whose position is stale,
/// current objections and reservations, support ad referendum, and the
/// matrix of every participating entity's latest position. Times follow
/// the consensus clock (`server_time`). Any role. Delegates see only the
/// drafts their entity takes part in; any other draft answers 404 as if it
/// did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/consensus",
    operation_id = "getConsensus",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    responses(
        (status = 200, description = "The consensus state.", body = ConsensusReport),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn get_consensus(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Answer<ConsensusReport> {
    consensus::get_consensus(&app, &auth, id).await.map(Json)
}

/// State an entity's position on an element
///
/// Records the entity's position on the element's text as you read it:
/// `text_hash` and `heads` are the element's from the draft (GET
/// /api/v1/drafts/{id}) or your synced document. The ledger is
/// append-only; the entity's latest position counts while the text stays
/// the same, and goes stale when it changes. A current objection during a
/// silence procedure breaks it (`silence_broken`) and unlocks the text.
/// Only a delegate of that entity, for a draft the entity takes part in:
/// anyone else gets 403 `forbidden`, and a draft the delegate may not see
/// answers 404. The result is also written into the draft's index document
/// (`consensus`) and reaches connected clients through sync.
#[utoipa::path(
    put,
    path = "/drafts/{id}/elements/{eid}/positions/{entity}",
    operation_id = "putPosition",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["delegate"]))),
    params(
        ("id" = String, Path, description = params::DRAFT_ID),
        ("eid" = String, Path, description = params::ELEMENT_ID),
        ("entity" = String, Path, description = params::ENTITY_CODE),
    ),
    request_body(content = PositionRequest, example = json!({
        "position": "reservation",
        "note": "Subject to confirmation of the figures in the annex.",
        "text_hash": "3b5d1c9e0f2a4b6c8d7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4",
        "heads": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
    })),
    responses(
        (status = 201, description = "The recorded position and the element's status now.", body = PositionRecorded),
        (status = 400, response = openapi::PositionBadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::PositionForbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::PositionConflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn put_position(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String, String)>,
    Body(request): Body<PositionRequest>,
) -> Created<PositionRecorded> {
    consensus::put_position(&app, &auth, ids, request)
        .await
        .map(created)
}

/// Start silence procedures
///
/// Puts the elements under a silence procedure until `deadline`: their
/// text is locked (edits are undone) and, unless an entity objects on that
/// text first, every participating entity without a current position is
/// recorded as supporting when the deadline passes. Only `open`, `agreed`
/// and `agreed_ad_ref` elements qualify, with a deadline at least the
/// server's minimum notice ahead; if any element is refused, none starts
/// (409 `silence_refused` with `refusals`). A stale objection (one given on
/// an earlier text) does not stop a silence, but silence would turn it into
/// support: the chair must confirm every one (`confirm_stale_objections`:
/// true), else 409 `stale_objections` lists them (entities and elements)
/// and none starts; the confirmed ones are recorded in the
/// `silence_started` event and become support by silence at the deadline
/// unless their entity objects again on the locked text. An unknown element
/// answers 404. The result is also written into the draft's index document
/// (`consensus`) and reaches connected clients through sync. Chairs only:
/// delegates and reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/silence",
    operation_id = "startSilence",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    request_body(content = SilenceRequest, example = json!({
        "elements": "all",
        "deadline": "2027-05-01T12:00:00Z"
    })),
    responses(
        (status = 201, description = "The procedures started.", body = SilencesStarted),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::SilenceRefused),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn start_silence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Body(request): Body<SilenceRequest>,
) -> Created<SilencesStarted> {
    consensus::start_silence(&app, &auth, id, request)
        .await
        .map(created)
}

/// Cancel silence procedures
///
/// Cancels the running silence procedures of the elements named, or every
/// one of the draft when the body or `elements` is absent, and unlocks
/// their text (unless adopted). The body is optional; when present it must
/// be JSON (415 otherwise). None matching answers 409 `no_silence`. The
/// result is also written into the draft's index document (`consensus`)
/// and reaches connected clients through sync. Chairs only: delegates and
/// reviewers get 403.
#[utoipa::path(
    delete,
    path = "/drafts/{id}/silence",
    operation_id = "cancelSilence",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    request_body(content = CancelRequest, example = json!({
        "elements": ["5c0e2a9d41b7"]
    })),
    responses(
        (status = 200, description = "The procedures cancelled.", body = SilencesCancelled),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::NoSilence),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn cancel_silence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    OptionalBody(body): OptionalBody<CancelRequest>,
) -> Answer<SilencesCancelled> {
    consensus::cancel_silence(&app, &auth, id, body)
        .await
        .map(Json)
}

/// Adopt an element
///
/// Adopts an `agreed` element: its text is locked (edits are undone) until
/// a chair reopens it, and no position can be stated on it. Takes no body.
/// The result is also written into the draft's index document
/// (`consensus`) and reaches connected clients through sync. Chairs only:
/// delegates and reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements/{eid}/adopt",
    operation_id = "adoptElement",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(
        ("id" = String, Path, description = params::DRAFT_ID),
        ("eid" = String, Path, description = params::ELEMENT_ID),
    ),
    responses(
        (status = 200, description = "The element's status now.", body = ElementState),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::AdoptionConflict),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn adopt_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
) -> Answer<ElementState> {
    consensus::adopt_element(&app, &auth, ids).await.map(Json)
}

/// Reopen an adopted element
///
/// Withdraws an element's adoption and unlocks its text; its status follows
/// the positions again. Not once the draft is adopted. Takes no body. The
/// result is also written into the draft's index document (`consensus`)
/// and reaches connected clients through sync. Chairs only: delegates and
/// reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements/{eid}/reopen",
    operation_id = "reopenElement",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(
        ("id" = String, Path, description = params::DRAFT_ID),
        ("eid" = String, Path, description = params::ELEMENT_ID),
    ),
    responses(
        (status = 200, description = "The element's status now.", body = ElementState),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::AdoptionConflict),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn reopen_element(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
) -> Answer<ElementState> {
    consensus::reopen_element(&app, &auth, ids).await.map(Json)
}

/// Adopt the draft
///
/// Adopts the whole draft once every element is adopted, and records the
/// final version under `name`: the heads of every document of the draft.
/// The body is optional; when present it must be JSON (415 otherwise). The
/// result is also written into the draft's index document (`consensus`)
/// and reaches connected clients through sync. Chairs only: delegates and
/// reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/adopt",
    operation_id = "adoptDraft",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    request_body(content = AdoptDraftRequest, example = json!({
        "name": "Adopted text"
    })),
    responses(
        (status = 201, description = "The final version.", body = DraftAdopted),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::DraftAdoptionConflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn adopt_draft(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    OptionalBody(body): OptionalBody<AdoptDraftRequest>,
) -> Created<DraftAdopted> {
    consensus::adopt_draft(&app, &auth, id, body)
        .await
        .map(created)
}

/// Name the current version
///
/// Records every document's heads now under a name (e.g. "Rev.1"). Chairs
/// only: delegates and reviewers get 403. A name already used in the draft
/// answers 409 `version_exists`.
#[utoipa::path(
    post,
    path = "/drafts/{id}/versions",
    operation_id = "nameVersion",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    request_body(content = VersionRequest, example = json!({ "name": "Rev.1" })),
    responses(
        (status = 201, description = "The version.", body = Version),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, description = "The name is taken (`version_exists`).", body = ErrorBody),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn name_version(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Body(request): Body<VersionRequest>,
) -> Created<Version> {
    consensus::name_version(&app, &auth, id, request)
        .await
        .map(created)
}

/// List named versions
///
/// The draft's named versions, oldest first. Any role who can see the
/// draft (delegates of non-participating entities get 404).
#[utoipa::path(
    get,
    path = "/drafts/{id}/versions",
    operation_id = "listVersions",
    tag = "consensus",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    responses(
        (status = 200, description = "The versions.", body = VersionList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn list_versions(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Answer<VersionList> {
    consensus::list_versions(&app, &auth, id).await.map(Json)
}

/// Move the consensus clock forward
///
/// Moves the clock that positions, silence deadlines and their firing
/// follow forward by `advance_secs`; deadlines that pass fire. At most ten
/// years a step, and a hundred years ahead of the real time in all (400
/// `invalid` beyond). Only when the server runs with `--test-clock` (for
/// tests and rehearsals): otherwise 400 `invalid`. Chairs only: delegates
/// and reviewers get 403.
#[utoipa::path(
    post,
    path = "/test/clock",
    operation_id = "advanceClock",
    tag = "testing",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    request_body(content = ClockRequest, example = json!({ "advance_secs": 3600 })),
    responses(
        (status = 200, description = "The clock now.", body = ClockReading),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn advance_clock(
    State(app): State<AppState>,
    auth: Auth,
    Body(request): Body<ClockRequest>,
) -> Answer<ClockReading> {
    consensus::advance_clock(&app, &auth, request)
        .await
        .map(Json)
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(get_consensus))
        .routes(routes!(put_position))
        .routes(routes!(start_silence, cancel_silence))
        .routes(routes!(adopt_element))
        .routes(routes!(reopen_element))
        .routes(routes!(adopt_draft))
        .routes(routes!(list_versions, name_version))
        .routes(routes!(advance_clock));
    // Cancelling silences and adopting the draft take an optional body.
    optional_body(&mut router, "/drafts/{id}/silence", HttpMethod::Delete);
    optional_body(&mut router, "/drafts/{id}/adopt", HttpMethod::Post);
    router
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    /// This area's part of the document the route table generates.
    fn generated() -> Value {
        let (_, doc) = super::super::table(1);
        serde_json::to_value(doc).expect("the document is JSON")
    }

    #[test]
    fn the_consensus_operations_are_documented() {
        let doc = generated();
        let paths = &doc["paths"];
        for (path, method, id) in [
            ("/api/v1/drafts/{id}/consensus", "get", "getConsensus"),
            (
                "/api/v1/drafts/{id}/elements/{eid}/positions/{entity}",
                "put",
                "putPosition",
            ),
            ("/api/v1/drafts/{id}/silence", "post", "startSilence"),
            ("/api/v1/drafts/{id}/silence", "delete", "cancelSilence"),
            (
                "/api/v1/drafts/{id}/elements/{eid}/adopt",
                "post",
                "adoptElement",
            ),
            (
                "/api/v1/drafts/{id}/elements/{eid}/reopen",
                "post",
                "reopenElement",
            ),
            ("/api/v1/drafts/{id}/adopt", "post", "adoptDraft"),
            ("/api/v1/drafts/{id}/versions", "get", "listVersions"),
            ("/api/v1/drafts/{id}/versions", "post", "nameVersion"),
            ("/api/v1/test/clock", "post", "advanceClock"),
        ] {
            let op = &paths[path][method];
            assert_eq!(op["operationId"], id, "{method} {path}");
            assert!(op["x-roles"].is_array(), "{id}");
            assert!(
                op["summary"].is_string() && op["description"].is_string(),
                "{id}"
            );
        }
        // The optional bodies: not required, and never `null`.
        for (path, method) in [
            ("/api/v1/drafts/{id}/silence", "delete"),
            ("/api/v1/drafts/{id}/adopt", "post"),
        ] {
            let body = &paths[path][method]["requestBody"];
            assert_eq!(body["required"], false, "{method} {path}");
            assert!(body["content"]["application/json"]["schema"]["$ref"].is_string());
        }
        // The refusals with more fields than the `Error` body.
        let responses = &doc["components"]["responses"];
        for (response, schema) in [
            ("PositionConflict", "PositionError"),
            ("SilenceRefused", "SilenceError"),
        ] {
            assert_eq!(
                responses[response]["content"]["application/json"]["schema"]["$ref"],
                json!(format!("#/components/schemas/{schema}"))
            );
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
    }
}
