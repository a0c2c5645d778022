//! Command line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "accord",
    version,
    about = "Accord: consensus drafting for many organisations"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the server: web UI, sync websocket, JSON API.
    Serve(ServeConfig),
    /// Creates or updates the database schema, then exits.
    Migrate {
        #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
        database_url: String,
    },
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://accord.db";

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "ACCORD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// `sqlite://FILE` (created if missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// The address users reach (invite links, Origin checks).
    #[arg(
        long,
        env = "ACCORD_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,

    /// Scenario loaded on first start, when the database has no draft.
    /// Defaults to the reference scenario built into the binary.
    #[arg(long, env = "ACCORD_SCENARIO")]
    pub scenario: Option<PathBuf>,

    /// Longest element text, in characters.
    #[arg(long, env = "ACCORD_MAX_TEXT_CHARS", default_value_t = 100_000)]
    pub max_text_chars: usize,

    /// Largest total size of the changes in one sync message, in bytes.
    #[arg(long, env = "ACCORD_MAX_CHANGE_BYTES", default_value_t = 16 << 20)]
    pub max_change_bytes: usize,

    /// Frames waiting for one connection before it is closed as too slow.
    #[arg(long, env = "ACCORD_OUTBOUND_QUEUE", default_value_t = 4096)]
    pub outbound_queue: usize,

    /// Seconds between websocket pings.
    #[arg(long, env = "ACCORD_PING_SECS", default_value_t = 20)]
    pub ping_secs: u64,

    /// Seconds without any frame from a client before it is closed.
    #[arg(long, env = "ACCORD_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Seconds a document stays in memory with no peers.
    #[arg(long, env = "ACCORD_EVICT_SECS", default_value_t = 120)]
    pub evict_secs: u64,

    /// Stored changes of a document after which a compacted snapshot is written.
    #[arg(long, env = "ACCORD_SNAPSHOT_EVERY", default_value_t = 5000)]
    pub snapshot_every: usize,

    /// Directory of the built web UI; the UI built into the binary when absent.
    #[arg(long, env = "ACCORD_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
}

impl ServeConfig {
    /// The websocket frame limit: above the largest change payload accepted,
    /// so an oversize document is refused by content, not by the transport.
    pub fn frame_limit(&self) -> usize {
        self.max_change_bytes * 2 + (1 << 20)
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_secs.max(1))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(2))
    }

    pub fn evict_after(&self) -> Duration {
        Duration::from_secs(self.evict_secs.max(1))
    }
}
