//! One document's side of the sync protocol, without I/O.
//!
//! The server drives a [`DocSync`] in rounds that follow the durability rule
//! (check, commit, then apply):
//!
//! 1. [`DocSync::receive`] takes each incoming sync message: it decodes it,
//!    picks out the changes the server does not have yet, checks them against
//!    the document's [`Policy`] and queues them, *without* touching the
//!    document. A refused message turns that peer read-only for this document.
//! 2. The server commits [`DocSync::pending`] to storage.
//! 3. [`DocSync::commit_succeeded`] applies every pending change in one call
//!    (applying has a per-call cost that grows with history, so one call per
//!    round instead of one per message), lets each peer's sync state see the
//!    messages of the round, and returns the sync messages to send.
//!    [`DocSync::commit_failed`] instead drops the pending changes and names
//!    the peers that delivered them.
//!
//! Nothing sent from here is ever derived from uncommitted changes: replies
//! are only generated in step 3.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{ObjectId, OpId, OpType};
use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, Change, ChangeHash, ObjId, ReadDoc, ScalarValue};

/// The connection a message came from. Peers are routed by connection, never
/// by the peer id they claim.
pub type ConnId = u64;

/// What incoming changes may do to a document.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Only the server writes (the index document): every incoming change is refused.
    ServerOnly,
    /// Changes may only insert into and delete from one existing text object,
    /// and the text may not grow beyond `max_chars`.
    Text { text_obj: ObjId, max_chars: usize },
}

/// Why incoming content was refused. The socket stays open; the peer's sync
/// state for the document becomes read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// A stable machine code: `read_only`, `invalid_change`, `too_large`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

/// A change that passed the checks and waits to be committed.
#[derive(Debug, Clone)]
pub struct PendingChange {
    pub hash: ChangeHash,
    pub bytes: Vec<u8>,
    /// The connection that delivered it: the change is attributed to that
    /// connection's user, whatever actor the change claims.
    pub conn: ConnId,
}

/// Undecodable sync data: a protocol violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadSyncData(pub String);

/// What became of one incoming sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Accepted; `new_changes` of its changes are new and wait for commit.
    Accepted { new_changes: usize },
    /// Its changes were refused (the peer is now read-only for this document).
    Refused(Refusal),
}

struct Peer {
    state: sync::State,
}

/// One document, its peers' sync states, and the changes of the current round.
pub struct DocSync {
    doc: Automerge,
    policy: Policy,
    /// Hashes of every change stored, applied or pending: a change the server
    /// already has is never checked, stored or attributed again.
    known: HashSet<ChangeHash>,
    peers: HashMap<ConnId, Peer>,
    pending: Vec<PendingChange>,
    /// Messages of this round, to be shown to the sync states after the commit.
    inbox: Vec<(ConnId, sync::Message)>,
    /// Characters the pending changes insert: the length check counts them
    /// before they are applied.
    pending_inserts: usize,
    /// The largest total size of the changes in one message.
    max_message_bytes: usize,
}

impl DocSync {
    pub fn new(doc: Automerge, policy: Policy, max_message_bytes: usize) -> Self {
        let known = doc.get_changes(&[]).iter().map(Change::hash).collect();
        Self {
            doc,
            policy,
            known,
            peers: HashMap::new(),
            pending: Vec::new(),
            inbox: Vec::new(),
            pending_inserts: 0,
            max_message_bytes,
        }
    }

    /// The committed and applied document.
    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn has_peer(&self, conn: ConnId) -> bool {
        self.peers.contains_key(&conn)
    }

    /// Starts syncing with a connection. A read-only peer's changes are never
    /// accepted (reviewers; everyone on a server-only document).
    pub fn add_peer(&mut self, conn: ConnId, read_only: bool) {
        let read_only = read_only || matches!(self.policy, Policy::ServerOnly);
        self.peers.entry(conn).or_insert_with(|| Peer {
            state: if read_only {
                sync::State::new_read_only()
            } else {
                sync::State::new()
            },
        });
    }

    pub fn remove_peer(&mut self, conn: ConnId) {
        self.peers.remove(&conn);
        self.inbox.retain(|(c, _)| *c != conn);
    }

    pub fn is_read_only(&self, conn: ConnId) -> bool {
        self.peers.get(&conn).is_some_and(|p| p.state.read_only)
    }

    /// Changes checked this round and not yet committed.
    pub fn pending(&self) -> &[PendingChange] {
        &self.pending
    }

