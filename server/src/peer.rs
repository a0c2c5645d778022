//! One websocket connection as the rest of the server sees it: an id, the
//! signed-in user it speaks for, the peer id it claimed, and an outbound
//! queue bounded in frames and in bytes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use accord_protocol::wire::{Ephemeral, Message};
use accord_protocol::{ConnId, DocumentId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::User;
use crate::metrics::Metrics;

/// The count of the server's own ephemeral messages, rising across all
/// connections of this process (whose peer and session id are the server's).
static SERVER_COUNT: AtomicU64 = AtomicU64::new(0);

/// A frame for the connection's writer task.
#[derive(Debug)]
pub enum Frame {
    Binary(Vec<u8>),
    /// Close the socket after everything queued before it.
    Close {
        code: u16,
        reason: String,
    },
}

/// The handle doc actors and the connection task share.
pub struct ConnHandle {
    pub id: ConnId,
    /// The user whose session opened the connection: every change it
    /// delivers is attributed to them.
    pub user: Arc<User>,
    /// The session's token hash, to close the connection when it ends.
    pub session: String,
    /// The peer id the client claimed in `join`; only used to address replies.
    pub peer_id: String,
    /// The server's peer id, the sender of every message to this connection.
    pub server_peer_id: Arc<str>,
    tx: mpsc::Sender<Frame>,
    /// Bytes of the frames queued and not yet written.
    queued_bytes: AtomicUsize,
    /// The most bytes the queue may hold (one larger frame may still pass
    /// when the queue is empty).
    max_queued_bytes: usize,
    /// Cancelled when the connection must end (closed, too slow, replaced).
    pub closer: CancellationToken,
    closing: AtomicBool,
    /// Held while a server ephemeral message is counted and queued, so
    /// this connection's counts rise in queue order (the stock client drops
    /// a count not above one it has seen).
    notice_lock: Mutex<()>,
    /// The session id under which this connection's own ephemeral messages
    /// are relayed to others, and their count: assigned by the server, so a
    /// client can neither pose as the server nor as another peer.
    pub relay_session: String,
    relay_count: AtomicU64,
    metrics: Arc<Metrics>,
}

impl ConnHandle {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ConnId,
        user: Arc<User>,
        session: String,
        peer_id: String,
        server_peer_id: Arc<str>,
        tx: mpsc::Sender<Frame>,
        max_queued_bytes: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            id,
            user,
            session,
            peer_id,
            relay_session: format!("{server_peer_id}/{id}"),
            server_peer_id,
            tx,
            queued_bytes: AtomicUsize::new(0),
            max_queued_bytes,
            closer: CancellationToken::new(),
            closing: AtomicBool::new(false),
            notice_lock: Mutex::new(()),
            relay_count: AtomicU64::new(0),
            metrics,
        }
    }

    /// Queues a message. A connection whose queue is full is closed, never
    /// skipped: its client resyncs when it reconnects.
    pub fn send(&self, message: &Message) -> bool {
        self.send_bytes(message.encode())
    }

    pub fn send_bytes(&self, bytes: Vec<u8>) -> bool {
        if self.closing.load(Ordering::Relaxed) {
            return false;
        }
        let len = bytes.len();
        let before = self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        if before > 0 && before + len > self.max_queued_bytes {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            self.too_slow("outbound queue over its byte limit");
            return false;
        }
        match self.tx.try_send(Frame::Binary(bytes)) {
            Ok(()) => {
                self.metrics.outbound_queue_depth.inc();
                self.metrics.outbound_queue_bytes.inc_by(len as i64);
                true
            }
            Err(e) => {
                self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    self.too_slow("outbound queue full");
                }
                false
            }
        }
    }

    /// The writer took a frame of `len` bytes off the queue.
    pub fn dequeued(&self, len: usize) {
        self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        self.metrics.outbound_queue_depth.dec();
        self.metrics.outbound_queue_bytes.dec_by(len as i64);
    }

    /// A peer that does not keep up is closed, never skipped: its client
    /// resyncs when it reconnects.
    fn too_slow(&self, why: &str) {
        tracing::warn!(conn = self.id, why, "closing the slow peer");
        self.metrics.close("slow_consumer");
        self.abort();
    }

    /// A sync message for one document.
    pub fn send_sync(&self, document: &str, data: &[u8]) -> bool {
        self.send_bytes(accord_protocol::encode_sync(
            &self.server_peer_id,
            &self.peer_id,
            document,
            data,
        ))
    }

    /// The server's own ephemeral notice about a document: a CBOR map with
    /// `type: "accord-notice"`, `documentId`, `code` and `message`.
    pub fn notice(&self, document: &DocumentId, code: &str, message: &str) {
        use ciborium::Value;
        let body = Value::Map(vec![
            (
                Value::Text("type".into()),
                Value::Text("accord-notice".into()),
            ),
            (
                Value::Text("documentId".into()),
                Value::Text(document.to_string()),
            ),
            (Value::Text("code".into()), Value::Text(code.into())),
            (Value::Text("message".into()), Value::Text(message.into())),
        ]);
        let mut data = Vec::new();
        ciborium::into_writer(&body, &mut data).expect("writing CBOR to a Vec cannot fail");
        self.server_ephemeral(document, data);
    }

    /// An `ephemeral` message from the server itself (its own sender and
    /// session id) carrying CBOR `data`.
    pub fn server_ephemeral(&self, document: &DocumentId, data: Vec<u8>) {
        let _order = self.notice_lock.lock().unwrap_or_else(|e| e.into_inner());
        // One count for the whole process, not per connection: a client
        // that reconnects keeps the highest count it saw from the server's
        // session, and would drop a new connection's first messages.
        let count = SERVER_COUNT.fetch_add(1, Ordering::Relaxed) + 1;
        self.send(&Message::Ephemeral(Ephemeral {
            sender_id: self.server_peer_id.to_string(),
            target_id: self.peer_id.clone(),
            document_id: document.to_string(),
            count,
            session_id: self.server_peer_id.to_string(),
            data,
        }));
    }

    /// This connection's ephemeral `data` for `document` as relayed to
    /// `to`: sender, session and count are the server's word for this
    /// connection, whatever the client put in its message. Call from the
    /// connection's reader only, so counts follow arrival order.
    pub fn relay_ephemeral(&self, to: &ConnHandle, document: &str, data: &[u8], count: u64) {
        to.send(&Message::Ephemeral(Ephemeral {
            sender_id: self.peer_id.clone(),
            target_id: to.peer_id.clone(),
            document_id: document.to_owned(),
            count,
            session_id: self.relay_session.clone(),
            data: data.to_vec(),
        }));
    }

    /// The count for this connection's next relayed ephemeral message.
    pub fn next_relay_count(&self) -> u64 {
        self.relay_count.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A protocol violation: an `error` message, then the socket is closed.
    pub fn protocol_error(&self, message: &str) {
        self.metrics.protocol_errors.inc();
        self.metrics.close("protocol_error");
        tracing::info!(conn = self.id, %message, "protocol violation");
        let _ = self.send(&Message::Error {
            message: message.to_owned(),
        });
        self.close(1002, message);
    }

    /// Closes after the frames already queued.
    pub fn close(&self, code: u16, reason: &str) {
        if self.closing.swap(true, Ordering::Relaxed) {
            return;
        }
        let reason: String = reason.chars().take(100).collect();
        if self.tx.try_send(Frame::Close { code, reason }).is_err() {
            self.closer.cancel();
        }
    }

    /// Closes now, dropping what is queued.
    pub fn abort(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.closer.cancel();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed) || self.closer.is_cancelled()
    }
}

