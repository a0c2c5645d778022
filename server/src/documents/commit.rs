//! Grouped commits: every doc actor hands its round's changes to one task,
//! which writes whatever has queued up in a single transaction, so one fsync
//! covers the changes of many documents and connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use accord_store::{NewChange, Store};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

struct Job {
    changes: Vec<NewChange>,
    reply: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct Committer {
    tx: mpsc::UnboundedSender<Job>,
}

impl Committer {
    /// Starts the commit task. It ends when every `Committer` is dropped.
    pub fn spawn(
        store: Store,
        metrics: Arc<Metrics>,
        storage_ok: Arc<AtomicBool>,
        clock: Arc<crate::clock::Clock>,
        tracker: &tokio_util::task::TaskTracker,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        tracker.spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                while let Ok(job) = rx.try_recv() {
                    jobs.push(job);
                }
                let all: Vec<NewChange> =
                    jobs.iter_mut().flat_map(|j| j.changes.drain(..)).collect();
                let started = Instant::now();
                let result = store.commit_at(&all, clock.now()).await;
                metrics
                    .commit_seconds
                    .observe(started.elapsed().as_secs_f64());
                metrics.commit_batch_changes.observe(all.len() as f64);
                let reply = match result {
                    Ok(receipt) => {
                        metrics.changes_stored.inc_by(receipt.stored as u64);
                        storage_ok.store(true, Ordering::Relaxed);
                        Ok(())
                    }
                    Err(e) => {
                        tracing::error!(error = %e, changes = all.len(), "commit failed");
                        metrics.commit_failures.inc();
                        storage_ok.store(false, Ordering::Relaxed);
                        Err(e.to_string())
                    }
                };
                for job in jobs {
                    let _ = job.reply.send(reply.clone());
                }
            }
        });
        Self { tx }
    }

    /// Commits changes durably; returns once they are on disk (or failed).
    pub async fn commit(&self, changes: Vec<NewChange>) -> Result<(), String> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(Job { changes, reply })
            .map_err(|_| "the commit task has stopped".to_owned())?;
        wait.await
            .map_err(|_| "the commit task has stopped".to_owned())?
    }
}
