//! The `/sync` websocket: session check, handshake, then routing of
//! document messages to document actors. Peers are routed by connection,
//! never by claimed id; every connection speaks for the user of the session
//! that opened it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use accord_protocol::wire::{Message, answer_join};
use accord_protocol::{DocumentId, ProtocolError};
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, CloseFrame, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::AppState;
use crate::auth::{self, Auth};
use crate::documents::{Delivery, DocCmd};
use crate::error::ApiError;
use crate::peer::{ConnHandle, Frame};

/// How often an open connection's session is checked again (expiry; it
/// also extends a sliding session). Sign-outs and disabled users are seen
/// sooner, by [`crate::auth::watch_revocations`].
const SESSION_RECHECK: Duration = Duration::from_secs(60);

/// How long a closing connection's writer may take to send what precedes
/// the close frame, and then to stop.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The websocket's read buffer (tungstenite's default, 128 KiB, is
/// allocated for every connection).
const READ_BUFFER_BYTES: usize = 8 << 10;

/// What the websocket's write buffer collects before it writes.
const WRITE_BUFFER_BYTES: usize = 64 << 10;

/// The longest peer id a client may claim.
pub const MAX_PEER_ID_BYTES: usize = 256;

/// The server's own peer ids start with this; no client may claim one.
pub const SERVER_PEER_PREFIX: &str = "accord-server";

/// The largest ephemeral message relayed (cursors take a few dozen bytes).
const MAX_EPHEMERAL_BYTES: usize = 16 << 10;

/// Ephemeral messages relayed per connection: a burst, then a rate.
const EPHEMERAL_BURST: u32 = 64;
const EPHEMERAL_PER_SEC: u32 = 32;

/// The upgrade happens only with a live session and a matching `Origin`;
/// otherwise the answer is the HTTP error (401/403) and no websocket.
pub async fn upgrade(
    State(app): State<AppState>,
    auth: Result<Auth, ApiError>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let auth = match auth {
        Ok(auth) => auth,
        Err(e) => {
            app.metrics.close("unauthenticated");
            return e.into_response();
        }
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::bad_request(
                "websocket_required",
                format!("/sync is a websocket endpoint: {}", rejection.body_text()),
            )
            .into_response();
        }
    };
    let limit = app.config.frame_limit();
    ws.max_message_size(limit)
        .max_frame_size(limit)
        // An idle connection holds little: the read buffer grows only for
        // a large frame, and the write buffer (which batches a burst into
        // one system call) holds at most one frame beyond its target.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(WRITE_BUFFER_BYTES + limit)
        .on_upgrade(move |socket| connection(app, auth, socket))
}

