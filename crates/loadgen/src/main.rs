//! `accord-loadgen`: the load generator for Accord's sync websocket.
//!
//! # What it measures
//!
//! `sync` plays the reference benchmark against a running server: typists
//! each on their own websocket connection, spread round-robin over the
//! draft's element documents, typing one-character changes at `--rate`
//! keystrokes per second (Poisson arrivals by default; ~15% backspaces), and
//! read-only watchers that each sync *all* element documents (the chair's
//! view). Every client speaks the automerge-repo websocket protocol v1
//! (`join`/`peer`, `request`, `sync`) with the CBOR codec of
//! `accord-protocol`, and answers every incoming sync message as an Automerge
//! peer must.
//!
//! - **Latency, edit → remote client**: each keystroke's change hash is noted
//!   with the instant its sync message was queued for sending; every other
//!   client that receives a sync message carrying that change records
//!   `receive − send` (the instant the frame was read from its socket). The
//!   latencies go into HDR histograms per time row (`--row-secs`, a minute by
//!   default) after the warmup: p50/p90/p99/p99.9/max per row and overall.
//! - **Edits lost**: after typing stops and every live replica holds every
//!   change (quiescence, at most `--quiesce-timeout`), one fresh connection
//!   per document syncs the server's copy, and every change hash a typist
//!   sent must be in it: `sent`, `confirmed`, `lost`.
//! - **Errors**: a connection the server closes, a websocket error, an
//!   `error` message, `doc-unavailable` or a refusal notice is counted and
//!   reported; nothing reconnects silently.
//! - **Server resources** (`--server-pid`): CPU % from /proc/PID/stat
//!   (utime + stime; 100% = one core) and VmRSS/VmHWM from /proc/PID/status,
//!   sampled every second; the load generator's own CPU is reported too, since
//!   it shares the machine.
//!
//! # How clients are simulated
//!
//! A full Automerge replica per client would cost the load generator more
//! than the server (applying one keystroke walks the whole text), so each
//! client runs the Automerge sync protocol over a light change graph (see
//! [`lite`]): heads, bloom filters, changes to send, all as in
//! `automerge::sync` 0.12, but no op tree. Typists author real one-op
//! changes (insert after their own previous character, or delete it) on top
//! of their replica's heads; the server receives, checks, stores and applies
//! them like any client's.
//!
//! `floor` relays the same fan-out through a plain in-process websocket
//! broadcast server: the floor that loopback websockets allow.

mod floor;
mod history;
mod http;
mod lite;
mod stats;
mod sync_run;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::stats::parse_duration;

#[derive(Debug, Parser)]
#[command(
    name = "accord-loadgen",
    version,
    about = "Load generator for Accord's sync websocket"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Typists and watchers against a running Accord server.
    Sync(SyncArgs),
    /// The same fan-out through a plain in-process websocket relay.
    Floor(FloorArgs),
    /// Types a long history into one element, then times the history API
    /// (server with --test-clock).
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[arg(long, default_value = "ws://127.0.0.1:8080/sync")]
    url: String,
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// A chair's session token (names the version, moves the test clock).
    #[arg(long)]
    chair_token: String,
    /// Typists' session tokens, comma-separated (one user each).
    #[arg(long)]
    tokens: String,
    /// Changes to type in all.
    #[arg(long, default_value_t = 100_000)]
    changes: usize,
    /// Changes per sync message.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Batches after which the clock moves 31 s (a new revision).
    #[arg(long, default_value_t = 5)]
    batches_per_revision: usize,
    /// Timed calls per API operation.
    #[arg(long, default_value_t = 30)]
    runs: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Arrival {
    /// Exponential gaps between keystrokes (mean 1/rate).
    Poisson,
    /// A fixed gap of 1/rate, each typist with a random phase.
    Fixed,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The sync websocket.
    #[arg(long, default_value = "ws://127.0.0.1:8080/sync")]
    url: String,
    /// The server's base URL, for `GET /api/v1/drafts`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// A session token (`accord user add`, then `POST /api/v1/session`):
    /// sent as a bearer token to the API and as `?token=` on the websocket.
    #[arg(long, env = "ACCORD_TOKEN")]
    token: String,
    #[arg(long, default_value_t = 112)]
    typists: usize,
    /// Read-only connections, each syncing every element document.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Keystrokes per second per typist.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    #[arg(long, value_enum, default_value = "poisson")]
    arrival: Arrival,
    /// Share of keystrokes that delete the typist's previous character.
    #[arg(long, default_value_t = 0.15)]
    delete_ratio: f64,
    /// Measured time, after the warmup.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    duration: Duration,
    /// Typing before the measurement starts.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    warmup: Duration,
    /// Length of a report row, in seconds.
    #[arg(long, default_value_t = 60.0)]
    row_secs: f64,
    /// Where to write the JSON results.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The server's process id, to sample its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Run the floor for this many seconds first, in the same process.
    #[arg(long)]
    floor_seconds: Option<u64>,
    /// Connections being opened and synced at once.
    #[arg(long, default_value_t = 32)]
    connect_concurrency: usize,
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Longest wait for every replica to hold every change after typing stops.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    quiesce_timeout: Duration,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Args)]
pub struct FloorArgs {
    #[arg(long, default_value_t = 112)]
    typists: usize,
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Document groups (typists are spread round-robin).
    #[arg(long, default_value_t = 8)]
    docs: usize,
    /// Frames per second per typist.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    /// Frame size; default: a real one-keystroke server→client sync frame.
    #[arg(long)]
    frame_bytes: Option<usize>,
    #[arg(long, default_value_t = 10.0)]
    row_secs: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Sync(args) => rt.block_on(sync_run::run(args)),
        Command::Floor(args) => rt.block_on(floor::main(args)),
        Command::History(args) => rt.block_on(history::run(args)),
    }
}
