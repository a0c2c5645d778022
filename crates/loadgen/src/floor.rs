//! `accord-loadgen floor`: the same fan-out through a plain websocket relay.
//!
//! An in-process tokio-tungstenite server on 127.0.0.1 relays every frame a
//! "typist" sends to the other typists of its document group and to every
//! watcher, without looking inside. Typists send frames of the size of a
//! one-keystroke automerge-repo sync message at the same rate. The frame
//! carries its send time, so latency is send → receive, as in the sync run.
//! This is the raw loopback websocket floor of the benchmark's fan-out (it
//! has no acknowledgement traffic and no CRDT work).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};
use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Bytes, Message as Ws};

use crate::FloorArgs;
use crate::stats::{self, Counters, Latency, LocalLatencies, Monitor, Recorder, Row, add};

pub struct FloorResult {
    pub rows: Vec<Row>,
    pub overall: Latency,
    pub json: serde_json::Value,
}

type Tx = mpsc::UnboundedSender<Bytes>;

#[derive(Default)]
struct Registry {
    groups: Vec<Vec<(usize, Tx)>>,
    watchers: Vec<(usize, Tx)>,
}

/// The size of the frame a watcher gets for one keystroke from the real
/// protocol: a server→client `sync` message carrying one one-character change.
pub fn keystroke_frame_len() -> usize {
    let mut server = AutoCommit::new();
    let text = server.put_object(ROOT, "text", ObjType::Text).unwrap();
    server
        .splice_text(&text, 0, 0, &"Lorem ipsum dolor sit amet. ".repeat(10))
        .unwrap();
    server.commit();
    let mut typist = server.fork();
    let mut watcher = server.fork();
    let (mut st, mut sw) = (sync::State::new(), sync::State::new());
    let (mut ts, mut ws) = (sync::State::new(), sync::State::new());
    fn settle(a: &mut AutoCommit, sa: &mut sync::State, b: &mut AutoCommit, sb: &mut sync::State) {
        for _ in 0..10 {
            let m1 = a.sync().generate_sync_message(sa);
            let m2 = b.sync().generate_sync_message(sb);
            if m1.is_none() && m2.is_none() {
                break;
            }
            if let Some(m) = m1 {
                b.sync().receive_sync_message(sb, m).unwrap();
            }
            if let Some(m) = m2 {
                a.sync().receive_sync_message(sa, m).unwrap();
            }
        }
    }
    settle(&mut server, &mut st, &mut typist, &mut ts);
    settle(&mut server, &mut sw, &mut watcher, &mut ws);
    typist.splice_text(&text, 57, 0, "x").unwrap();
    let up = typist.sync().generate_sync_message(&mut ts).unwrap();
    server.sync().receive_sync_message(&mut st, up).unwrap();
    let down = server.sync().generate_sync_message(&mut sw).unwrap();
    let id = accord_protocol::DocumentId::random().to_string();
    accord_protocol::Message::Sync(accord_protocol::DocMessage {
        sender_id: format!("accord-server-{}", "0".repeat(32)),
        target_id: "peer-0123456789abcdef".into(),
        document_id: id,
        data: down.encode(),
    })
    .encode()
    .len()
}

