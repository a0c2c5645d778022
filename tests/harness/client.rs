//! A websocket client of the automerge-repo sync protocol, version "1",
//! holding real Automerge documents.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use accord_protocol::{DocMessage, Ephemeral, Message};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::server::TestServer;
use super::{QUIET, WAIT};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the server closed the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close frame's code; `None` when the socket ended without one.
    pub code: Option<u16>,
    pub reason: String,
}

/// The server's own ephemeral notice (`type: "accord-notice"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub document_id: String,
    pub code: String,
    pub message: String,
}

/// What the server's sync messages for a document said.
#[derive(Debug, Clone)]
pub struct ServerSync {
    pub heads: Vec<ChangeHash>,
    pub flags: u8,
}

/// One document as the client holds it.
pub struct ClientDoc {
    pub doc: AutoCommit,
    pub state: sync::State,
    /// Every sync message the server sent for this document, in order.
    pub from_server: Vec<ServerSync>,
    /// Our heads, sorted (kept current after every change to `doc`).
    heads: Vec<ChangeHash>,
    /// Whether we hold every change the server's latest message named.
    caught_up: bool,
}

impl ClientDoc {
    /// The heads in the server's latest sync message.
    pub fn server_heads(&self) -> &[ChangeHash] {
        self.from_server.last().map_or(&[], |m| &m.heads)
    }

    /// The element text, or "" while the document has none.
    pub fn text(&self) -> String {
        match self.doc.get(ROOT, "text") {
            Ok(Some((automerge::Value::Object(ObjType::Text), id))) => {
                self.doc.text(id).expect("reading the text")
            }
            _ => String::new(),
        }
    }

    /// Sorted heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.heads.clone()
    }

    /// Whether we hold every change the server's latest heads name: we
    /// have caught up with the server (it may still lack ours).
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    fn refresh(&mut self) {
        self.heads = self.doc.get_heads();
        self.heads.sort();
        let server_heads = self.from_server.last().map(|m| m.heads.clone());
        self.caught_up = server_heads.is_some_and(|heads| {
            heads
                .iter()
                .all(|h| self.doc.get_change_by_hash(h).is_some())
        });
    }

    /// Whether our heads and the server's latest reported heads agree: the
    /// server has acknowledged everything we have.
    pub fn in_sync_with_server(&self) -> bool {
        let mut theirs = self.server_heads().to_vec();
        theirs.sort();
        !theirs.is_empty() && theirs == self.heads
    }
}

/// A websocket client of the automerge-repo protocol, version "1".
pub struct Client {
    ws: Ws,
    pub peer_id: String,
    pub server_peer_id: String,
    docs: HashMap<String, ClientDoc>,
    /// Every `ephemeral` message received (relays and the server's notices).
    pub ephemerals: Vec<Ephemeral>,
    /// The server's notices, decoded.
    pub notices: Vec<Notice>,
    /// `error` messages received.
    pub errors: Vec<String>,
    /// Document ids named by `doc-unavailable`.
    pub unavailable: Vec<String>,
    closed: Option<Closed>,
}

impl Client {
    /// Connects and joins with a fresh peer id.
    pub async fn connect(server: &TestServer) -> Client {
        let peer_id = format!("test-peer-{}", uuid::Uuid::new_v4().simple());
        Self::connect_as(server, &peer_id).await
    }

    /// Connects and joins as `peer_id`.
    pub async fn connect_as(server: &TestServer, peer_id: &str) -> Client {
        Self::connect_url_as(&server.ws_url(), peer_id).await
    }

    /// Connects with another user's session token and a fresh peer id.
    pub async fn connect_with(server: &TestServer, token: &str) -> Client {
        let peer_id = format!("test-peer-{}", uuid::Uuid::new_v4().simple());
        Self::connect_url_as(&server.ws_url_with(Some(token)), &peer_id).await
    }

    /// Connects to `url` and joins as `peer_id`.
    pub async fn connect_url_as(url: &str, peer_id: &str) -> Client {
        let mut client = Self::connect_raw_url(url).await;
        client.peer_id = peer_id.to_owned();
        client.send_message(&join(peer_id, &["1"])).await;
        let deadline = Instant::now() + WAIT;
        while client.server_peer_id.is_empty() {
            assert!(
                client.recv_one(deadline).await,
                "no `peer` answer to `join`: closed {:?}, errors {:?}",
                client.closed,
                client.errors
            );
        }
        client
    }

