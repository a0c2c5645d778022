//! The commit task: every write of the documents goes through it — the
//! changes peers deliver, and the server's own changes (restored locked
//! texts, consensus projections, structure edits with their rows and
//! events). Queued peer changes are written in a single transaction, so one
//! fsync covers the changes of many documents and connections; a structure
//! edit is one transaction of its own. Every commit is timed and counted,
//! and a failure marks storage unhealthy until the next success (`/readyz`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use accord_store::{Decision, NewChange, Store, StructureEdit};
use tokio::sync::{mpsc, oneshot};

use crate::clock::Clock;
use crate::metrics::Metrics;

/// What one job asks to store.
enum Work {
    /// Changes, grouped with every other queued job's changes.
    Changes(Vec<NewChange>),
    /// A structure edit: its rows, events and index change together.
    Structure(Box<StructureEdit>),
    /// A decision on an amendment, with the change applying it if accepted.
    Decision(Box<Decision>),
}

type Reply = oneshot::Sender<Result<(), accord_store::Error>>;

struct Job {
    work: Work,
    reply: Reply,
}

#[derive(Clone)]
pub struct Committer {
    tx: mpsc::UnboundedSender<Job>,
}

/// The commit task's side: where it writes and what it reports.
struct Task {
    store: Store,
    metrics: Arc<Metrics>,
    storage_ok: Arc<AtomicBool>,
    clock: Arc<Clock>,
}

impl Task {
    /// Records a commit's outcome: metrics and storage health.
    fn outcome<T>(
        &self,
        started: Instant,
        changes: usize,
        result: &Result<T, accord_store::Error>,
    ) {
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.commit_batch_changes.observe(changes as f64);
        use accord_store::Error::{Conflict, Invalid, NotFound};
        match result {
            // The database answered: a refusal (the amendment is no longer
            // open, the element is gone) is not a storage failure.
            Ok(_) | Err(Conflict(_) | Invalid(_) | NotFound(_)) => {
                self.storage_ok.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, changes, "commit failed");
                self.metrics.commit_failures.inc();
                self.storage_ok.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Commits the changes of `jobs` in one transaction and answers them all.
    async fn changes(&self, jobs: Vec<(Vec<NewChange>, Reply)>) {
        let mut all = Vec::new();
        let mut replies = Vec::with_capacity(jobs.len());
        for (changes, reply) in jobs {
            all.extend(changes);
            replies.push(reply);
        }
        let started = Instant::now();
        let result = self.store.commit_at(&all, self.clock.now()).await;
        self.outcome(started, all.len(), &result);
        let failure = match &result {
            Ok(receipt) => {
                self.metrics.changes_stored.inc_by(receipt.stored as u64);
                None
            }
            Err(e) => Some(e.to_string()),
        };
        for reply in replies {
            let _ = reply.send(match &failure {
                None => Ok(()),
                Some(m) => Err(accord_store::Error::CommitFailed(m.clone())),
            });
        }
    }

    /// Commits one decision on an amendment and answers it.
    async fn decision(&self, decision: &Decision, reply: Reply) {
        let started = Instant::now();
        let result = self
            .store
            .decide_amendment_at(decision, self.clock.now())
            .await;
        let changes = usize::from(decision.change.is_some());
        self.outcome(started, changes, &result);
        if result.is_ok() {
            self.metrics.changes_stored.inc_by(changes as u64);
        }
        let _ = reply.send(result);
    }

    /// Commits one structure edit and answers it.
    async fn structure(&self, edit: &StructureEdit, reply: Reply) {
        let started = Instant::now();
        let result = self.store.apply_structure_at(edit, self.clock.now()).await;
        self.outcome(started, edit.index_changes.len(), &result);
        if result.is_ok() {
            self.metrics
                .changes_stored
                .inc_by(edit.index_changes.len() as u64);
        }
        let _ = reply.send(result.map(|_| ()));
    }
}

impl Committer {
    /// Starts the commit task. It ends when every `Committer` is dropped.
    pub fn spawn(
        store: Store,
        metrics: Arc<Metrics>,
        storage_ok: Arc<AtomicBool>,
        clock: Arc<Clock>,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let task = Task {
            store,
            metrics,
            storage_ok,
            clock,
        };
        tracker.spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while let Ok(job) = rx.try_recv() {
                    jobs.push(job);
                }
                // In arrival order: consecutive change jobs share a
                // transaction, a structure edit has its own.
                let mut batch = Vec::new();
                for job in jobs {
                    match job.work {
                        Work::Changes(changes) => batch.push((changes, job.reply)),
                        Work::Structure(edit) => {
                            if !batch.is_empty() {
                                task.changes(std::mem::take(&mut batch)).await;
                            }
                            task.structure(&edit, job.reply).await;
                        }
                        Work::Decision(decision) => {
                            if !batch.is_empty() {
                                task.changes(std::mem::take(&mut batch)).await;
                            }
                            task.decision(&decision, job.reply).await;
                        }
                    }
                }
                if !batch.is_empty() {
                    task.changes(batch).await;
                }
            }
        });
        Self { tx }
    }

    async fn submit(&self, work: Work) -> Result<(), accord_store::Error> {
        let stopped =
            || accord_store::Error::CommitFailed("the commit task has stopped".to_owned());
        let (reply, wait) = oneshot::channel();
        self.tx.send(Job { work, reply }).map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }

    /// Commits changes durably; returns once they are on disk (or failed).
    pub async fn commit(&self, changes: Vec<NewChange>) -> Result<(), accord_store::Error> {
        self.submit(Work::Changes(changes)).await
    }

    /// Commits a decision on an amendment (with the change applying it)
    /// durably.
    pub async fn decide_amendment(&self, decision: Decision) -> Result<(), accord_store::Error> {
        self.submit(Work::Decision(Box::new(decision))).await
    }

    /// Commits a structure edit (rows, events and its index change) durably.
    pub async fn commit_structure(&self, edit: StructureEdit) -> Result<(), accord_store::Error> {
        self.submit(Work::Structure(Box::new(edit))).await
    }
}
