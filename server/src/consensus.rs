//! Consensus tracking: positions, element status, the silence procedure and
//! adoption (docs/design.md §2), on the rules of `accord-consensus`.
//!
//! Every command runs under its draft's lock: it reads the draft's facts
//! (texts from the committed documents, the ledger, silences, adoptions),
//! asks the rules, writes to the store, moves element locks, and projects the
//! result into the draft's index document (`consensus`), so every client
//! sees it live. Text edits change staleness and brackets: element actors
//! report new text hashes after applying, and a projector task re-projects
//! the drafts whose status inputs moved. A scheduler fires silence deadlines;
//! the database decides that each fires once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accord_consensus::{
    ElementFacts, ElementSummary, PositionEntry, Progress, Silence, Stance, Standing, Status,
};
use accord_protocol::DocumentId;
use accord_store::{DraftRow, ElementRow, NewEvent, NewPosition, NewSilence, Role, SilenceRow};
use automerge::ChangeHash;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::AppState;
use crate::api::{Body, OptionalBody, PathParams, visible_draft};
use crate::auth::Auth;
use crate::clock::{Clock, MAX_ADVANCE_SECS, MAX_OFFSET_SECS, iso, parse_time};
use crate::docs::{Lock, TextChanged, WriteError};
use crate::error::ApiError;

/// Shared state of the consensus service.
pub struct Consensus {
    pub clock: Arc<Clock>,
    /// Wakes the silence scheduler (a silence started, the clock moved).
    wake: Notify,
    /// Per element document: the last reported (text hash, bracketed).
    texts: Mutex<HashMap<DocumentId, (String, bool)>>,
    /// Per element id: every text hash its ledger holds.
    ledger_hashes: Mutex<HashMap<String, HashSet<String>>>,
}

impl Consensus {
    pub fn new(clock: Arc<Clock>) -> Arc<Self> {
        Arc::new(Self {
            clock,
            wake: Notify::new(),
            texts: Mutex::new(HashMap::new()),
            ledger_hashes: Mutex::new(HashMap::new()),
        })
    }

    fn note_hash(&self, element_id: &str, hash: &str) {
        let mut map = self.ledger_hashes.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(element_id.to_owned())
            .or_default()
            .insert(hash.to_owned());
    }
}

/// Starts the projector and the silence scheduler.
pub fn spawn(app: &AppState, tracker: &tokio_util::task::TaskTracker) {
    let (texts_tx, texts_rx) = mpsc::unbounded_channel();
    app.docs.watch_texts(texts_tx);
    tracker.spawn(projector(app.clone(), texts_rx));
    tracker.spawn(scheduler(app.clone()));
}

// ---------------------------------------------------------------------------
// Facts and summaries

/// An element's committed text.
#[derive(Debug, Clone)]
pub struct ElementText {
    pub text: String,
    pub text_hash: String,
    pub heads: Vec<ChangeHash>,
}

/// Everything the rules need about a draft.
pub struct DraftFacts {
    pub draft: DraftRow,
    pub participants: Vec<(String, String)>,
    pub elements: Vec<ElementRow>,
    pub texts: HashMap<String, ElementText>,
    pub ledger: Vec<PositionEntry>,
    pub silences: HashMap<String, SilenceRow>,
    /// The most recent silence that ended, per element (fired, broken or
    /// cancelled), for the chair's board.
    pub ended_silences: HashMap<String, SilenceRow>,
    /// Users' entities, to say who broke a silence.
    pub user_entities: HashMap<String, String>,
    pub adoptions: HashMap<String, accord_store::AdoptionRow>,
    pub user_names: HashMap<String, String>,
}

impl DraftFacts {
    pub(crate) fn participant_codes(&self) -> Vec<String> {
        self.participants.iter().map(|(c, _)| c.clone()).collect()
    }

    pub(crate) fn silence(&self, element_id: &str) -> Option<Silence> {
        self.silences.get(element_id).map(silence_rule)
    }

    pub(crate) fn summary(&self, element: &ElementRow) -> ElementSummary {
        let text = self.texts.get(&element.id);
        let silence = self.silence(&element.id);
        let facts = ElementFacts {
            element_id: &element.id,
            text: text.map_or("", |t| t.text.as_str()),
            text_hash: text.map_or("", |t| t.text_hash.as_str()),
            adopted: self.adoptions.contains_key(&element.id),
            silence: silence.as_ref(),
            ledger: &self.ledger,
        };
        accord_consensus::summarize(&facts, &self.participant_codes())
    }

    pub(crate) fn summaries(&self) -> Vec<ElementSummary> {
        self.elements.iter().map(|e| self.summary(e)).collect()
    }