    /// Connects and joins with a tiny socket receive buffer, so that a client
    /// that stops reading fills the server's outbound queue quickly.
    pub async fn connect_small_buffer(server: &TestServer) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("setting the receive buffer");
        let addr = format!("127.0.0.1:{}", server.port())
            .parse()
            .expect("address");
        let tcp = socket.connect(addr).await.expect("TCP connect");
        let (ws, _) = tokio_tungstenite::client_async(server.ws_url(), MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket handshake");
        let mut client = Self::from_ws(ws);
        let peer_id = format!("test-peer-{}", uuid::Uuid::new_v4().simple());
        client.peer_id = peer_id.clone();
        client.send_message(&join(&peer_id, &["1"])).await;
        let deadline = Instant::now() + WAIT;
        while client.server_peer_id.is_empty() {
            assert!(
                client.recv_one(deadline).await,
                "no `peer` answer to `join`"
            );
        }
        client
    }

    /// Connects without the handshake (for protocol violations).
    pub async fn connect_raw(server: &TestServer) -> Client {
        Self::connect_raw_url(&server.ws_url()).await
    }

    /// Connects to `url` without the handshake.
    pub async fn connect_raw_url(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("websocket connect timed out")
            .expect("websocket connect failed");
        Self::from_ws(ws)
    }

    fn from_ws(ws: Ws) -> Client {
        Client {
            ws,
            peer_id: String::new(),
            server_peer_id: String::new(),
            docs: HashMap::new(),
            ephemerals: Vec::new(),
            notices: Vec::new(),
            errors: Vec::new(),
            unavailable: Vec::new(),
            closed: None,
        }
    }

    // --- sending

    /// Sends one frame of raw bytes. Returns false if the socket is gone.
    pub async fn send_frame(&mut self, bytes: Vec<u8>) -> bool {
        self.ws
            .send(tungstenite::Message::Binary(bytes.into()))
            .await
            .is_ok()
    }

    /// Sends a text frame (not part of the protocol).
    pub async fn send_text(&mut self, text: &str) -> bool {
        self.ws
            .send(tungstenite::Message::Text(text.into()))
            .await
            .is_ok()
    }

    pub async fn send_message(&mut self, message: &Message) -> bool {
        self.send_frame(message.encode()).await
    }

    fn doc_message(&self, doc_id: &str, data: Vec<u8>) -> DocMessage {
        DocMessage {
            sender_id: self.peer_id.clone(),
            target_id: self.server_peer_id.clone(),
            document_id: doc_id.to_owned(),
            data,
        }
    }

    /// Generates a sync message for `doc_id` and sends it, if there is one.
    async fn flush(&mut self, doc_id: &str) {
        let doc = self.docs.get_mut(doc_id).expect("the document is open");
        let message = doc.doc.sync().generate_sync_message(&mut doc.state);
        if let Some(message) = message {
            trace(&format!(
                "{} -> sync heads {:?} need {:?} changes {} flags {:?}",
                self.peer_id,
                message.heads,
                message.need,
                message.changes.len(),
                message.flags
            ));
            let message = Message::Sync(self.doc_message(doc_id, message.encode()));
            self.send_message(&message).await;
        }
    }

    /// Sends an `ephemeral` message about `doc_id`.
    pub async fn send_ephemeral(
        &mut self,
        doc_id: &str,
        session_id: &str,
        count: u64,
        data: &[u8],
    ) {
        let message = Message::Ephemeral(Ephemeral {
            sender_id: self.peer_id.clone(),
            target_id: self.server_peer_id.clone(),
            document_id: doc_id.to_owned(),
            count,
            session_id: session_id.to_owned(),
            data: data.to_vec(),
        });
        assert!(self.send_message(&message).await, "the socket is gone");
    }

    /// Sends `changes` of `doc_id` in a hand-made sync message, whatever the
    /// sync state thinks (e.g. when the server announced read-only).
    pub async fn push_changes(&mut self, doc_id: &str, changes: Vec<Vec<u8>>) {
        let doc = self.docs.get_mut(doc_id).expect("the document is open");
        let message = sync::Message {
            heads: doc.doc.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: changes.into(),
            flags: None,
            version: sync::MessageVersion::V1,
        };
        let message = Message::Sync(self.doc_message(doc_id, message.encode()));
        assert!(self.send_message(&message).await, "the socket is gone");
    }

