//! The consensus as JSON: the API's report and the projection written into
//! the draft's index document (both with the progress sentence).

use accord_consensus::{PositionEntry, Standing, Status};
use accord_protocol::DocumentId;
use serde_json::{Value, json};

use super::answers::{
    ActiveSilence, Adoption, ConsensusReport, ElementConsensus, ElementStatus, EndedSilence,
    MatrixCell, Position,
};
use super::facts::{DraftFacts, gather};
use super::progress::progress_sentence;
use crate::AppState;
use crate::clock::iso;
use crate::documents::{Companion, WriteError};
use crate::drafts::{EditingMode, EntityView};
use crate::error::ApiError;

pub(super) fn position(facts: &DraftFacts, entry: &PositionEntry) -> Position {
    Position {
        seq: entry.seq,
        entity: entry.entity.clone(),
        position: entry.stance,
        note: entry.note.clone(),
        wording: entry.wording.clone(),
        text_hash: entry.text_hash.clone(),
        user: entry.user_id.clone(),
        user_name: facts.user_name(&entry.user_id),
        by_silence: entry.by_silence,
        at: iso(entry.at),
    }
}

pub(super) fn standing_str(standing: Standing) -> &'static str {
    match standing {
        Standing::Current => "current",
        Standing::Stale => "stale",
        Standing::NoResponse => "no_response",
    }
}

/// The consensus state of a draft as the API answers it.
pub(super) fn consensus_report(facts: &DraftFacts, now: i64) -> ConsensusReport {
    let summaries = facts.summaries();
    let progress = facts.progress(&summaries);
    let elements = facts
        .elements
        .iter()
        .zip(&summaries)
        .map(|(element, summary)| {
            let text = facts.texts.get(&element.id);
            let silence = facts.silences.get(&element.id).map(|s| ActiveSilence {
                id: s.id,
                deadline: iso(s.deadline),
                started_at: iso(s.started_at),
                started_by: facts.name_of(&s.started_by),
            });
            let adopted = facts.adoptions.get(&element.id).map(|a| Adoption {
                at: iso(a.adopted_at),
                by: facts.name_of(&a.adopted_by),
                text_hash: a.text_hash.clone(),
            });
            let matrix = summary
                .cells
                .iter()
                .map(|cell| {
                    let latest = cell.latest.as_ref();
                    MatrixCell {
                        entity: cell.entity.clone(),
                        standing: cell.standing,
                        position: latest.map(|e| e.stance),
                        note: latest.and_then(|e| e.note.clone()),
                        wording: latest.and_then(|e| e.wording.clone()),
                        user_name: latest.and_then(|e| facts.user_name(&e.user_id)),
                        by_silence: latest.is_some_and(|e| e.by_silence),
                        at: latest.map(|e| iso(e.at)),
                    }
                })
                .collect();
            let positions = |entries: &[PositionEntry]| -> Vec<Position> {
                entries.iter().map(|e| position(facts, e)).collect()
            };
            ElementConsensus {
                id: element.id.clone(),
                label: element.label.clone(),
                status: ElementStatus::from(&summary.status),
                deadline: match summary.status {
                    Status::UnderSilence { deadline } => Some(iso(deadline)),
                    _ => None,
                },
                silence,
                last_silence: facts.ended_silence(&element.id),
                adopted,
                // Every element has a text (`gather` reads them all).
                text_hash: text.map(|t| t.text_hash.clone()).unwrap_or_default(),
                heads: text
                    .map(|t| accord_model::heads_hex(&t.heads))
                    .unwrap_or_default(),
                bracketed: summary.bracketed,
                mode: EditingMode::parse(&element.mode),
                not_responded: summary.not_responded.clone(),
                stale: summary.stale.clone(),
                objections: positions(&summary.objections),
                reservations: positions(&summary.reservations),
                ad_ref: summary.ad_ref.clone(),
                matrix,
            }
        })
        .collect();
    ConsensusReport {
        draft: facts.draft.id.clone(),
        state: progress.state.clone(),
        summary: progress_sentence(facts, &summaries, &progress),
        progress,
        adopted_at: facts.draft.adopted_at.map(iso),
        elements,
        entities: facts
            .participants
            .iter()
            .map(|(code, name)| EntityView {
                code: code.clone(),
                name: name.clone(),
            })
            .collect(),
        entity_names: facts.participants.iter().cloned().collect(),
        server_time: iso(now),
    }
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
                "last_silence": facts.last_silence(&element.id),
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
    /// The element's last ended silence: how it ended, when (unix ms), by
    /// whom, why (for the index document).
    fn last_silence(&self, element_id: &str) -> Value {
        let Some(s) = self.ended_silences.get(element_id) else {
            return Value::Null;
        };
        json!({
            "state": s.state,
            "deadline": s.deadline,
            "ended_at": s.ended_at,
            "ended_by": self.user_name(&s.ended_by),
            "entity": s.ended_by.as_ref().and_then(|u| self.user_entities.get(u)),
            "reason": s.reason,
        })
    }

    /// The element's last ended silence, as the API shows it.
    fn ended_silence(&self, element_id: &str) -> Option<EndedSilence> {
        let s = self.ended_silences.get(element_id)?;
        Some(EndedSilence {
            state: s.state.clone(),
            deadline: iso(s.deadline),
            ended_at: s.ended_at.map(iso),
            ended_by: self.user_name(&s.ended_by),
            entity: s
                .ended_by
                .as_ref()
                .and_then(|u| self.user_entities.get(u))
                .cloned(),
            reason: s.reason.clone(),
        })
    }
}