pub async fn run(args: FloorArgs) -> anyhow::Result<FloorResult> {
    let frame_len = args.frame_bytes.unwrap_or_else(keystroke_frame_len).max(16);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let registry = Arc::new(RwLock::new(Registry {
        groups: vec![Vec::new(); args.docs],
        watchers: Vec::new(),
    }));
    let reg = registry.clone();
    let server = tokio::spawn(async move {
        let next = AtomicUsize::new(0);
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let id = next.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(relay(tcp, id, reg.clone()));
        }
    });
    println!(
        "floor: relay on {addr}; {} typists over {} groups, {} watchers, {} frames/s each, {frame_len}-byte frames",
        args.typists, args.docs, args.watchers, args.rate
    );

    let lag = stats::spawn_lag_probe();
    let epoch = Instant::now();
    let recorder = Arc::new(Recorder::new(Duration::from_secs_f64(args.row_secs)));
    let counters = Arc::new(Counters::default());
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..args.typists + args.watchers {
        let group = if i < args.typists {
            Some(i % args.docs)
        } else {
            None
        };
        let url = format!("ws://{addr}/");
        let (rec, cnt, rdy, mut go) = (
            recorder.clone(),
            counters.clone(),
            ready.clone(),
            go_rx.clone(),
        );
        let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(i as u64));
        let rate = args.rate;
        tasks.push(tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async_with_config(&url, None, true).await?;
            let (mut sink, mut stream) = ws.split();
            let hello = vec![group.is_some() as u8, group.unwrap_or(0) as u8];
            sink.send(Ws::Binary(hello.into())).await?;
            rdy.fetch_add(1, Ordering::Relaxed);
            let mut lat = LocalLatencies::new();
            let mut flush = tokio::time::interval(Duration::from_secs(1));
            let mut typing = false;
            let mut next = tokio::time::Instant::now() + Duration::from_secs(86400);
            let mut payload = vec![0u8; frame_len];
            loop {
                tokio::select! {
                    frame = stream.next() => {
                        let received = Instant::now();
                        let Some(Ok(frame)) = frame else { break };
                        if let Ws::Binary(b) = frame && b.len() >= 8 {
                            add(&cnt.frames_in, 1);
                            add(&cnt.bytes_in, b.len() as u64);
                            let nanos = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
                            let sent = epoch + Duration::from_nanos(nanos);
                            if rec.start().is_some_and(|t| sent >= t) {
                                lat.record(&rec, received, received.saturating_duration_since(sent));
                            }
                        }
                    }
                    _ = tokio::time::sleep_until(next), if typing => {
                        let nanos = epoch.elapsed().as_nanos() as u64;
                        payload[..8].copy_from_slice(&nanos.to_le_bytes());
                        add(&cnt.keystrokes, 1);
                        add(&cnt.frames_out, 1);
                        add(&cnt.bytes_out, payload.len() as u64);
                        sink.send(Ws::Binary(Bytes::copy_from_slice(&payload))).await?;
                        let u: f64 = rng.random_range(f64::EPSILON..1.0);
                        next += Duration::from_secs_f64(-u.ln() / rate);
                        let now = tokio::time::Instant::now();
                        if next + Duration::from_secs(1) < now { next = now; }
                    }
                    _ = flush.tick() => lat.flush(&rec),
                    changed = go.changed() => {
                        if changed.is_err() { break; }
                        let on = *go.borrow();
                        if on && group.is_some() {
                            typing = true;
                            next = tokio::time::Instant::now()
                                + Duration::from_secs_f64(rng.random_range(0.0..1.0) / rate);
                        } else if !on {
                            lat.flush(&rec);
                            break;
                        }
                    }
                }
            }
            lat.flush(&rec);
            let _ = sink.send(Ws::Close(None)).await;
            anyhow::Ok(())
        }));
    }
    let total = args.typists + args.watchers;
    let t0 = Instant::now();
    while ready.load(Ordering::Relaxed) < total {
        if t0.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("floor: clients did not connect");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Registration happens on the relay side after the hello: give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now() + args.warmup;
    recorder.set_start(start);
    go_tx.send_replace(true);
    tokio::time::sleep_until(start.into()).await;
    let mut monitor = Monitor::new(None);
    let mut rss = 0;
    monitor.tick(&counters, true, &mut rss);
    let row = Duration::from_secs_f64(args.row_secs);
    let end = start + args.duration;
    let mut next_row = start + row;
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        if now >= next_row || now >= end {
            monitor.tick(&counters, true, &mut rss);
            next_row += row;
        }
    }
    go_tx.send_replace(false);
    // Frames still in flight land in a last (drain) row.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
    }
    monitor.tick(&counters, true, &mut rss);
    server.abort();
    let measured_rows = (args.duration.as_secs_f64() / args.row_secs).ceil() as usize;
    let rows = monitor.rows(&recorder, measured_rows);
    let overall = recorder.overall_until(measured_rows);
    let c = counters.snapshot();
    let lag = stats::lag_summary(&lag);
    println!(
        "floor: load generator scheduling lag p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        lag.p50_ms, lag.p99_ms, lag.max_ms
    );
    let json = serde_json::json!({
        "kind": "accord-loadgen floor",
        "config": {
            "typists": args.typists, "watchers": args.watchers, "groups": args.docs,
            "rate_per_typist": args.rate, "frame_bytes": frame_len,
            "duration_s": args.duration.as_secs_f64(), "warmup_s": args.warmup.as_secs_f64(),
            "row_s": args.row_secs,
        },
        "latency_overall": overall,
        "rows": rows,
        "counters": c,
        "loadgen_scheduling_lag": lag,
    });
    Ok(FloorResult {
        rows,
        overall,
        json,
    })
}

/// One relay connection: the hello says typist (and group) or watcher.
async fn relay(tcp: tokio::net::TcpStream, id: usize, reg: Arc<RwLock<Registry>>) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let Some(Ok(Ws::Binary(hello))) = stream.next().await else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let group = (hello.first() == Some(&1)).then(|| hello.get(1).copied().unwrap_or(0) as usize);
    {
        let mut r = reg.write().expect("registry lock");
        match group {
            Some(g) if g < r.groups.len() => r.groups[g].push((id, tx)),
            _ => r.watchers.push((id, tx)),
        }
    }
    // Queue everything waiting, then flush once: one write per burst.
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if sink.feed(Ws::Binary(b)).await.is_err() {
                return;
            }
            while let Ok(b) = rx.try_recv() {
                if sink.feed(Ws::Binary(b)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(frame)) = stream.next().await {
        let Ws::Binary(b) = frame else {
            if matches!(frame, Ws::Close(_)) {
                break;
            }
            continue;
        };
        let Some(g) = group else { continue };
        let r = reg.read().expect("registry lock");
        for (other, tx) in r.groups[g].iter().chain(r.watchers.iter()) {
            if *other != id {
                let _ = tx.send(b.clone());
            }
        }
    }
    {
        let mut r = reg.write().expect("registry lock");
        for g in r.groups.iter_mut() {
            g.retain(|(i, _)| *i != id);
        }
        r.watchers.retain(|(i, _)| *i != id);
    }
    writer.abort();
}

/// `accord-loadgen floor`.
pub async fn main(args: FloorArgs) -> anyhow::Result<()> {
    let out = args.out.clone();
    let r = run(args).await?;
    stats::print_rows("floor: loopback websocket broadcast", &r.rows, &r.overall);
    if let Some(out) = out {
        std::fs::write(&out, serde_json::to_vec_pretty(&r.json)?)?;
        println!("results written to {}", out.display());
    }
    Ok(())
}
