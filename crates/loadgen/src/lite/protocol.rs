//! The automerge sync protocol on the graph: [`Replica::generate`] and
//! [`Replica::receive`] are `SyncDoc::generate_sync_message` and
//! `SyncDoc::receive_sync_message` of automerge 0.12.

use std::collections::BTreeSet;

use automerge::ChangeHash;
use automerge::sync::{self, BloomFilter, Have, MessageFlags, MessageVersion};

use super::chunks::{Parsed, ParsedChange};
use super::hash::{HashMap, HashSet};
use super::replica::Replica;

impl Replica {
    /// `SyncDoc::generate_sync_message`, on the graph.
    pub fn generate(&mut self) -> Option<sync::Message> {
        let mut state = std::mem::take(&mut self.state);
        let out = self.generate_with(&mut state);
        self.state = state;
        out
    }

    fn generate_with(&self, state: &mut sync::State) -> Option<sync::Message> {
        let g = self.universe.read().expect("graph lock");
        let mut our_heads: Vec<ChangeHash> = self
            .heads
            .iter()
            .map(|&i| g.nodes[i as usize].hash)
            .collect();
        our_heads.sort();

        // What we lack to reach their heads (queued changes count as known
        // but their missing deps are needed).
        let queued: HashMap<ChangeHash, &Parsed> = self
            .queue
            .iter()
            .map(|q| (q.change.hash, &*q.change))
            .collect();
        let mut our_need = HashSet::default();
        let mut seen = HashSet::default();
        let mut stack: Vec<ChangeHash> = state.their_heads.iter().flatten().copied().collect();
        while let Some(h) = stack.pop() {
            let known = g.idx(&h).is_some_and(|i| self.has_idx(i));
            if known || !seen.insert(h) {
                continue;
            }
            match queued.get(&h) {
                Some(c) => stack.extend(c.deps.iter().copied()),
                None => {
                    our_need.insert(h);
                }
            }
        }
        let mut our_need: Vec<_> = our_need.into_iter().collect();
        our_need.sort();

        let their_heads_set: &[ChangeHash] = state.their_heads.as_deref().unwrap_or_default();
        let shared: Vec<u32> = state.shared_heads.iter().filter_map(|h| g.idx(h)).collect();
        let our_have = if our_need.iter().all(|h| their_heads_set.contains(h)) {
            let hashes: Vec<ChangeHash> = self
                .since(&g, &shared)
                .into_iter()
                .map(|i| g.nodes[i as usize].hash)
                .collect();
            vec![Have {
                last_sync: state.shared_heads.clone(),
                bloom: BloomFilter::from_hashes(hashes.iter()),
            }]
        } else {
            Vec::new()
        };

        let known = |h: &ChangeHash| g.idx(h).is_some_and(|i| self.has_idx(i));
        if let Some(first) = state.their_have.as_ref().and_then(|h| h.first())
            && !first.last_sync.iter().all(known)
        {
            let mut flags = MessageFlags::new();
            flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
            return Some(sync::Message {
                heads: our_heads,
                need: Vec::new(),
                have: vec![Have::default()],
                changes: sync::ChunkList::empty(),
                flags: Some(flags),
                version: MessageVersion::V1,
            });
        }

        let mut to_send: Vec<u32> = Vec::new();
        if !state.is_peer_read_only()
            && let (Some(their_have), Some(their_need)) = (&state.their_have, &state.their_need)
        {
            let need: Vec<u32> = their_need
                .iter()
                .filter_map(|h| g.idx(h).filter(|&i| known(&g.nodes[i as usize].hash)))
                .collect();
            let all = if their_have.is_empty() || !self.authored {
                need
            } else {
                let last_sync: Vec<u32> = their_have
                    .iter()
                    .flat_map(|h| h.last_sync.iter())
                    .filter_map(|h| g.idx(h))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                let hashes = self.since(&g, &last_sync);
                let in_range: HashSet<u32> = hashes.iter().copied().collect();
                let mut dependents: HashMap<u32, Vec<u32>> = HashMap::default();
                let mut send: HashSet<u32> = HashSet::default();
                for &i in &hashes {
                    let node = &g.nodes[i as usize];
                    for &d in &node.deps {
                        if in_range.contains(&d) {
                            dependents.entry(d).or_default().push(i);
                        }
                    }
                    if their_have
                        .iter()
                        .all(|h| !h.bloom.contains_hash(&node.hash))
                    {
                        send.insert(i);
                    }
                }
                let mut stack: Vec<u32> = send.iter().copied().collect();
                while let Some(i) = stack.pop() {
                    if let Some(ds) = dependents.get(&i) {
                        for &d in ds {
                            if send.insert(d) {
                                stack.push(d);
                            }
                        }
                    }
                }
                let mut out: Vec<u32> = need.into_iter().filter(|i| !send.contains(i)).collect();
                out.extend(hashes.iter().copied().filter(|i| send.contains(i)));
                out
            };
            to_send = all
                .into_iter()
                .filter(|&i| !state.sent_hashes.contains(&g.nodes[i as usize].hash))
                .collect();
        }

        let heads_unchanged = state.last_sent_heads == our_heads;
        let heads_equal = state.their_heads.as_ref() == Some(&our_heads);
        if heads_unchanged && state.have_responded {
            if (heads_equal || state.read_only) && to_send.is_empty() {
                return None;
            }
            if state.in_flight {
                return None;
            }
        }
        state.have_responded = true;
        state.last_sent_heads.clone_from(&our_heads);
        let mut chunks = Vec::with_capacity(to_send.len());
        for &i in &to_send {
            let node = &g.nodes[i as usize];
            state.sent_hashes.insert(node.hash);
            chunks.push(node.bytes.to_vec());
        }
        let mut flags = MessageFlags::new();
        flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
        if state.read_only {
            flags.set(MessageFlags::READ_ONLY);
        }
        state.in_flight = true;
        Some(sync::Message {
            heads: our_heads,
            need: our_need,
            have: our_have,
            changes: chunks.into(),
            flags: Some(flags),
            version: MessageVersion::V1,
        })
    }