    // --- documents

    /// Requests a document the client does not have and syncs until it
    /// matches the server's state and the server falls silent.
    pub async fn open(&mut self, doc_id: &str) {
        self.open_with(doc_id, AutoCommit::new()).await;
    }

    /// Syncs a document the client may already hold (e.g. after a
    /// reconnect: the same local document, a fresh sync state) until the
    /// client has everything the server announced and the server falls
    /// silent. Whether the server got the client's own changes is for the
    /// caller to check (see [`TestServer::wait_element_heads`]).
    pub async fn open_with(&mut self, doc_id: &str, doc: AutoCommit) {
        self.begin(doc_id, doc).await;
        self.wait_until(doc_id, "the document to sync", ClientDoc::caught_up)
            .await;
        self.settle().await;
    }

    /// Registers the document and sends the first message (`request` when
    /// the client has nothing, else `sync`), without waiting.
    pub async fn begin(&mut self, doc_id: &str, mut doc: AutoCommit) {
        let mut state = sync::State::new();
        let empty = doc.get_heads().is_empty();
        let first = doc
            .sync()
            .generate_sync_message(&mut state)
            .expect("a fresh sync state always has a first message");
        let mut entry = ClientDoc {
            doc,
            state,
            from_server: Vec::new(),
            heads: Vec::new(),
            caught_up: false,
        };
        entry.refresh();
        self.docs.insert(doc_id.to_owned(), entry);
        let message = self.doc_message(doc_id, first.encode());
        let message = if empty {
            Message::Request(message)
        } else {
            Message::Sync(message)
        };
        assert!(self.send_message(&message).await, "the socket is gone");
    }

    /// Asks for a document the server should not have; waits for `doc-unavailable`.
    pub async fn expect_unavailable(&mut self, doc_id: &str) {
        self.begin(doc_id, AutoCommit::new()).await;
        let id = doc_id.to_owned();
        self.wait_for("doc-unavailable", move |c| c.unavailable.contains(&id))
            .await;
        self.docs.remove(doc_id);
    }

    pub fn doc(&self, doc_id: &str) -> &ClientDoc {
        self.docs.get(doc_id).expect("the document is open")
    }

    pub fn doc_mut(&mut self, doc_id: &str) -> &mut ClientDoc {
        self.docs.get_mut(doc_id).expect("the document is open")
    }

    /// Takes the local document out (to reconnect with it).
    pub fn take_doc(&mut self, doc_id: &str) -> AutoCommit {
        self.docs.remove(doc_id).expect("the document is open").doc
    }

    pub fn text(&self, doc_id: &str) -> String {
        self.doc(doc_id).text()
    }

    pub fn heads(&self, doc_id: &str) -> Vec<ChangeHash> {
        self.doc(doc_id).heads()
    }

    /// Makes a local change with `f(doc, text_obj)`, commits it and sends it.
    /// Returns the new change's hash.
    pub async fn edit(
        &mut self,
        doc_id: &str,
        f: impl FnOnce(&mut AutoCommit, &ObjId),
    ) -> ChangeHash {
        let hash = self.edit_local(doc_id, f);
        self.flush(doc_id).await;
        self.await_ack(doc_id, hash).await;
        hash
    }

    /// Keeps the conversation going until the server's heads include
    /// `hash`, a notice arrives or the socket closes — at most a few
    /// seconds. The sync protocol may need another round trip before the
    /// change is sent (when the client still waits for an answer to its
    /// previous message), and a client that stops reading would never send
    /// it. A change the server never takes is for the caller to notice.
    async fn await_ack(&mut self, doc_id: &str, hash: ChangeHash) {
        let deadline = Instant::now() + Duration::from_secs(3);
        let notices = self.notices.len();
        while !self.doc(doc_id).server_heads().contains(&hash)
            && self.notices.len() == notices
            && !self.is_closed()
        {
            if !self.recv_one(deadline).await {
                break;
            }
        }
    }

