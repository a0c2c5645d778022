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

mod answers;
mod commands;
mod facts;
mod progress;
mod projection;
mod stale;
mod tasks;
mod versions;

pub(crate) use answers::read_heads;
pub use answers::{
    ClockReading, ConsensusReport, DraftAdopted, ElementState, ElementStatus, PositionError,
    PositionRecorded, SilenceError, SilencesCancelled, SilencesStarted, Version, VersionList,
};
pub(crate) use commands::parse_heads;
pub use commands::{
    AdoptDraftRequest, CancelRequest, ClockRequest, PositionRequest, SilenceRequest, adopt_draft,
    adopt_element, advance_clock, cancel_silence, get_consensus, put_position, reopen_element,
    start_silence,
};
use facts::gather;
pub use facts::{DraftFacts, gather_with, participants_and_ledger, stored_texts};
pub(crate) use progress::progress_sentence;
use projection::project;
pub use projection::{reproject, reproject_soon};
pub use versions::{VersionRequest, list_versions, name_version};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use accord_protocol::DocumentId;
use tokio::sync::{Notify, mpsc};

use crate::AppState;
use crate::clock::Clock;
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
    tracker.spawn(tasks::projector(app.clone(), texts_rx));
    tracker.spawn(tasks::scheduler(app.clone()));
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
