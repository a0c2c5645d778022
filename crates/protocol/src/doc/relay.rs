//! The relay set's bookkeeping without walking the change graph: the heads
//! after a round's changes, what a relay-set peer's sync message does to its
//! state, the relay message itself, and the state after relaying.

use std::collections::HashSet;

use automerge::ChangeHash;
use automerge::sync;

use super::PendingChange;

/// The heads after adding `changes` to a graph whose heads are `heads`, when
/// every dependency is known; `None` when one is missing (automerge would
/// queue that change instead of applying it).
pub(super) fn advance_heads(
    heads: &[ChangeHash],
    changes: &[PendingChange],
    known: &HashSet<ChangeHash>,
) -> Option<Vec<ChangeHash>> {
    let mut next: HashSet<ChangeHash> = heads.iter().copied().collect();
    for change in changes {
        next.insert(change.hash);
    }
    for change in changes {
        for dep in &change.deps {
            if !known.contains(dep) {
                return None;
            }
            next.remove(dep);
        }
    }
    let mut next: Vec<ChangeHash> = next.into_iter().collect();
    next.sort();
    Some(next)
}

/// What `receive_sync_message` does to the sync state of a peer in the relay
/// set, whose changes are already applied: the same fields, without walking
/// the change graph. `sent_hashes` only serves to avoid sending a change
/// twice; once the peer reports the relayed heads it holds all of them.
pub(super) fn receive_in_relay_set(
    state: &mut sync::State,
    message: sync::Message,
    relay: &[ChangeHash],
    known: &HashSet<ChangeHash>,
) {
    state.in_flight = false;
    if let Some(flags) = message.flags {
        if flags.contains(sync::MessageFlags::SYNC_RESET) {
            state.sent_hashes.clear();
        }
        state.peer_read_only = flags.contains(sync::MessageFlags::READ_ONLY);
    }
    if message.heads == relay {
        state.sent_hashes.clear();
    }
    if message.heads.iter().all(|h| known.contains(h)) {
        state.shared_heads.clone_from(&message.heads);
    } else {
        let mut shared: Vec<ChangeHash> = state
            .shared_heads
            .iter()
            .chain(message.heads.iter().filter(|h| known.contains(h)))
            .copied()
            .collect();
        shared.sort();
        shared.dedup();
        state.shared_heads = shared;
    }
    state.their_have = Some(message.have);
    state.their_heads = Some(message.heads);
    state.their_need = Some(message.need);
}

/// The sync message that relays committed changes to a peer that holds
/// everything committed before them.
pub(super) fn relay_message(
    heads: &[ChangeHash],
    changes: &[&PendingChange],
    read_only: bool,
) -> Vec<u8> {
    let mut flags = sync::MessageFlags::new();
    flags.set(sync::MessageFlags::SUPPORTS_SYNC_RESET);
    if read_only {
        flags.set(sync::MessageFlags::READ_ONLY);
    }
    sync::Message {
        heads: heads.to_vec(),
        need: Vec::new(),
        // "I hold exactly these heads": the peer answers with whatever it has
        // beyond them, as it would to a regular message.
        have: vec![sync::Have {
            last_sync: heads.to_vec(),
            bloom: sync::BloomFilter::default(),
        }],
        changes: sync::ChunkList::from(changes.iter().map(|c| c.bytes.clone()).collect::<Vec<_>>()),
        flags: Some(flags),
        version: sync::MessageVersion::V1,
    }
    .encode()
}

/// The server's sync state after relaying up to `heads`, as
/// `generate_sync_message` would leave it.
pub(super) fn note_relayed(state: &mut sync::State, heads: &[ChangeHash]) {
    state.have_responded = true;
    state.in_flight = true;
    state.last_sent_heads = heads.to_vec();
    // Relayed hashes stay out of `sent_hashes`: nothing trims that set for a
    // peer in the relay set (trimming walks the change graph), and a peer
    // that leaves the set at worst hears a change twice.
}
