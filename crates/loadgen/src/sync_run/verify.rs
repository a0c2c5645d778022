//! After the run: one fresh connection per document syncs the server's copy,
//! and every change a typist sent must be in it.

use std::time::{Duration, Instant};

use accord_protocol::wire::Message;
use anyhow::{Context, bail};
use automerge::{ChangeHash, sync};
use futures::StreamExt;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message as Ws;

use super::Shared;
use super::wire::{connect, sync_message};
use crate::lite::{Replica, parse_chunks, universe};

#[derive(Serialize)]
pub(super) struct LostReport {
    pub(super) sent: u64,
    pub(super) confirmed: u64,
    pub(super) lost: u64,
    pub(super) per_doc: Vec<(String, u64, u64)>,
    pub(super) lost_sample: Vec<String>,
}

/// Opens one fresh connection per document, syncs the server's copy, and
/// checks that every change the typists sent is in it.
pub(super) async fn verify(s: &Shared) -> LostReport {
    let all = s.sent.all();
    let mut report = LostReport {
        sent: all.len() as u64,
        confirmed: 0,
        lost: 0,
        per_doc: Vec::new(),
        lost_sample: Vec::new(),
    };
    for (d, doc_id) in s.doc_ids.iter().enumerate() {
        let sent: Vec<ChangeHash> = all
            .iter()
            .filter(|(_, x)| x.doc as usize == d)
            .map(|(h, _)| *h)
            .collect();
        let replica = match fetch(s, doc_id, d).await {
            Ok(r) => Some(r),
            Err(e) => {
                s.error(format!("verify {doc_id}: {e:#}"));
                None
            }
        };
        let mut ok = 0;
        for h in &sent {
            if replica.as_ref().is_some_and(|r| r.has(h)) {
                ok += 1;
            } else if report.lost_sample.len() < 20 {
                report.lost_sample.push(h.to_string());
            }
        }
        report.confirmed += ok;
        report.lost += sent.len() as u64 - ok;
        report.per_doc.push((doc_id.clone(), sent.len() as u64, ok));
    }
    report
}

async fn fetch(s: &Shared, doc_id: &str, d: usize) -> anyhow::Result<Replica> {
    let peer_id = format!("loadgen-{}-verify-{d}", s.run_id);
    let (tx, mut stream, server_id) = connect(s, &peer_id).await?;
    let mut replica = Replica::new(universe());
    if let Some(m) = replica.generate() {
        let _ = tx.send(sync_message(&peer_id, &server_id, doc_id, m.encode(), true).encode());
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, stream.next())
            .await
            .context("verification sync timed out")?;
        let bytes = match frame {
            Some(Ok(Ws::Binary(b))) => b,
            Some(Ok(Ws::Close(f))) => bail!("closed: {f:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("websocket error: {e}"),
            None => bail!("connection ended"),
        };
        match Message::decode(&bytes)? {
            Message::Sync(m) if m.document_id == doc_id => {
                let msg = sync::Message::decode(&m.data)?;
                let changes = parse_chunks(&msg).map_err(anyhow::Error::msg)?;
                replica.receive(msg, changes);
                if let Some(reply) = replica.generate() {
                    let _ = tx.send(
                        sync_message(&peer_id, &server_id, doc_id, reply.encode(), false).encode(),
                    );
                }
                if replica.caught_up() {
                    let _ = tx.send(Vec::new());
                    return Ok(replica);
                }
            }
            Message::DocUnavailable { .. } => bail!("doc-unavailable"),
            Message::Error { message } => bail!("error: {message}"),
            _ => {}
        }
    }
}
