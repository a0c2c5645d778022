//! One simulated client: its connection, a replica per document it syncs,
//! answering every sync message, typing (typists) and recording the latency
//! of other clients' changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use accord_protocol::wire::{Message, encode_sync};
use automerge::{ActorId, sync};
use futures::StreamExt;
use rand::rngs::StdRng;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message as Ws;

use super::delivery::{Progress, Sent};
use super::typist::{Cursor, first_key, interval, keystroke, pick};
use super::wire::{Frame, connect, notice_text, read_frame, send, send_bytes, sync_message};
use super::{Phase, Role, Shared};
use crate::lite::{Author, Replica, parse_chunks};
use crate::stats::{LocalLatencies, add};

/// One replica of one document on a client connection.
struct Doc {
    replica: Replica,
    progress: Arc<Progress>,
    ready: bool,
}

pub(super) async fn client(
    s: Arc<Shared>,
    id: u32,
    role: Role,
    gate: Arc<Semaphore>,
    mut rng: StdRng,
) {
    let kind = match role {
        Role::Typist { .. } => "typist",
        Role::Watcher => "watcher",
    };
    let peer_id = format!("loadgen-{}-{kind}-{id}", s.run_id);
    let permit = gate.acquire().await;
    let (tx, mut stream, server_id) = match connect(&s, &peer_id).await {
        Ok(c) => c,
        Err(e) => {
            s.error(format!("{peer_id}: {e:#}"));
            return;
        }
    };
    let doc_idxs: Vec<usize> = match role {
        Role::Typist { doc } => vec![doc],
        Role::Watcher => (0..s.doc_ids.len()).collect(),
    };
    let mut docs: HashMap<String, Doc> = HashMap::new();
    for &d in &doc_idxs {
        let progress = Arc::new(Progress {
            doc: d,
            run_changes: AtomicU64::new(0),
            alive: AtomicBool::new(true),
        });
        s.progress
            .lock()
            .expect("progress lock")
            .push(progress.clone());
        let mut replica = Replica::new(s.universes[d].clone());
        if let Some(m) = replica.generate() {
            send(
                &s,
                &tx,
                &sync_message(&peer_id, &server_id, &s.doc_ids[d], m.encode(), true),
            );
        }
        docs.insert(
            s.doc_ids[d].clone(),
            Doc {
                replica,
                progress,
                ready: false,
            },
        );
    }
    let mut cursor: Option<Cursor> = None;
    let mut all_ready = false;
    let mut phase = s.phase.clone();
    let mut lat = LocalLatencies::new();
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut next_key: Option<tokio::time::Instant> = None;
    let far = || tokio::time::Instant::now() + Duration::from_secs(86400);
    drop(permit);

    let outcome: Result<(), String> = loop {
        let key_at = next_key.unwrap_or_else(far);
        tokio::select! {
            frame = stream.next() => {
                let received = Instant::now();
                let bytes = match frame {
                    Some(Ok(Ws::Binary(b))) => b,
                    Some(Ok(Ws::Close(f))) => {
                        break Err(format!("server closed the connection: {f:?}"));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break Err(format!("websocket error: {e}")),
                    None => break Err("connection ended".into()),
                };
                add(&s.counters.frames_in, 1);
                add(&s.counters.bytes_in, bytes.len() as u64);
                let frame = match read_frame(&bytes) {
                    Ok(f) => f,
                    Err(e) => break Err(format!("undecodable frame from server: {e}")),
                };
                match frame {
                    Frame::Doc { document_id, data } => {
                        let document_id: &str = &document_id;
                        let Some(doc) = docs.get_mut(document_id) else { continue };
                        let msg = match sync::Message::decode(&data) {
                            Ok(msg) => msg,
                            Err(e) => break Err(format!("undecodable sync message: {e}")),
                        };
                        let changes = match parse_chunks(&msg) {
                            Ok(c) => c,
                            Err(e) => break Err(e),
                        };
                        let applied = doc.replica.receive(msg, changes);
                        if !applied.is_empty() {
                            add(&s.counters.change_frames_in, 1);
                            if applied.len() == 1 {
                                add(&s.counters.one_change_frames, 1);
                                add(&s.counters.one_change_frame_bytes, bytes.len() as u64);
                            }
                        }
                        let mut run = 0;
                        for h in &applied {
                            if let Some(sent) = s.sent.get(h) {
                                run += 1;
                                if sent.client != id && s.recorder.start().is_some_and(|t| sent.at >= t) {
                                    lat.record(&s.recorder, received, received - sent.at);
                                }
                            }
                        }
                        if run > 0 {
                            doc.progress.run_changes.fetch_add(run, Ordering::Relaxed);
                        }
                        if let Some(reply) = doc.replica.generate() {
                            send_bytes(&s, &tx, encode_sync(&peer_id, &server_id, document_id, &reply.encode()));
                        }
                        if !doc.ready && doc.replica.caught_up() {
                            doc.ready = true;
                            if let Role::Typist { .. } = role {
                                match doc.replica.text_info() {
                                    Ok(info) => {
                                        let start = pick(&mut rng, &info.anchors);
                                        cursor = Some(Cursor {
                                            author: Author::new(ActorId::random(), info.obj),
                                            anchors: info.anchors,
                                            start,
                                            run: Vec::new(),
                                            sent: 0,
                                        });
                                    }
                                    Err(e) => break Err(format!("cannot type: {e}")),
                                }
                            }
                        }
                        if !all_ready && docs.values().all(|d| d.ready) {
                            all_ready = true;
                            s.ready.fetch_add(1, Ordering::Relaxed);
                            if *phase.borrow() == Phase::Typing && cursor.is_some() {
                                next_key = Some(first_key(&s, &mut rng));
                            }
                        }
                    }
                    Frame::Other(Message::Error { message }) => {
                        add(&s.counters.protocol_errors, 1);
                        break Err(format!("server error message: {message}"));
                    }
                    Frame::Other(Message::Ephemeral(e)) if e.sender_id == server_id => {
                        add(&s.counters.notices, 1);
                        s.error(format!(
                            "{peer_id}: server notice on {}: {:?}",
                            e.document_id,
                            notice_text(&e.data)
                        ));
                    }
                    Frame::Other(Message::DocUnavailable { document_id, .. }) => {
                        add(&s.counters.doc_unavailable, 1);
                        break Err(format!("doc-unavailable for {document_id}"));
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(key_at), if next_key.is_some() => {
                let (Some(c), Role::Typist { doc }) = (cursor.as_mut(), role) else {
                    next_key = None;
                    continue;
                };
                let d = docs.get_mut(&s.doc_ids[doc]).expect("typist's document");
                let hash = keystroke(c, &mut d.replica, &mut rng, s.delete_ratio);
                s.sent.insert(hash, Sent { at: Instant::now(), client: id, doc: doc as u16 });
                s.sent_per_doc[doc].fetch_add(1, Ordering::Relaxed);
                d.progress.run_changes.fetch_add(1, Ordering::Relaxed);
                add(&s.counters.keystrokes, 1);
                c.sent += 1;
                if let Some(m) = d.replica.generate() {
                    send_bytes(&s, &tx, encode_sync(&peer_id, &server_id, &s.doc_ids[doc], &m.encode()));
                }
                let now = tokio::time::Instant::now();
                let mut next = key_at + interval(&s, &mut rng);
                if next + Duration::from_secs(1) < now {
                    next = now; // far behind: do not burst
                }
                next_key = Some(next);
            }
            _ = flush.tick() => lat.flush(&s.recorder),
            changed = phase.changed() => {
                if changed.is_err() { break Ok(()); }
                let p = *phase.borrow();
                match p {
                    Phase::Typing if all_ready && cursor.is_some() => {
                        next_key = Some(first_key(&s, &mut rng));
                    }
                    Phase::Stopped => next_key = None,
                    Phase::Close => {
                        let _ = tx.send(Vec::new());
                        break Ok(());
                    }
                    _ => {}
                }
            }
        }
    };
    lat.flush(&s.recorder);
    for d in docs.values() {
        d.progress.alive.store(false, Ordering::Relaxed);
    }
    if let Err(e) = outcome {
        if !all_ready {
            // Not counted as ready: the orchestrator counts it via errors.
        }
        s.error(format!("{peer_id}: {e}"));
        let _ = tx.send(Vec::new());
    }
}
