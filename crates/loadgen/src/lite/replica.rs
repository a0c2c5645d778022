//! [`Replica`]: one simulated client's copy of one document, as a bitset of
//! the shared graph's changes, its heads and the changes waiting for their
//! deps; applying changes, and the graph walks the sync protocol needs.

use std::collections::{BTreeSet, BinaryHeap};

use automerge::{ChangeHash, sync};

use super::chunks::{Parsed, ParsedChange};
use super::graph::{Graph, Universe};
use super::hash::{HashMap, HashSet};

/// A change that arrived before its dependencies.
pub(super) struct Queued {
    pub(super) change: ParsedChange,
}

/// One simulated client's copy of one document.
pub struct Replica {
    pub(super) universe: Universe,
    /// Bit i set: this replica has change i of the universe.
    pub(super) have: Vec<u64>,
    pub(super) count: usize,
    pub(super) heads: Vec<u32>,
    pub(super) queue: Vec<Queued>,
    pub(super) max_op: u64,
    /// Whether this replica ever authored a change. A replica that did not
    /// only has changes the peer sent it, so it never has any to offer
    /// beyond what the peer explicitly asks for.
    pub(super) authored: bool,
    pub state: sync::State,
}

impl Replica {
    pub fn new(universe: Universe) -> Self {
        Self {
            universe,
            have: Vec::new(),
            count: 0,
            heads: Vec::new(),
            queue: Vec::new(),
            max_op: 0,
            authored: false,
            state: sync::State::new(),
        }
    }

    pub(super) fn has_idx(&self, i: u32) -> bool {
        self.have
            .get(i as usize / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set_idx(&mut self, i: u32) {
        let w = i as usize / 64;
        if self.have.len() <= w {
            self.have.resize(w + 1, 0);
        }
        self.have[w] |= 1 << (i % 64);
    }

    pub fn has(&self, hash: &ChangeHash) -> bool {
        let g = self.universe.read().expect("graph lock");
        g.idx(hash).is_some_and(|i| self.has_idx(i))
    }

    /// Number of changes this replica has.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        let g = self.universe.read().expect("graph lock");
        let mut h: Vec<_> = self
            .heads
            .iter()
            .map(|&i| g.nodes[i as usize].hash)
            .collect();
        h.sort();
        h
    }

    /// Marks change `i` (already in the graph) as applied. Returns false if
    /// this replica already had it.
    fn apply(&mut self, g: &Graph, i: u32) -> bool {
        if self.has_idx(i) {
            return false;
        }
        self.set_idx(i);
        self.count += 1;
        let node = &g.nodes[i as usize];
        self.heads.retain(|h| !node.deps.contains(h));
        self.heads.push(i);
        self.max_op = self.max_op.max(node.max_op);
        true
    }

    fn deps_present(&self, g: &Graph, change: &Parsed) -> bool {
        change
            .deps
            .iter()
            .all(|d| g.idx(d).is_some_and(|i| self.has_idx(i)))
    }

    /// Adds changes (from the network or authored locally), applying every
    /// one whose deps are present, queueing the rest. Returns the hashes
    /// newly applied, in order.
    ///
    /// Most changes are already in the shared graph (another replica got
    /// them first): those only need the read lock.
    pub fn add_changes(&mut self, changes: Vec<ParsedChange>) -> Vec<ChangeHash> {
        let mut applied = Vec::new();
        let universe = self.universe.clone();
        {
            let g = universe.read().expect("graph lock");
            for change in changes {
                if g.idx(&change.hash).is_some_and(|i| self.has_idx(i)) {
                    continue;
                }
                self.queue.push(Queued { change });
            }
        }
        loop {
            // Apply what the graph already knows, under the read lock.
            let mut missing = false;
            {
                let g = universe.read().expect("graph lock");
                loop {
                    let mut progressed = false;
                    let mut i = 0;
                    while i < self.queue.len() {
                        let change = &self.queue[i].change;
                        if !self.deps_present(&g, change) {
                            i += 1;
                            continue;
                        }
                        match g.idx(&change.hash) {
                            Some(idx) => {
                                let q = self.queue.swap_remove(i);
                                if self.apply(&g, idx) {
                                    applied.push(q.change.hash);
                                }
                                progressed = true;
                            }
                            None => {
                                missing = true;
                                i += 1;
                            }
                        }
                    }
                    if !progressed {
                        break;
                    }
                }
            }
            if !missing {
                break;
            }
            // Enter the new ones whose deps are present, then go round again.
            let mut g = universe.write().expect("graph lock");
            for q in &self.queue {
                if g.idx(&q.change.hash).is_none() && self.deps_present(&g, &q.change) {
                    g.insert(&q.change);
                }
            }
        }
        applied
    }

    /// Indices of the changes this replica has that are not ancestors of (or
    /// equal to) `since`, in topological order.
    pub(super) fn since(&self, g: &Graph, since: &[u32]) -> Vec<u32> {
        if since.is_empty() {
            let mut all = Vec::with_capacity(self.count);
            for (w, bits) in self.have.iter().enumerate() {
                let mut b = *bits;
                while b != 0 {
                    let t = b.trailing_zeros();
                    all.push((w * 64) as u32 + t);
                    b &= b - 1;
                }
            }
            return all;
        }
        // Walk down in decreasing index order; a node reached from `since`
        // is covered. Stop when only covered nodes remain on the frontier.
        let mut covered: HashMap<u32, bool> = HashMap::default();
        let mut heap = BinaryHeap::new();
        let mut uncovered = 0usize;
        for &s in since {
            covered.insert(s, true);
            heap.push(s);
        }
        for &h in &self.heads {
            if let std::collections::hash_map::Entry::Vacant(e) = covered.entry(h) {
                e.insert(false);
                heap.push(h);
                uncovered += 1;
            }
        }
        let mut out = Vec::new();
        while uncovered > 0 {
            let Some(i) = heap.pop() else { break };
            let is_covered = covered[&i];
            if !is_covered {
                uncovered -= 1;
                out.push(i);
            }
            for &d in &g.nodes[i as usize].deps {
                match covered.get(&d) {
                    None => {
                        covered.insert(d, is_covered);
                        heap.push(d);
                        if !is_covered {
                            uncovered += 1;
                        }
                    }
                    Some(false) if is_covered => {
                        covered.insert(d, true);
                        uncovered -= 1;
                    }
                    _ => {}
                }
            }
        }
        out.reverse();
        out
    }

    /// Removes from `set` every hash that is an ancestor of (or equal to) `heads`.
    pub(super) fn remove_ancestors(
        &self,
        g: &Graph,
        set: &mut BTreeSet<ChangeHash>,
        heads: &[u32],
    ) {
        if set.is_empty() {
            return;
        }
        let targets: HashMap<u32, ChangeHash> = set
            .iter()
            .filter_map(|h| g.idx(h).map(|i| (i, *h)))
            .collect();
        let Some(&min) = targets.keys().min() else {
            return;
        };
        let mut seen = HashSet::default();
        let mut heap: BinaryHeap<u32> = heads.iter().copied().collect();
        while let Some(i) = heap.pop() {
            if i < min || !seen.insert(i) {
                continue;
            }
            if let Some(h) = targets.get(&i) {
                set.remove(h);
            }
            heap.extend(g.nodes[i as usize].deps.iter().copied());
        }
    }

    /// True once this replica has everything the peer last advertised.
    pub fn caught_up(&self) -> bool {
        match &self.state.their_heads {
            Some(h) => h.iter().all(|h| self.has(h)) && self.queue.is_empty(),
            None => false,
        }
    }
}