    /// Makes and commits a local change without sending it.
    pub fn edit_local(
        &mut self,
        doc_id: &str,
        f: impl FnOnce(&mut AutoCommit, &ObjId),
    ) -> ChangeHash {
        let doc = self.docs.get_mut(doc_id).expect("the document is open");
        let text = match doc.doc.get(ROOT, "text") {
            Ok(Some((automerge::Value::Object(ObjType::Text), id))) => id,
            _ => ROOT,
        };
        f(&mut doc.doc, &text);
        let hash = doc.doc.commit().expect("the edit made a change");
        doc.refresh();
        hash
    }

    /// Appends `s` to the element's text and sends the change.
    pub async fn append(&mut self, doc_id: &str, s: &str) -> ChangeHash {
        self.edit(doc_id, |doc, text| {
            let len = doc.length(text);
            doc.splice_text(text, len, 0, s).expect("splicing text");
        })
        .await
    }

    /// Inserts `s` at character `pos` and sends the change.
    pub async fn insert(&mut self, doc_id: &str, pos: usize, s: &str) -> ChangeHash {
        self.edit(doc_id, |doc, text| {
            doc.splice_text(text, pos, 0, s).expect("splicing text");
        })
        .await
    }

    // --- receiving

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Handles the next frame if one arrives before `deadline`. Returns false
    /// on timeout or when the socket is closed.
    async fn recv_one(&mut self, deadline: Instant) -> bool {
        if self.closed.is_some() {
            return false;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.ws.next()).await {
            Err(_) => false,
            Ok(None) => {
                self.mark_closed(None, "socket ended without a close frame");
                false
            }
            Ok(Some(Err(e))) => {
                self.mark_closed(None, &e.to_string());
                false
            }
            Ok(Some(Ok(frame))) => {
                self.handle(frame).await;
                true
            }
        }
    }

    /// Handles every frame that has already arrived, without waiting.
    pub async fn drain_ready(&mut self) {
        while self.closed.is_none() {
            let Some(next) = self.ws.next().now_or_never() else {
                return;
            };
            match next {
                None => self.mark_closed(None, "socket ended without a close frame"),
                Some(Err(e)) => self.mark_closed(None, &e.to_string()),
                Some(Ok(frame)) => self.handle(frame).await,
            }
        }
    }

    fn mark_closed(&mut self, code: Option<u16>, reason: &str) {
        if self.closed.is_none() {
            self.closed = Some(Closed {
                code,
                reason: reason.to_owned(),
            });
        }
    }

