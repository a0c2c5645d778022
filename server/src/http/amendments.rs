//! Amendments and comments over HTTP. Each handler hands its request to
//! [`crate::amendments`] and answers with the result; its
//! `#[utoipa::path]` is the operation in the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa::openapi::HttpMethod;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Body, OptionalBody, Params, PathParams};
use super::openapi::{self, optional_body, params};
use crate::AppState;
use crate::amendments::{
    self, Amendment, AmendmentList, AmendmentQuery, Comment, CommentList, CommentRequest,
    EntityRequest, ObjectRequest, ProposeRequest, ReanchorRequest, RejectRequest,
};
use crate::auth::Auth;
use crate::error::ApiError;

/// Propose an amendment
///
/// Proposes, for an entity, to replace the passage `from`..`to` of the element's text as read at `heads` (offsets in Unicode code points; `from == to` inserts there) with `text` (empty: delete), for a `reason`. The passage is anchored with Automerge cursors and follows the text as others edit; if it changes, the amendment is in `conflict` until its proposer re-anchors it. The proposing entity is its first sponsor. Delegates propose for their own entity (naming another is 403); a chair names the entity (`entity`). 409 `not_synced` while the server lacks a head, 400 `range` for a range outside the text, `reason_required` without a reason. The amendment is also written into the draft's index document (`amendments`) and reaches connected clients through sync. Reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements/{eid}/amendments",
    operation_id = "proposeAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID)),
    request_body(content = ProposeRequest, example = json!({"from": 12, "to": 18, "text": "informed choice", "reason": "Choice must be informed to be genuine.", "heads": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]})),
    responses(
        (status = 201, description = "The amendment.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn propose_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
    Body(request): Body<ProposeRequest>,
) -> Result<(StatusCode, Json<Amendment>), ApiError> {
    let body = amendments::propose(&app, &auth, ids, request).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// List a draft's amendments
///
/// Every amendment of the draft, oldest first, each with its state (`open`, `conflict`, `accepted`, `rejected`, `withdrawn`), its passage as it reads now between its anchors (`original`) and where (`from`, `to`), its sponsors and objections. `element` and `state` filter; `at` reads them as they were at that time (those proposed by then, in the state they had, located in the text of then). Any role; delegates see only the drafts their entity takes part in.
#[utoipa::path(
    get,
    path = "/drafts/{id}/amendments",
    operation_id = "listAmendments",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), AmendmentQuery),
    responses(
        (status = 200, description = "The amendments.", body = AmendmentList),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn list_amendments(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
    Params(query): Params<AmendmentQuery>,
) -> Result<Json<AmendmentList>, ApiError> {
    amendments::list(&app, &auth, id, query).await.map(Json)
}

/// Co-sponsor an amendment
///
/// The caller's entity (a chair names one) co-sponsors the open amendment. 409 `own_amendment` for the proposing entity, `already_sponsoring`, `objecting` (withdraw the objection first), `not_open`. The body is optional. Reviewers get 403; a delegate acts for their own entity only.
#[utoipa::path(
    post,
    path = "/drafts/{id}/amendments/{aid}/sponsor",
    operation_id = "sponsorAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = EntityRequest, example = json!({"entity": "ILO"})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn sponsor_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    OptionalBody(request): OptionalBody<EntityRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::sponsorship(&app, &auth, ids, request.unwrap_or_default(), true)
        .await
        .map(Json)
}

/// Withdraw a sponsorship
///
/// The caller's entity (a chair names one) stops sponsoring the open amendment. 409 `not_sponsoring`, `own_amendment` (the proposer withdraws the amendment instead), `not_open`. The body is optional. Reviewers get 403.
#[utoipa::path(
    delete,
    path = "/drafts/{id}/amendments/{aid}/sponsor",
    operation_id = "unsponsorAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = EntityRequest, example = json!({"entity": "ILO"})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn unsponsor_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    OptionalBody(request): OptionalBody<EntityRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::sponsorship(&app, &auth, ids, request.unwrap_or_default(), false)
        .await
        .map(Json)
}

