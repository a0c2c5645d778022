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
use crate::conn::{ConnHandle, Frame};
use crate::docs::{Delivery, DocCmd};
use crate::error::ApiError;

/// How often an open connection's session is checked again (sign-out,
/// expiry, a disabled user).
const SESSION_RECHECK: Duration = Duration::from_secs(60);

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
            let error = Message::Error {
                message: e.to_string(),
            };
            let _ = sink.send(ws::Message::Binary(error.encode().into())).await;
            let _ = sink.send(close_frame(1002, &e.to_string())).await;
            return;
        }
    };
    let Message::Peer { target_id, .. } = &peer else {
        unreachable!("answer_join answers with peer")
    };

    let (tx, rx) = mpsc::channel(app.config.outbound_queue);
    let conn = Arc::new(ConnHandle::new(
        conn_id,
        auth.user.clone(),
        auth.session.clone(),
        target_id.clone(),
        app.server_peer_id.clone(),
        tx,
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
            let error = Message::Error {
                message: message.into(),
            };
            let _ = sink.send(ws::Message::Binary(error.encode().into())).await;
            let _ = sink.send(close_frame(1008, message)).await;
            return;
        }
    }
    if sink
        .send(ws::Message::Binary(peer.encode().into()))
        .await
        .is_err()
    {
        app.peers.remove(&conn);
        return;
    }

    let writer = tokio::spawn(writer(
        sink,
        rx,
        conn.clone(),
        app.config.ping_interval(),
        app.metrics.clone(),
    ));
    let mut writer = writer;
    let joined_docs = reader(&app, &conn, &mut stream).await;

    // A close is queued (a protocol error, say): let the writer send what
    // precedes it, the `error` message first, then the close frame.
    let flushed = conn.is_closing()
        && !conn.closer.is_cancelled()
        && tokio::time::timeout(Duration::from_secs(5), &mut writer)
            .await
            .is_ok();
    conn.abort();
    if !flushed {
        let _ = writer.await;
    }
    app.peers.remove(&conn);
    for id in joined_docs {
        app.docs
            .send_if_loaded(id, DocCmd::Leave { conn: conn.id })
            .await;
    }
    for (draft, index_doc) in app.presence.left(conn.id) {
        app.presence.broadcast(&app.docs, &draft, index_doc).await;
    }
}

/// Reads frames until the socket ends; returns the documents it synced.
async fn reader(
    app: &AppState,
    conn: &Arc<ConnHandle>,
    stream: &mut futures::stream::SplitStream<WebSocket>,
) -> HashSet<DocumentId> {
    let mut joined = HashSet::new();
    let mut actors = HashMap::new();
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
            Ok(None) | Ok(Some(Err(_))) => break,
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
                        joined.insert(id);
                        if let Some(info) = info
                            && app.presence.joined(conn, &info)
                        {
                            app.presence
                                .broadcast(&app.docs, &info.draft_id, info.index_doc)
                                .await;
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
                if let Ok(id) = e.document_id.parse::<DocumentId>()
                    && joined.contains(&id)
                {
                    let cmd = DocCmd::Ephemeral {
                        conn: conn.clone(),
                        message: e,
                    };
                    let _ = app.docs.send_cached(&mut actors, id, cmd).await;
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

async fn writer(
    mut sink: futures::stream::SplitSink<WebSocket, ws::Message>,
    mut rx: mpsc::Receiver<Frame>,
    conn: Arc<ConnHandle>,
    ping_every: Duration,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    loop {
        tokio::select! {
            frame = rx.recv() => {
                // Write everything already queued, then flush once: one
                // system call for a burst of relayed changes.
                let mut next = frame;
                let mut close = None;
                let mut failed = false;
                let mut fed = 0;
                while let Some(frame) = next.take() {
                    match frame {
                        Frame::Binary(bytes) => {
                            metrics.outbound_queue_depth.dec();
                            if sink.feed(ws::Message::Binary(bytes.into())).await.is_err() {
                                failed = true;
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
                if failed || sink.flush().await.is_err() {
                    break;
                }
                if let Some(close) = close {
                    let _ = sink.send(close).await;
                    break;
                }
                if fed == 0 {
                    // The queue is closed and empty.
                    break;
                }
            }
            _ = ping.tick() => {
                if sink.send(ws::Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            () = conn.closer.cancelled() => {
                let _ = sink.send(close_frame(1001, "closing")).await;
                break;
            }
        }
    }
    conn.abort();
    // Whatever is still queued will never be sent.
    rx.close();
    while let Some(frame) = rx.recv().await {
        if matches!(frame, Frame::Binary(_)) {
            metrics.outbound_queue_depth.dec();
        }
    }
    let _ = sink.close().await;
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
