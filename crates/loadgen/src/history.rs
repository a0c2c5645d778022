//! `history`: the history benchmark. Several users type a long history into
//! one element of a running server (one-character changes, sent in
//! batches, the server's test clock moved on so revisions split), a version
//! is named half way, and then the history API is timed: a page of the
//! timeline, a read at the named version, a compare of that version with
//! now, and the element's attribution — against `GET /api/v1/me` in the same
//! run as the baseline.

use std::time::{Duration, Instant};

use accord_protocol::{DocumentId, Message, encode_sync};
use anyhow::{Context, bail};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ReadDoc};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite;

use crate::HistoryArgs;
use crate::http;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One typist: a socket, the element document and its sync state.
struct Typist {
    ws: Ws,
    peer: String,
    server: String,
    doc_id: String,
    doc: AutoCommit,
    state: sync::State,
}

impl Typist {
    async fn connect(url: &str, token: &str, doc_id: &str, n: usize) -> anyhow::Result<Typist> {
        let sep = if url.contains('?') { '&' } else { '?' };
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}{sep}token={token}"))
            .await
            .context("connecting")?;
        let peer = format!("history-bench-{n}-{}", std::process::id());
        let join = Message::Join {
            sender_id: peer.clone(),
            peer_metadata: None,
            supported_protocol_versions: vec!["1".into()],
        };
        ws.send(tungstenite::Message::Binary(join.encode().into()))
            .await?;
        let server = loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Binary(b))) => {
                    if let Message::Peer { sender_id, .. } = Message::decode(&b)? {
                        break sender_id;
                    }
                }
                Some(Ok(_)) => continue,
                other => bail!("no peer answer: {other:?}"),
            }
        };
        let mut typist = Typist {
            ws,
            peer,
            server,
            doc_id: doc_id.to_owned(),
            doc: AutoCommit::new(),
            state: sync::State::new(),
        };
        // The first message is a request: the typist has nothing yet.
        let first = typist.doc.sync().generate_sync_message(&mut typist.state);
        if let Some(m) = first {
            let request = Message::Request(accord_protocol::DocMessage {
                sender_id: typist.peer.clone(),
                target_id: typist.server.clone(),
                document_id: typist.doc_id.clone(),
                data: m.encode(),
            });
            typist
                .ws
                .send(tungstenite::Message::Binary(request.encode().into()))
                .await?;
        }
        typist.converse_until(Typist::has_text).await?;
        Ok(typist)
    }

    fn has_text(&self) -> bool {
        matches!(
            self.doc.get(automerge::ROOT, "text"),
            Ok(Some((
                automerge::Value::Object(automerge::ObjType::Text),
                _
            )))
        )
    }

    async fn send_sync(&mut self) -> anyhow::Result<()> {
        if let Some(m) = self.doc.sync().generate_sync_message(&mut self.state) {
            let bytes = encode_sync(&self.peer, &self.server, &self.doc_id, &m.encode());
            self.ws
                .send(tungstenite::Message::Binary(bytes.into()))
                .await?;
        }
        Ok(())
    }

    /// Answers the server until `done` holds (or 60 s pass).
    async fn converse_until(&mut self, done: impl Fn(&Typist) -> bool) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = tokio::time::timeout(left, self.ws.next())
                .await
                .with_context(|| {
                    format!(
                        "the server fell silent ({}: {} changes, shared heads {:?})",
                        self.peer,
                        self.doc.get_changes(&[]).len(),
                        self.state.shared_heads.len()
                    )
                })?;
            match frame {
                Some(Ok(tungstenite::Message::Binary(b))) => {
                    if let Message::Sync(m) = Message::decode(&b)? {
                        let message = sync::Message::decode(&m.data)?;
                        self.doc
                            .sync()
                            .receive_sync_message(&mut self.state, message)?;
                        self.send_sync().await?;
                    }
                }
                Some(Ok(_)) => {}
                other => bail!("the socket ended: {other:?}"),
            }
        }
        Ok(())
    }

    /// Types `n` one-character changes, sends them, waits for the server to
    /// hold them.
    async fn type_batch(&mut self, n: usize, ch: char) -> anyhow::Result<()> {
        let (_, text) = self
            .doc
            .get(automerge::ROOT, "text")?
            .context("the element has no text")?;
        for _ in 0..n {
            let len = self.doc.length(&text);
            self.doc.splice_text(&text, len, 0, &ch.to_string())?;
            self.doc.commit();
        }
        let heads = self.doc.get_heads();
        self.send_sync().await?;
        self.converse_until(|t| {
            t.state
                .shared_heads
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .is_superset(&heads.iter().collect())
        })
        .await
    }
}

