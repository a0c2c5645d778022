//! Revision history over HTTP: the timeline, its people, the draft at a
//! version, comparisons and attribution ([`crate::history`]).

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Params, PathParams};
use super::openapi::{self, ErrorBody, params};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiError;
use crate::history::{
    self, Attribution, CompareQuery, Comparison, DraftAtVersion, History, HistoryPeople,
    HistoryQuery, VersionQuery,
};

type Answer<T> = Result<Json<T>, ApiError>;

/// The draft's timeline
///
/// Revisions (one user's run of edits on one element, with no pause of 30 seconds or more between that user's own changes, and never across a named version: edits after a version is named start a new revision), positions recorded in the ledger, and chair actions and other events (among them `positions_stale` when an edit made positions stale), in one chronological timeline: ordered by time (a revision's `start`, an entry's `at`), then revisions before positions before events at the same millisecond. Filtered by element, entity, user and a time range; paged by `cursor`/`limit`. Any role who can see the draft: delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/history",
    operation_id = "getHistory",
    tag = "history",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), HistoryQuery),
    responses(
        (status = 200, description = "A page of the timeline.", body = History),
        (status = 400, description = "A query parameter is unknown or malformed (`bad_request`), or `from`, `to` or `cursor` is invalid (`invalid`).", body = ErrorBody),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, description = "The draft does not exist or a delegate may not see it (`not_found`).", body = ErrorBody),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn timeline(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<HistoryQuery>,
) -> Answer<History> {
    history::history(&app, &auth, id, q).await.map(Json)
}

/// Everyone in the draft's history
///
/// Every user who appears in the draft's timeline — authors of revisions (`server`, named Accord, for the text the draft was created with), delegates who recorded positions, chairs who acted — once per user and entity, by name: the choices of the timeline's filter by user. Positions recorded by silence have no user. Any role who can see the draft: delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/history/people",
    operation_id = "getHistoryPeople",
    tag = "history",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID)),
    responses(
        (status = 200, description = "The people.", body = HistoryPeople),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, description = "The draft does not exist or a delegate may not see it (`not_found`).", body = ErrorBody),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn people(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Answer<HistoryPeople> {
    history::people(&app, &auth, id).await.map(Json)
}

/// Read the draft at a version
///
/// The whole draft at a version: the current one, a named version (`version`), the state at a time (`at`: every document as committed by then) or given heads (`heads`). Title, preamble and elements in order, each element's text at that version, and the consensus annex: every element's status and every participating entity's latest position as the ledger stood at the version's time. Any role who can see the draft: delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/read",
    operation_id = "readDraft",
    tag = "history",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), VersionQuery),
    responses(
        (status = 200, description = "The draft at that version.", body = DraftAtVersion),
        (status = 400, description = "A query parameter is unknown or malformed (`bad_request`), more than one of `version`, `at` and `heads` is given, `at` is not a UTC time, `heads` is not a JSON object of hex change hashes, or the documents cannot be read at those heads (`invalid`).", body = ErrorBody),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, description = "The draft does not exist or a delegate may not see it, or there is no named version by that name (`not_found`, \"that named version does not exist\").", body = ErrorBody),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn read(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<VersionQuery>,
) -> Answer<DraftAtVersion> {
    history::read(&app, &auth, id, q).await.map(Json)
}

/// Compare two versions
///
/// Per element, what changed between two versions: the text in pieces, equal, inserted or deleted, each insertion and deletion with who made it. Elements in the newer version's order, then those only the older one has. A version is `now` (or empty), `at:TIME` (a UTC time, e.g. `at:2026-05-01T12:00:00Z`), `heads:JSON` (a JSON object: document id → hex heads), `name:NAME`, or else a named version's name. Any role who can see the draft: delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/compare",
    operation_id = "compareVersions",
    tag = "history",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), CompareQuery),
    responses(
        (status = 200, description = "The differences.", body = Comparison),
        (status = 400, description = "`from` is missing or a query parameter is unknown (`bad_request`), a version is invalid as for readDraft, or `granularity` is neither `char` nor `word` (`invalid`).", body = ErrorBody),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, description = "The draft does not exist or a delegate may not see it, or there is no named version by that name (`not_found`, \"that named version does not exist\").", body = ErrorBody),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn compare(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(q): Params<CompareQuery>,
) -> Answer<Comparison> {
    history::compare(&app, &auth, id, q).await.map(Json)
}

/// Who wrote an element's text
///
/// The element's text at a version (the current one unless `version`, `at` or `heads` names another) in runs of characters by the same author, and per author the characters they deleted up to that version. Archived elements too. Text the server wrote is attributed to "Accord" (`user` null). Any role who can see the draft: delegates see only the drafts their entity takes part in; any other draft answers 404 as if it did not exist.
#[utoipa::path(
    get,
    path = "/drafts/{id}/elements/{eid}/attribution",
    operation_id = "getAttribution",
    tag = "history",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(
        ("id" = String, Path, description = params::DRAFT_ID),
        ("eid" = String, Path, description = params::ELEMENT_ID),
        VersionQuery,
    ),
    responses(
        (status = 200, description = "The attributed text.", body = Attribution),
        (status = 400, description = "A query parameter is unknown or malformed (`bad_request`), more than one of `version`, `at` and `heads` is given, `at` is not a UTC time, `heads` is not a JSON object of hex change hashes, or the documents cannot be read at those heads (`invalid`).", body = ErrorBody),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, description = "The draft or element does not exist, a delegate may not see the draft, or there is no named version by that name (`not_found`, \"that named version does not exist\").", body = ErrorBody),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn attribution(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
    Params(q): Params<VersionQuery>,
) -> Answer<Attribution> {
    history::attribution(&app, &auth, ids, q).await.map(Json)
}

/// This area's routes (its paths under `/api/v1`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timeline))
        .routes(routes!(people))
        .routes(routes!(read))
        .routes(routes!(compare))
        .routes(routes!(attribution))
}