#[tracing::instrument(skip_all, fields(conn, user = %auth.user.name))]
async fn connection(app: AppState, auth: Auth, socket: WebSocket) {
    let conn_id = app.next_conn_id();
    tracing::Span::current().record("conn", conn_id);
    app.metrics.connections.inc();
    let _gauge = scopeguard(app.metrics.clone());
    let (mut sink, mut stream) = socket.split();

    // Handshake: the first frame must be `join` offering version "1".
    let first = tokio::time::timeout(app.config.idle_timeout(), stream.next()).await;
    let joined = match first {
        Ok(Some(Ok(ws::Message::Binary(bytes)))) => Message::decode(&bytes)
            .and_then(|m| answer_join(&m, &app.server_peer_id, Some(&app.storage_id))),
        Ok(Some(Ok(ws::Message::Text(_)))) => Err(ProtocolError::NotAMessage),
        _ => return,
    };
    let peer = match joined {
        Ok(peer) => peer,
        Err(e) => {
            app.metrics.protocol_errors.inc();
            app.metrics.close("protocol_error");
            refuse(&mut sink, 1002, &e.to_string(), app.config.write_timeout()).await;
            return;
        }
    };
    let Message::Peer { target_id, .. } = &peer else {
        unreachable!("answer_join answers with peer")
    };
    if let Err(message) = check_peer_id(target_id) {
        app.metrics.protocol_errors.inc();
        app.metrics.close("protocol_error");
        refuse(&mut sink, 1008, &message, app.config.write_timeout()).await;
        return;
    }

    let (tx, rx) = mpsc::channel(app.config.outbound_queue);
    let conn = Arc::new(ConnHandle::new(
        conn_id,
        auth.user.clone(),
        auth.session.clone(),
        target_id.clone(),
        app.server_peer_id.clone(),
        tx,
        app.config.outbound_queue_bytes,
        app.metrics.clone(),
    ));
    // One connection per peer id: the same user's new connection replaces
    // the old one (a reload in the same browser tab); another user's claim
    // of a connected peer id is refused.
    match app.peers.insert(conn.clone()) {
        Ok(Some(old)) => {
            app.metrics.close("replaced");
            old.close(1000, "replaced by a newer connection with the same peer id");
        }
        Ok(None) => {}
        Err(()) => {
            app.metrics.close("peer_id_taken");
            let message = "this peer id is in use by another user's connection";
            refuse(&mut sink, 1008, message, app.config.write_timeout()).await;
            return;
        }
    }
    let write_timeout = app.config.write_timeout();
    let sent = tokio::time::timeout(
        write_timeout,
        sink.send(ws::Message::Binary(peer.encode().into())),
    )
    .await;
    if !matches!(sent, Ok(Ok(()))) {
        app.peers.remove(&conn);
        return;
    }

    let mut writer = tokio::spawn(writer(
        sink,
        rx,
        conn.clone(),
        app.config.ping_interval(),
        write_timeout,
        app.metrics.clone(),
    ));
    let joined_docs = reader(&app, &conn, &mut stream).await;

    // A close is queued (a protocol error, say): let the writer send what
    // precedes it, the `error` message first, then the close frame.
    let flushed = conn.is_closing()
        && !conn.closer.is_cancelled()
        && tokio::time::timeout(CLOSE_GRACE, &mut writer).await.is_ok();
    conn.abort();
    // The writer gives up on a write that makes no progress within the
    // write timeout; past a short grace it is stopped here, dropping the
    // socket, so nothing of the connection outlives it.
    if !flushed
        && tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
    app.peers.remove(&conn);
    for id in &joined_docs {
        app.subscribers.remove(id, conn.id);
    }
    for id in joined_docs {
        app.docs
            .send_if_loaded(id, DocCmd::Leave { conn: conn.id })
            .await;
    }
    app.presence.left(conn.id);
}

/// Refuses a handshake: an `error` message, then the close frame, within
/// the write timeout.
async fn refuse(
    sink: &mut futures::stream::SplitSink<WebSocket, ws::Message>,
    code: u16,
    message: &str,
    write_timeout: Duration,
) {
    let error = Message::Error {
        message: message.to_owned(),
    };
    let _ = tokio::time::timeout(write_timeout, async {
        sink.send(ws::Message::Binary(error.encode().into()))
            .await?;
        sink.send(close_frame(code, message)).await
    })
    .await;
}

/// A peer id is an address, not a credential: it must be short, printable
/// and not the server's.
fn check_peer_id(peer_id: &str) -> Result<(), String> {
    if peer_id.is_empty() || peer_id.len() > MAX_PEER_ID_BYTES {
        return Err(format!(
            "a peer id must have 1 to {MAX_PEER_ID_BYTES} bytes; this one has {}",
            peer_id.len()
        ));
    }
    if peer_id.chars().any(char::is_control) {
        return Err("a peer id may not contain control characters".into());
    }
    if peer_id.starts_with(SERVER_PEER_PREFIX) {
        return Err(format!(
            "peer ids starting with {SERVER_PEER_PREFIX:?} are the server's"
        ));
    }
    Ok(())
}

