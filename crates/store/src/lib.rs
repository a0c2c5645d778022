//! Durable storage for Accord: drafts, their Automerge documents and every
//! change ever committed to them, with who delivered it; users, invites and
//! sessions; which user owns each Automerge actor; and each draft's
//! procedural timeline (events).
//!
//! One [`Store`] talks to either an embedded SQLite file (the default: WAL,
//! `synchronous=FULL`) or a PostgreSQL server (`synchronous_commit=on`), chosen
//! by the database URL given to [`Store::connect`]. Each query is written once
//! where the two SQL dialects agree (`$N` placeholders work in both) and runs
//! on whichever pool the store holds; only the migrations differ per backend
//! (`migrations/sqlite`, `migrations/postgres`).
//!
//! The server follows "check, commit, then apply": incoming changes go
//! through [`Store::commit`], one transaction per batch, before anything is
//! derived from them. Every multi-statement write here is one transaction.
//! Times are unix milliseconds taken from the server's clock.
//!
//! History is kept as changes commit (same transaction): each document's
//! heads after every batch (`doc_heads`, for reading "the draft at time T")
//! and each user's revisions of each element (`revisions`), so history pages,
//! reads at a version and compares never replay the whole change log.

mod error;
mod instance;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

pub use error::{Error, Result};
pub use instance::{InstanceLock, MIGRATION_LOCK_WAIT, PG_INSTANCE_LOCK_KEY};

/// Connections in a SQLite pool. SQLite has a single writer (write
/// transactions queue on `busy_timeout`), but WAL lets readers run alongside.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Connections in a PostgreSQL pool (per server instance).
const PG_MAX_CONNECTIONS: u32 = 16;
/// How long a SQLite connection waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per multi-row `INSERT INTO changes`: 10 parameters a row keeps one
/// statement far below SQLite's (32766) and PostgreSQL's (65535) limits.
const CHANGES_PER_INSERT: usize = 500;
/// A user's changes to an element with less than this between them (unix
/// ms, by commit time) belong to the same revision; a gap this long or
/// longer starts a new one. Others' changes in between do not matter.
pub const REVISION_GAP_MS: i64 = 30_000;

/// A connection pool to the database, SQLite or PostgreSQL. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds, so each
/// query is written once and compiled for both backends.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}

/// Starting a write transaction, per backend.
trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Self::Db>>;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    /// `BEGIN IMMEDIATE` takes the write lock up front (waiting on
    /// `busy_timeout`), instead of failing with `SQLITE_BUSY` when a deferred
    /// transaction later tries to upgrade to a writer.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }
}

/// Inserts `$rows` (a `&[ChangeRow]`) into `changes` within transaction
/// `$tx`, in chunks of multi-row INSERTs, skipping changes already stored.
/// Evaluates to the rows inserted (`Vec<InsertedChange>`, in no particular
/// order).
macro_rules! insert_changes {
    ($tx:expr, $rows:expr, $now:expr) => {{
        let mut inserted: Vec<InsertedChange> = Vec::new();
        for chunk in $rows.chunks(CHANGES_PER_INSERT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO changes (doc_id, hash, data, peer_id, conn_id, user_id, \
                 entity_code, committed_at, inserted, deleted) ",
            );
            qb.push_values(chunk, |mut b, r: &ChangeRow<'_>| {
                b.push_bind(r.doc_id)
                    .push_bind(r.hash)
                    .push_bind(r.data)
                    .push_bind(r.peer_id)
                    .push_bind(r.conn_id)
                    .push_bind(r.user_id)
                    .push_bind(r.entity_code)
                    .push_bind($now)
                    .push_bind(r.inserted)
                    .push_bind(r.deleted);
            });
            qb.push(
                " ON CONFLICT (doc_id, hash) DO NOTHING \
                 RETURNING seq, doc_id, user_id, entity_code, inserted, deleted",
            );
            inserted.extend(
                qb.build_query_as::<InsertedChange>()
                    .fetch_all(&mut *$tx)
                    .await?,
            );
        }
        inserted
    }};
}

