//! The consensus commands: positions, the silence procedure, adoption, and
//! the test clock.

use std::collections::HashMap;

use accord_consensus::{PositionEntry, Stance};
use accord_protocol::DocumentId;
use accord_store::{NewEvent, NewPosition, NewSilence, Role};
use automerge::ChangeHash;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::answers::{
    self, ClockReading, ConsensusReport, DraftAdopted, ElementState, ElementStatus,
    ElementStatusNow, FinalVersion, PositionError, PositionRecorded, SilenceError, SilenceRefusal,
    SilencesCancelled, SilencesStarted, StaleObjection, StartedSilence,
};
use super::facts::{DraftFacts, gather};
use super::locked;
use super::projection::{consensus_report, position};
use super::versions::{document_heads, version_heads};
use crate::AppState;
use crate::auth::Auth;
use crate::clock::{MAX_ADVANCE_SECS, MAX_OFFSET_SECS, iso, parse_time};
use crate::documents::Lock;
use crate::drafts::access::visible_draft;
use crate::error::ApiError;

/// `GET /api/v1/drafts/{id}/consensus`.
pub async fn get_consensus(
    app: &AppState,
    auth: &Auth,
    id: String,
) -> Result<ConsensusReport, ApiError> {
    let draft = visible_draft(app, &auth.user, &id).await?;
    let facts = gather(app, draft).await?;
    Ok(consensus_report(&facts, app.consensus.clock.now()))
}

/// An entity's position on an element's text as the delegate read it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionRequest {
    /// One of the stances (400 `invalid` otherwise; taken as a string to
    /// say so).
    #[schema(value_type = accord_consensus::Stance)]
    pub position: String,
    /// Required with `reservation` (the note placed on record) and
    /// `object` (the reason); an optional comment otherwise. Blank counts
    /// as absent. At most 2000 characters.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// An objection's proposed wording: only with `object`. At most 10000
    /// characters.
    #[schema(max_length = 10000)]
    pub wording: Option<String>,
    /// The `text_hash` of the element as you read it (409 `text_changed`
    /// when the text is no longer that).
    pub text_hash: String,
    /// The element document's heads as you read them (409 `not_synced`
    /// while the server lacks them).
    #[schema(schema_with = answers::read_heads)]
    pub heads: Vec<String>,
}