/// Reads frames until the socket ends; returns the documents it synced.
async fn reader(
    app: &AppState,
    conn: &Arc<ConnHandle>,
    stream: &mut futures::stream::SplitStream<WebSocket>,
) -> HashSet<DocumentId> {
    let mut joined = HashSet::new();
    let mut actors = HashMap::new();
    let mut ephemerals = TokenBucket::new(EPHEMERAL_BURST, EPHEMERAL_PER_SEC);
    let idle = app.config.idle_timeout();
    let mut recheck = tokio::time::interval(SESSION_RECHECK);
    recheck.tick().await;
    loop {
        let frame = tokio::select! {
            () = conn.closer.cancelled() => break,
            _ = recheck.tick() => {
                if !auth::session_is_live(app, &conn.session).await {
                    app.metrics.close("session_ended");
                    conn.close(4001, "the session has ended: sign in again");
                    break;
                }
                continue;
            }
            frame = tokio::time::timeout(idle, stream.next()) => frame,
        };
        let bytes = match frame {
            Err(_) => {
                app.metrics.close("idle");
                conn.close(1001, "idle timeout");
                break;
            }
            Ok(Some(Err(e))) => {
                if let Some(too_large) = too_large(e) {
                    app.metrics.close("too_large");
                    conn.close(1009, &too_large);
                }
                break;
            }
            Ok(None) => break,
            // A connection being closed (signed out, disabled, too slow)
            // acts on nothing more it sends.
            Ok(Some(Ok(_))) if conn.is_closing() => break,
            Ok(Some(Ok(ws::Message::Binary(bytes)))) => bytes,
            Ok(Some(Ok(ws::Message::Text(_)))) => {
                conn.protocol_error("text frames are not part of the protocol");
                break;
            }
            Ok(Some(Ok(ws::Message::Close(_)))) => break,
            Ok(Some(Ok(_))) => continue, // ping / pong
        };
        let message = match Message::decode(&bytes) {
            Ok(message) => message,
            Err(e) => {
                conn.protocol_error(&e.to_string());
                break;
            }
        };
        match message {
            Message::Request(m) | Message::Sync(m) => {
                let Ok(id) = m.document_id.parse::<DocumentId>() else {
                    unavailable(conn, &m.document_id);
                    continue;
                };
                // The first message for a document: does it exist, and may
                // this user see it?
                let info = if joined.contains(&id) {
                    None
                } else {
                    match app.directory.lookup(&app.store, id).await {
                        Ok(Some(info)) if info.visible_to(&conn.user) => Some(info),
                        Ok(_) => {
                            unavailable(conn, &m.document_id);
                            continue;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, doc = %id, "document lookup failed");
                            unavailable(conn, &m.document_id);
                            continue;
                        }
                    }
                };
                let cmd = DocCmd::Sync {
                    conn: conn.clone(),
                    data: m.data,
                };
                match app.docs.send_cached(&mut actors, id, cmd).await {
                    Ok(Delivery::Delivered) => {
                        if let Some(info) = info {
                            joined.insert(id);
                            app.subscribers.add(id, conn);
                            app.presence.joined(conn, &info);
                        }
                    }
                    Ok(Delivery::Unknown) => unavailable(conn, &m.document_id),
                    Err(e) => {
                        tracing::error!(error = %e, doc = %id, "document cannot be loaded");
                        unavailable(conn, &m.document_id);
                    }
                }
            }
            Message::Ephemeral(e) => {
                // Best effort, like the protocol's own: too large or too
                // frequent messages are dropped, so one peer cannot fill the
                // others' queues.
                // The stock client passes on every ephemeral message it
                // hears (mesh gossip) under the author's sender id; the
                // server has already relayed those to everyone, and only
                // a connection's own messages go out in its name.
                if e.sender_id == conn.peer_id
                    && let Ok(id) = e.document_id.parse::<DocumentId>()
                    && joined.contains(&id)
                {
                    if e.data.len() > MAX_EPHEMERAL_BYTES || !ephemerals.take() {
                        app.metrics.ephemerals_dropped.inc();
                    } else {
                        app.subscribers.relay(conn, &id, &e.data);
                    }
                }
            }
            Message::Leave { .. } => break,
            Message::Join { .. } => {
                conn.protocol_error(&ProtocolError::AlreadyJoined.to_string());
                break;
            }
            Message::Peer { .. } => {
                conn.protocol_error("`peer` is the server's message");
                break;
            }
            Message::Error { message } => {
                tracing::info!(%message, "client reported an error");
            }
            Message::DocUnavailable { .. } | Message::Ignored { .. } => {}
        }
    }
    joined
}