/// Records, within transaction `$tx`, what the batch committed at `$now`
/// adds to each document's history (`$batches`: `&[DocBatch]`): a
/// `doc_heads` row where heads are given; for element documents, each
/// user's run extends that user's latest revision of the element if it
/// ended less than [`REVISION_GAP_MS`] before `$now` and no version of the
/// draft was named since it ended (a named version closes every open run,
/// so edits after it are a revision listed after it), else starts a new
/// one whose `before_heads` are the document's latest heads before this
/// batch.
macro_rules! record_history {
    ($tx:expr, $batches:expr, $now:expr) => {{
        let batches: &[DocBatch<'_>] = $batches;
        let now: i64 = $now;
        for doc in batches {
            let element: Option<(String, String)> = if doc.runs.is_empty() {
                None
            } else {
                sqlx::query_as("SELECT id, draft_id FROM elements WHERE doc_id = $1")
                    .bind(&doc.doc_id)
                    .fetch_optional(&mut *$tx)
                    .await?
            };
            let before: Option<(String,)> = if element.is_some() {
                sqlx::query_as(
                    "SELECT heads FROM doc_heads WHERE doc_id = $1 \
                     ORDER BY through_seq DESC, id DESC LIMIT 1",
                )
                .bind(&doc.doc_id)
                .fetch_optional(&mut *$tx)
                .await?
            } else {
                None
            };
            if let Some(heads) = doc.heads_after {
                sqlx::query(
                    "INSERT INTO doc_heads (doc_id, through_seq, committed_at, heads) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&doc.doc_id)
                .bind(doc.through_seq)
                .bind(now)
                .bind(heads)
                .execute(&mut *$tx)
                .await?;
            }
            let Some((element_id, draft_id)) = element else {
                continue;
            };
            let before_heads = before.map_or_else(|| "[]".to_owned(), |(h,)| h);
            // The latest named version (a version named in the same
            // millisecond as a revision's end counts as after it: a
            // revision split in two is harmless, one straddling a version
            // is not).
            let (named,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(created_at) FROM versions WHERE draft_id = $1")
                    .bind(&draft_id)
                    .fetch_one(&mut *$tx)
                    .await?;
            for run in &doc.runs {
                let latest: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT id, end_at FROM revisions WHERE doc_id = $1 AND user_id = $2 \
                     ORDER BY id DESC LIMIT 1",
                )
                .bind(&doc.doc_id)
                .bind(&run.user_id)
                .fetch_optional(&mut *$tx)
                .await?;
                match latest {
                    Some((id, end_at))
                        if now.saturating_sub(end_at) < REVISION_GAP_MS
                            && named.is_none_or(|named| named < end_at) =>
                    {
                        sqlx::query(
                            "UPDATE revisions SET \
                             end_at = CASE WHEN $1 > end_at THEN $1 ELSE end_at END, \
                             last_seq = CASE WHEN $2 > last_seq THEN $2 ELSE last_seq END, \
                             changes = changes + $3, inserted = inserted + $4, \
                             deleted = deleted + $5, after_heads = COALESCE($6, after_heads) \
                             WHERE id = $7",
                        )
                        .bind(now)
                        .bind(run.last_seq)
                        .bind(run.changes)
                        .bind(run.inserted)
                        .bind(run.deleted)
                        .bind(doc.heads_after)
                        .bind(id)
                        .execute(&mut *$tx)
                        .await?;
                    }
                    _ => {
                        sqlx::query(
                            "INSERT INTO revisions (draft_id, doc_id, element_id, user_id, \
                             entity_code, start_at, end_at, first_seq, last_seq, changes, \
                             inserted, deleted, before_heads, after_heads) \
                             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13)",
                        )
                        .bind(&draft_id)
                        .bind(&doc.doc_id)
                        .bind(&element_id)
                        .bind(&run.user_id)
                        .bind(&run.entity_code)
                        .bind(now)
                        .bind(run.first_seq)
                        .bind(run.last_seq)
                        .bind(run.changes)
                        .bind(run.inserted)
                        .bind(run.deleted)
                        .bind(&before_heads)
                        .bind(doc.heads_after)
                        .execute(&mut *$tx)
                        .await?;
                    }
                }
            }
        }
    }};
}

/// Inserts the [`NewEvent`] `$event` of draft `$draft_id` at `$now` within
/// transaction `$tx`. Evaluates to the event's seq.
macro_rules! insert_event {
    ($tx:expr, $draft_id:expr, $event:expr, $now:expr) => {{
        let event: &NewEvent = $event;
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO events (draft_id, kind, element_id, user_id, entity_code, data, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
        )
        .bind($draft_id)
        .bind(&event.kind)
        .bind(&event.element_id)
        .bind(&event.user_id)
        .bind(&event.entity_code)
        .bind(&event.data)
        .bind($now)
        .fetch_one(&mut *$tx)
        .await?;
        seq
    }};
}

/// Fails with [`Error::NotFound`] unless draft `$draft_id` exists (within `$tx`).
macro_rules! require_draft {
    ($tx:expr, $draft_id:expr) => {{
        let draft_id: &str = $draft_id;
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM drafts WHERE id = $1")
            .bind(draft_id)
            .fetch_optional(&mut *$tx)
            .await?;
        if found.is_none() {
            return Err(Error::NotFound(format!("no draft {draft_id:?}")));
        }
    }};
}

/// The `positions` columns read into a [`PositionRow`].
macro_rules! position_columns {
    () => {
        "seq, draft_id, element_id, entity_code, stance, note, wording, text_hash, heads, \
         user_id, by_silence, at"
    };
}

/// Inserts a named version of draft `$draft_id` within transaction `$tx`,
/// [`Error::Conflict`] if the draft has one of that name. Evaluates to its id.
macro_rules! insert_version {
    ($tx:expr, $draft_id:expr, $name:expr, $heads:expr, $by:expr, $final:expr, $now:expr) => {{
        let (draft_id, name): (&str, &str) = ($draft_id, $name);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO versions (draft_id, name, heads, created_by, created_at, final) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(draft_id)
        .bind(name)
        .bind($heads)
        .bind($by)
        .bind($now)
        .bind($final)
        .fetch_one(&mut *$tx)
        .await
        .map_err(|e| {
            conflict_if_unique(e, || {
                format!("draft {draft_id:?} has a version named {name:?}")
            })
        })?;
        id
    }};
}

// The areas, each with its row types and its own `impl Store` block. They
// come after the shared macros above, which they use.
mod amendments;
mod changes;
mod consensus;
mod drafts;
mod history;
mod identity;
mod ops;
mod structure;
#[cfg(test)]
mod tests;

pub use amendments::{
    AmendmentRow, AmendmentStand, Anchor, CommentRow, Decision, NewAmendment, NewComment,
};
pub use changes::{ChangeInfo, CommitReceipt, NewChange, NewChangeData, StoredDoc};
pub use consensus::{AdoptionRow, NewPosition, NewSilence, PositionRow, SilenceRow};
pub use drafts::{DocKind, DocumentRow, DraftRow, Entity, NewDocument, NewDraft, NewElement};
pub use history::{EventRow, HistoryFilter, NewEvent, RevisionRow, VersionRow};
pub use identity::{InviteKind, NewSession, NewUser, Redeemed, Role, SessionRow, UserRow};
pub use structure::{ElementRow, StructureEdit};

/// Current time in unix milliseconds.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens a pool for `url`:
    /// - `sqlite:PATH`, `sqlite://PATH` (file created if missing; WAL,
    ///   `synchronous=FULL`, foreign keys on, 5 s busy timeout);
    /// - `postgres://...`, `postgresql://...` (`synchronous_commit=on` on
    ///   every connection).
    ///
    /// Does not run migrations: see [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::InvalidUrl(format!("cannot parse SQLite URL: {e}")))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                // An in-memory database exists once per connection: keep exactly one, forever.
                let in_memory = instance::is_in_memory(url);
                let pool_options = if in_memory {
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS)
                };
                // A new file switches to WAL on its first connection: one process at a time.
                let _lock = instance::sqlite_url_migration_lock(url).await?;
                let pool = pool_options.connect_with(options).await?;
                Ok(Store::Sqlite(pool))
            }
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| Error::InvalidUrl(format!("cannot parse PostgreSQL URL: {e}")))?
                    .options([("synchronous_commit", "on")]);
                let pool = PgPoolOptions::new()
                    .max_connections(PG_MAX_CONNECTIONS)
                    .connect_with(options)
                    .await?;
                Ok(Store::Postgres(pool))
            }
            _ => Err(Error::InvalidUrl(format!(
                "unsupported scheme {scheme:?}: expected sqlite:PATH, sqlite://PATH, \
                 postgres://... or postgresql://..."
            ))),
        }
    }

    /// Applies the embedded migrations of this backend (idempotent), one
    /// process at a time: on SQLite under the lock file `DB.migrate.lock`
    /// (waiting at most [`MIGRATION_LOCK_WAIT`]), on PostgreSQL under
    /// sqlx's own advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => {
                // The main database's file; empty when it is in memory or temporary.
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(pool)
                        .await?;
                let _lock = match file.as_str() {
                    "" => None,
                    file => Some(instance::sqlite_migration_lock(file.as_ref()).await?),
                };
                sqlx::migrate!("./migrations/sqlite").run(pool).await?
            }
            Store::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection of the pool (waits for those in use).
    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}

/// `s` as a JSON string literal, quoted and escaped (event data is built
/// here without a JSON library).
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as a JSON string literal, `null` if `None`.
fn json_opt_string(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_owned(), json_string)
}

/// The JSON object with `members` (e.g. `"a":1,"b":2`) followed by the
/// members of `object` if it is a non-empty JSON object (anything else is
/// dropped).
fn json_prepend_members(members: &str, object: &str) -> String {
    let inner = object
        .trim()
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .map(str::trim)
        .unwrap_or("");
    if inner.is_empty() {
        format!("{{{members}}}")
    } else {
        format!("{{{members},{inner}}}")
    }
}

/// `e` as [`Error::Conflict`] with `message()` if it is a unique-constraint
/// violation (a concurrent writer won), as [`Error::Database`] otherwise.
fn conflict_if_unique(e: sqlx::Error, message: impl FnOnce() -> String) -> Error {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => Error::Conflict(message()),
        _ => Error::Database(e),
    }
}

fn no_element(id: &str, draft_id: &str) -> Error {
    Error::NotFound(format!("no element {id:?} in draft {draft_id:?}"))
}
