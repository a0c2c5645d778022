//! `accord-loadgen sync`: typists and watchers against a running server.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_protocol::wire::{DocMessage, Message, encode_sync};
use anyhow::{Context, bail};
use automerge::legacy::OpId;
use automerge::{ActorId, ChangeHash, sync};
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::lite::{Author, Edit, HashMap as FastMap, Replica, Universe, parse_chunks, universe};
use crate::stats::{self, Counters, LocalLatencies, Monitor, Recorder, add};
use crate::{Arrival, SyncArgs, http};

/// Where the run is; clients follow it through a watch channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Typing,
    Stopped,
    Close,
}

/// When and by whom a change was sent.
#[derive(Clone, Copy)]
struct Sent {
    at: Instant,
    client: u32,
    doc: u16,
}

/// change hash → send instant, sharded to keep the locks short.
struct SentMap(Vec<Mutex<FastMap<ChangeHash, Sent>>>);

impl SentMap {
    fn new() -> Self {
        Self((0..64).map(|_| Mutex::new(FastMap::default())).collect())
    }
    fn shard(&self, h: &ChangeHash) -> &Mutex<FastMap<ChangeHash, Sent>> {
        &self.0[h.0[0] as usize % self.0.len()]
    }
    fn insert(&self, h: ChangeHash, s: Sent) {
        self.shard(&h).lock().expect("sent lock").insert(h, s);
    }
    fn get(&self, h: &ChangeHash) -> Option<Sent> {
        self.shard(h).lock().expect("sent lock").get(h).copied()
    }
    fn all(&self) -> Vec<(ChangeHash, Sent)> {
        let mut out = Vec::new();
        for s in &self.0 {
            out.extend(s.lock().expect("sent lock").iter().map(|(h, s)| (*h, *s)));
        }
        out
    }
}

/// One replica's progress, for the quiescence check.
struct Progress {
    doc: usize,
    /// Changes of this run the replica has (its own included).
    run_changes: AtomicU64,
    alive: AtomicBool,
}

struct Shared {
    url: String,
    doc_ids: Vec<String>,
    universes: Vec<Universe>,
    sent: SentMap,
    sent_per_doc: Vec<AtomicU64>,
    progress: Mutex<Vec<Arc<Progress>>>,
    recorder: Recorder,
    counters: Counters,
    phase: watch::Receiver<Phase>,
    ready: AtomicUsize,
    errors: Mutex<Vec<String>>,
    rate: f64,
    arrival: Arrival,
    delete_ratio: f64,
    run_id: String,
}

impl Shared {
    fn error(&self, what: String) {
        add(&self.counters.errors, 1);
        tracing::warn!("{what}");
        let mut e = self.errors.lock().expect("errors lock");
        if e.len() < 100 {
            e.push(what);
        }
    }
}

#[derive(Serialize)]
struct LostReport {
    sent: u64,
    confirmed: u64,
    lost: u64,
    per_doc: Vec<(String, u64, u64)>,
    lost_sample: Vec<String>,
}

