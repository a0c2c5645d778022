//! Which change was sent when and by whom ([`SentMap`]), and how many of the
//! run's changes each live replica has, for the quiescence check.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use automerge::ChangeHash;

use super::Shared;
use crate::lite::HashMap as FastMap;

/// When and by whom a change was sent.
#[derive(Clone, Copy)]
pub(super) struct Sent {
    pub(super) at: Instant,
    pub(super) client: u32,
    pub(super) doc: u16,
}

/// change hash → send instant, sharded to keep the locks short.
pub(super) struct SentMap(Vec<Mutex<FastMap<ChangeHash, Sent>>>);

impl SentMap {
    pub(super) fn new() -> Self {
        Self((0..64).map(|_| Mutex::new(FastMap::default())).collect())
    }
    fn shard(&self, h: &ChangeHash) -> &Mutex<FastMap<ChangeHash, Sent>> {
        &self.0[h.0[0] as usize % self.0.len()]
    }
    pub(super) fn insert(&self, h: ChangeHash, s: Sent) {
        self.shard(&h).lock().expect("sent lock").insert(h, s);
    }
    pub(super) fn get(&self, h: &ChangeHash) -> Option<Sent> {
        self.shard(h).lock().expect("sent lock").get(h).copied()
    }
    pub(super) fn all(&self) -> Vec<(ChangeHash, Sent)> {
        let mut out = Vec::new();
        for s in &self.0 {
            out.extend(s.lock().expect("sent lock").iter().map(|(h, s)| (*h, *s)));
        }
        out
    }
}

/// One replica's progress, for the quiescence check.
pub(super) struct Progress {
    pub(super) doc: usize,
    /// Changes of this run the replica has (its own included).
    pub(super) run_changes: AtomicU64,
    pub(super) alive: AtomicBool,
}

pub(super) fn undelivered(s: &Shared) -> u64 {
    let progress = s.progress.lock().expect("progress lock");
    progress
        .iter()
        .filter(|p| p.alive.load(Ordering::Relaxed))
        .map(|p| {
            s.sent_per_doc[p.doc]
                .load(Ordering::Relaxed)
                .saturating_sub(p.run_changes.load(Ordering::Relaxed))
        })
        .sum()
}