    pub(crate) fn progress(&self, summaries: &[ElementSummary]) -> Progress {
        accord_consensus::progress(summaries, self.draft.adopted_at.is_some())
    }

    pub(crate) fn element(&self, element_id: &str) -> Result<&ElementRow, ApiError> {
        self.elements
            .iter()
            .find(|e| e.id == element_id)
            .ok_or_else(|| ApiError::not_found("the element"))
    }

    pub(crate) fn user_name(&self, id: &Option<String>) -> Value {
        match id {
            Some(id) => json!(
                self.user_names
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| id.clone())
            ),
            None => Value::Null,
        }
    }
}

/// A stored silence as the rules see it.
fn silence_rule(s: &SilenceRow) -> Silence {
    Silence {
        id: s.id,
        deadline: s.deadline,
        started_at: s.started_at,
        locked_text_hash: s.locked_text_hash.clone(),
        // Written by the server only; unreadable counts as none confirmed,
        // the safe side (stale objections then stand at the deadline).
        confirmed_stale: serde_json::from_str(&s.confirmed_stale).unwrap_or_default(),
    }
}

/// A ledger row as the rules see it (`None` for a stance the rules do not
/// know, which the store's constraint rules out).
pub fn ledger_entry(p: accord_store::PositionRow) -> Option<PositionEntry> {
    Some(PositionEntry {
        seq: p.seq,
        element_id: p.element_id,
        entity: p.entity_code,
        stance: Stance::parse(&p.stance)?,
        note: p.note,
        wording: p.wording,
        text_hash: p.text_hash,
        user_id: p.user_id,
        by_silence: p.by_silence,
        at: p.at,
    })
}

/// Reads a draft's facts; texts come from the committed documents.
pub async fn gather(app: &AppState, draft: DraftRow) -> Result<DraftFacts, ApiError> {
    let elements = app.store.elements(&draft.id).await?;
    let texts = live_texts(app, &elements).await?;
    let facts = gather_with(&app.store, draft, elements, texts).await?;
    for entry in &facts.ledger {
        app.consensus.note_hash(&entry.element_id, &entry.text_hash);
    }
    Ok(facts)
}

/// The elements' texts from the documents in memory (committed state).
async fn live_texts(
    app: &AppState,
    elements: &[ElementRow],
) -> Result<HashMap<String, ElementText>, ApiError> {
    let mut texts = HashMap::new();
    for element in elements {
        let doc: DocumentId = element.doc_id.parse().map_err(ApiError::internal)?;
        let view = app
            .docs
            .read(doc)
            .await?
            .ok_or_else(|| ApiError::internal(format!("element document {doc} is missing")))?;
        let text = view.text.unwrap_or_default();
        texts.insert(
            element.id.clone(),
            ElementText {
                text_hash: accord_model::text_hash(&text),
                text,
                heads: view.heads,
            },
        );
    }
    Ok(texts)
}

/// The elements' texts read from storage (for the CLI, without a server).
pub async fn stored_texts(
    store: &accord_store::Store,
    elements: &[ElementRow],
) -> anyhow::Result<HashMap<String, ElementText>> {
    let mut texts = HashMap::new();
    for element in elements {
        let id: DocumentId = element.doc_id.parse()?;
        let doc = crate::docs::load_stored(store, id).await?;
        let text = accord_model::element_text(&doc)?;
        texts.insert(
            element.id.clone(),
            ElementText {
                text_hash: accord_model::text_hash(&text),
                text,
                heads: doc.get_heads(),
            },
        );
    }
    Ok(texts)
}

/// The draft's participating entities (code, name) and its ledger, up to
/// time `until` (inclusive) when given.
pub async fn participants_and_ledger(
    store: &accord_store::Store,
    draft_id: &str,
    until: Option<i64>,
) -> Result<(Vec<(String, String)>, Vec<PositionEntry>), accord_store::Error> {
    let participants = store
        .draft_entities(draft_id)
        .await?
        .into_iter()
        .map(|e| (e.code, e.name))
        .collect();
    let ledger = store
        .positions(draft_id)
        .await?
        .into_iter()
        .filter(|p| until.is_none_or(|until| p.at <= until))
        .filter_map(ledger_entry)
        .collect();
    Ok((participants, ledger))
}

