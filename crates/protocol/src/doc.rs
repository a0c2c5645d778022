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
//! 3. [`DocSync::committed`] marks them committed and relays them at once to
//!    every peer known to hold everything committed before (the *relay set*),
//!    with sync messages built from the committed changes themselves.
//!    [`DocSync::commit_failed`] instead drops them and names the peers that
//!    delivered them.
//! 4. [`DocSync::apply`], later and in bulk, applies every committed change in
//!    one call, lets each peer's sync state see the messages received since,
//!    and generates the regular sync messages for peers outside the relay set
//!    (new peers, peers that lack something, read-only peers).
//!
//! Applying costs a fixed amount per call that grows with the document's
//! history, so it is kept off the path from a change's commit to its relay,
//! and one call covers many rounds. Nothing sent from here is ever derived
//! from uncommitted changes.
//!
//! A peer enters the relay set when its own sync message reports exactly the
//! server's heads with nothing outstanding, and leaves it as soon as it asks
//! for something (`need`), reports heads the server does not know, or the
//! server's committed heads cannot be computed without applying (a change
//! whose dependencies are missing).

use std::collections::{HashMap, HashSet};

use automerge::legacy::{ObjectId, OpId, OpType};
use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, Automerge, Change, ChangeHash, ObjId, ReadDoc, ScalarValue};

use crate::chunks::{self, Budget, Kind, ScanError};

mod relay;

use relay::{advance_heads, note_relayed, receive_in_relay_set, relay_message};

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
    /// A stable machine code: `read_only`, `invalid_change`, `too_large`,
    /// `foreign_actor`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

/// A change that passed the checks and waits to be committed.
#[derive(Debug, Clone)]
pub struct PendingChange {
    pub hash: ChangeHash,
    /// The change's dependencies, to compute the committed heads without applying.
    pub deps: Vec<ChangeHash>,
    pub bytes: Vec<u8>,
    /// The actor the change claims (its owner is checked by the caller's guard).
    pub actor: ActorId,
    /// Characters the change inserts into and deletes from the text.
    pub inserted: usize,
    pub deleted: usize,
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

/// A received message waiting for [`DocSync::apply`]. Its change bytes are
/// dropped on receipt: accepted changes are applied from the pending list and
/// refused ones must never reach automerge.
#[derive(Clone)]
struct Inbound {
    conn: ConnId,
    /// The message without its changes.
    message: sync::Message,
    /// Whether it carried changes.
    carried_changes: bool,
    /// The hashes of the changes it carried (a writable peer's; decoded once).
    hashes: Vec<ChangeHash>,
}

/// Rows one message may describe beyond the text limit's share (see
/// [`DocSync::max_rows`]).
const MIN_ROWS: usize = 4096;

#[derive(Clone)]
struct Peer {
    state: sync::State,
    /// In the relay set: the heads this peer holds once it has processed
    /// everything sent to it (always the server's committed heads).
    relay: Option<Vec<ChangeHash>>,
    /// It sent a reset while in the relay set.
    reset: bool,
}

/// One document, its peers' sync states, and the changes of the current round.
/// (A clone is a fork: tests and fuzz targets start from one.)
#[derive(Clone)]
pub struct DocSync {
    doc: Automerge,
    policy: Policy,
    /// Hashes of every change stored, applied or pending: a change the server
    /// already has is never checked, stored or attributed again.
    known: HashSet<ChangeHash>,
    peers: HashMap<ConnId, Peer>,
    pending: Vec<PendingChange>,
    /// Committed and relayed, not yet applied.
    unapplied: Vec<PendingChange>,
    /// Heads of everything committed, applied or not; `None` when they cannot
    /// be known without applying (a committed change waits for dependencies).
    committed_heads: Option<Vec<ChangeHash>>,
    /// Characters the unapplied changes insert.
    unapplied_inserts: usize,
    /// Messages in the inbox from peers outside the relay set.
    urgent: usize,
    /// Messages received since the last apply, to be shown to the sync states.
    inbox: Vec<Inbound>,
    /// Characters the pending changes insert: the length check counts them
    /// before they are applied.
    pending_inserts: usize,
    /// The largest total size of the changes in one message.
    max_message_bytes: usize,
}

impl DocSync {
    pub fn new(doc: Automerge, policy: Policy, max_message_bytes: usize) -> Self {
        let known = doc.get_changes(&[]).iter().map(Change::hash).collect();
        let heads = doc.get_heads();
        Self {
            doc,
            policy,
            known,
            peers: HashMap::new(),
            pending: Vec::new(),
            unapplied: Vec::new(),
            committed_heads: Some(heads),
            unapplied_inserts: 0,
            urgent: 0,
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
            relay: None,
            reset: false,
        });
    }

