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
    /// Entities (organisations) of this installation.
    Entity {
        #[command(flatten)]
        db: AdminDb,
        #[command(subcommand)]
        command: EntityCommand,
    },
    /// Users, their roles and invites.
    User {
        #[command(flatten)]
        db: AdminDb,
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Writes a consistent copy of the whole store to FILE while the server
    /// runs (SQLite; PostgreSQL: use pg_dump, see the README).
    Backup {
        #[command(flatten)]
        db: AdminDb,
        file: PathBuf,
    },
    /// Brings a backup back into a new SQLite database (--database-url must
    /// name a file that does not exist yet).
    Restore {
        #[command(flatten)]
        db: AdminDb,
        file: PathBuf,
    },
    /// Exports a draft (or a named version) as Markdown, HTML or Akoma Ntoso.
    Export {
        #[command(flatten)]
        db: AdminDb,
        /// The draft's id; optional when there is one draft.
        draft: Option<String>,
        /// md, html or akn.
        #[arg(long, default_value = "md")]
        format: String,
        /// A named version (the current text when absent).
        #[arg(long)]
        version: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The consensus state of a draft, as a table.
    Status {
        #[command(flatten)]
        db: AdminDb,
        /// The draft's id (`accord draft list`); optional when there is one draft.
        draft: Option<String>,
        /// Colour: auto (when the output is a terminal), always or never.
        #[arg(long, default_value = "auto")]
        color: String,
    },
    /// Drafts.
    Draft {
        #[command(flatten)]
        db: AdminDb,
        #[command(subcommand)]
        command: DraftCommand,
    },
}

/// Where the administration commands find the installation.
#[derive(Debug, Clone, Args)]
pub struct AdminDb {
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// The address users reach, for invite links.
    #[arg(
        long,
        env = "ACCORD_PUBLIC_URL",
        default_value = DEFAULT_PUBLIC_URL,
        global = true
    )]
    pub public_url: String,
    /// Days an invite stays valid.
    #[arg(long, env = "ACCORD_INVITE_DAYS", default_value_t = 14, global = true)]
    pub invite_days: u64,
}

#[derive(Debug, Subcommand)]
pub enum EntityCommand {
    /// Lists the entities.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Adds a user and prints a one-time invite (the token alone is the last line).
    Add {
        #[arg(long)]
        name: String,
        /// delegate, chair or reviewer.
        #[arg(long)]
        role: String,
        /// The entity a delegate speaks for (required for delegates).
        #[arg(long)]
        entity: Option<String>,
    },
    /// Lists the users.
    List,
    /// Disables a user: their sessions end and their invites stop working.
    Disable { name: String },
    /// Enables a disabled user again (they need a fresh invite).
    Enable { name: String },
    /// Prints a fresh one-time invite for a user.
    Invite { name: String },
}

#[derive(Debug, Subcommand)]
pub enum DraftCommand {
    /// Creates a draft from a scenario file (TOML; see scenarios/hld2013.toml).
    Import { file: PathBuf },
    /// Lists the drafts.
    List,
}

pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

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
    #[arg(long, env = "ACCORD_PUBLIC_URL", default_value = DEFAULT_PUBLIC_URL)]
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

    /// Bytes waiting for one connection before it is closed as too slow
    /// (one larger frame still passes when nothing else waits).
    #[arg(long, env = "ACCORD_OUTBOUND_QUEUE_BYTES", default_value_t = 8 << 20)]
    pub outbound_queue_bytes: usize,

    /// Seconds a write to a client may make no progress before the
    /// connection is closed (a client that stopped reading).
    #[arg(long, env = "ACCORD_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub write_timeout_secs: u64,

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

    /// Hours a session lives without use; each use extends it (up to the maximum).
    #[arg(long, env = "ACCORD_SESSION_IDLE_HOURS", default_value_t = 72)]
    pub session_idle_hours: u64,

    /// Days a session can live at most, however often it is used.
    #[arg(long, env = "ACCORD_SESSION_MAX_DAYS", default_value_t = 30)]
    pub session_max_days: u64,

    /// Minutes a sign-in link for another device stays valid.
    #[arg(long, env = "ACCORD_DEVICE_LINK_MINUTES", default_value_t = 15)]
    pub device_link_minutes: u64,

    /// Failed sign-ins from one address before it must wait (429).
    #[arg(long, env = "ACCORD_SIGNIN_FAILURES", default_value_t = 10)]
    pub signin_failures: u32,

    /// The window, in seconds, in which failed sign-ins are counted.
    #[arg(long, env = "ACCORD_SIGNIN_WINDOW_SECS", default_value_t = 600)]
    pub signin_window_secs: u64,

    /// Minutes a silence deadline must lie ahead when the procedure starts.
    #[arg(long, env = "ACCORD_SILENCE_MIN_MINUTES", default_value_t = 60)]
    pub silence_min_minutes: u64,

    /// Seconds between the silence scheduler's reads of active silences
    /// (it also wakes for its own instance's new silences and at each
    /// deadline); other instances' silences are seen at least this often.
    #[arg(long, env = "ACCORD_SILENCE_POLL_SECS", default_value_t = 60)]
    pub silence_poll_secs: u64,

    /// Lets chairs move the consensus clock forward
    /// (`POST /api/v1/test/clock`): for tests and rehearsals only.
    #[arg(long, env = "ACCORD_TEST_CLOCK")]
    pub test_clock: bool,

    /// Do not create the first chair (and print its invite) on a database
    /// without users.
    #[arg(long, env = "ACCORD_NO_FIRST_CHAIR")]
    pub no_first_chair: bool,

    /// Largest JSON request body, in bytes (413 above).
    #[arg(long, env = "ACCORD_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// `/metrics` answers requests with `Authorization: Bearer TOKEN`
    /// (on every listener). Without it and without `--metrics-listen`,
    /// `/metrics` is off (404).
    #[arg(long, env = "ACCORD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// A second address serving only `/metrics` (with the token when one is
    /// set, otherwise to anyone who reaches it: keep it private).
    #[arg(long, env = "ACCORD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
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

    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs.max(1))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(2))
    }

    pub fn evict_after(&self) -> Duration {
        Duration::from_secs(self.evict_secs.max(1))
    }

    pub fn silence_min_notice_ms(&self) -> i64 {
        (self.silence_min_minutes * 60_000) as i64
    }

    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(self.session_idle_hours.max(1) * 3600).min(self.session_max())
    }

    pub fn session_max(&self) -> Duration {
        Duration::from_secs(self.session_max_days.max(1) * 86_400)
    }

    pub fn device_link_ttl(&self) -> Duration {
        Duration::from_secs(self.device_link_minutes.max(1) * 60)
    }

    /// Whether cookies need `Secure` (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url
            .trim()
            .to_ascii_lowercase()
            .starts_with("https://")
    }
}

/// The page that signs in with an invite.
pub fn invite_link(public_url: &str, token: &str) -> String {
    format!("{}/join?invite={token}", public_url.trim_end_matches('/'))
}
