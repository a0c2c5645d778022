//! The end of a sync run: the figures printed and the JSON results written.

use std::sync::atomic::Ordering;

use anyhow::Context;

use super::Shared;
use super::verify::LostReport;
use crate::SyncArgs;
use crate::floor::FloorResult;
use crate::stats::{self, Latency, Monitor};

/// What the run measured, for the report.
pub(super) struct Findings {
    pub floor: Option<FloorResult>,
    pub monitor: Monitor,
    pub measured_rows: usize,
    pub lag: Latency,
    pub quiescent: bool,
    pub quiesce_secs: f64,
    pub undelivered_changes: u64,
    pub lost: LostReport,
}

/// Prints the rows and totals, and writes the JSON results to `--out`.
pub(super) fn print_and_save(
    args: &SyncArgs,
    s: &Shared,
    findings: Findings,
) -> anyhow::Result<()> {
    let Findings {
        floor,
        monitor,
        measured_rows,
        lag,
        quiescent,
        quiesce_secs,
        undelivered_changes,
        lost,
    } = findings;
    let n_docs = s.doc_ids.len();
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