/// Object to an amendment
///
/// Records the caller's entity's objection to the open amendment, with a reason (replacing an earlier one). 409 `sponsoring` (withdraw the sponsorship first), `own_amendment`, `not_open`; 400 `reason_required`. Reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/amendments/{aid}/object",
    operation_id = "objectToAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = ObjectRequest, example = json!({"reason": "The passage is agreed language."})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn object_to_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    Body(request): Body<ObjectRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::objection(&app, &auth, ids, Some(request), None)
        .await
        .map(Json)
}

/// Withdraw an objection to an amendment
///
/// The caller's entity (a chair names one) withdraws its objection. 409 `not_objecting`, `not_open`. The body is optional. Reviewers get 403.
#[utoipa::path(
    delete,
    path = "/drafts/{id}/amendments/{aid}/object",
    operation_id = "withdrawObjection",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = EntityRequest, example = json!({"entity": "ILO"})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn withdraw_objection(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    OptionalBody(request): OptionalBody<EntityRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::objection(&app, &auth, ids, None, request.unwrap_or_default().entity)
        .await
        .map(Json)
}

/// Withdraw an amendment
///
/// The proposing entity's delegates (or a chair) withdraw the open amendment; any other entity gets 403. 409 `not_open`. The body is optional.
#[utoipa::path(
    post,
    path = "/drafts/{id}/amendments/{aid}/withdraw",
    operation_id = "withdrawAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = EntityRequest, example = json!({"entity": "IOM"})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn withdraw_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    OptionalBody(request): OptionalBody<EntityRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::withdraw(&app, &auth, ids, request.unwrap_or_default())
        .await
        .map(Json)
}

/// Re-anchor an amendment
///
/// The proposing entity's delegates (or a chair) anchor the open amendment again, on the passage `from`..`to` of the text at `heads`, and may change its `text`: what an amendment in `conflict` needs before it can be accepted. 409 `not_synced`, `not_open`; 400 `range`. Any other entity gets 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/amendments/{aid}/anchor",
    operation_id = "reanchorAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = ReanchorRequest, example = json!({"from": 14, "to": 20, "heads": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn reanchor_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    Body(request): Body<ReanchorRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::reanchor(&app, &auth, ids, request)
        .await
        .map(Json)
}

/// Accept an amendment
///
/// Applies the open amendment to the element's text as one change written with a new actor owned by the proposer and attributed to the proposer and their entity (so history, compare and who-wrote-what credit them), stored with the acceptance in one transaction. Positions given on the old text become stale as for any edit. 409 `conflict` when its passage changed since it was anchored (its proposer must re-anchor it), `locked` while the element is under a silence procedure or adopted, `not_open`. Chairs only.
#[utoipa::path(
    post,
    path = "/drafts/{id}/amendments/{aid}/accept",
    operation_id = "acceptAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn accept_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::accept(&app, &auth, ids).await.map(Json)
}

/// Reject an amendment
///
/// Rejects the open amendment with a reason. 409 `not_open`; 400 `reason_required`. Chairs only.
#[utoipa::path(
    post,
    path = "/drafts/{id}/amendments/{aid}/reject",
    operation_id = "rejectAmendment",
    tag = "amendments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("aid" = i64, Path, description = params::AMENDMENT_ID)),
    request_body(content = RejectRequest, example = json!({"reason": "Outside the mandate of this text."})),
    responses(
        (status = 200, description = "The amendment as it is now.", body = Amendment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn reject_amendment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, i64)>,
    Body(request): Body<RejectRequest>,
) -> Result<Json<Amendment>, ApiError> {
    amendments::reject(&app, &auth, ids, request)
        .await
        .map(Json)
}

