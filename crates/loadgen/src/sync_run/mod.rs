//! `accord-loadgen sync`: typists and watchers against a running server.
//!
//! This file holds the run itself: connecting every client, the typing and
//! measured window, quiescence and verification. `client.rs` is one
//! simulated client's connection, `typist.rs` what a typist types and when,
//! `wire.rs` the websocket and its frames, `delivery.rs` which change was
//! sent when and which replicas have it, `verify.rs` the check of the
//! server's copies, `report.rs` the figures printed and written at the end.

mod client;
mod delivery;
mod report;
mod typist;
mod verify;
mod wire;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Semaphore, watch};

use crate::lite::{Universe, universe};
use crate::stats::{self, Counters, Monitor, Recorder, add};
use crate::{Arrival, SyncArgs, http};

use client::client;
use delivery::{Progress, SentMap, undelivered};
use verify::verify;
#[cfg(test)]
pub(crate) use wire::fast_doc_message;

/// Where the run is; clients follow it through a watch channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Typing,
    Stopped,
    Close,
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

    report::print_and_save(
        &args,
        &s,
        report::Findings {
            floor,
            monitor,
            measured_rows,
            lag,
            quiescent,
            quiesce_secs,
            undelivered_changes,
            lost,
        },
    )
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Typist { doc: usize },
    Watcher,
}