/// A draft's facts around the given texts.
pub async fn gather_with(
    store: &accord_store::Store,
    draft: DraftRow,
    elements: Vec<ElementRow>,
    texts: HashMap<String, ElementText>,
) -> Result<DraftFacts, accord_store::Error> {
    let (participants, ledger) = participants_and_ledger(store, &draft.id, None).await?;
    let mut silences = HashMap::new();
    let mut ended_silences: HashMap<String, SilenceRow> = HashMap::new();
    // Newest first: the first ended one per element is the latest.
    for silence in store.silences(&draft.id).await? {
        if silence.state == "active" {
            silences.insert(silence.element_id.clone(), silence);
        } else {
            ended_silences
                .entry(silence.element_id.clone())
                .or_insert(silence);
        }
    }
    let adoptions = store
        .adoptions(&draft.id)
        .await?
        .into_iter()
        .map(|a| (a.element_id.clone(), a))
        .collect();
    let users = store.users().await?;
    let user_entities = users
        .iter()
        .filter_map(|u| Some((u.id.clone(), u.entity_code.clone()?)))
        .collect();
    let user_names = users.into_iter().map(|u| (u.id, u.name)).collect();
    Ok(DraftFacts {
        draft,
        participants,
        elements,
        texts,
        ledger,
        silences,
        ended_silences,
        adoptions,
        user_names,
        user_entities,
    })
}

impl DraftFacts {
    /// The element's last ended silence: how it ended, when, by whom, why.
    fn last_silence(&self, element_id: &str, times_iso: bool) -> Value {
        let Some(s) = self.ended_silences.get(element_id) else {
            return Value::Null;
        };
        let time = |ms: i64| if times_iso { json!(iso(ms)) } else { json!(ms) };
        json!({
            "state": s.state,
            "deadline": time(s.deadline),
            "ended_at": s.ended_at.map(time),
            "ended_by": self.user_name(&s.ended_by),
            "entity": s.ended_by.as_ref().and_then(|u| self.user_entities.get(u)),
            "reason": s.reason,
        })
    }
}

fn entry_json(facts: &DraftFacts, entry: &PositionEntry) -> Value {
    json!({
        "seq": entry.seq,
        "entity": entry.entity,
        "position": entry.stance.as_str(),
        "note": entry.note,
        "wording": entry.wording,
        "text_hash": entry.text_hash,
        "user": entry.user_id,
        "user_name": facts.user_name(&entry.user_id),
        "by_silence": entry.by_silence,
        "at": iso(entry.at),
    })
}

fn standing_str(standing: Standing) -> &'static str {
    match standing {
        Standing::Current => "current",
        Standing::Stale => "stale",
        Standing::NoResponse => "no_response",
    }
}

/// The consensus state of a draft as the API answers it.
fn consensus_json(facts: &DraftFacts, now: i64) -> Value {
    let summaries = facts.summaries();
    let progress = facts.progress(&summaries);
    let names: HashMap<&str, &str> = facts
        .participants
        .iter()
        .map(|(c, n)| (c.as_str(), n.as_str()))
        .collect();
    let elements: Vec<Value> = facts
        .elements
        .iter()
        .zip(&summaries)
        .map(|(element, summary)| {
            let text = facts.texts.get(&element.id);
            let silence = facts.silences.get(&element.id).map(|s| {
                json!({
                    "id": s.id,
                    "deadline": iso(s.deadline),
                    "started_at": iso(s.started_at),
                    "started_by": facts.user_name(&Some(s.started_by.clone())),
                })
            });
            let adopted = facts.adoptions.get(&element.id).map(|a| {
                json!({
                    "at": iso(a.adopted_at),
                    "by": facts.user_name(&Some(a.adopted_by.clone())),
                    "text_hash": a.text_hash,
                })
            });
            let matrix: Vec<Value> = summary
                .cells
                .iter()
                .map(|cell| {
                    let latest = cell.latest.as_ref();
                    json!({
                        "entity": cell.entity,
                        "standing": standing_str(cell.standing),
                        "position": latest.map(|e| e.stance.as_str()),
                        "note": latest.and_then(|e| e.note.clone()),
                        "wording": latest.and_then(|e| e.wording.clone()),
                        "user_name": latest.map_or(Value::Null, |e| facts.user_name(&e.user_id)),
                        "by_silence": latest.is_some_and(|e| e.by_silence),
                        "at": latest.map(|e| iso(e.at)),
                    })
                })
                .collect();
            json!({
                "id": element.id,
                "label": element.label,
                "status": summary.status.as_str(),
                "deadline": match summary.status {
                    Status::UnderSilence { deadline } => Some(iso(deadline)),
                    _ => None,
                },
                "silence": silence,
                "last_silence": facts.last_silence(&element.id, true),
                "adopted": adopted,
                "text_hash": text.map(|t| t.text_hash.clone()),
                "heads": text.map(|t| accord_model::heads_hex(&t.heads)),
                "bracketed": summary.bracketed,
                "not_responded": summary.not_responded,
                "stale": summary.stale,
                "objections": summary.objections.iter().map(|e| entry_json(facts, e)).collect::<Vec<_>>(),
                "reservations": summary.reservations.iter().map(|e| entry_json(facts, e)).collect::<Vec<_>>(),
                "ad_ref": summary.ad_ref,
                "matrix": matrix,
            })
        })
        .collect();
    json!({
        "draft": facts.draft.id,
        "state": progress.state,
        "progress": progress,
        "summary": progress_sentence(facts, &summaries, &progress),
        "adopted_at": facts.draft.adopted_at.map(iso),
        "elements": elements,
        "entities": facts.participants.iter().map(|(code, name)| json!({ "code": code, "name": name })).collect::<Vec<_>>(),
        "entity_names": names,
        "server_time": iso(now),
    })
}