#[derive(Default)]
/// Connected peers by claimed peer id, to replace a reconnecting peer's
/// old connection and to close connections by session.
pub struct PeerTable(Mutex<HashMap<String, Arc<ConnHandle>>>);

impl PeerTable {
    /// Registers a connection under its peer id. The same user's older
    /// connection with that id is returned (to be closed); another user's
    /// is kept and the new one refused (`Err`).
    pub fn insert(&self, conn: Arc<ConnHandle>) -> Result<Option<Arc<ConnHandle>>, ()> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = map.get(&conn.peer_id)
            && old.user.id != conn.user.id
            && !old.is_closing()
        {
            return Err(());
        }
        Ok(map.insert(conn.peer_id.clone(), conn))
    }

    /// Closes every connection opened with a session (signed out).
    pub fn close_session(&self, session: &str) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for conn in map.values().filter(|c| c.session == session) {
            conn.close(4001, "signed out");
        }
    }

    /// Closes every connection opened with one of `sessions` (revoked).
    pub fn close_sessions(&self, sessions: &HashSet<String>) -> usize {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut closed = 0;
        for conn in map.values().filter(|c| sessions.contains(&c.session)) {
            if !conn.is_closing() {
                conn.close(4001, "the session has ended: sign in again");
                closed += 1;
            }
        }
        closed
    }

    pub fn remove(&self, conn: &ConnHandle) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&conn.peer_id).is_some_and(|c| c.id == conn.id) {
            map.remove(&conn.peer_id);
        }
    }

    pub fn close_all(&self) {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for conn in map.values() {
            conn.close(1001, "server shutting down");
        }
    }
}