fn unavailable(conn: &ConnHandle, document_id: &str) {
    conn.send(&Message::DocUnavailable {
        sender_id: conn.server_peer_id.to_string(),
        target_id: conn.peer_id.clone(),
        document_id: document_id.chars().take(128).collect(),
    });
}

/// Writes the connection's queue to the socket. A write that makes no
/// progress within `write_timeout` (a client that stopped reading) ends the
/// connection.
async fn writer(
    mut sink: futures::stream::SplitSink<WebSocket, ws::Message>,
    mut rx: mpsc::Receiver<Frame>,
    conn: Arc<ConnHandle>,
    ping_every: Duration,
    write_timeout: Duration,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    let timed = |r: Result<Result<(), axum::Error>, tokio::time::error::Elapsed>| match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(false),
        Err(_) => Err(true),
    };
    let outcome: Result<(), bool> = loop {
        tokio::select! {
            frame = rx.recv() => {
                // Write everything already queued, then flush once: one
                // system call for a burst of relayed changes.
                let mut next = frame;
                let mut close = None;
                let mut fed = 0;
                let mut result = Ok(());
                while let Some(frame) = next.take() {
                    match frame {
                        Frame::Binary(bytes) => {
                            conn.dequeued(bytes.len());
                            let feed = sink.feed(ws::Message::Binary(bytes.into()));
                            result = timed(tokio::time::timeout(write_timeout, feed).await);
                            if result.is_err() {
                                break;
                            }
                            fed += 1;
                        }
                        Frame::Close { code, reason } => {
                            close = Some(close_frame(code, &reason));
                            break;
                        }
                    }
                    if fed < 256 {
                        next = rx.try_recv().ok();
                    }
                }
                if result.is_ok() {
                    result = timed(tokio::time::timeout(write_timeout, sink.flush()).await);
                }
                if result.is_err() {
                    break result;
                }
                if let Some(close) = close {
                    break timed(tokio::time::timeout(write_timeout, sink.send(close)).await);
                }
                if fed == 0 {
                    // The queue is closed and empty.
                    break Ok(());
                }
            }
            _ = ping.tick() => {
                let ping = sink.send(ws::Message::Ping(Vec::new().into()));
                if let Err(stuck) = timed(tokio::time::timeout(write_timeout, ping).await) {
                    break Err(stuck);
                }
            }
            () = conn.closer.cancelled() => {
                let close = sink.send(close_frame(1001, "closing"));
                break timed(tokio::time::timeout(write_timeout, close).await);
            }
        }
    };
    if outcome == Err(true) {
        tracing::info!(conn = conn.id, "no write progress: closing the connection");
        metrics.close("write_timeout");
    }
    conn.abort();
    // Whatever is still queued will never be sent.
    rx.close();
    while let Some(frame) = rx.recv().await {
        if let Frame::Binary(bytes) = frame {
            conn.dequeued(bytes.len());
        }
    }
    if outcome.is_ok() {
        let _ = tokio::time::timeout(write_timeout, sink.close()).await;
    }
}

/// The reason to close with 1009 when a frame was over the limit.
fn too_large(e: axum::Error) -> Option<String> {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    match e.into_inner().downcast_ref::<Error>()? {
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => Some(format!(
            "message of {size} bytes is over the limit of {max_size} bytes"
        )),
        Error::Capacity(e) => Some(e.to_string()),
        _ => None,
    }
}

/// Allows `burst` events at once and `per_sec` a second on average.
struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: tokio::time::Instant,
}

impl TokenBucket {
    fn new(burst: u32, per_sec: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            per_sec: f64::from(per_sec),
            last: tokio::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn close_frame(code: u16, reason: &str) -> ws::Message {
    ws::Message::Close(Some(CloseFrame {
        code,
        reason: reason.chars().take(100).collect::<String>().into(),
    }))
}

/// Decrements the connection gauge when the connection task ends.
fn scopeguard(metrics: Arc<crate::metrics::Metrics>) -> impl Drop {
    struct Guard(Arc<crate::metrics::Metrics>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.connections.dec();
        }
    }
    Guard(metrics)
}