pub async fn run(args: SyncArgs) -> anyhow::Result<()> {
    let floor = match args.floor_seconds {
        Some(secs) if secs > 0 => {
            let fargs = crate::FloorArgs {
                typists: args.typists,
                watchers: args.watchers,
                docs: 8,
                rate: args.rate,
                duration: Duration::from_secs(secs),
                warmup: Duration::from_secs(3),
                frame_bytes: None,
                row_secs: args.row_secs.min(secs as f64),
                seed: args.seed,
                out: None,
            };
            Some(crate::floor::run(fargs).await?)
        }
        _ => None,
    };

    let drafts = http::get_json(&args.api, "/api/v1/drafts", &args.token).await?;
    let draft = drafts
        .as_array()
        .and_then(|a| a.first())
        .context("the server has no draft")?;
    let doc_ids: Vec<String> = draft["elements"]
        .as_array()
        .context("draft without elements")?
        .iter()
        .filter_map(|e| e["doc_url"].as_str())
        .map(|u| u.strip_prefix("automerge:").unwrap_or(u).to_owned())
        .collect();
    if doc_ids.is_empty() {
        bail!("the draft has no element documents");
    }
    let n_docs = doc_ids.len();
    println!(
        "draft {:?}: {} element documents; {} typists ({:.1}/doc), {} watchers x {} docs, {} keys/s each",
        draft["title"].as_str().unwrap_or("?"),
        n_docs,
        args.typists,
        args.typists as f64 / n_docs as f64,
        args.watchers,
        n_docs,
        args.rate
    );

    let lag = stats::spawn_lag_probe();
    let (phase_tx, phase_rx) = watch::channel(Phase::Connecting);
    let row = Duration::from_secs_f64(args.row_secs);
    let shared = Arc::new(Shared {
        url: format!(
            "{}{}token={}",
            args.url,
            if args.url.contains('?') { '&' } else { '?' },
            args.token
        ),
        universes: (0..n_docs).map(|_| universe()).collect(),
        doc_ids: doc_ids.clone(),
        sent: SentMap::new(),
        sent_per_doc: (0..n_docs).map(|_| AtomicU64::new(0)).collect(),
        progress: Mutex::new(Vec::new()),
        recorder: Recorder::new(row),
        counters: Counters::default(),
        phase: phase_rx,
        ready: AtomicUsize::new(0),
        errors: Mutex::new(Vec::new()),
        rate: args.rate,
        arrival: args.arrival,
        delete_ratio: args.delete_ratio,
        run_id: format!("{:08x}", rand::rng().random::<u32>()),
    });

    // Connect everyone, limited concurrency.
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let mut tasks = Vec::new();
    let total = args.typists + args.watchers;
    let connect_started = Instant::now();
    for i in 0..total {
        let role = if i < args.typists {
            Role::Typist { doc: i % n_docs }
        } else {
            Role::Watcher
        };
        let s = shared.clone();
        let gate = gate.clone();
        let seed = args.seed.wrapping_add(i as u64);
        tasks.push(tokio::spawn(async move {
            client(s, i as u32, role, gate, StdRng::seed_from_u64(seed)).await
        }));
    }
    let s0 = shared.clone();
    loop {
        let ready = s0.ready.load(Ordering::Relaxed);
        let dead = s0.counters.errors.load(Ordering::Relaxed) as usize;
        if ready + dead >= total {
            break;
        }
        if connect_started.elapsed() > args.connect_timeout {
            bail!(
                "only {ready} of {total} clients synced within {:?}",
                args.connect_timeout
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} clients connected and synced in {:.1} s ({} failed)",
        s0.ready.load(Ordering::Relaxed),
        connect_started.elapsed().as_secs_f64(),
        s0.counters.errors.load(Ordering::Relaxed)
    );

    // Typing starts now; measurement after the warmup.
    let measure_start = Instant::now() + args.warmup;
    shared.recorder.set_start(measure_start);
    let s = shared.clone();
    phase_tx.send_replace(Phase::Typing);
    println!(
        "typing: warmup {:?}, then measuring {:?}",
        args.warmup, args.duration
    );

    let mut monitor = Monitor::new(args.server_pid);
    tokio::time::sleep_until(measure_start.into()).await;
    // The probe covers the measured window only (not connecting or verifying).
    lag.lock().expect("lag lock").reset();
    let mut row_rss = 0;
    monitor.tick(&s.counters, true, &mut row_rss);
    let measured_rows = (args.duration.as_secs_f64() / args.row_secs).ceil() as usize;
    let end = measure_start + args.duration;
    let mut next_row = measure_start + row;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last_print = Instant::now();
    loop {
        tick.tick().await;
        let now = Instant::now();
        let boundary = now >= next_row || now >= end;
        monitor.tick(&s.counters, boundary, &mut row_rss);
        if boundary {
            next_row = (next_row + row).min(end.max(next_row));
        }
        if now.duration_since(last_print) >= Duration::from_secs(10) || now >= end {
            last_print = now;
            let c = s.counters.snapshot();
            let cur = s.recorder.row_of(now).unwrap_or(0);
            let l = s.recorder.overall_until(cur + 1);
            println!(
                "  t={:>5.0}s keys={} frames_in={} so far: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms errors={}",
                now.duration_since(measure_start).as_secs_f64(),
                c.keystrokes,
                c.frames_in,
                l.count,
                l.p50_ms,
                l.p99_ms,
                l.max_ms,
                c.errors + c.protocol_errors
            );
        }
        if now >= end {
            break;
        }
    }

    let lag = stats::lag_summary(&lag);
    // Stop typing, wait for every live replica to have every change.
    phase_tx.send_replace(Phase::Stopped);
    let stop = Instant::now();
    let quiescent = loop {
        let behind = undelivered(&s);
        if behind == 0 {
            break true;
        }
        if stop.elapsed() > args.quiesce_timeout {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = Instant::now();
        if now >= next_row {
            monitor.tick(&s.counters, true, &mut row_rss);
            next_row += row;
        } else {
            monitor.tick(&s.counters, false, &mut row_rss);
        }
    };
    let quiesce_secs = stop.elapsed().as_secs_f64();
    let undelivered_changes = undelivered(&s);
    monitor.tick(&s.counters, true, &mut row_rss);
    println!(
        "typing stopped; {} after {:.1} s ({} change deliveries missing)",
        if quiescent {
            "quiescent"
        } else {
            "NOT quiescent"
        },
        quiesce_secs,
        undelivered_changes
    );

    // Every change sent must be in the server's copy.
    let lost = verify(&s).await;
    phase_tx.send_replace(Phase::Close);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }

    let rows = monitor.rows(&s.recorder, measured_rows);
    let overall = s.recorder.overall_until(measured_rows);
    let first = monitor.boundaries.first().copied();
    let last_measured = monitor
        .boundaries
        .get(measured_rows.min(monitor.boundaries.len().saturating_sub(1)))
        .copied();
    let (server_cpu, loadgen_cpu) = match (first, last_measured) {
        (Some(a), Some(b)) => monitor.cpu(&a, &b),
        _ => (None, None),
    };
    let c = s.counters.snapshot();
    let one_change = s.counters.one_change_frames.load(Ordering::Relaxed);
    let avg_frame = (one_change > 0).then(|| {
        s.counters.one_change_frame_bytes.load(Ordering::Relaxed) as f64 / one_change as f64
    });
    let errors = s.errors.lock().expect("errors lock").clone();

    if let Some(f) = &floor {
        stats::print_rows("floor: loopback websocket broadcast", &f.rows, &f.overall);
    }
    stats::print_rows("sync: edit -> remote client latency", &rows, &overall);
    println!(
        "edits: sent {} confirmed {} lost {}; undelivered at end {}; errors {} protocol_errors {} notices {} doc_unavailable {}",
        lost.sent,
        lost.confirmed,
        lost.lost,
        undelivered_changes,
        c.errors,
        c.protocol_errors,
        c.notices,
        s.counters.doc_unavailable.load(Ordering::Relaxed)
    );
    println!(
        "traffic: frames in {} ({:.1} MB), out {} ({:.1} MB); one-change relay frame avg {} bytes",
        c.frames_in,
        c.bytes_in as f64 / 1e6,
        c.frames_out,
        c.bytes_out as f64 / 1e6,
        avg_frame.map_or("-".into(), |b| format!("{b:.0}"))
    );
    if args.server_pid.is_some() {
        println!(
            "server: cpu {:.0}% (measured window; 100% = one core), rss max {:.1} MB, VmHWM {:.1} MB; load generator cpu {:.0}%",
            server_cpu.unwrap_or(0.0),
            monitor.server_rss_max_kb as f64 / 1024.0,
            monitor.server_hwm_kb as f64 / 1024.0,
            loadgen_cpu.unwrap_or(0.0)
        );
    }
    println!(
        "load generator scheduling lag: p50 {:.2} ms p99 {:.2} ms max {:.2} ms (high values inflate the latencies above)",
        lag.p50_ms, lag.p99_ms, lag.max_ms
    );
    for e in errors.iter().take(10) {
        println!("error: {e}");
    }

    let report = serde_json::json!({
        "kind": "accord-loadgen sync",
        "config": {
            "url": args.url, "typists": args.typists, "watchers": args.watchers,
            "watcher_docs": n_docs, "docs": n_docs, "rate_per_typist": args.rate,
            "arrival": format!("{:?}", args.arrival), "delete_ratio": args.delete_ratio,
            "duration_s": args.duration.as_secs_f64(), "warmup_s": args.warmup.as_secs_f64(),
            "row_s": args.row_secs, "server_pid": args.server_pid, "seed": args.seed,
        },
        "latency_overall": overall,
        "rows": rows,
        "edits": lost,
        "quiescent": quiescent,
        "quiesce_s": quiesce_secs,
        "undelivered_changes": undelivered_changes,
        "counters": c,
        "doc_unavailable": s.counters.doc_unavailable.load(Ordering::Relaxed),
        "one_change_frame_avg_bytes": avg_frame,
        "server": args.server_pid.map(|_| serde_json::json!({
            "cpu_pct_measured": server_cpu,
            "rss_max_mb": monitor.server_rss_max_kb as f64 / 1024.0,
            "vm_hwm_mb": monitor.server_hwm_kb as f64 / 1024.0,
        })),
        "loadgen_cpu_pct_measured": loadgen_cpu,
        "loadgen_scheduling_lag": lag,
        "errors": errors,
        "floor": floor.as_ref().map(|f| &f.json),
    });
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("results written to {}", out.display());
    }
    Ok(())
}

