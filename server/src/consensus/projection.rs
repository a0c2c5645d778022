//! The consensus as JSON: the API's report and the projection written into
//! the draft's index document (both with the progress sentence).

use std::collections::HashMap;

use accord_consensus::{PositionEntry, Standing, Status};
use accord_protocol::DocumentId;
use serde_json::{Value, json};

use super::facts::{DraftFacts, gather};
use super::progress::progress_sentence;
use crate::AppState;
use crate::clock::iso;
use crate::documents::{Companion, WriteError};
use crate::error::ApiError;

pub(super) fn entry_json(facts: &DraftFacts, entry: &PositionEntry) -> Value {
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

pub(super) fn standing_str(standing: Standing) -> &'static str {
    match standing {
        Standing::Current => "current",
        Standing::Stale => "stale",
        Standing::NoResponse => "no_response",
    }
}

/// The consensus state of a draft as the API answers it.
pub(super) fn consensus_json(facts: &DraftFacts, now: i64) -> Value {
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

/// What the index document shows: the progress (counts and sentence),
/// statuses, deadlines and every recorded position with its standing
/// (no-response cells are left out).
pub(super) fn projection_json(facts: &DraftFacts) -> Value {
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
        "summary": progress_sentence(facts, &summaries, &progress),
        "adopted_at": facts.draft.adopted_at,
        "elements": elements,
    })
}

/// Writes the draft's consensus into its index document (no change when
/// nothing differs).
pub(super) async fn project(app: &AppState, facts: &DraftFacts) -> Result<(), ApiError> {
    let value = projection_json(facts);
    let index: DocumentId = facts.draft.index_doc.parse().map_err(ApiError::internal)?;
    let result = app
        .docs
        .write(
            index,
            Box::new(move |tx| {
                accord_model::reconcile_json(tx, &automerge::ROOT, "consensus", &value)
                    .map_err(|e| e.to_string())
            }),
            Companion::Alone,
        )
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(WriteError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Re-projects a draft off the caller's path (after a structure edit: the
/// statuses of added or restored elements); a failure is logged.
pub fn reproject_soon(app: &AppState, draft_id: &str) {
    let app = app.clone();
    let draft_id = draft_id.to_owned();
    tokio::spawn(async move {
        if let Err(e) = reproject(&app, &draft_id).await {
            tracing::warn!(draft = %draft_id, error = e.message, "projecting consensus failed");
        }
    });
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
