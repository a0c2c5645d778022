//! Latency histograms per time row, counters, process sampling, and the
//! report (JSON and a table) shared by the `sync` and `floor` runs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies are recorded in microseconds, 1 µs to 1 hour, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// Latencies by the row (time slice after the measurement start) in which
/// they were *received*, plus the whole run.
pub struct Recorder {
    /// The measurement start, set once when typing starts.
    start: std::sync::OnceLock<Instant>,
    pub row: Duration,
    rows: Mutex<Vec<Histogram<u64>>>,
}

impl Recorder {
    pub fn new(row: Duration) -> Self {
        Self {
            start: std::sync::OnceLock::new(),
            row,
            rows: Mutex::new(Vec::new()),
        }
    }

    pub fn set_start(&self, at: Instant) {
        let _ = self.start.set(at);
    }

    pub fn start(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    pub fn row_of(&self, at: Instant) -> Option<usize> {
        let since = at.checked_duration_since(self.start()?)?;
        Some((since.as_micros() / self.row.as_micros().max(1)) as usize)
    }

    fn add(&self, local: &mut Vec<(usize, u64)>) {
        if local.is_empty() {
            return;
        }
        let mut rows = self.rows.lock().expect("recorder lock");
        for &(row, us) in local.iter() {
            while rows.len() <= row {
                rows.push(histogram());
            }
            rows[row].saturating_record(us.max(1));
        }
        local.clear();
    }

    /// Summaries per row.
    pub fn per_row(&self) -> Vec<Latency> {
        let rows = self.rows.lock().expect("recorder lock");
        rows.iter().map(Latency::of).collect()
    }

    pub fn overall_until(&self, rows_measured: usize) -> Latency {
        let rows = self.rows.lock().expect("recorder lock");
        let mut all = histogram();
        for h in rows.iter().take(rows_measured) {
            all.add(h).expect("same bounds");
        }
        Latency::of(&all)
    }
}

/// A client's latencies waiting to be added to the shared recorder.
pub struct LocalLatencies {
    buf: Vec<(usize, u64)>,
}

impl LocalLatencies {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(256),
        }
    }

    pub fn record(&mut self, recorder: &Recorder, received: Instant, latency: Duration) {
        if let Some(row) = recorder.row_of(received) {
            self.buf.push((row, latency.as_micros() as u64));
            if self.buf.len() >= 4096 {
                recorder.add(&mut self.buf);
            }
        }
    }

    pub fn flush(&mut self, recorder: &Recorder) {
        recorder.add(&mut self.buf);
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// Counters every client adds to.
#[derive(Default)]
pub struct Counters {
    /// Keystrokes (one change each) the typists made.
    pub keystrokes: AtomicU64,
    pub frames_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub frames_out: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Incoming frames that carried at least one change new to the receiver.
    pub change_frames_in: AtomicU64,
    /// Bytes of incoming frames that carried exactly one change.
    pub one_change_frame_bytes: AtomicU64,
    pub one_change_frames: AtomicU64,
    /// Connection failures and closes we did not ask for.
    pub errors: AtomicU64,
    /// `error` messages from the server.
    pub protocol_errors: AtomicU64,
    /// The server's `ephemeral` notices (content refusals).
    pub notices: AtomicU64,
    pub doc_unavailable: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CounterSnapshot {
    pub keystrokes: u64,
    pub frames_in: u64,
    pub bytes_in: u64,
    pub frames_out: u64,
    pub bytes_out: u64,
    pub errors: u64,
    pub protocol_errors: u64,
    pub notices: u64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterSnapshot {
            keystrokes: g(&self.keystrokes),
            frames_in: g(&self.frames_in),
            bytes_in: g(&self.bytes_in),
            frames_out: g(&self.frames_out),
            bytes_out: g(&self.bytes_out),
            errors: g(&self.errors),
            protocol_errors: g(&self.protocol_errors),
            notices: g(&self.notices),
        }
    }
}

pub fn add(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// CPU time and memory of a process, from /proc.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcSample {
    pub cpu_ticks: u64,
    pub rss_kb: u64,
    pub hwm_kb: u64,
}

pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// `pid` = "self" or a number.
pub fn sample(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 here.
    let cpu_ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcSample {
        cpu_ticks,
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
    })
}

/// One row of the report: a time slice of the measured window (or of the
/// drain after it).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub row: usize,
    pub from_s: f64,
    pub to_s: f64,
    /// True for rows after the measured window (typing had stopped).
    pub drain: bool,
    pub latency: Latency,
    pub counters: CounterSnapshot,
    pub server_cpu_pct: Option<f64>,
    pub server_rss_max_mb: Option<f64>,
    pub loadgen_cpu_pct: Option<f64>,
}

/// Samples processes every second and counters at each row boundary.
pub struct Monitor {
    pub server_pid: Option<u32>,
    ticks: f64,
    /// Per row: counters at its end, server cpu seconds, max rss, loadgen cpu seconds.
    pub boundaries: Vec<RowSample>,
    pub server_hwm_kb: u64,
    pub server_rss_max_kb: u64,
}

#[derive(Debug, Clone, Copy)]
pub struct RowSample {
    pub at: Instant,
    pub counters: CounterSnapshot,
    pub server: Option<ProcSample>,
    pub server_rss_max_kb: u64,
    pub loadgen: Option<ProcSample>,
}

impl Monitor {
    pub fn new(server_pid: Option<u32>) -> Self {
        Self {
            server_pid,
            ticks: clock_ticks(),
            boundaries: Vec::new(),
            server_hwm_kb: 0,
            server_rss_max_kb: 0,
        }
    }