/// "5 of 8 elements agreed; 3 entities have not responded on (c)".
pub(crate) fn progress_sentence(
    facts: &DraftFacts,
    summaries: &[ElementSummary],
    p: &Progress,
) -> String {
    let mut parts = vec![format!(
        "{} of {} elements agreed, {} adopted",
        p.agreed + p.adopted,
        p.elements,
        p.adopted
    )];
    let waiting: Vec<String> = facts
        .elements
        .iter()
        .zip(summaries)
        .filter(|(_, s)| matches!(s.status, Status::Open) && !s.not_responded.is_empty())
        .map(|(e, s)| format!("{} {}", e.label, s.not_responded.len()))
        .collect();
    if !waiting.is_empty() {
        parts.push(format!("entities yet to respond: {}", waiting.join(", ")));
    }
    for (element, summary) in facts.elements.iter().zip(summaries) {
        if !summary.objections.is_empty() {
            let who: Vec<&str> = summary
                .objections
                .iter()
                .map(|e| e.entity.as_str())
                .collect();
            parts.push(format!("{} objected by {}", element.label, who.join(", ")));
        }
    }
    parts.join("; ")
}

/// What the index document shows: statuses, deadlines and every recorded
/// position with its standing (no-response cells are left out).
fn projection_json(facts: &DraftFacts) -> Value {
    let summaries = facts.summaries();
    let progress = facts.progress(&summaries);
    let mut elements = serde_json::Map::new();
    for (element, summary) in facts.elements.iter().zip(&summaries) {
        let mut positions = serde_json::Map::new();
        for cell in &summary.cells {
            if let Some(e) = &cell.latest {
                positions.insert(
                    cell.entity.clone(),
                    json!({
                        "position": e.stance.as_str(),
                        "standing": standing_str(cell.standing),
                        "note": e.note,
                        "wording": e.wording,
                        "user_name": facts.user_name(&e.user_id),
                        "by_silence": e.by_silence,
                        "at": e.at,
                    }),
                );
            }
        }
        elements.insert(
            element.id.clone(),
            json!({
                "status": summary.status.as_str(),
                "deadline": match summary.status {
                    Status::UnderSilence { deadline } => Some(deadline),
                    _ => None,
                },
                "bracketed": summary.bracketed,
                "last_silence": facts.last_silence(&element.id, false),
                "positions": positions,
            }),
        );
    }
    json!({
        "state": progress.state,
        "progress": {
            "elements": progress.elements,
            "agreed": progress.agreed,
            "adopted": progress.adopted,
            "objected": progress.objected,
            "bracketed": progress.bracketed,
            "under_silence": progress.under_silence,
            "open": progress.open,
        },
        "adopted_at": facts.draft.adopted_at,
        "elements": elements,
    })
}