/// Comment on an element
///
/// Adds a comment: a new thread, optionally anchored to the passage `from`..`to` of the text at `heads` (all three together), or a reply to a thread (`reply_to`: its first comment). `@CODE` mentions an entity and `@Name` a user (the longest name that matches). The threads are also written into the draft's index document (`comments`). 400 `text_required`, `too_long`, `range`; 409 `not_synced`. Reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements/{eid}/comments",
    operation_id = "addComment",
    tag = "comments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID)),
    request_body(content = CommentRequest, example = json!({"text": "@IOM could you say which instruments you mean?"})),
    responses(
        (status = 201, description = "The comment.", body = Comment),
        (status = 400, response = openapi::BadRequest),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 413, response = openapi::PayloadTooLarge),
        (status = 415, response = openapi::UnsupportedMediaType),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn add_comment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
    Body(request): Body<CommentRequest>,
) -> Result<(StatusCode, Json<Comment>), ApiError> {
    let body = amendments::add_comment(&app, &auth, ids, request).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

/// An element's comment threads
///
/// The element's threads, oldest first, each with its replies, its anchor's passage and where it is now (`intact`: it still reads as when written), its mentions and whether it is resolved. Any role.
#[utoipa::path(
    get,
    path = "/drafts/{id}/elements/{eid}/comments",
    operation_id = "listComments",
    tag = "comments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate", "reviewer"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID)),
    responses(
        (status = 200, description = "The threads.", body = CommentList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn list_comments(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String)>,
) -> Result<Json<CommentList>, ApiError> {
    amendments::list_comments(&app, &auth, ids).await.map(Json)
}

/// Resolve a comment thread
///
/// Marks the thread resolved: its author or a chair (anyone else gets 403). 409 `resolved` if it is already, `reply` for a reply (resolve its thread). Reviewers get 403.
#[utoipa::path(
    post,
    path = "/drafts/{id}/elements/{eid}/comments/{cid}/resolve",
    operation_id = "resolveComment",
    tag = "comments",
    security(("sessionCookie" = []), ("bearerToken" = [])),
    extensions(("x-roles" = json!(["chair", "delegate"]))),
    params(("id" = String, Path, description = params::DRAFT_ID), ("eid" = String, Path, description = params::ELEMENT_ID), ("cid" = i64, Path, description = params::COMMENT_ID)),
    responses(
        (status = 200, description = "The element's threads now.", body = CommentList),
        (status = 401, response = openapi::Unauthorized),
        (status = 403, response = openapi::Forbidden),
        (status = 404, response = openapi::NotFound),
        (status = 409, response = openapi::Conflict),
        (status = 500, response = openapi::Internal),
    ),
)]
pub async fn resolve_comment(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(ids): PathParams<(String, String, i64)>,
) -> Result<Json<CommentList>, ApiError> {
    amendments::resolve_comment(&app, &auth, ids)
        .await
        .map(Json)
}

pub fn routes() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::new()
        .routes(routes!(propose_amendment))
        .routes(routes!(list_amendments))
        .routes(routes!(sponsor_amendment, unsponsor_amendment))
        .routes(routes!(object_to_amendment, withdraw_objection))
        .routes(routes!(withdraw_amendment))
        .routes(routes!(reanchor_amendment))
        .routes(routes!(accept_amendment))
        .routes(routes!(reject_amendment))
        .routes(routes!(add_comment, list_comments))
        .routes(routes!(resolve_comment));
    // Acting for one's own entity needs no body.
    for (path, method) in [
        ("/drafts/{id}/amendments/{aid}/sponsor", HttpMethod::Post),
        ("/drafts/{id}/amendments/{aid}/sponsor", HttpMethod::Delete),
        ("/drafts/{id}/amendments/{aid}/object", HttpMethod::Delete),
        ("/drafts/{id}/amendments/{aid}/withdraw", HttpMethod::Post),
    ] {
        optional_body(&mut router, path, method);
    }
    router
}