    fn server(&self) -> Option<ProcSample> {
        self.server_pid.and_then(|p| sample(&p.to_string()))
    }

    /// Called every second; `boundary` marks the end of a row (or the start).
    pub fn tick(&mut self, counters: &Counters, boundary: bool, row_rss: &mut u64) {
        let s = self.server();
        if let Some(s) = s {
            self.server_hwm_kb = self.server_hwm_kb.max(s.hwm_kb);
            self.server_rss_max_kb = self.server_rss_max_kb.max(s.rss_kb);
            *row_rss = (*row_rss).max(s.rss_kb);
        }
        if boundary {
            self.boundaries.push(RowSample {
                at: Instant::now(),
                counters: counters.snapshot(),
                server: s,
                server_rss_max_kb: *row_rss,
                loadgen: sample("self"),
            });
            *row_rss = 0;
        }
    }

    /// CPU % of the server and the load generator between two samples.
    pub fn cpu(&self, a: &RowSample, b: &RowSample) -> (Option<f64>, Option<f64>) {
        let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        let pct = |x: Option<ProcSample>, y: Option<ProcSample>| {
            Some((y?.cpu_ticks.saturating_sub(x?.cpu_ticks)) as f64 / self.ticks / secs * 100.0)
        };
        (pct(a.server, b.server), pct(a.loadgen, b.loadgen))
    }

    /// Builds the rows from the boundaries and the recorder.
    pub fn rows(&self, recorder: &Recorder, measured_rows: usize) -> Vec<Row> {
        let lat = recorder.per_row();
        let mut out = Vec::new();
        for (i, w) in self.boundaries.windows(2).enumerate() {
            let (a, b) = (&w[0], &w[1]);
            if i >= measured_rows && b.at.duration_since(a.at) < Duration::from_millis(500) {
                continue; // a sliver after the last boundary
            }
            let (server_cpu, loadgen_cpu) = self.cpu(a, b);
            let d = |f: fn(&CounterSnapshot) -> u64| f(&b.counters) - f(&a.counters);
            out.push(Row {
                row: i,
                from_s: recorder
                    .start()
                    .map_or(0.0, |s| a.at.saturating_duration_since(s).as_secs_f64()),
                to_s: recorder
                    .start()
                    .map_or(0.0, |s| b.at.saturating_duration_since(s).as_secs_f64()),
                drain: i >= measured_rows,
                latency: lat.get(i).copied().unwrap_or_default(),
                counters: CounterSnapshot {
                    keystrokes: d(|c| c.keystrokes),
                    frames_in: d(|c| c.frames_in),
                    bytes_in: d(|c| c.bytes_in),
                    frames_out: d(|c| c.frames_out),
                    bytes_out: d(|c| c.bytes_out),
                    errors: d(|c| c.errors),
                    protocol_errors: d(|c| c.protocol_errors),
                    notices: d(|c| c.notices),
                },
                server_cpu_pct: server_cpu,
                server_rss_max_mb: self.server_pid.map(|_| b.server_rss_max_kb as f64 / 1024.0),
                loadgen_cpu_pct: loadgen_cpu,
            });
        }
        out
    }
}

/// Prints the per-row table.
pub fn print_rows(title: &str, rows: &[Row], overall: &Latency) {
    println!("\n== {title} ==");
    println!(
        "{:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>7} {:>7} {:>8} {:>5}",
        "row",
        "to_s",
        "recv",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "keys",
        "frames_in",
        "srv_cpu",
        "lg_cpu",
        "rss_mb",
        "err"
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    for r in rows {
        println!(
            "{:>4} {:>9.1} {:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>10} {:>10} {:>7} {:>7} {:>8} {:>5}{}",
            r.row,
            r.to_s,
            r.latency.count,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.latency.p999_ms,
            r.latency.max_ms,
            r.counters.keystrokes,
            r.counters.frames_in,
            opt(r.server_cpu_pct),
            opt(r.loadgen_cpu_pct),
            opt(r.server_rss_max_mb),
            r.counters.errors + r.counters.protocol_errors,
            if r.drain { "  (drain)" } else { "" }
        );
    }
    println!(
        "overall (measured window): n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms p99.9={:.2} ms max={:.2} ms",
        overall.count,
        overall.p50_ms,
        overall.p90_ms,
        overall.p99_ms,
        overall.p999_ms,
        overall.max_ms
    );
}

/// Parses `600s`, `10m`, `1h`, `1500ms` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else if let Some(v) = s.strip_suffix('h') {
        (v, 3600.0)
    } else {
        (s, 1.0)
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {s:?}"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("not a duration: {s:?}"));
    }
    Ok(Duration::from_secs_f64(n * mult))
}

/// Measures the load generator's own scheduling delay: a task that sleeps
/// 10 ms in a loop and records how late it wakes. A large lag means the
/// load generator, not the server, is delaying what it measures.
pub fn spawn_lag_probe() -> std::sync::Arc<Mutex<Histogram<u64>>> {
    let h = std::sync::Arc::new(Mutex::new(histogram()));
    let out = h.clone();
    tokio::spawn(async move {
        let period = Duration::from_millis(10);
        loop {
            let t = Instant::now();
            tokio::time::sleep(period).await;
            let late = t.elapsed().saturating_sub(period);
            h.lock()
                .expect("lag lock")
                .saturating_record(late.as_micros() as u64 + 1);
        }
    });
    out
}

pub fn lag_summary(h: &Mutex<Histogram<u64>>) -> Latency {
    Latency::of(&h.lock().expect("lag lock"))
}