/// `PUT /api/v1/drafts/{id}/elements/{eid}/positions/{entity}`: a delegate
/// states its entity's position, bound to the text and heads it read.
pub async fn put_position(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id, entity): (String, String, String),
    request: PositionRequest,
) -> Result<PositionRecorded, ApiError> {
    let user = auth.user.clone();
    if user.role != Role::Delegate || user.entity.as_deref() != Some(entity.as_str()) {
        return Err(ApiError::forbidden(
            "forbidden",
            format!("only delegates of {entity} may state its position"),
        ));
    }
    let draft = visible_draft(app, &user, &draft_id).await?;
    let Some(stance) = Stance::parse(&request.position) else {
        return Err(ApiError::bad_request(
            "invalid",
            "position is one of support, support_ad_ref, reservation, abstain, object",
        ));
    };
    accord_consensus::validate_position(
        stance,
        request.note.as_deref(),
        request.wording.as_deref(),
    )
    .map_err(|r| ApiError::bad_request(r.code, r.message))?;
    let heads = parse_heads(&request.heads)?;
    let text_hash = request.text_hash.trim().to_ascii_lowercase();
    let now = app.consensus.clock.now();
    let (out, facts) = locked(app, &draft.id, async |facts| {
        if !facts.participants.iter().any(|(c, _)| *c == entity) {
            return Err(ApiError::forbidden(
                "not_participating",
                format!("{entity} does not take part in this draft"),
            ));
        }
        let element = facts.element(&element_id)?;
        if facts.adoptions.contains_key(&element.id) {
            return Err(ApiError::conflict(
                "adopted",
                format!("{} is adopted; a chair must reopen it first", element.label),
            ));
        }
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        let view = app
            .docs
            .read_checked(doc, heads.clone())
            .await?
            .ok_or_else(|| ApiError::internal("the element document is missing"))?;
        if !view.missing.is_empty() {
            return Err(ApiError::conflict(
                "not_synced",
                "the server does not have the text you read yet: wait until your edits are saved",
            ));
        }
        let current = accord_model::text_hash(&view.text.unwrap_or_default());
        if let Some(silence) = facts.silence(&element.id)
            && let Err(r) = accord_consensus::may_record_during_silence(&silence, &text_hash)
        {
            return Err(PositionError {
                error: r.code,
                message: r.message,
                current_hash: Some(silence.locked_text_hash),
            }
            .into());
        }
        if current != text_hash {
            return Err(PositionError {
                error: "text_changed",
                message: format!(
                    "the text has changed since you read it; its hash is now {current}"
                ),
                current_hash: Some(current),
            }
            .into());
        }
        let position = NewPosition {
            draft_id: facts.draft.id.clone(),
            element_id: element.id.clone(),
            entity_code: entity.clone(),
            stance: stance.as_str().into(),
            note: accord_consensus::clean_text(request.note.as_deref()),
            wording: accord_consensus::clean_text(request.wording.as_deref()),
            text_hash: current.clone(),
            heads: serde_json::to_string(&request.heads).map_err(ApiError::internal)?,
            user_id: Some(user.id.clone()),
            by_silence: false,
            at: now,
        };
        let entry = PositionEntry {
            seq: 0,
            element_id: element.id.clone(),
            entity: entity.clone(),
            stance,
            note: position.note.clone(),
            wording: None,
            text_hash: current.clone(),
            user_id: position.user_id.clone(),
            by_silence: false,
            at: now,
        };
        let breaks = facts
            .silence(&element.id)
            .filter(|s| accord_consensus::breaks_silence(&entry, s))
            .map(|s| s.id);
        let (row, broken) = app.store.record_position(&position, breaks).await?;
        app.consensus.note_hash(&element.id, &current);
        if broken {
            tracing::info!(element = %element.id, entity = %entity, "silence broken");
            app.docs.set_lock(doc, None).await?;
        }
        Ok((row.seq, element.id.clone(), broken))
    })
    .await?;
    let (seq, element_id, broken) = out;
    let entry = facts
        .ledger
        .iter()
        .find(|e| e.seq == seq)
        .ok_or_else(|| ApiError::internal("the recorded position is not in the ledger"))?;
    let element = facts.element(&element_id)?;
    Ok(PositionRecorded {
        position: position(&facts, entry),
        element: ElementStatusNow {
            id: element.id.clone(),
            status: ElementStatus::from(&facts.summary(element).status),
        },
        silence_broken: broken,
        server_time: iso(app.consensus.clock.now()),
    })
}

pub(crate) fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, ApiError> {
    if heads.is_empty() || heads.len() > 64 {
        return Err(ApiError::bad_request(
            "invalid",
            "heads are the element document's heads you read (1 to 64 hex change hashes)",
        ));
    }
    parse_hashes(heads)
}

/// Hex change hashes, each checked.
pub(crate) fn parse_hashes(heads: &[String]) -> Result<Vec<ChangeHash>, ApiError> {
    heads
        .iter()
        .map(|h| {
            h.parse::<ChangeHash>().map_err(|_| {
                ApiError::bad_request("invalid", format!("{h:?} is not a change hash"))
            })
        })
        .collect()
}

/// Silence procedures to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Element ids, or "all" for every element of the draft (taken as any
    /// JSON value, to answer 400 `invalid` otherwise).
    #[schema(schema_with = answers::element_selection)]
    pub elements: Value,
    /// When the procedure ends: UTC with a `Z`, e.g. 2027-05-01T12:00:00Z
    /// (400 `invalid` otherwise); at least the server's
    /// `--silence-min-minutes` ahead.
    #[schema(format = DateTime)]
    pub deadline: String,
    /// The chair confirms the stale objections on the elements named
    /// (objections given on an earlier text): at the deadline each becomes
    /// support by silence unless its entity objects again on the locked
    /// text. Without it, an element with a stale objection answers 409
    /// `stale_objections` listing them, and nothing starts. Stale
    /// objections not confirmed this way (none can arise while a silence
    /// runs) stand at the deadline.
    #[serde(default)]
    #[schema(default = false)]
    pub confirm_stale_objections: bool,
}

