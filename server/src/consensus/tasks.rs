//! Background tasks: the projector (re-projects drafts whose status inputs
//! moved with a text change) and the silence scheduler.

use std::collections::HashSet;
use std::time::Duration;

use accord_store::{NewPosition, SilenceRow};
use tokio::sync::mpsc;

use super::commands::unlock;
use super::facts::silence_rule;
use super::locked;
use super::projection::reproject;
use crate::AppState;
use crate::documents::TextChanged;
use crate::error::ApiError;

/// Re-projects drafts whose status inputs moved with a text change (a hash
/// the ledger holds, or brackets appearing or going).
pub(super) async fn projector(app: AppState, mut texts: mpsc::UnboundedReceiver<TextChanged>) {
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
pub(super) async fn relevant(app: &AppState, changed: &TextChanged) -> Option<String> {
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
        super::stale::positions_stale(app, &info.draft_id, &element, changed, None).await;
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
        super::stale::positions_stale(app, &info.draft_id, &element, changed, Some(&old_hash))
            .await;
    }
    let matters = old_brackets != changed.bracketed
        || hashes.contains(&old_hash)
        || hashes.contains(&changed.text_hash);
    matters.then(|| info.draft_id.clone())
}

/// Fires silence deadlines. Every instance may try; the database lets one
/// succeed. Survives restarts: active silences are read from storage.
pub(super) async fn scheduler(app: AppState) {
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
pub(super) async fn fire(app: &AppState, silence: &SilenceRow) -> Result<(), ApiError> {
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
        // The draft or element went away meanwhile: nothing to fire.
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