    /// `SyncDoc::receive_sync_message`, on the graph. `changes` are the
    /// message's changes, already parsed by the caller (see [`parse_chunks`]).
    /// Returns the hashes newly applied.
    pub fn receive(
        &mut self,
        message: sync::Message,
        changes: Vec<ParsedChange>,
    ) -> Vec<ChangeHash> {
        self.state.in_flight = false;
        let before: Vec<u32> = self.heads.clone();
        let sync::Message {
            heads: message_heads,
            need: message_need,
            have: message_have,
            flags,
            ..
        } = message;
        if let Some(flags) = flags {
            if flags.contains(MessageFlags::SYNC_RESET) {
                self.state.sent_hashes.clear();
            }
            self.state.peer_read_only = flags.contains(MessageFlags::READ_ONLY);
        }
        let changes_empty = changes.is_empty();
        let mut applied = Vec::new();
        if !changes_empty && !self.state.read_only {
            applied = self.add_changes(changes);
            let g = self.universe.read().expect("graph lock");
            let new_heads = &self.heads;
            let mut advanced: Vec<ChangeHash> = new_heads
                .iter()
                .filter(|h| !before.contains(h))
                .map(|&i| g.nodes[i as usize].hash)
                .collect();
            for h in &self.state.shared_heads {
                if g.idx(h).is_some_and(|i| new_heads.contains(&i)) {
                    advanced.push(*h);
                }
            }
            advanced.sort();
            advanced.dedup();
            self.state.shared_heads = advanced;
        }
        {
            let universe = self.universe.clone();
            let g = universe.read().expect("graph lock");
            let known: Vec<u32> = message_heads
                .iter()
                .filter_map(|h| g.idx(h).filter(|&i| self.has_idx(i)))
                .collect();
            let mut sent = std::mem::take(&mut self.state.sent_hashes);
            self.remove_ancestors(&g, &mut sent, &known);
            self.state.sent_hashes = sent;
            // With no changes the heads did not move: compare with the
            // current ones (sorted, as `heads()` returns them).
            if changes_empty && message_heads.len() == before.len() && {
                let mut before_heads: Vec<ChangeHash> =
                    before.iter().map(|&i| g.nodes[i as usize].hash).collect();
                before_heads.sort();
                message_heads == before_heads
            } {
                self.state.last_sent_heads.clone_from(&message_heads);
            }
            if known.len() == message_heads.len() {
                self.state.shared_heads.clone_from(&message_heads);
                if message_heads.is_empty() {
                    self.state.last_sent_heads = Vec::new();
                    self.state.sent_hashes = BTreeSet::new();
                }
            } else {
                let mut s: Vec<ChangeHash> = self
                    .state
                    .shared_heads
                    .iter()
                    .copied()
                    .chain(known.iter().map(|&i| g.nodes[i as usize].hash))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                s.sort();
                self.state.shared_heads = s;
            }
        }
        self.state.their_have = Some(message_have);
        self.state.their_heads = Some(message_heads);
        self.state.their_need = Some(message_need);
        applied
    }
}
