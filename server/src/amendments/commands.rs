//! The life of an amendment: proposed for an entity, sponsored or objected
//! to by others, re-anchored by its proposer, withdrawn by it, accepted
//! (applied to the text as the proposer's own change) or rejected by a
//! chair; and elements' editing modes.

use accord_protocol::DocumentId;
use accord_store::{
    AmendmentRow, AmendmentStand, Anchor, Decision, ElementRow, NewAmendment, NewEvent, Role,
};
use automerge::transaction::Transactable;
use automerge::{ActorId, ChangeHash, ReadDoc};
use serde_json::json;

use super::anchor::{self, AnchorError, Anchored};
use super::answers::{
    Amendment, EntityRequest, ObjectRequest, ProposeRequest, ReanchorRequest, RejectRequest,
};
use super::views::{self, Room};
use crate::AppState;
use crate::auth::{Auth, User};
use crate::consensus::parse_heads;
use crate::documents::{Companion, WriteError};
use crate::drafts::EditingMode;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// The longest reason (amendments, objections, rejections).
const MAX_REASON_CHARS: usize = 2000;

/// A reason given, trimmed: 400 `reason_required` if blank, `too_long`
/// beyond the limit.
pub(super) fn reason(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request("reason_required", "give a reason"));
    }
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_request(
            "too_long",
            format!("a reason has at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// Refuses reviewers (they read, and change nothing).
pub(super) fn not_reviewer(user: &User) -> Result<(), ApiError> {
    if user.role == Role::Reviewer {
        return Err(ApiError::forbidden(
            "forbidden",
            "reviewers read amendments and comments; they change none of them",
        ));
    }
    Ok(())
}

fn chairs_only(user: &User, what: &str) -> Result<(), ApiError> {
    if user.role != Role::Chair {
        return Err(ApiError::forbidden(
            "forbidden",
            format!("only chairs {what}"),
        ));
    }
    Ok(())
}

/// The entity the caller acts for: a delegate's own (naming another is
/// 403), or for a chair the one named (or their own). It must take part
/// in the draft.
fn acting_entity(room: &Room, user: &User, named: Option<&str>) -> Result<String, ApiError> {
    not_reviewer(user)?;
    let entity = match (user.role, named, user.entity.as_deref()) {
        (Role::Delegate, Some(named), Some(own)) if named != own => {
            return Err(ApiError::forbidden(
                "forbidden",
                format!("a delegate of {own} acts for {own} only"),
            ));
        }
        (_, Some(named), _) => named.to_owned(),
        (_, None, Some(own)) => own.to_owned(),
        (_, None, None) => {
            return Err(ApiError::bad_request(
                "entity_required",
                "name the entity you act for (`entity`)",
            ));
        }
    };
    if !room.participates(&entity) {
        return Err(ApiError::forbidden(
            "not_participating",
            format!("{entity} does not take part in this draft"),
        ));
    }
    Ok(entity)
}

fn event(
    kind: &str,
    element: &str,
    user: &User,
    entity: Option<&str>,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        element_id: Some(element.to_owned()),
        user_id: Some(user.id.clone()),
        entity_code: entity.map(Into::into),
        data: data.to_string(),
    }
}

fn element_doc(element: &ElementRow) -> Result<DocumentId, ApiError> {
    element.doc_id.parse().map_err(ApiError::internal)
}

/// Anchors `[from, to)` of the element's text at `heads`: 409
/// `not_synced` if the server lacks a head, 400 `range` outside the text.
pub(super) async fn anchor_passage(
    app: &AppState,
    element: &ElementRow,
    heads: &[String],
    from: usize,
    to: usize,
) -> Result<Anchor, ApiError> {
    let parsed = parse_heads(heads)?;
    let wanted = parsed.clone();
    let anchored = app
        .docs
        .inspect(element_doc(element)?, move |doc| {
            if wanted.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
                return Ok(None);
            }
            anchor::anchor(doc, &wanted, from, to).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::internal("the element document is missing"))?;
    match anchored {
        Ok(Some(Anchored {
            original,
            start,
            end,
        })) => Ok(Anchor {
            original,
            start_cursor: start,
            end_cursor: end,
            heads: heads_json(&parsed),
        }),
        Ok(None) => Err(ApiError::conflict(
            "not_synced",
            "the server does not have the text you read yet: wait until your edits are saved",
        )),
        Err(AnchorError::Range(len)) => Err(ApiError::bad_request(
            "range",
            format!(
                "from and to must satisfy 0 <= from <= to <= {len} (the text's length at those heads)"
            ),
        )),
        Err(AnchorError::NoText) => Err(ApiError::internal("the element has no text")),
    }
}

fn heads_json(heads: &[ChangeHash]) -> String {
    crate::documents::heads_json(heads)
}

fn replacement(app: &AppState, text: &str) -> Result<String, ApiError> {
    let max = app.config.max_text_chars;
    if text.chars().count() > max {
        return Err(ApiError::bad_request(
            "too_long",
            format!("an amendment's text has at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/amendments`.
pub async fn propose(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id): (String, String),
    request: ProposeRequest,
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let draft = visible_draft(app, user, &draft_id).await?;
    let reason = reason(&request.reason)?;
    let text = replacement(app, &request.text)?;
    let _guard = app.draft_lock(&draft.id).await;
    let room = Room::load(app, &draft).await?;
    let entity = acting_entity(&room, user, request.entity.as_deref())?;
    let element = room.live_element(&element_id)?.clone();
    if room.adopted(&element.id) {
        return Err(ApiError::conflict(
            "adopted",
            format!("{} is adopted; a chair must reopen it first", element.label),
        ));
    }
    let anchor = anchor_passage(app, &element, &request.heads, request.from, request.to).await?;
    let new = NewAmendment {
        draft_id: draft.id.clone(),
        element_id: element.id.clone(),
        entity_code: entity.clone(),
        user_id: user.id.clone(),
        anchor,
        text,
        reason,
    };
    let data = json!({
        "entity": entity,
        "original": new.anchor.original,
        "text": new.text,
        "reason": new.reason,
    });
    let e = event("amendment_proposed", &element.id, user, Some(&entity), data);
    let row = app
        .store
        .propose_amendment(&new, &e, app.consensus.clock.now())
        .await?;
    settle(app, &draft.id, row.id).await
}

/// The amendment `id` of the draft the caller sees, with the room.
async fn find(
    app: &AppState,
    user: &User,
    draft_id: &str,
    id: i64,
) -> Result<(Room, AmendmentRow), ApiError> {
    let draft = visible_draft(app, user, draft_id).await?;
    let room = Room::load(app, &draft).await?;
    let row = app
        .store
        .amendment(&draft.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("the amendment"))?;
    Ok((room, row))
}

fn still_open(row: &AmendmentRow) -> Result<(), ApiError> {
    if row.state != "open" {
        return Err(ApiError::conflict(
            "not_open",
            format!("amendment {} is {}", row.id, row.state),
        ));
    }
    Ok(())
}

/// Re-projects and answers the amendment as it is now.
async fn settle(app: &AppState, draft_id: &str, id: i64) -> Result<Amendment, ApiError> {
    super::projection::project(app, draft_id).await?;
    views::one(app, draft_id, id).await
}

/// `POST` (`sponsor`) and `DELETE …/amendments/{aid}/sponsor`.
pub async fn sponsorship(
    app: &AppState,
    auth: &Auth,
    (draft_id, id): (String, i64),
    request: EntityRequest,
    sponsor: bool,
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let _guard = app.draft_lock(&draft_id).await;
    let (room, row) = find(app, user, &draft_id, id).await?;
    let entity = acting_entity(&room, user, request.entity.as_deref())?;
    still_open(&row)?;
    if entity == row.entity_code {
        let message = if sponsor {
            "the proposing entity sponsors its own amendment already"
        } else {
            "the proposing entity cannot leave its own amendment: withdraw it instead"
        };
        return Err(ApiError::conflict("own_amendment", message));
    }
    let (sponsors, objections) = app.store.amendment_stands(&room.draft.id).await?;
    let sponsoring = sponsors
        .iter()
        .any(|s| s.amendment_id == id && s.entity_code == entity);
    let objecting = objections
        .iter()
        .any(|s| s.amendment_id == id && s.entity_code == entity);
    match (sponsor, sponsoring, objecting) {
        (true, true, _) => {
            return Err(ApiError::conflict(
                "already_sponsoring",
                format!("{entity} sponsors amendment {id} already"),
            ));
        }
        (true, false, true) => {
            return Err(ApiError::conflict(
                "objecting",
                format!("{entity} objects to amendment {id}: withdraw the objection first"),
            ));
        }
        (false, false, _) => {
            return Err(ApiError::conflict(
                "not_sponsoring",
                format!("{entity} does not sponsor amendment {id}"),
            ));
        }
        _ => {}
    }
    let kind = if sponsor {
        "amendment_sponsored"
    } else {
        "amendment_unsponsored"
    };
    let e = event(
        kind,
        &row.element_id,
        user,
        Some(&entity),
        json!({"amendment": id, "entity": entity}),
    );
    let stand = AmendmentStand {
        amendment_id: id,
        entity_code: entity,
        user_id: user.id.clone(),
        reason: None,
        at: app.consensus.clock.now(),
    };
    app.store
        .set_sponsorship(&room.draft.id, id, &stand, sponsor, &e)
        .await?;
    settle(app, &room.draft.id, id).await
}

/// `POST …/amendments/{aid}/object` (`Some` request) and `DELETE` (the
/// caller's entity withdraws its objection).
pub async fn objection(
    app: &AppState,
    auth: &Auth,
    (draft_id, id): (String, i64),
    request: Option<ObjectRequest>,
    entity: Option<String>,
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let reason = request.as_ref().map(|r| reason(&r.reason)).transpose()?;
    let named = request.and_then(|r| r.entity).or(entity);
    let _guard = app.draft_lock(&draft_id).await;
    let (room, row) = find(app, user, &draft_id, id).await?;
    let entity = acting_entity(&room, user, named.as_deref())?;
    still_open(&row)?;
    if entity == row.entity_code {
        return Err(ApiError::conflict(
            "own_amendment",
            "the proposing entity cannot object to its own amendment: withdraw it instead",
        ));
    }
    let (sponsors, objections) = app.store.amendment_stands(&room.draft.id).await?;
    if reason.is_some()
        && sponsors
            .iter()
            .any(|s| s.amendment_id == id && s.entity_code == entity)
    {
        return Err(ApiError::conflict(
            "sponsoring",
            format!("{entity} sponsors amendment {id}: withdraw the sponsorship first"),
        ));
    }
    if reason.is_none()
        && !objections
            .iter()
            .any(|s| s.amendment_id == id && s.entity_code == entity)
    {
        return Err(ApiError::conflict(
            "not_objecting",
            format!("{entity} does not object to amendment {id}"),
        ));
    }
    let (kind, data) = match &reason {
        Some(r) => (
            "amendment_objected",
            json!({"amendment": id, "entity": entity, "reason": r}),
        ),
        None => (
            "amendment_objection_withdrawn",
            json!({"amendment": id, "entity": entity}),
        ),
    };
    let e = event(kind, &row.element_id, user, Some(&entity), data);
    let stand = AmendmentStand {
        amendment_id: id,
        entity_code: entity,
        user_id: user.id.clone(),
        reason,
        at: app.consensus.clock.now(),
    };
    app.store
        .set_objection(&room.draft.id, id, &stand, &e)
        .await?;
    settle(app, &room.draft.id, id).await
}

/// `POST …/amendments/{aid}/withdraw`: the proposing entity's delegates
/// (or a chair) withdraw it.
pub async fn withdraw(
    app: &AppState,
    auth: &Auth,
    (draft_id, id): (String, i64),
    request: EntityRequest,
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let _guard = app.draft_lock(&draft_id).await;
    let (room, row) = find(app, user, &draft_id, id).await?;
    let named = request
        .entity
        .or_else(|| (user.role == Role::Chair).then(|| row.entity_code.clone()));
    let entity = acting_entity(&room, user, named.as_deref())?;
    if entity != row.entity_code {
        return Err(ApiError::forbidden(
            "forbidden",
            format!(
                "only {}'s delegates may withdraw its amendment",
                row.entity_code
            ),
        ));
    }
    still_open(&row)?;
    let decision = Decision {
        draft_id: room.draft.id.clone(),
        amendment_id: id,
        state: "withdrawn".into(),
        by: user.id.clone(),
        reason: None,
        change: None,
        event: event(
            "amendment_withdrawn",
            &row.element_id,
            user,
            Some(&entity),
            json!({"amendment": id, "entity": entity}),
        ),
    };
    app.store
        .decide_amendment_at(&decision, app.consensus.clock.now())
        .await?;
    settle(app, &room.draft.id, id).await
}

/// `POST …/amendments/{aid}/reject` (chairs).
pub async fn reject(
    app: &AppState,
    auth: &Auth,
    (draft_id, id): (String, i64),
    request: RejectRequest,
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    chairs_only(user, "reject amendments")?;
    let reason = reason(&request.reason)?;
    let _guard = app.draft_lock(&draft_id).await;
    let (room, row) = find(app, user, &draft_id, id).await?;
    still_open(&row)?;
    let decision = Decision {
        draft_id: room.draft.id.clone(),
        amendment_id: id,
        state: "rejected".into(),
        by: user.id.clone(),
        reason: Some(reason.clone()),
        change: None,
        event: event(
            "amendment_rejected",
            &row.element_id,
            user,
            user.entity.as_deref(),
            json!({"amendment": id, "entity": row.entity_code, "reason": reason}),
        ),
    };
    app.store
        .decide_amendment_at(&decision, app.consensus.clock.now())
        .await?;
    settle(app, &room.draft.id, id).await
}

/// `POST …/amendments/{aid}/accept` (chairs): applies the amendment to the
/// element's text as one change written with a new actor owned by the
/// proposer, attributed to the proposer and their entity, stored with the
/// decision in one transaction. 409 `conflict` when its passage changed,
/// `locked` while the element is locked.
pub async fn accept(
    app: &AppState,
    auth: &Auth,
    (draft_id, id): (String, i64),
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    chairs_only(user, "accept amendments")?;
    let _guard = app.draft_lock(&draft_id).await;
    let (room, row) = find(app, user, &draft_id, id).await?;
    still_open(&row)?;
    let element = room.live_element(&row.element_id)?.clone();
    if app.store.element_lock(&element.doc_id).await?.is_some() {
        return Err(ApiError::conflict(
            "locked",
            format!(
                "{} is locked (under a silence procedure or adopted): its text cannot change",
                element.label
            ),
        ));
    }
    let (original, start, end, text) = (
        row.original.clone(),
        row.start_cursor.clone(),
        row.end_cursor.clone(),
        row.text.clone(),
    );
    let edit = Box::new(move |tx: &mut automerge::transaction::Transaction<'_>| {
        let located = anchor::locate(&*tx, None, &original, &start, &end)
            .ok_or_else(|| CONFLICT.to_owned())?;
        if !located.intact {
            return Err(CONFLICT.to_owned());
        }
        let (_, obj) = tx
            .get(automerge::ROOT, "text")
            .ok()
            .flatten()
            .ok_or_else(|| "the element has no text".to_owned())?;
        let deleted = (located.to - located.from) as isize;
        tx.splice_text(&obj, located.from, deleted, &text)
            .map_err(|e| e.to_string())
    });
    let decision = Decision {
        draft_id: room.draft.id.clone(),
        amendment_id: id,
        state: "accepted".into(),
        by: user.id.clone(),
        reason: None,
        change: None,
        event: event(
            "amendment_accepted",
            &row.element_id,
            user,
            user.entity.as_deref(),
            json!({
                "amendment": id,
                "entity": row.entity_code,
                "original": row.original,
                "text": row.text,
                "proposer": row.user_id,
            }),
        ),
    };
    let companion = Companion::Amendment {
        decision: Box::new(decision),
        actor: ActorId::random(),
        user_id: row.user_id.clone(),
        entity_code: row.entity_code.clone(),
    };
    match app
        .docs
        .write(element_doc(&element)?, edit, companion)
        .await
    {
        Ok(_) => {}
        Err(WriteError::Refused(message)) if message == CONFLICT => {
            return Err(ApiError::conflict(
                "conflict",
                format!(
                    "the passage of amendment {id} has changed since it was anchored: its proposer must re-anchor it"
                ),
            ));
        }
        Err(WriteError::Refused(message)) => return Err(ApiError::conflict("refused", message)),
        Err(WriteError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::internal(e)),
    }
    settle(app, &room.draft.id, id).await
}

const CONFLICT: &str = "the amendment's passage has changed";

/// `POST …/amendments/{aid}/anchor`: the proposing entity re-anchors its
/// amendment (and may change its text) on the text as it reads now.
pub async fn reanchor(
    app: &AppState,
    auth: &Auth,
    (draft_id, id): (String, i64),
    request: ReanchorRequest,
) -> Result<Amendment, ApiError> {
    let user = &auth.user;
    not_reviewer(user)?;
    let text = request
        .text
        .as_deref()
        .map(|t| replacement(app, t))
        .transpose()?;
    let _guard = app.draft_lock(&draft_id).await;
    let (room, row) = find(app, user, &draft_id, id).await?;
    let named = (user.role == Role::Chair).then(|| row.entity_code.clone());
    let entity = acting_entity(&room, user, named.as_deref())?;
    if entity != row.entity_code {
        return Err(ApiError::forbidden(
            "forbidden",
            format!(
                "only {}'s delegates may re-anchor its amendment",
                row.entity_code
            ),
        ));
    }
    still_open(&row)?;
    let element = room.live_element(&row.element_id)?.clone();
    let anchor = anchor_passage(app, &element, &request.heads, request.from, request.to).await?;
    let e = event(
        "amendment_reanchored",
        &row.element_id,
        user,
        Some(&entity),
        json!({"amendment": id, "entity": entity, "original": anchor.original, "text": text}),
    );
    app.store
        .reanchor_amendment(
            &room.draft.id,
            id,
            &anchor,
            text.as_deref(),
            &e,
            app.consensus.clock.now(),
        )
        .await?;
    settle(app, &room.draft.id, id).await
}

/// Sets an element's editing mode (chairs; `PATCH` of the element): the
/// store, the element's actor (delegates' sync turns read-only or
/// writable), the projection. True if it changed.
pub async fn set_mode(
    app: &AppState,
    user: &User,
    draft_id: &str,
    element: &ElementRow,
    mode: EditingMode,
) -> Result<bool, ApiError> {
    chairs_only(user, "set an element's editing mode")?;
    let _guard = app.draft_lock(draft_id).await;
    let e = event(
        "element_mode",
        &element.id,
        user,
        user.entity.as_deref(),
        json!({"mode": mode.as_str(), "label": element.label}),
    );
    let changed = app
        .store
        .set_element_mode(
            draft_id,
            &element.id,
            mode.as_str(),
            &e,
            app.consensus.clock.now(),
        )
        .await?;
    if changed {
        app.docs
            .set_mode(element_doc(element)?, mode == EditingMode::Amendments)
            .await?;
        super::projection::project(app, draft_id).await?;
    }
    Ok(changed)
}