/// `POST /api/v1/drafts/{id}/silence` (chairs).
pub async fn start_silence(
    app: &AppState,
    auth: &Auth,
    draft_id: String,
    request: SilenceRequest,
) -> Result<SilencesStarted, ApiError> {
    auth.user
        .require(&[Role::Chair], "run silence procedures")?;
    let deadline = parse_time(&request.deadline)?;
    let min_notice = app.config.silence_min_notice_ms();
    let user = auth.user.clone();
    let (started, _) = locked(app, &draft_id, async |facts| {
        let ids: Vec<String> = match &request.elements {
            Value::String(all) if all == "all" => facts.elements.iter().map(|e| e.id.clone()).collect(),
            Value::Array(ids) => ids
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| ApiError::bad_request("invalid", "elements is \"all\" or a list of element ids"))?,
            _ => return Err(ApiError::bad_request("invalid", "elements is \"all\" or a list of element ids")),
        };
        if ids.is_empty() {
            return Err(ApiError::bad_request("invalid", "name at least one element"));
        }
        let now = app.consensus.clock.now();
        let mut refusals = Vec::new();
        for id in &ids {
            let element = facts.element(id)?;
            if let Err(r) = accord_consensus::may_start_silence(&facts.summary(element), deadline, now, min_notice) {
                refusals.push(SilenceRefusal {
                    element: id.clone(),
                    label: element.label.clone(),
                    error: r.code,
                    message: r.message,
                });
            }
        }
        if !refusals.is_empty() {
            let message = refusals
                .iter()
                .map(|r| format!("{}: {}", r.label, r.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(SilenceError {
                error: "silence_refused",
                message,
                refusals: Some(refusals),
                stale_objections: None,
            }
            .into());
        }
        // Stale objections: silence would turn them into support, so the
        // chair confirms them by name, or nothing starts.
        let mut stale: HashMap<&str, Vec<StaleObjection>> = HashMap::new();
        for id in &ids {
            let element = facts.element(id)?;
            for e in accord_consensus::stale_objections(&facts.summary(element)) {
                stale.entry(id.as_str()).or_default().push(StaleObjection {
                    element: id.clone(),
                    label: element.label.clone(),
                    entity: e.entity.clone(),
                    entity_name: facts.participants.iter().find(|(c, _)| *c == e.entity).map(|(_, n)| n.clone()),
                    seq: e.seq,
                    note: e.note.clone(),
                    text_hash: e.text_hash.clone(),
                    at: iso(e.at),
                });
            }
        }
        if !stale.is_empty() && !request.confirm_stale_objections {
            let listed: Vec<StaleObjection> = ids.iter().filter_map(|id| stale.get(id.as_str())).flatten().cloned().collect();
            let message = ids
                .iter()
                .filter_map(|id| {
                    let list = stale.get(id.as_str())?;
                    let who: Vec<&str> = list.iter().map(|s| s.entity.as_str()).collect();
                    Some(format!("{}: {}", list[0].label, who.join(", ")))
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(SilenceError {
                error: "stale_objections",
                message: format!(
                    "objections given on an earlier text would become support by silence ({message}); \
                     confirm them with \"confirm_stale_objections\": true to start the silence"
                ),
                refusals: None,
                stale_objections: Some(listed),
            }
            .into());
        }
        let mut started = Vec::new();
        for id in &ids {
            let element = facts.element(id)?;
            let confirmed: Vec<_> = stale
                .get(id.as_str())
                .map(|list| list.iter().map(StaleObjection::confirmed).collect())
                .unwrap_or_default();
            let confirmed_seqs: Vec<i64> = confirmed.iter().map(|s| s.seq).collect();
            let text = facts.texts.get(id).cloned().ok_or_else(|| ApiError::internal("no text"))?;
            let silence = NewSilence {
                draft_id: facts.draft.id.clone(),
                element_id: id.clone(),
                deadline,
                locked_text: text.text.clone(),
                locked_text_hash: text.text_hash.clone(),
                locked_heads: serde_json::to_string(&accord_model::heads_hex(&text.heads)).map_err(ApiError::internal)?,
                started_by: user.id.clone(),
                started_at: now,
                confirmed_stale: serde_json::to_string(&confirmed_seqs).map_err(ApiError::internal)?,
            };
            // The store adds the silence's id and deadline; the stale
            // objections the chair confirmed go on record with it.
            let data = if confirmed.is_empty() {
                "{}".to_owned()
            } else {
                json!({ "confirmed_stale_objections": confirmed }).to_string()
            };
            let event = NewEvent {
                kind: "silence_started".into(),
                element_id: Some(id.clone()),
                user_id: Some(user.id.clone()),
                entity_code: user.entity.clone(),
                data,
            };
            let row = app.store.start_silence(&silence, &event).await?;
            let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
            app.docs
                .set_lock(
                    doc,
                    Some(Lock {
                        text: text.text,
                        message: format!(
                            "{} is under a silence procedure until {}: your edit was undone",
                            element.label,
                            iso(deadline)
                        ),
                    }),
                )
                .await?;
            started.push(StartedSilence {
                id: row.id,
                element: id.clone(),
                deadline: iso(deadline),
                text_hash: row.locked_text_hash,
                confirmed_stale_objections: confirmed,
            });
        }
        Ok(started)
    })
    .await?;
    app.consensus.wake.notify_one();
    Ok(SilencesStarted { silences: started })
}

/// Silence procedures to cancel.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Element ids; every running procedure of the draft when absent.
    pub elements: Option<Vec<String>>,
}

/// `DELETE /api/v1/drafts/{id}/silence` (chairs): cancels silences.
pub async fn cancel_silence(
    app: &AppState,
    auth: &Auth,
    draft_id: String,
    body: Option<CancelRequest>,
) -> Result<SilencesCancelled, ApiError> {
    auth.user
        .require(&[Role::Chair], "run silence procedures")?;
    let only = body.unwrap_or_default().elements;
    let user = auth.user.clone();
    let (cancelled, _) = locked(app, &draft_id, async |facts| {
        let now = app.consensus.clock.now();
        let mut cancelled = Vec::new();
        for (element_id, silence) in &facts.silences {
            if only.as_ref().is_some_and(|ids| !ids.contains(element_id)) {
                continue;
            }
            if app.store.cancel_silence(silence.id, &user.id, now).await? {
                unlock(app, facts, element_id).await?;
                cancelled.push(element_id.clone());
            }
        }
        if cancelled.is_empty() {
            return Err(ApiError::conflict(
                "no_silence",
                "no matching silence procedure is running",
            ));
        }
        Ok(cancelled)
    })
    .await?;
    Ok(SilencesCancelled { cancelled })
}

/// The lock an adopted element holds: its adopted text.
pub(super) fn adopted_lock(label: &str, text: String) -> Lock {
    Lock {
        text,
        message: format!("{label} has been adopted: your edit was undone"),
    }
}

/// Lifts an element's lock unless it is still adopted.
pub(super) async fn unlock(
    app: &AppState,
    facts: &DraftFacts,
    element_id: &str,
) -> Result<(), ApiError> {
    let element = facts.element(element_id)?;
    let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
    let lock = facts
        .adoptions
        .get(element_id)
        .map(|a| adopted_lock(&element.label, a.text.clone()));
    app.docs.set_lock(doc, lock).await?;
    Ok(())
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/adopt` (chairs; only `agreed`).
pub async fn adopt_element(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id): (String, String),
) -> Result<ElementState, ApiError> {
    auth.user.require(&[Role::Chair], "adopt elements")?;
    let user = auth.user.clone();
    let (_, facts) = locked(app, &draft_id, async |facts| {
        let element = facts.element(&element_id)?;
        accord_consensus::may_adopt(&facts.summary(element))
            .map_err(|r| ApiError::conflict(r.code, r.message))?;
        let text = facts
            .texts
            .get(&element.id)
            .cloned()
            .ok_or_else(|| ApiError::internal("no text"))?;
        let heads = serde_json::to_string(&accord_model::heads_hex(&text.heads))
            .map_err(ApiError::internal)?;
        let now = app.consensus.clock.now();
        app.store
            .adopt_element(
                &facts.draft.id,
                &element.id,
                &text.text,
                &text.text_hash,
                &heads,
                &user.id,
                now,
            )
            .await?;
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        app.docs
            .set_lock(doc, Some(adopted_lock(&element.label, text.text)))
            .await?;
        Ok(())
    })
    .await?;
    element_answer(&facts, &element_id)
}

/// `POST /api/v1/drafts/{id}/elements/{eid}/reopen` (chairs).
pub async fn reopen_element(
    app: &AppState,
    auth: &Auth,
    (draft_id, element_id): (String, String),
) -> Result<ElementState, ApiError> {
    auth.user.require(&[Role::Chair], "reopen elements")?;
    let user = auth.user.clone();
    let (_, facts) = locked(app, &draft_id, async |facts| {
        let element = facts.element(&element_id)?;
        if facts.draft.adopted_at.is_some() {
            return Err(ApiError::conflict(
                "draft_adopted",
                "the draft is adopted; its elements stay as adopted",
            ));
        }
        let now = app.consensus.clock.now();
        if !app
            .store
            .reopen_element(&facts.draft.id, &element.id, &user.id, now)
            .await?
        {
            return Err(ApiError::conflict(
                "not_adopted",
                format!("{} is not adopted", element.label),
            ));
        }
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        app.docs.set_lock(doc, None).await?;
        Ok(())
    })
    .await?;
    element_answer(&facts, &element_id)
}

pub(super) fn element_answer(
    facts: &DraftFacts,
    element_id: &str,
) -> Result<ElementState, ApiError> {
    let element = facts.element(element_id)?;
    Ok(ElementState {
        id: element.id.clone(),
        label: element.label.clone(),
        status: ElementStatus::from(&facts.summary(element).status),
    })
}

/// How to name the final version.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdoptDraftRequest {
    /// The final version's name (trimmed; "Adopted text" when absent or
    /// blank).
    pub name: Option<String>,
}

/// `POST /api/v1/drafts/{id}/adopt` (chairs; every element adopted).
pub async fn adopt_draft(
    app: &AppState,
    auth: &Auth,
    draft_id: String,
    body: Option<AdoptDraftRequest>,
) -> Result<DraftAdopted, ApiError> {
    auth.user.require(&[Role::Chair], "adopt drafts")?;
    let name = body
        .and_then(|b| b.name)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Adopted text".into());
    let user = auth.user.clone();
    let (version, _) = locked(app, &draft_id, async |facts| {
        if facts.draft.adopted_at.is_some() {
            return Err(ApiError::conflict(
                "already_adopted",
                "the draft is already adopted",
            ));
        }
        accord_consensus::may_adopt_draft(&facts.summaries())
            .map_err(|r| ApiError::conflict(r.code, r.message))?;
        let heads = version_heads(app, facts).await?;
        let now = app.consensus.clock.now();
        let row = app
            .store
            .adopt_draft(&facts.draft.id, &user.id, &name, &heads, now)
            .await?;
        Ok(FinalVersion {
            heads: document_heads(&row.heads)?,
            name: row.name,
            created_at: iso(row.created_at),
        })
    })
    .await?;
    Ok(DraftAdopted { version })
}

/// How far to move the consensus clock.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// Seconds to move the clock forward: at most ten years (of 366 days)
    /// a step (400 `invalid` when negative or above; also when the clock
    /// would go more than a hundred years ahead in all).
    #[schema(minimum = 0, maximum = 316_224_000)]
    pub advance_secs: i64,
}

/// `POST /api/v1/test/clock` (chairs, only with `--test-clock`): moves the
/// consensus clock forward.
pub async fn advance_clock(
    app: &AppState,
    auth: &Auth,
    request: ClockRequest,
) -> Result<ClockReading, ApiError> {
    auth.user.require(&[Role::Chair], "move the clock")?;
    if !app.consensus.clock.controllable {
        return Err(ApiError::bad_request(
            "invalid",
            "the clock only moves with --test-clock",
        ));
    }
    if !(0..=MAX_ADVANCE_SECS).contains(&request.advance_secs) {
        return Err(ApiError::bad_request(
            "invalid",
            format!(
                "the clock only moves forward, at most {MAX_ADVANCE_SECS} seconds (ten years) at a time"
            ),
        ));
    }
    if !app.consensus.clock.advance(request.advance_secs) {
        return Err(ApiError::bad_request(
            "invalid",
            format!("the clock goes at most {MAX_OFFSET_SECS} seconds (a hundred years) ahead"),
        ));
    }
    app.consensus.wake.notify_one();
    Ok(ClockReading {
        now: iso(app.consensus.clock.now()),
    })
}