/// Writes the draft's consensus into its index document (no change when
/// nothing differs).
async fn project(app: &AppState, facts: &DraftFacts) -> Result<(), ApiError> {
    let value = projection_json(facts);
    let index: DocumentId = facts.draft.index_doc.parse().map_err(ApiError::internal)?;
    let store = app.store.clone();
    let clock = app.consensus.clock.clone();
    let result = app
        .docs
        .write(
            index,
            Box::new(move |tx| {
                accord_model::reconcile_json(tx, &automerge::ROOT, "consensus", &value)
                    .map_err(|e| e.to_string())
            }),
            Box::new(move |change| {
                Box::pin(async move {
                    match change {
                        Some(change) => store.commit_at(&[change], clock.now()).await.map(|_| ()),
                        None => Ok(()),
                    }
                })
            }),
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(WriteError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Runs `f` under the draft's lock, then re-reads the facts and projects.
async fn locked<T>(
    app: &AppState,
    draft_id: &str,
    f: impl AsyncFnOnce(&DraftFacts) -> Result<T, ApiError>,
) -> Result<(T, DraftFacts), ApiError> {
    let _guard = app.draft_lock(draft_id).await;
    let draft = app
        .store
        .draft(draft_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    let facts = gather(app, draft.clone()).await?;
    let out = f(&facts).await?;
    let after = gather(app, draft).await?;
    let after = DraftFacts {
        draft: app
            .store
            .draft(draft_id)
            .await?
            .ok_or_else(|| ApiError::not_found("the draft"))?,
        ..after
    };
    project(app, &after).await?;
    Ok((out, after))
}

/// Re-projects a draft (after a structure edit or a text change).
pub async fn reproject(app: &AppState, draft_id: &str) -> Result<(), ApiError> {
    let _guard = app.draft_lock(draft_id).await;
    let Some(draft) = app.store.draft(draft_id).await? else {
        return Ok(());
    };
    let facts = gather(app, draft).await?;
    project(app, &facts).await
}

// ---------------------------------------------------------------------------
// Handlers

/// `GET /api/v1/drafts/{id}/consensus`.
pub async fn get_consensus(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let draft = visible_draft(&app, &auth.user, &id).await?;
    let facts = gather(&app, draft).await?;
    Ok(Json(consensus_json(&facts, app.consensus.clock.now())))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PositionRequest {
    pub position: String,
    pub note: Option<String>,
    pub wording: Option<String>,
    pub text_hash: String,
    pub heads: Vec<String>,
}

/// `PUT /api/v1/drafts/{id}/elements/{eid}/positions/{entity}`: a delegate
/// states its entity's position, bound to the text and heads it read.
pub async fn put_position(
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id, entity)): PathParams<(String, String, String)>,
    Body(request): Body<PositionRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user = auth.user.clone();
    if user.role != Role::Delegate || user.entity.as_deref() != Some(entity.as_str()) {
        return Err(ApiError::forbidden(
            "forbidden",
            format!("only delegates of {entity} may state its position"),
        ));
    }
    let draft = visible_draft(&app, &user, &draft_id).await?;
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
    let (out, facts) = locked(&app, &draft.id, async |facts| {
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
            let mut error = ApiError::conflict(r.code, r.message);
            error.extra = Some(json!({ "current_hash": silence.locked_text_hash }));
            return Err(error);
        }
        if current != text_hash {
            let mut error = ApiError::conflict(
                "text_changed",
                format!("the text has changed since you read it; its hash is now {current}"),
            );
            error.extra = Some(json!({ "current_hash": current }));
            return Err(error);
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
        .map(|e| entry_json(&facts, e));
    let element = facts.element(&element_id)?;
    let summary = facts.summary(element);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "position": entry,
            "element": { "id": element.id, "status": summary.status.as_str() },
            "silence_broken": broken,
            "server_time": iso(app.consensus.clock.now()),
        })),
    ))
}

fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, ApiError> {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceRequest {
    /// Element ids, or the string "all".
    pub elements: Value,
    /// RFC 3339 UTC.
    pub deadline: String,
    /// The chair confirms that the stale objections on these elements
    /// (objections given on an earlier text) become support by silence at
    /// the deadline unless their entities object again.
    #[serde(default)]
    pub confirm_stale_objections: bool,
}

/// `POST /api/v1/drafts/{id}/silence` (chairs).
pub async fn start_silence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
    Body(request): Body<SilenceRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.user
        .require(&[Role::Chair], "run silence procedures")?;
    let deadline = parse_time(&request.deadline)?;
    let min_notice = app.config.silence_min_notice_ms();
    let user = auth.user.clone();
    let (started, _) = locked(&app, &draft_id, async |facts| {
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
                refusals.push(json!({ "element": id, "label": element.label, "error": r.code, "message": r.message }));
            }
        }
        if !refusals.is_empty() {
            let message = refusals
                .iter()
                .map(|r| format!("{}: {}", r["label"].as_str().unwrap_or("?"), r["message"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join("; ");
            let mut error = ApiError::conflict("silence_refused", message);
            error.extra = Some(json!({ "refusals": refusals }));
            return Err(error);
        }
        // Stale objections: silence would turn them into support, so the
        // chair confirms them by name, or nothing starts.
        let mut stale: HashMap<&str, Vec<Value>> = HashMap::new();
        for id in &ids {
            let element = facts.element(id)?;
            for e in accord_consensus::stale_objections(&facts.summary(element)) {
                stale.entry(id.as_str()).or_default().push(json!({
                    "element": id,
                    "label": element.label,
                    "entity": e.entity,
                    "entity_name": facts.participants.iter().find(|(c, _)| *c == e.entity).map(|(_, n)| n),
                    "seq": e.seq,
                    "note": e.note,
                    "text_hash": e.text_hash,
                    "at": iso(e.at),
                }));
            }
        }
        if !stale.is_empty() && !request.confirm_stale_objections {
            let listed: Vec<Value> = ids.iter().filter_map(|id| stale.get(id.as_str())).flatten().cloned().collect();
            let message = ids
                .iter()
                .filter_map(|id| {
                    let list = stale.get(id.as_str())?;
                    let who: Vec<&str> = list.iter().filter_map(|s| s["entity"].as_str()).collect();
                    Some(format!("{}: {}", list[0]["label"].as_str().unwrap_or("?"), who.join(", ")))
                })
                .collect::<Vec<_>>()
                .join("; ");
            let mut error = ApiError::conflict(
                "stale_objections",
                format!(
                    "objections given on an earlier text would become support by silence ({message}); \
                     confirm them with \"confirm_stale_objections\": true to start the silence"
                ),
            );
            error.extra = Some(json!({ "stale_objections": listed }));
            return Err(error);
        }
        let mut started = Vec::new();
        for id in &ids {
            let element = facts.element(id)?;
            let confirmed = stale.get(id.as_str()).cloned().unwrap_or_default();
            let confirmed_seqs: Vec<i64> = confirmed.iter().filter_map(|s| s["seq"].as_i64()).collect();
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
            let confirmed_json: Vec<Value> = confirmed
                .iter()
                .map(|s| json!({ "entity": s["entity"], "seq": s["seq"], "note": s["note"], "text_hash": s["text_hash"], "at": s["at"] }))
                .collect();
            let data = if confirmed_json.is_empty() {
                "{}".to_owned()
            } else {
                json!({ "confirmed_stale_objections": confirmed_json }).to_string()
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
            started.push(json!({
                "id": row.id,
                "element": id,
                "deadline": iso(deadline),
                "text_hash": row.locked_text_hash,
                "confirmed_stale_objections": confirmed_json,
            }));
        }
        Ok(started)
    })
    .await?;
    app.consensus.wake.notify_one();
    Ok((StatusCode::CREATED, Json(json!({ "silences": started }))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Element ids; every active silence of the draft when absent.
    pub elements: Option<Vec<String>>,
}

/// `DELETE /api/v1/drafts/{id}/silence` (chairs): cancels silences.
pub async fn cancel_silence(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
    OptionalBody(body): OptionalBody<CancelRequest>,
) -> Result<Json<Value>, ApiError> {
    auth.user
        .require(&[Role::Chair], "run silence procedures")?;
    let only = body.unwrap_or_default().elements;
    let user = auth.user.clone();
    let (cancelled, _) = locked(&app, &draft_id, async |facts| {
        let now = app.consensus.clock.now();
        let mut cancelled = Vec::new();
        for (element_id, silence) in &facts.silences {
            if only.as_ref().is_some_and(|ids| !ids.contains(element_id)) {
                continue;
            }
            if app.store.cancel_silence(silence.id, &user.id, now).await? {
                unlock(&app, facts, element_id).await?;
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
    Ok(Json(json!({ "cancelled": cancelled })))
}

/// The lock an adopted element holds: its adopted text.
fn adopted_lock(label: &str, text: String) -> Lock {
    Lock {
        text,
        message: format!("{label} has been adopted: your edit was undone"),
    }
}

/// Lifts an element's lock unless it is still adopted.
async fn unlock(app: &AppState, facts: &DraftFacts, element_id: &str) -> Result<(), ApiError> {
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
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.user.require(&[Role::Chair], "adopt elements")?;
    let user = auth.user.clone();
    let (_, facts) = locked(&app, &draft_id, async |facts| {
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
    State(app): State<AppState>,
    auth: Auth,
    PathParams((draft_id, element_id)): PathParams<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    auth.user.require(&[Role::Chair], "reopen elements")?;
    let user = auth.user.clone();
    let (_, facts) = locked(&app, &draft_id, async |facts| {
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

fn element_answer(facts: &DraftFacts, element_id: &str) -> Result<Json<Value>, ApiError> {
    let element = facts.element(element_id)?;
    Ok(Json(json!({
        "id": element.id,
        "label": element.label,
        "status": facts.summary(element).status.as_str(),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptDraftRequest {
    /// The final version's name ("Adopted text" when absent).
    pub name: Option<String>,
}

/// `POST /api/v1/drafts/{id}/adopt` (chairs; every element adopted).
pub async fn adopt_draft(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
    OptionalBody(body): OptionalBody<AdoptDraftRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.user.require(&[Role::Chair], "adopt drafts")?;
    let name = body
        .and_then(|b| b.name)
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Adopted text".into());
    let user = auth.user.clone();
    let (version, _) = locked(&app, &draft_id, async |facts| {
        if facts.draft.adopted_at.is_some() {
            return Err(ApiError::conflict("already_adopted", "the draft is already adopted"));
        }
        accord_consensus::may_adopt_draft(&facts.summaries())
            .map_err(|r| ApiError::conflict(r.code, r.message))?;
        let heads = version_heads(&app, facts).await?;
        let now = app.consensus.clock.now();
        let row = app.store.adopt_draft(&facts.draft.id, &user.id, &name, &heads, now).await?;
        Ok(json!({ "name": row.name, "created_at": iso(row.created_at), "heads": serde_json::from_str::<Value>(&row.heads).unwrap_or(Value::Null) }))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "version": version }))))
}

/// The draft's version now: every document's heads.
async fn version_heads(app: &AppState, facts: &DraftFacts) -> Result<String, ApiError> {
    let mut heads = serde_json::Map::new();
    let index: DocumentId = facts.draft.index_doc.parse().map_err(ApiError::internal)?;
    if let Some(view) = app.docs.read(index).await? {
        heads.insert(
            index.to_string(),
            json!(accord_model::heads_hex(&view.heads)),
        );
    }
    for element in &facts.elements {
        if let Some(text) = facts.texts.get(&element.id) {
            heads.insert(
                element.doc_id.clone(),
                json!(accord_model::heads_hex(&text.heads)),
            );
        }
    }
    serde_json::to_string(&heads).map_err(ApiError::internal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {
    pub name: String,
}

fn version_json(facts_names: &HashMap<String, String>, row: &accord_store::VersionRow) -> Value {
    json!({
        "name": row.name,
        "created_at": iso(row.created_at),
        "created_by": row.created_by.as_ref().map(|u| facts_names.get(u).cloned().unwrap_or_else(|| u.clone())),
        "final": row.final_version,
        "heads": serde_json::from_str::<Value>(&row.heads).unwrap_or(Value::Null),
    })
}

/// `POST /api/v1/drafts/{id}/versions` (chairs): names the draft's version
/// now — every document's heads — e.g. "Rev.1".
pub async fn name_version(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
    Body(request): Body<VersionRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    auth.user.require(&[Role::Chair], "name versions")?;
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid",
            "a version name has 1 to 100 characters",
        ));
    }
    let user = auth.user.clone();
    let _guard = app.draft_lock(&draft_id).await;
    let draft = app
        .store
        .draft(&draft_id)
        .await?
        .ok_or_else(|| ApiError::not_found("the draft"))?;
    let facts = gather(&app, draft).await?;
    let heads = version_heads(&app, &facts).await?;
    let row = match app
        .store
        .create_version(
            &draft_id,
            &name,
            &heads,
            Some(&user.id),
            false,
            app.consensus.clock.now(),
        )
        .await
    {
        Err(accord_store::Error::Conflict(_)) => {
            return Err(ApiError::conflict(
                "version_exists",
                format!("this draft already has a version named {name:?}"),
            ));
        }
        other => other?,
    };
    Ok((
        StatusCode::CREATED,
        Json(version_json(&facts.user_names, &row)),
    ))
}

/// `GET /api/v1/drafts/{id}/versions`: the draft's named versions, oldest first.
pub async fn list_versions(
    State(app): State<AppState>,
    auth: Auth,
    PathParams(draft_id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    visible_draft(&app, &auth.user, &draft_id).await?;
    let names: HashMap<String, String> = app
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let versions: Vec<Value> = app
        .store
        .versions(&draft_id)
        .await?
        .iter()
        .map(|v| version_json(&names, v))
        .collect();
    Ok(Json(
        json!({ "versions": versions, "server_time": iso(app.consensus.clock.now()) }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    pub advance_secs: i64,
}

/// `POST /api/v1/test/clock` (chairs, only with `--test-clock`): moves the
/// consensus clock forward.
pub async fn advance_clock(
    State(app): State<AppState>,
    auth: Auth,
    Body(request): Body<ClockRequest>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "now": iso(app.consensus.clock.now()) })))
}

// ---------------------------------------------------------------------------
// Background tasks

/// Re-projects drafts whose status inputs moved with a text change (a hash
/// the ledger holds, or brackets appearing or going).
async fn projector(app: AppState, mut texts: mpsc::UnboundedReceiver<TextChanged>) {
    let mut pending: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            () = app.shutdown.cancelled() => break,
            Some(changed) = texts.recv() => {
                if let Some(draft) = relevant(&app, &changed).await {
                    pending.insert(draft);
                }
            }
            () = tokio::time::sleep(Duration::from_millis(200)), if !pending.is_empty() => {
                for draft in pending.drain() {
                    if let Err(e) = reproject(&app, &draft).await {
                        tracing::warn!(draft = %draft, error = e.message, "projection failed");
                    }
                }
            }
        }
    }
}

/// The draft to re-project for a text change, if it can change a status.
async fn relevant(app: &AppState, changed: &TextChanged) -> Option<String> {
    let info = app.directory.lookup(&app.store, changed.doc).await.ok()??;
    let element = info.element_id.clone()?;
    let previous = app
        .consensus
        .texts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(changed.doc, (changed.text_hash.clone(), changed.bracketed));
    let Some((old_hash, old_brackets)) = previous else {
        // First report since start: the projection may predate a restart.
        crate::history::positions_stale(app, &info.draft_id, &element, changed, None).await;
        return Some(info.draft_id.clone());
    };
    let hashes = app
        .consensus
        .ledger_hashes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&element)
        .cloned()
        .unwrap_or_default();
    if hashes.contains(&old_hash) && old_hash != changed.text_hash {
        // Positions given on the old text may have gone stale.
        crate::history::positions_stale(app, &info.draft_id, &element, changed, Some(&old_hash))
            .await;
    }
    let matters = old_brackets != changed.bracketed
        || hashes.contains(&old_hash)
        || hashes.contains(&changed.text_hash);
    matters.then(|| info.draft_id.clone())
}

/// Fires silence deadlines. Every instance may try; the database lets one
/// succeed. Survives restarts: active silences are read from storage.
async fn scheduler(app: AppState) {
    loop {
        let next = match app.store.active_silences().await {
            Ok(silences) => {
                let now = app.consensus.clock.now();
                let mut next: Option<i64> = None;
                for silence in silences {
                    if silence.deadline <= now {
                        if let Err(e) = fire(&app, &silence).await {
                            tracing::warn!(
                                silence = silence.id,
                                error = e.message,
                                "firing a silence failed"
                            );
                        }
                    } else {
                        next = Some(next.map_or(silence.deadline, |n| n.min(silence.deadline)));
                    }
                }
                next.map(|at| at - now)
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading silences failed");
                Some(5_000)
            }
        };
        let poll = (app.config.silence_poll_secs.max(1) * 1000) as i64;
        let wait = Duration::from_millis(next.unwrap_or(poll).clamp(10, poll) as u64);
        tokio::select! {
            () = app.shutdown.cancelled() => break,
            () = app.consensus.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Fires one silence: missing and stale positions become support by silence,
/// except stale objections the chair did not confirm at the start.
async fn fire(app: &AppState, silence: &SilenceRow) -> Result<(), ApiError> {
    let fired = locked(app, &silence.draft_id, async |facts| {
        let now = app.consensus.clock.now();
        let rule = silence_rule(silence);
        let entries = accord_consensus::fire_silence(
            &rule,
            &silence.element_id,
            &facts.ledger,
            &facts.participant_codes(),
            now,
            0,
        );
        let heads = silence.locked_heads.clone();
        let rows: Vec<NewPosition> = entries
            .iter()
            .map(|e| NewPosition {
                draft_id: silence.draft_id.clone(),
                element_id: e.element_id.clone(),
                entity_code: e.entity.clone(),
                stance: e.stance.as_str().into(),
                note: None,
                wording: None,
                text_hash: e.text_hash.clone(),
                heads: heads.clone(),
                user_id: None,
                by_silence: true,
                at: now,
            })
            .collect();
        let fired = app.store.fire_silence(silence.id, now, &rows).await?;
        if fired {
            app.consensus
                .note_hash(&silence.element_id, &silence.locked_text_hash);
            if facts.elements.iter().any(|e| e.id == silence.element_id) {
                unlock(app, facts, &silence.element_id).await?;
            }
            tracing::info!(silence = silence.id, recorded = rows.len(), "silence fired");
        }
        Ok(fired)
    })
    .await;
    match fired {
        Ok(_) => Ok(()),
        Err(e) if e.status == StatusCode::NOT_FOUND => Ok(()),
        Err(e) => Err(e),
    }
}