/// Milliseconds of each call.
async fn time_calls(api: &str, path: &str, token: &str, runs: usize) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        http::get_json(api, path, token).await?;
        out.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let drafts = http::get_json(&args.api, "/api/v1/drafts", &args.chair_token).await?;
    let draft = drafts[0]["id"].as_str().context("a draft")?.to_owned();
    let element = drafts[0]["elements"][0].clone();
    let element_id = element["id"].as_str().context("an element")?.to_owned();
    let doc_id = DocumentId::from_url(element["doc_url"].as_str().context("doc_url")?)?.to_string();
    let mut typists = Vec::new();
    for (n, token) in args.tokens.split(',').enumerate() {
        typists.push(Typist::connect(&args.url, token, &doc_id, n).await?);
    }
    let batches = args.changes / args.batch;
    let started = Instant::now();
    for b in 0..batches {
        let t = b % typists.len();
        let ch = (b'a' + (b % 26) as u8) as char;
        typists[t].type_batch(args.batch, ch).await?;
        // Keep every typist's document current (they type in turn).
        let next = (b + 1) % typists.len();
        if next != t {
            typists[next].send_sync().await?;
            let want = typists[t].doc.get_heads();
            typists[next]
                .converse_until(|x| want.iter().all(|h| x.doc.get_change_by_hash(h).is_some()))
                .await?;
        }
        if (b + 1) % 100 == 0 {
            eprintln!(
                "{} changes typed ({:.0} s)",
                (b + 1) * args.batch,
                started.elapsed().as_secs_f64()
            );
        }
        if (b + 1) % args.batches_per_revision == 0 {
            http::post_json(
                &args.api,
                "/api/v1/test/clock",
                &args.chair_token,
                &serde_json::json!({ "advance_secs": 31 }),
            )
            .await?;
        }
        if b + 1 == batches / 2 {
            http::post_json(
                &args.api,
                &format!("/api/v1/drafts/{draft}/versions"),
                &args.chair_token,
                &serde_json::json!({ "name": "Half" }),
            )
            .await?;
        }
    }
    let typed = started.elapsed();
    eprintln!(
        "typed {} changes in {:.1} s ({:.0}/s)",
        batches * args.batch,
        typed.as_secs_f64(),
        (batches * args.batch) as f64 / typed.as_secs_f64()
    );

    let me = "/api/v1/me".to_owned();
    let page = format!("/api/v1/drafts/{draft}/history?limit=100");
    let filtered = format!("/api/v1/drafts/{draft}/history?limit=100&element={element_id}");
    let read = format!("/api/v1/drafts/{draft}/read?version=Half");
    let compare = format!("/api/v1/drafts/{draft}/compare?from=Half&to=now");
    let by_word = format!("{compare}&granularity=word");
    let attribution = format!("/api/v1/drafts/{draft}/elements/{element_id}/attribution");
    // Warm the document into memory.
    http::get_json(&args.api, &read, &args.chair_token).await?;
    let baseline = time_calls(&args.api, &me, &args.chair_token, args.runs).await?;
    let base = pct(&baseline, 0.5);
    println!(
        "{:<28} {:>9} {:>9} {:>9}",
        "call", "p50 ms", "p95 ms", "p50/base"
    );
    println!(
        "{:<28} {:>9.2} {:>9.2} {:>9}",
        "GET /me (baseline)",
        base,
        pct(&baseline, 0.95),
        "1.0"
    );
    for (name, path) in [
        ("history page (100 items)", &page),
        ("history of one element", &filtered),
        ("read at a named version", &read),
        ("compare version with now", &compare),
        ("compare by word", &by_word),
        ("attribution of the element", &attribution),
    ] {
        let times = time_calls(&args.api, path, &args.chair_token, args.runs).await?;
        println!(
            "{:<28} {:>9.2} {:>9.2} {:>9.1}",
            name,
            pct(&times, 0.5),
            pct(&times, 0.95),
            pct(&times, 0.5) / base
        );
    }
    Ok(())
}