    /// Step 1: takes one sync message from a peer (added if new).
    pub fn receive(&mut self, conn: ConnId, data: &[u8]) -> Result<Received, BadSyncData> {
        let message =
            sync::Message::decode(data).map_err(|e| BadSyncData(format!("sync message: {e}")))?;
        if !message.have.iter().all(|have| sane_bloom(&have.bloom)) {
            return Err(BadSyncData("sync message: degenerate bloom filter".into()));
        }
        self.add_peer(conn, false);
        let read_only = self.is_read_only(conn);
        let outcome = if message.changes.is_empty() {
            Received::Accepted { new_changes: 0 }
        } else {
            match self.check_changes(conn, &message, read_only)? {
                Ok(new) => {
                    let new_changes = new.len();
                    self.pending_inserts += new.iter().map(|(_, n)| n).sum::<usize>();
                    for (change, _) in new {
                        self.known.insert(change.hash);
                        self.pending.push(change);
                    }
                    Received::Accepted { new_changes }
                }
                Err(refusal) => {
                    if let Some(peer) = self.peers.get_mut(&conn) {
                        peer.state.set_read_only(true);
                    }
                    Received::Refused(refusal)
                }
            }
        };
        self.inbox.push((conn, message));
        Ok(outcome)
    }

    /// Decodes and checks the changes of a message the server does not have
    /// yet. The outer error is a protocol violation, the inner a refusal.
    #[allow(clippy::type_complexity)]
    fn check_changes(
        &self,
        conn: ConnId,
        message: &sync::Message,
        read_only: bool,
    ) -> Result<Result<Vec<(PendingChange, usize)>, Refusal>, BadSyncData> {
        let total: usize = message.changes.iter().map(<[u8]>::len).sum();
        if total > self.max_message_bytes {
            return Ok(Err(Refusal {
                code: "too_large",
                message: format!(
                    "the message carries {total} bytes of changes; the limit is {}",
                    self.max_message_bytes
                ),
            }));
        }
        let mut changes = Vec::new();
        for chunk in message.changes.iter() {
            match Change::try_from(chunk) {
                Ok(change) => changes.push(change),
                // A V2 message may carry a whole document in one chunk.
                Err(_) => match Automerge::load(chunk) {
                    Ok(doc) => changes.extend(doc.get_changes(&[])),
                    Err(e) => return Err(BadSyncData(format!("change chunk: {e}"))),
                },
            }
        }
        let mut seen = HashSet::new();
        let mut new = Vec::new();
        let mut inserts = 0;
        for change in changes {
            let hash = change.hash();
            if self.known.contains(&hash) || !seen.insert(hash) {
                continue;
            }
            if read_only {
                return Ok(Err(Refusal {
                    code: "read_only",
                    message: "this connection may not change this document".into(),
                }));
            }
            let inserted = match self.check_change(&change) {
                Ok(n) => n,
                Err(refusal) => return Ok(Err(refusal)),
            };
            inserts += inserted;
            new.push((
                PendingChange {
                    hash,
                    bytes: change.raw_bytes().to_vec(),
                    conn,
                },
                inserted,
            ));
        }
        if let Policy::Text {
            text_obj,
            max_chars,
        } = &self.policy
        {
            let now = self.doc.length(text_obj) + self.pending_inserts;
            if inserts > 0 && now + inserts > *max_chars {
                return Ok(Err(Refusal {
                    code: "too_large",
                    message: format!("the text would exceed the maximum of {max_chars} characters"),
                }));
            }
        }
        Ok(Ok(new))
    }

    /// Checks one change against the policy; returns how many characters it inserts.
    fn check_change(&self, change: &Change) -> Result<usize, Refusal> {
        let (text_ctr, text_actor) = match &self.policy {
            Policy::ServerOnly => {
                return Err(Refusal {
                    code: "read_only",
                    message: "only the server writes this document".into(),
                });
            }
            Policy::Text {
                text_obj: ObjId::Id(ctr, actor, _),
                ..
            } => (*ctr, actor),
            Policy::Text { .. } => {
                return Err(invalid("the document has no text object"));
            }
        };
        let mut inserted = 0;
        for op in change.decode().operations {
            match &op.obj {
                ObjectId::Id(OpId(ctr, actor)) if *ctr == text_ctr && actor == text_actor => {}
                _ => return Err(invalid("a change may only edit the element's text")),
            }
            match &op.action {
                OpType::Delete => {}
                OpType::Put(ScalarValue::Str(s)) if op.insert => inserted += s.chars().count(),
                _ => return Err(invalid("a change may only insert or delete characters")),
            }
        }
        Ok(inserted)
    }