    async fn handle(&mut self, frame: tungstenite::Message) {
        let bytes = match frame {
            tungstenite::Message::Binary(bytes) => bytes,
            tungstenite::Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                    None => (None, String::new()),
                };
                self.mark_closed(code, &reason);
                return;
            }
            tungstenite::Message::Text(text) => {
                panic!("the server sent a text frame: {text}")
            }
            _ => return, // ping/pong: tungstenite answers pings itself
        };
        let message = Message::decode(&bytes)
            .unwrap_or_else(|e| panic!("the server sent an undecodable message: {e}"));
        match message {
            Message::Peer {
                sender_id,
                target_id,
                selected_protocol_version,
                ..
            } => {
                assert_eq!(target_id, self.peer_id, "`peer` names us as target");
                assert_eq!(selected_protocol_version, "1");
                self.server_peer_id = sender_id;
            }
            Message::Sync(m) => self.on_sync(m).await,
            Message::Error { message } => self.errors.push(message),
            Message::DocUnavailable { document_id, .. } => self.unavailable.push(document_id),
            Message::Ephemeral(e) => {
                if e.sender_id == self.server_peer_id
                    && let Some(notice) = decode_notice(&e.data)
                {
                    assert_eq!(notice.document_id, e.document_id, "notice names its doc");
                    self.notices.push(notice);
                }
                self.ephemerals.push(e);
            }
            other => panic!("unexpected message from the server: {other:?}"),
        }
    }

    async fn on_sync(&mut self, m: DocMessage) {
        assert_eq!(m.target_id, self.peer_id, "sync addressed to us");
        assert_eq!(m.sender_id, self.server_peer_id, "sync from the server");
        let Some(doc) = self.docs.get_mut(&m.document_id) else {
            panic!("sync for a document we never opened: {}", m.document_id);
        };
        let message = sync::Message::decode(&m.data)
            .unwrap_or_else(|e| panic!("the server sent bad sync data: {e}"));
        trace(&format!(
            "{} <- sync heads {:?} need {:?} changes {} flags {:?}",
            self.peer_id,
            message.heads,
            message.need,
            message.changes.len(),
            message.flags
        ));
        doc.from_server.push(ServerSync {
            heads: message.heads.clone(),
            flags: flag_bits(message.flags),
        });
        doc.doc
            .sync()
            .receive_sync_message(&mut doc.state, message)
            .expect("applying the server's sync message");
        doc.refresh();
        self.flush(&m.document_id).await;
    }

    /// Keeps syncing until `pred(doc)` holds; panics after [`WAIT`].
    pub async fn wait_until(
        &mut self,
        doc_id: &str,
        what: &str,
        pred: impl Fn(&ClientDoc) -> bool,
    ) {
        let id = doc_id.to_owned();
        self.wait_for(what, move |c| pred(c.doc(&id))).await;
    }

    /// Keeps syncing until `pred(self)` holds; panics after [`WAIT`] or if
    /// the socket closes first.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Client) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            if pred(self) {
                return;
            }
            assert!(
                self.closed.is_none(),
                "the connection closed while waiting for {what}: {:?}; errors {:?}; notices {:?}",
                self.closed,
                self.errors,
                self.notices
            );
            if !self.recv_one(deadline).await && self.closed.is_none() {
                panic!(
                    "timed out after {WAIT:?} waiting for {what}; errors {:?}; notices {:?}",
                    self.errors, self.notices
                );
            }
        }
    }

    /// Keeps answering until the server has been silent for [`QUIET`].
    /// Panics if it never falls silent (a sync loop).
    pub async fn settle(&mut self) {
        let hard = Instant::now() + WAIT;
        let mut frames = 0usize;
        loop {
            let quiet_until = (Instant::now() + QUIET).min(hard);
            if !self.recv_one(quiet_until).await {
                break;
            }
            frames += 1;
            assert!(
                Instant::now() < hard,
                "the server never fell silent ({frames} frames in {WAIT:?}): a sync loop?"
            );
        }
    }

    /// Reads until the server closes the socket; panics after [`WAIT`].
    pub async fn expect_closed(&mut self) -> Closed {
        let deadline = Instant::now() + WAIT;
        while self.closed.is_none() {
            if !self.recv_one(deadline).await && self.closed.is_none() {
                panic!("the server did not close the connection within {WAIT:?}");
            }
        }
        self.closed.clone().expect("closed")
    }
}

/// A `join` message.
pub fn join(peer_id: &str, versions: &[&str]) -> Message {
    Message::Join {
        sender_id: peer_id.to_owned(),
        peer_metadata: Some(ciborium::Value::Map(vec![(
            ciborium::Value::Text("isEphemeral".into()),
            ciborium::Value::Bool(true),
        )])),
        supported_protocol_versions: versions.iter().map(|v| v.to_string()).collect(),
    }
}

/// CBOR-encodes a value.
pub fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR to a Vec");
    out
}

fn decode_notice(data: &[u8]) -> Option<Notice> {
    let value: ciborium::Value = ciborium::from_reader(data).ok()?;
    let map = value.as_map()?;
    let field = |key: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .and_then(|(_, v)| v.as_text())
            .map(str::to_owned)
    };
    if field("type")? != "accord-notice" {
        return None;
    }
    Some(Notice {
        document_id: field("documentId")?,
        code: field("code")?,
        message: field("message")?,
    })
}

/// The flag bits of a sync message (see `automerge::sync::MessageFlags`).
fn flag_bits(flags: Option<sync::MessageFlags>) -> u8 {
    let Some(flags) = flags else { return 0 };
    [
        sync::MessageFlags::SYNC_RESET,
        sync::MessageFlags::READ_ONLY,
        sync::MessageFlags::SUPPORTS_SYNC_RESET,
    ]
    .into_iter()
    .filter(|f| flags.contains(*f))
    .fold(0, |acc, f| acc | f)
}

/// With `ACCORD_TEST_TRACE` set, prints the sync traffic of every client.
fn trace(line: &str) {
    if std::env::var_os("ACCORD_TEST_TRACE").is_some() {
        eprintln!("[trace] {line}");
    }
}