fn undelivered(s: &Shared) -> u64 {
    let progress = s.progress.lock().expect("progress lock");
    progress
        .iter()
        .filter(|p| p.alive.load(Ordering::Relaxed))
        .map(|p| {
            s.sent_per_doc[p.doc]
                .load(Ordering::Relaxed)
                .saturating_sub(p.run_changes.load(Ordering::Relaxed))
        })
        .sum()
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Typist { doc: usize },
    Watcher,
}

type Sink = mpsc::UnboundedSender<Vec<u8>>;

/// Opens a websocket and does the handshake; returns the outgoing queue
/// (served by a writer task) and the incoming stream.
async fn connect(
    s: &Shared,
    peer_id: &str,
) -> anyhow::Result<(
    Sink,
    futures::stream::SplitStream<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
    >,
    String,
)> {
    // Reads fill (and first zero) at most `read_buffer_size` bytes of the
    // buffer: the 128 KiB default zeroed 128 KiB per read, for ~1 KB frames.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(&s.url, Some(config), true)
        .await
        .with_context(|| format!("connecting to {}", s.url))?;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let join = Message::Join {
        sender_id: peer_id.to_owned(),
        peer_metadata: Some(ciborium_meta()),
        supported_protocol_versions: vec!["1".into()],
    };
    sink.send(Ws::Binary(join.encode().into())).await?;
    let server_id = loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .context("no answer to join")?;
        match frame {
            Some(Ok(Ws::Binary(b))) => match Message::decode(&b)? {
                Message::Peer {
                    sender_id,
                    selected_protocol_version,
                    ..
                } if selected_protocol_version == "1" => break sender_id,
                other => bail!("unexpected answer to join: {other:?}"),
            },
            Some(Ok(Ws::Close(f))) => bail!("closed during handshake: {f:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => bail!("websocket error during handshake: {e}"),
            None => bail!("connection ended during handshake"),
        }
    };
    tokio::spawn(async move {
        // Everything queued goes out with one flush (one write syscall where
        // the frames fit the write buffer), not one flush per frame.
        'outer: while let Some(mut bytes) = rx.recv().await {
            loop {
                if bytes.is_empty() {
                    let _ = sink.send(Ws::Close(None)).await;
                    break 'outer;
                }
                if sink.feed(Ws::Binary(bytes.into())).await.is_err() {
                    break 'outer;
                }
                match rx.try_recv() {
                    Ok(b) => bytes = b,
                    Err(_) => break,
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    Ok((tx, stream, server_id))
}

fn ciborium_meta() -> ciborium::Value {
    ciborium::Value::Map(vec![(
        ciborium::Value::Text("isEphemeral".into()),
        ciborium::Value::Bool(true),
    )])
}

fn send(s: &Shared, tx: &Sink, m: &Message) {
    send_bytes(s, tx, m.encode());
}

fn send_bytes(s: &Shared, tx: &Sink, bytes: Vec<u8>) {
    add(&s.counters.frames_out, 1);
    add(&s.counters.bytes_out, bytes.len() as u64);
    let _ = tx.send(bytes);
}

fn sync_message(peer: &str, server: &str, doc: &str, data: Vec<u8>, request: bool) -> Message {
    let m = DocMessage {
        sender_id: peer.to_owned(),
        target_id: server.to_owned(),
        document_id: doc.to_owned(),
        data,
    };
    if request {
        Message::Request(m)
    } else {
        Message::Sync(m)
    }
}

/// One replica of one document on a client connection.
struct Doc {
    replica: Replica,
    progress: Arc<Progress>,
    ready: bool,
}

/// A typist's cursor: the characters of its current run, and where the run began.
struct Cursor {
    author: Author,
    anchors: Vec<OpId>,
    start: Option<OpId>,
    run: Vec<OpId>,
    sent: u64,
}

async fn client(s: Arc<Shared>, id: u32, role: Role, gate: Arc<Semaphore>, mut rng: StdRng) {
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

fn pick(rng: &mut StdRng, v: &[OpId]) -> Option<OpId> {
    if v.is_empty() {
        None
    } else {
        Some(v[rng.random_range(0..v.len())].clone())
    }
}

fn interval(s: &Shared, rng: &mut StdRng) -> Duration {
    match s.arrival {
        Arrival::Fixed => Duration::from_secs_f64(1.0 / s.rate),
        Arrival::Poisson => {
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            Duration::from_secs_f64(-u.ln() / s.rate)
        }
    }
}

/// The first keystroke: a random phase within one interval.
fn first_key(s: &Shared, rng: &mut StdRng) -> tokio::time::Instant {
    let phase = rng.random_range(0.0..1.0) / s.rate;
    tokio::time::Instant::now() + Duration::from_secs_f64(phase)
}

/// One keystroke: mostly an insert after the typist's last character,
/// sometimes a backspace over it, now and then a jump to another place.
fn keystroke(
    c: &mut Cursor,
    replica: &mut Replica,
    rng: &mut StdRng,
    delete_ratio: f64,
) -> ChangeHash {
    if rng.random_bool(0.02) {
        c.start = pick(rng, &c.anchors);
        c.run.clear();
    }
    let edit = match c.run.last() {
        Some(target) if rng.random_bool(delete_ratio) => Edit::Delete {
            target: target.clone(),
        },
        last => {
            const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz    eeaaoo,.";
            Edit::Insert {
                after: last.cloned().or_else(|| c.start.clone()),
                ch: CHARS[rng.random_range(0..CHARS.len())] as char,
            }
        }
    };
    let delete = matches!(edit, Edit::Delete { .. });
    let (hash, id) = c.author.edit(replica, edit);
    if delete {
        c.run.pop();
    } else {
        c.run.push(id);
    }
    hash
}

/// An incoming frame: a sync or request message, read in place where the
/// frame has the usual shape, or any other message.
enum Frame<'a> {
    Doc {
        document_id: Cow<'a, str>,
        data: Cow<'a, [u8]>,
    },
    Other(Message),
}

fn read_frame(bytes: &[u8]) -> Result<Frame<'_>, accord_protocol::ProtocolError> {
    if let Some((document_id, data)) = fast_doc_message(bytes) {
        return Ok(Frame::Doc {
            document_id: Cow::Borrowed(document_id),
            data: Cow::Borrowed(data),
        });
    }
    Ok(match Message::decode(bytes)? {
        Message::Sync(m) | Message::Request(m) => Frame::Doc {
            document_id: Cow::Owned(m.document_id),
            data: Cow::Owned(m.data),
        },
        other => Frame::Other(other),
    })
}

/// Reads a `sync`/`request` frame without building a CBOR value tree: a
/// definite-length map of text keys to text or byte-string values, with
/// `type`, `senderId`, `targetId`, `documentId` and `data`. Anything else
/// (other messages, other shapes) returns `None` for the general decoder.
pub(crate) fn fast_doc_message(bytes: &[u8]) -> Option<(&str, &[u8])> {
    fn head(b: &[u8], at: &mut usize) -> Option<(u8, u64)> {
        let first = *b.get(*at)?;
        *at += 1;
        let (major, info) = (first >> 5, first & 0x1f);
        let n = match info {
            0..=23 => info as u64,
            24..=27 => {
                let len = 1usize << (info - 24);
                let raw = b.get(*at..*at + len)?;
                *at += len;
                raw.iter().fold(0u64, |acc, &x| (acc << 8) | x as u64)
            }
            _ => return None,
        };
        Some((major, n))
    }
    fn item<'a>(b: &'a [u8], at: &mut usize) -> Option<(u8, &'a [u8])> {
        let (major, len) = head(b, at)?;
        if major != 2 && major != 3 {
            return None;
        }
        let len = usize::try_from(len).ok()?;
        let v = b.get(*at..at.checked_add(len)?)?;
        *at += len;
        Some((major, v))
    }
    let mut at = 0;
    let (major, pairs) = head(bytes, &mut at)?;
    if major != 5 {
        return None;
    }
    let (mut kind, mut doc, mut data) = (None, None, None);
    let (mut sender, mut target) = (false, false);
    for _ in 0..pairs {
        let (km, key) = item(bytes, &mut at)?;
        let (vm, value) = item(bytes, &mut at)?;
        if km != 3 {
            return None;
        }
        match (key, vm) {
            (b"type", 3) => kind = Some(value),
            (b"senderId", 3) => sender = true,
            (b"targetId", 3) => target = true,
            (b"documentId", 3) => doc = Some(std::str::from_utf8(value).ok()?),
            (b"data", 2) => data = Some(value),
            _ => return None,
        }
    }
    if at != bytes.len() || !sender || !target {
        return None;
    }
    match kind? {
        b"sync" | b"request" => Some((doc?, data?)),
        _ => None,
    }
}

fn notice_text(data: &[u8]) -> String {
    match ciborium::from_reader::<ciborium::Value, _>(data) {
        Ok(v) => format!("{v:?}"),
        Err(_) => format!("{} bytes", data.len()),
    }
}

/// Opens one fresh connection per document, syncs the server's copy, and
/// checks that every change the typists sent is in it.
async fn verify(s: &Shared) -> LostReport {
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