    pub fn remove_peer(&mut self, conn: ConnId) {
        self.peers.remove(&conn);
        self.inbox.retain(|m| m.conn != conn);
        self.urgent = self
            .inbox
            .iter()
            .filter(|m| self.peers.get(&m.conn).is_some_and(|p| p.relay.is_none()))
            .count();
    }

    /// Makes a peer read-only, or writable again (what it may do changed,
    /// e.g. an element's editing mode). Writable again resets its sync
    /// state, so the peer offers again what it kept meanwhile; either way
    /// it leaves the relay set and hears of it from the next
    /// [`DocSync::generate`]. False if the connection is not a peer.
    pub fn set_read_only(&mut self, conn: ConnId, read_only: bool) -> bool {
        let read_only = read_only || matches!(self.policy, Policy::ServerOnly);
        let Some(peer) = self.peers.get_mut(&conn) else {
            return false;
        };
        peer.state.set_read_only(read_only);
        peer.relay = None;
        true
    }

    pub fn is_read_only(&self, conn: ConnId) -> bool {
        self.peers.get(&conn).is_some_and(|p| p.state.read_only)
    }

    /// Changes checked this round and not yet committed.
    pub fn pending(&self) -> &[PendingChange] {
        &self.pending
    }

    /// The document's heads once the pending changes are committed; `None`
    /// when they cannot be known without applying (a dependency missing).
    pub fn heads_after_pending(&self) -> Option<Vec<ChangeHash>> {
        let heads = self.committed_heads.as_ref()?;
        advance_heads(heads, &self.pending, &self.known)
    }

    /// Step 1: takes one sync message from a peer (added if new), accepting
    /// changes from any actor.
    pub fn receive(&mut self, conn: ConnId, data: &[u8]) -> Result<Received, BadSyncData> {
        self.receive_guarded(conn, data, &mut |_| true)
    }