    /// Step 3, after the pending changes are durable: applies them in one
    /// call, updates every sync state with the round's messages, and returns
    /// the sync messages to send, per connection.
    pub fn commit_succeeded(
        &mut self,
    ) -> Result<Vec<(ConnId, Vec<u8>)>, automerge::AutomergeError> {
        if !self.pending.is_empty() {
            let mut all = Vec::with_capacity(self.pending.iter().map(|c| c.bytes.len()).sum());
            for change in &self.pending {
                all.extend_from_slice(&change.bytes);
            }
            self.doc.load_incremental(&all)?;
            self.pending.clear();
            self.pending_inserts = 0;
        }
        for (conn, mut message) in std::mem::take(&mut self.inbox) {
            let Some(peer) = self.peers.get_mut(&conn) else {
                continue;
            };
            if !peer.state.read_only {
                // Its new changes are applied above; the rest are known.
                message.changes = sync::ChunkList::empty();
            }
            self.doc.receive_sync_message(&mut peer.state, message)?;
        }
        Ok(self.generate())
    }

    /// Step 3 when the commit failed: the pending changes are forgotten (the
    /// document never saw them) and the connections that delivered them are
    /// returned, to be closed; their clients will offer the changes again.
    /// Other peers' messages of the round are still processed.
    #[allow(clippy::type_complexity)]
    pub fn commit_failed(
        &mut self,
    ) -> Result<(Vec<ConnId>, Vec<(ConnId, Vec<u8>)>), automerge::AutomergeError> {
        let mut culprits: Vec<ConnId> = self.pending.iter().map(|c| c.conn).collect();
        // Another connection may have delivered the same change in this round:
        // it was not pending again, and its copy is dropped with the others
        // (its sync state would never send it again: a sync loop).
        let dropped: HashSet<ChangeHash> = self.pending.iter().map(|c| c.hash).collect();
        for (conn, message) in &self.inbox {
            if !self.is_read_only(*conn) && chunk_hashes(message).any(|h| dropped.contains(&h)) {
                culprits.push(*conn);
            }
        }
        culprits.sort_unstable();
        culprits.dedup();
        for change in self.pending.drain(..) {
            self.known.remove(&change.hash);
        }
        self.pending_inserts = 0;
        for conn in &culprits {
            self.remove_peer(*conn);
        }
        let out = self.commit_succeeded()?;
        Ok((culprits, out))
    }

    /// Sync messages for every peer that has something to hear.
    pub fn generate(&mut self) -> Vec<(ConnId, Vec<u8>)> {
        let mut out = Vec::new();
        for (conn, peer) in &mut self.peers {
            if let Some(message) = self.doc.generate_sync_message(&mut peer.state) {
                out.push((*conn, message.encode()));
            }
        }
        out
    }

    /// Replaces the document with one reloaded from storage, keeping peers.
    pub fn replace_doc(&mut self, doc: Automerge) {
        self.known = doc.get_changes(&[]).iter().map(Change::hash).collect();
        self.doc = doc;
        self.pending.clear();
        self.pending_inserts = 0;
    }

    /// Applies a change the server itself made (already committed).
    pub fn apply_own(&mut self, change: &Change) -> Result<(), automerge::AutomergeError> {
        self.known.insert(change.hash());
        self.doc.apply_changes([change.clone()])
    }

    pub fn into_doc(self) -> Automerge {
        self.doc
    }
}

/// The hashes of the changes a message carries (its chunks were decoded
/// once already in [`DocSync::receive`]).
fn chunk_hashes(message: &sync::Message) -> impl Iterator<Item = ChangeHash> + '_ {
    message
        .changes
        .iter()
        .flat_map(|chunk| match Change::try_from(chunk) {
            Ok(change) => vec![change.hash()],
            Err(_) => Automerge::load(chunk)
                .map(|doc| doc.get_changes(&[]).iter().map(Change::hash).collect())
                .unwrap_or_default(),
        })
}

/// Automerge trusts the parameters of a peer's bloom filter when it computes
/// what to send: zero bits divides by zero (a panic), a huge probe count
/// allocates gigabytes. Such a filter is bad sync data.
fn sane_bloom(bloom: &sync::BloomFilter) -> bool {
    const MAX_PROBES: u64 = 64;
    let bytes = bloom.to_bytes();
    let mut input = &bytes[..];
    if input.is_empty() {
        // No entries: automerge never probes it.
        return true;
    }
    let (Some(_entries), Some(_bits_per_entry), Some(probes)) = (
        read_uleb(&mut input),
        read_uleb(&mut input),
        read_uleb(&mut input),
    ) else {
        return false;
    };
    // automerge computes `8 * bits.len()` as a u32.
    !input.is_empty() && input.len() < (1 << 29) && probes <= MAX_PROBES
}

fn read_uleb(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn invalid(message: &str) -> Refusal {
    Refusal {
        code: "invalid_change",
        message: message.to_owned(),
    }
}