    /// Step 1 with actor ownership: once a message's new changes pass the
    /// policy, `may_use` is asked about each distinct actor they claim (the
    /// caller records a first claim there); one `false` refuses the whole
    /// message with `foreign_actor`.
    pub fn receive_guarded(
        &mut self,
        conn: ConnId,
        data: &[u8],
        may_use: &mut dyn FnMut(&ActorId) -> bool,
    ) -> Result<Received, BadSyncData> {
        chunks::check_envelope(data).map_err(|e| BadSyncData(format!("sync message: {e}")))?;
        let mut message =
            sync::Message::decode(data).map_err(|e| BadSyncData(format!("sync message: {e}")))?;
        if !message.have.iter().all(|have| sane_bloom(&have.bloom)) {
            return Err(BadSyncData("sync message: degenerate bloom filter".into()));
        }
        self.add_peer(conn, false);
        let read_only = self.is_read_only(conn);
        let mut hashes = Vec::new();
        let outcome = if message.changes.is_empty() {
            Received::Accepted { new_changes: 0 }
        } else {
            match self.check_changes(conn, &message, read_only, may_use, &mut hashes)? {
                Ok(new) => {
                    let new_changes = new.len();
                    self.pending_inserts += new.iter().map(|c| c.inserted).sum::<usize>();
                    for change in new {
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
        if self.peers.get(&conn).is_some_and(|p| p.relay.is_none()) {
            self.urgent += 1;
        }
        let carried_changes = !message.changes.is_empty();
        message.changes = sync::ChunkList::empty();
        self.inbox.push(Inbound {
            conn,
            message,
            carried_changes,
            hashes,
        });
        Ok(outcome)
    }

    /// Rows (operations, changes, dependencies, actors, columns) one message
    /// may make the server decode: four times the text limit (or the text,
    /// if longer) and a margin. An honest message inserts at most the limit
    /// and deletes at most the text, and each delete names one predecessor.
    fn max_rows(&self) -> usize {
        match &self.policy {
            Policy::ServerOnly => MIN_ROWS,
            Policy::Text {
                text_obj,
                max_chars,
            } => {
                let len = self.doc.length(text_obj) + self.unapplied_inserts + self.pending_inserts;
                (*max_chars)
                    .max(len)
                    .saturating_mul(4)
                    .saturating_add(MIN_ROWS)
            }
        }
    }

    /// Checks the changes of a message the server does not have yet, and
    /// notes in `hashes` the hashes of all it carries. The outer error is a
    /// protocol violation, the inner a refusal.
    ///
    /// Nothing is decoded beyond the message's [`Budget`]: each chunk is
    /// measured (inflated size, rows) before automerge sees it, and a
    /// read-only peer's chunks are never decoded (an uncompressed change the
    /// server already has is recognised by its hash; anything else is
    /// refused).
    fn check_changes(
        &self,
        conn: ConnId,
        message: &sync::Message,
        read_only: bool,
        may_use: &mut dyn FnMut(&ActorId) -> bool,
        hashes: &mut Vec<ChangeHash>,
    ) -> Result<Result<Vec<PendingChange>, Refusal>, BadSyncData> {
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
        let read_only_refusal = || Refusal {
            code: "read_only",
            message: "this connection may not change this document".into(),
        };
        let mut budget = Budget {
            bytes: self.max_message_bytes,
            rows: self.max_rows(),
        };
        let mut seen = HashSet::new();
        let mut new = Vec::new();
        for entry in message.changes.iter() {
            for chunk in chunks::split(entry) {
                let chunk = chunk.map_err(BadSyncData)?;
                let inflated;
                let (chunk, document) = match chunk.kind {
                    Kind::Change => (chunk, None),
                    _ if read_only => return Ok(Err(read_only_refusal())),
                    Kind::Compressed => {
                        inflated = match chunks::inflate_change(&chunk, &mut budget) {
                            Ok(bytes) => bytes,
                            Err(e) => return scan_failed(e),
                        };
                        let chunk = chunks::split(&inflated)
                            .next()
                            .expect("one chunk")
                            .map_err(BadSyncData)?;
                        (chunk, None)
                    }
                    Kind::Document => {
                        if let Err(e) = chunks::measure(&chunk, &mut budget) {
                            return scan_failed(e);
                        }
                        let doc = Automerge::load(chunk.bytes)
                            .map_err(|e| BadSyncData(format!("document chunk: {e}")))?;
                        (chunk, Some(doc.get_changes(&[])))
                    }
                };
                let decoded = match document {
                    Some(mut changes) => {
                        hashes.extend(changes.iter().map(Change::hash));
                        changes
                            .retain(|c| !self.known.contains(&c.hash()) && seen.insert(c.hash()));
                        changes
                    }
                    None => {
                        let hash = chunks::change_hash(chunk.data);
                        hashes.push(hash);
                        if self.known.contains(&hash) || !seen.insert(hash) {
                            continue;
                        }
                        if read_only {
                            return Ok(Err(read_only_refusal()));
                        }
                        if let Err(e) = chunks::measure(&chunk, &mut budget) {
                            return scan_failed(e);
                        }
                        vec![
                            Change::try_from(chunk.bytes)
                                .map_err(|e| BadSyncData(format!("change chunk: {e}")))?,
                        ]
                    }
                };
                for change in decoded {
                    let (inserted, deleted) = match self.check_change(&change) {
                        Ok(counts) => counts,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    new.push(PendingChange {
                        hash: change.hash(),
                        deps: change.deps().to_vec(),
                        bytes: change.raw_bytes().to_vec(),
                        actor: change.actor_id().clone(),
                        inserted,
                        deleted,
                        conn,
                    });
                }
            }
        }
        let inserts: usize = new.iter().map(|c| c.inserted).sum();
        if let Policy::Text {
            text_obj,
            max_chars,
        } = &self.policy
        {
            let now = self.doc.length(text_obj) + self.unapplied_inserts + self.pending_inserts;
            if inserts > 0 && now + inserts > *max_chars {
                return Ok(Err(Refusal {
                    code: "too_large",
                    message: format!("the text would exceed the maximum of {max_chars} characters"),
                }));
            }
        }
        let mut asked = HashSet::new();
        for change in &new {
            if asked.insert(&change.actor) && !may_use(&change.actor) {
                return Ok(Err(Refusal {
                    code: "foreign_actor",
                    message: format!(
                        "actor {} belongs to another user; start a new session",
                        change.actor
                    ),
                }));
            }
        }
        Ok(Ok(new))
    }

    /// Checks one change against the policy; returns how many characters it
    /// inserts and deletes.
    fn check_change(&self, change: &Change) -> Result<(usize, usize), Refusal> {
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
        let mut deleted = 0;
        for op in change.decode().operations {
            match &op.obj {
                ObjectId::Id(OpId(ctr, actor)) if *ctr == text_ctr && actor == text_actor => {}
                _ => return Err(invalid("a change may only edit the element's text")),
            }
            match &op.action {
                OpType::Delete => deleted += 1,
                OpType::Put(ScalarValue::Str(s)) if op.insert => inserted += s.chars().count(),
                _ => return Err(invalid("a change may only insert or delete characters")),
            }
        }
        Ok((inserted, deleted))
    }

    /// Steps 3 and 4 at once: after the pending changes are durable, relays
    /// and applies them. Returns the sync messages to send, in order.
    pub fn commit_succeeded(
        &mut self,
    ) -> Result<Vec<(ConnId, Vec<u8>)>, automerge::AutomergeError> {
        let mut out = self.committed();
        out.extend(self.apply()?);
        Ok(out)
    }

    /// Step 3, after the pending changes are durable: they become committed,
    /// and every peer in the relay set gets them at once (without the changes
    /// it delivered itself) together with the new committed heads. A peer
    /// whose own changes were committed hears the new heads too: that is its
    /// acknowledgement.
    pub fn committed(&mut self) -> Vec<(ConnId, Vec<u8>)> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        let pending = std::mem::take(&mut self.pending);
        let before = self.committed_heads.take();
        let after = before
            .as_ref()
            .and_then(|heads| advance_heads(heads, &pending, &self.known));
        let mut out = Vec::new();
        // Most peers (watchers, typists idle this round) get the same bytes.
        let mut common: Option<Vec<u8>> = None;
        for (conn, peer) in &mut self.peers {
            let (Some(before), Some(after)) = (&before, &after) else {
                peer.relay = None;
                continue;
            };
            if peer.relay.as_ref() != Some(before) {
                peer.relay = None;
                continue;
            }
            let own = pending.iter().any(|c| c.conn == *conn);
            let bytes = if own || peer.state.read_only {
                let changes: Vec<&PendingChange> =
                    pending.iter().filter(|c| c.conn != *conn).collect();
                relay_message(after, &changes, peer.state.read_only)
            } else {
                common
                    .get_or_insert_with(|| {
                        relay_message(after, &pending.iter().collect::<Vec<_>>(), false)
                    })
                    .clone()
            };
            note_relayed(&mut peer.state, after);
            out.push((*conn, bytes));
            peer.relay = Some(after.clone());
        }
        // An author outside the relay set heard nothing: it waits for the
        // regular answer (its acknowledgement), so applying is urgent.
        let mut authors: Vec<ConnId> = pending.iter().map(|c| c.conn).collect();
        authors.sort_unstable();
        authors.dedup();
        self.urgent += authors
            .iter()
            .filter(|a| self.peers.contains_key(a) && !out.iter().any(|(c, _)| c == *a))
            .count();
        self.unapplied_inserts += self.pending_inserts;
        self.pending_inserts = 0;
        self.unapplied.extend(pending);
        self.committed_heads = after;
        out
    }

    /// Whether [`DocSync::apply`] has work: committed changes to apply or
    /// messages to show to the sync states.
    pub fn needs_apply(&self) -> bool {
        !self.unapplied.is_empty() || !self.inbox.is_empty()
    }

    /// Whether a peer outside the relay set waits for an answer, which only
    /// [`DocSync::apply`] gives.
    pub fn apply_is_urgent(&self) -> bool {
        self.urgent > 0
    }

    /// Step 4: applies every committed change in one call, shows the sync
    /// states the messages received since the last apply, and returns the
    /// sync messages for the peers outside the relay set.
    pub fn apply(&mut self) -> Result<Vec<(ConnId, Vec<u8>)>, automerge::AutomergeError> {
        if !self.unapplied.is_empty() {
            let mut all = Vec::with_capacity(self.unapplied.iter().map(|c| c.bytes.len()).sum());
            for change in &self.unapplied {
                all.extend_from_slice(&change.bytes);
            }
            self.doc.load_incremental(&all)?;
            self.unapplied.clear();
            self.unapplied_inserts = 0;
        }
        self.urgent = 0;
        for inbound in std::mem::take(&mut self.inbox) {
            let Inbound {
                conn,
                message,
                carried_changes,
                ..
            } = inbound;
            let Some(peer) = self.peers.get_mut(&conn) else {
                continue;
            };
            if let Some(relay) = &peer.relay {
                // Automerge's own receive walks the whole change graph for
                // every message; a peer in the relay set (which answers every
                // relayed change) gets the same state update without it.
                // A peer that starts over (an empty `last_sync`: a reset)
                // does not hold what was relayed.
                peer.reset |= message
                    .have
                    .first()
                    .is_some_and(|have| have.last_sync.is_empty() && !relay.is_empty());
                receive_in_relay_set(&mut peer.state, message, relay, &self.known);
                continue;
            }
            // The message comes without its changes: accepted ones are
            // applied above, known ones are known, and a refused or read-only
            // peer's never reach automerge.
            let last_sent = peer.state.last_sent_heads.clone();
            self.doc.receive_sync_message(&mut peer.state, message)?;
            if carried_changes {
                // Automerge takes a message without changes whose heads are
                // already ours as "nothing new to say"; this one brought
                // changes (applied above), and its sender must hear our
                // heads to know they are stored.
                peer.state.last_sent_heads = last_sent;
            }
        }
        let heads = self.doc.get_heads();
        if self.committed_heads.as_ref() != Some(&heads) {
            // Heads computed from dependencies missed something (a change
            // waiting for its dependencies): everyone syncs the regular way.
            for peer in self.peers.values_mut() {
                peer.relay = None;
            }
            self.committed_heads = Some(heads.clone());
        }
        let mut out = Vec::new();
        for (conn, peer) in &mut self.peers {
            if peer.relay.is_some() {
                let state = &peer.state;
                // Signs that the peer does not hold what was relayed to it:
                // it asks for changes, reports heads the server does not
                // know, or starts over (a reset: an empty `last_sync`).
                let lacks = std::mem::take(&mut peer.reset)
                    || state.their_need.as_ref().is_some_and(|n| !n.is_empty())
                    || state
                        .their_heads
                        .as_ref()
                        .is_some_and(|h| h.iter().any(|h| !self.known.contains(h)));
                if !lacks && peer.relay.as_ref() == Some(&heads) {
                    continue;
                }
                peer.relay = None;
                if lacks {
                    // What was relayed may not have arrived: let the regular
                    // protocol work out what to send from the peer's `have`.
                    peer.state.sent_hashes.clear();
                }
            }
            if let Some(message) = self.doc.generate_sync_message(&mut peer.state) {
                out.push((*conn, message.encode()));
            }
            if peer.state.their_heads.as_ref() == Some(&heads) {
                peer.relay = Some(heads.clone());
            }
        }
        Ok(out)
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
        for inbound in &self.inbox {
            if !self.is_read_only(inbound.conn)
                && inbound.hashes.iter().any(|h| dropped.contains(h))
            {
                culprits.push(inbound.conn);
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
        let out = self.apply()?;
        Ok((culprits, out))
    }

    /// Sync messages for every peer that has something to hear, the regular
    /// way (the relay set is dissolved). Call after [`DocSync::apply`].
    pub fn generate(&mut self) -> Vec<(ConnId, Vec<u8>)> {
        let mut out = Vec::new();
        for (conn, peer) in &mut self.peers {
            peer.relay = None;
            if let Some(message) = self.doc.generate_sync_message(&mut peer.state) {
                out.push((*conn, message.encode()));
            }
        }
        out
    }

    /// Replaces the document with one reloaded from storage, keeping peers.
    pub fn replace_doc(&mut self, doc: Automerge) {
        self.known = doc.get_changes(&[]).iter().map(Change::hash).collect();
        self.committed_heads = Some(doc.get_heads());
        self.doc = doc;
        self.pending.clear();
        self.pending_inserts = 0;
        self.unapplied.clear();
        self.unapplied_inserts = 0;
        for peer in self.peers.values_mut() {
            peer.relay = None;
        }
    }

    /// Applies a change the server itself made (already committed).
    /// Call between rounds, after [`DocSync::apply`].
    pub fn apply_own(&mut self, change: &Change) -> Result<(), automerge::AutomergeError> {
        self.known.insert(change.hash());
        self.doc.apply_changes([change.clone()])?;
        self.committed_heads = Some(self.doc.get_heads());
        for peer in self.peers.values_mut() {
            peer.relay = None;
        }
        Ok(())
    }

    pub fn into_doc(self) -> Automerge {
        self.doc
    }
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
        chunks::uleb(&mut input),
        chunks::uleb(&mut input),
        chunks::uleb(&mut input),
    ) else {
        return false;
    };
    // automerge computes `8 * bits.len()` as a u32.
    !input.is_empty() && input.len() < (1 << 29) && probes <= MAX_PROBES
}

/// A chunk that failed its measurement: undecodable (a protocol violation)
/// or beyond the message's budget (refused as `too_large`).
fn scan_failed<T>(error: ScanError) -> Result<Result<T, Refusal>, BadSyncData> {
    match error {
        ScanError::Bad(message) => Err(BadSyncData(message)),
        ScanError::TooLarge(message) => Ok(Err(Refusal {
            code: "too_large",
            message,
        })),
    }
}

fn invalid(message: &str) -> Refusal {
    Refusal {
        code: "invalid_change",
        message: message.to_owned(),
    }
}
