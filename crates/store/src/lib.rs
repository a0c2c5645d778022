//! Durable storage for Accord: drafts, their Automerge documents and every
//! change ever committed to them, with who delivered it.
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

mod error;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};

pub use error::{Error, Result};

/// Connections in a SQLite pool. SQLite has a single writer (write
/// transactions queue on `busy_timeout`), but WAL lets readers run alongside.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Connections in a PostgreSQL pool (per server instance).
const PG_MAX_CONNECTIONS: u32 = 16;
/// How long a SQLite connection waits for the write lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows per multi-row `INSERT INTO changes`: 8 parameters a row keeps one
/// statement far below SQLite's (32766) and PostgreSQL's (65535) limits.
const CHANGES_PER_INSERT: usize = 500;

/// A participating delegation/organisation, e.g. `("EU", "European Union")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    pub code: String,
    pub name: String,
}

/// One element (paragraph) of a draft, backed by its own Automerge document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementRow {
    pub id: String,
    pub draft_id: String,
    /// Order within the draft.
    pub position: i64,
    pub label: String,
    /// The element's Automerge document.
    pub doc_id: String,
    /// Archived elements are kept (history) but no longer listed.
    pub archived: bool,
}

/// A negotiated draft.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftRow {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// The draft's index Automerge document (element order, labels...).
    pub index_doc: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// What an Automerge document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// The draft's index document.
    Index,
    /// One element's text.
    Element,
}

impl DocKind {
    /// The value stored in `documents.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Index => "index",
            DocKind::Element => "element",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "index" => Ok(DocKind::Index),
            "element" => Ok(DocKind::Element),
            other => Err(Error::Database(sqlx::Error::Decode(
                format!("unknown document kind {other:?}").into(),
            ))),
        }
    }
}

/// An Automerge document the server created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentRow {
    /// automerge-repo DocumentId (bs58check).
    pub id: String,
    pub draft_id: String,
    pub kind: DocKind,
}

/// A document to create, with the server-made changes that initialise it.
#[derive(Clone, Debug)]
pub struct NewDocument {
    pub id: String,
    pub kind: DocKind,
    pub changes: Vec<NewChangeData>,
}

/// One Automerge change: its hash and its encoded bytes.
#[derive(Clone, Debug)]
pub struct NewChangeData {
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
}

/// A draft to create, with its index document, elements and participants.
#[derive(Clone, Debug)]
pub struct NewDraft {
    pub id: String,
    pub title: String,
    pub preamble: String,
    /// Must have `kind == DocKind::Index`.
    pub index: NewDocument,
    /// In draft order; an element's position is its index here.
    pub elements: Vec<NewElement>,
    /// Participating entities (must already exist, see [`Store::upsert_entities`]).
    pub entity_codes: Vec<String>,
}

/// An element to create with its document.
#[derive(Clone, Debug)]
pub struct NewElement {
    pub id: String,
    pub label: String,
    /// Must have `kind == DocKind::Element`.
    pub doc: NewDocument,
}

/// A change delivered by a peer, with its attribution.
#[derive(Clone, Debug)]
pub struct NewChange {
    pub doc_id: String,
    pub hash: Vec<u8>,
    pub data: Vec<u8>,
    /// automerge-repo peer id of the delivering connection.
    pub peer_id: Option<String>,
    /// Server-local connection number of the delivering connection.
    pub conn_id: Option<i64>,
    /// Authenticated user, `None` until authentication exists.
    pub user_id: Option<String>,
    /// The user's entity, `None` until authentication exists.
    pub entity_code: Option<String>,
}

/// What a successful [`Store::commit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The batch's commit time (unix ms), the same for every change in it.
    pub committed_at: i64,
    /// Rows actually inserted: changes already stored are not counted.
    pub stored: usize,
}

/// Everything needed to rebuild a document in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDoc {
    /// The compacted `Automerge::save()`, if one was taken.
    pub snapshot: Option<Vec<u8>>,
    /// The snapshot covers every change with `seq <= snapshot_through` (0 without snapshot).
    pub snapshot_through: i64,
    /// The changes after the snapshot, in commit (seq) order.
    pub changes: Vec<Vec<u8>>,
    /// Highest seq of this document's changes (or `snapshot_through`).
    pub last_seq: i64,
}

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

/// One row for `INSERT INTO changes`.
struct ChangeRow<'a> {
    doc_id: &'a str,
    hash: &'a [u8],
    data: &'a [u8],
    peer_id: Option<&'a str>,
    conn_id: Option<i64>,
    user_id: Option<&'a str>,
    entity_code: Option<&'a str>,
}

/// Inserts `$rows` (a `&[ChangeRow]`) into `changes` within transaction
/// `$tx`, in chunks of multi-row INSERTs, skipping changes already stored.
/// Evaluates to the number of rows inserted.
macro_rules! insert_changes {
    ($tx:expr, $rows:expr, $now:expr) => {{
        let mut stored: u64 = 0;
        for chunk in $rows.chunks(CHANGES_PER_INSERT) {
            let mut qb = QueryBuilder::new(
                "INSERT INTO changes \
                 (doc_id, hash, data, peer_id, conn_id, user_id, entity_code, committed_at) ",
            );
            qb.push_values(chunk, |mut b, r: &ChangeRow<'_>| {
                b.push_bind(r.doc_id)
                    .push_bind(r.hash)
                    .push_bind(r.data)
                    .push_bind(r.peer_id)
                    .push_bind(r.conn_id)
                    .push_bind(r.user_id)
                    .push_bind(r.entity_code)
                    .push_bind($now);
            });
            qb.push(" ON CONFLICT (doc_id, hash) DO NOTHING");
            stored += qb.build().execute(&mut *$tx).await?.rows_affected();
        }
        stored
    }};
}

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
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let pool_options = if in_memory {
                    SqlitePoolOptions::new()
                        .max_connections(1)
                        .min_connections(1)
                        .idle_timeout(None)
                        .max_lifetime(None)
                } else {
                    SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS)
                };
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

    /// Applies the embedded migrations of this backend (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
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

    /// Commits a real write (the `heartbeat` row), so it fails whenever
    /// storage cannot commit. For `/readyz`.
    pub async fn check_health(&self) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO heartbeat (id, at) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET at = excluded.at",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Inserts or updates `entities`; their order here becomes their position.
    pub async fn upsert_entities(&self, entities: &[Entity]) -> Result<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for (position, e) in (0_i64..).zip(entities) {
                sqlx::query(
                    "INSERT INTO entities (code, name, position) VALUES ($1, $2, $3) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                     position = excluded.position",
                )
                .bind(&e.code)
                .bind(&e.name)
                .bind(position)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every entity, by position.
    pub async fn entities(&self) -> Result<Vec<Entity>> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT code, name FROM entities ORDER BY position, code")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(code, name)| Entity { code, name })
            .collect())
    }

    /// Creates a draft in one transaction: the draft, its participating
    /// entities, its index and element documents, its elements (position =
    /// index in `draft.elements`) and each document's initial changes.
    pub async fn create_draft(&self, draft: &NewDraft) -> Result<()> {
        let now = now_ms();
        let docs: Vec<&NewDocument> = std::iter::once(&draft.index)
            .chain(draft.elements.iter().map(|e| &e.doc))
            .collect();
        let changes: Vec<ChangeRow<'_>> = docs
            .iter()
            .flat_map(|d| {
                d.changes.iter().map(|c| ChangeRow {
                    doc_id: &d.id,
                    hash: &c.hash,
                    data: &c.data,
                    peer_id: None,
                    conn_id: None,
                    user_id: None,
                    entity_code: None,
                })
            })
            .collect();
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO drafts (id, title, preamble, index_doc, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&draft.id)
            .bind(&draft.title)
            .bind(&draft.preamble)
            .bind(&draft.index.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for code in &draft.entity_codes {
                sqlx::query("INSERT INTO draft_entities (draft_id, entity_code) VALUES ($1, $2)")
                    .bind(&draft.id)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            }
            for doc in &docs {
                sqlx::query(
                    "INSERT INTO documents (id, draft_id, kind, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&doc.id)
                .bind(&draft.id)
                .bind(doc.kind.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for (position, el) in (0_i64..).zip(&draft.elements) {
                sqlx::query(
                    "INSERT INTO elements (id, draft_id, position, label, doc_id) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&el.id)
                .bind(&draft.id)
                .bind(position)
                .bind(&el.label)
                .bind(&el.doc.id)
                .execute(&mut *tx)
                .await?;
            }
            insert_changes!(tx, changes, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every draft, oldest first.
    pub async fn drafts(&self) -> Result<Vec<DraftRow>> {
        let rows: Vec<(String, String, String, String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, title, preamble, index_doc, created_at FROM drafts \
                 ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(draft_row).collect())
    }

    /// One draft.
    pub async fn draft(&self, id: &str) -> Result<Option<DraftRow>> {
        let row: Option<(String, String, String, String, i64)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, title, preamble, index_doc, created_at FROM drafts WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(draft_row))
    }

    /// The draft's non-archived elements, by position.
    pub async fn elements(&self, draft_id: &str) -> Result<Vec<ElementRow>> {
        let rows: Vec<(String, String, i64, String, String, bool)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, draft_id, position, label, doc_id, archived FROM elements \
                 WHERE draft_id = $1 AND NOT archived ORDER BY position, id",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, draft_id, position, label, doc_id, archived)| ElementRow {
                    id,
                    draft_id,
                    position,
                    label,
                    doc_id,
                    archived,
                },
            )
            .collect())
    }

    /// The entities participating in a draft, by entity position.
    pub async fn draft_entities(&self, draft_id: &str) -> Result<Vec<Entity>> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT e.code, e.name FROM draft_entities de \
                 JOIN entities e ON e.code = de.entity_code \
                 WHERE de.draft_id = $1 ORDER BY e.position, e.code",
            )
            .bind(draft_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(code, name)| Entity { code, name })
            .collect())
    }

    /// One document the server created, `None` if unknown.
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRow>> {
        let row: Option<(String, String, String)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT id, draft_id, kind FROM documents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(id, draft_id, kind)| {
            Ok(DocumentRow {
                id,
                draft_id,
                kind: DocKind::parse(&kind)?,
            })
        })
        .transpose()
    }

    /// The document's snapshot, if any, and every change after it in seq
    /// order; `None` if the document is unknown.
    pub async fn load_document(&self, id: &str) -> Result<Option<StoredDoc>> {
        with_pool!(self, |pool| {
            // The snapshot is read before the changes: a snapshot saved in
            // between can only cover less than what the changes query returns.
            let mut tx = pool.begin().await?;
            let exists: Option<(String,)> =
                sqlx::query_as("SELECT id FROM documents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Ok(None);
            }
            let snapshot: Option<(Vec<u8>, i64)> =
                sqlx::query_as("SELECT data, through_seq FROM snapshots WHERE doc_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let through = snapshot.as_ref().map_or(0, |(_, t)| *t);
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, data FROM changes WHERE doc_id = $1 AND seq > $2 ORDER BY seq",
            )
            .bind(id)
            .bind(through)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let last_seq = rows.last().map_or(through, |(seq, _)| (*seq).max(through));
            Ok(Some(StoredDoc {
                snapshot: snapshot.map(|(data, _)| data),
                snapshot_through: through,
                changes: rows.into_iter().map(|(_, data)| data).collect(),
                last_seq,
            }))
        })
    }

    /// Commits a batch of changes, possibly of many documents, in ONE
    /// transaction (one fsync for the batch). A change already stored (same
    /// document and hash) is skipped, keeping its first attribution. Either
    /// the whole batch is stored or, on error, none of it.
    pub async fn commit(&self, changes: &[NewChange]) -> Result<CommitReceipt> {
        let now = now_ms();
        let mut seen = HashSet::with_capacity(changes.len());
        let rows: Vec<ChangeRow<'_>> = changes
            .iter()
            .filter(|c| seen.insert((c.doc_id.as_str(), c.hash.as_slice())))
            .map(|c| ChangeRow {
                doc_id: &c.doc_id,
                hash: &c.hash,
                data: &c.data,
                peer_id: c.peer_id.as_deref(),
                conn_id: c.conn_id,
                user_id: c.user_id.as_deref(),
                entity_code: c.entity_code.as_deref(),
            })
            .collect();
        if rows.is_empty() {
            return Ok(CommitReceipt {
                committed_at: now,
                stored: 0,
            });
        }
        let stored = with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let stored = insert_changes!(tx, rows, now);
            tx.commit().await?;
            stored
        });
        Ok(CommitReceipt {
            committed_at: now,
            stored: usize::try_from(stored).unwrap_or(usize::MAX),
        })
    }

    /// Stores the compacted document covering its changes with
    /// `seq <= through_seq`. Never replaces a snapshot that covers more.
    pub async fn save_snapshot(&self, doc_id: &str, data: &[u8], through_seq: i64) -> Result<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO snapshots (doc_id, data, through_seq, saved_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data, \
                 through_seq = excluded.through_seq, saved_at = excluded.saved_at \
                 WHERE snapshots.through_seq <= excluded.through_seq",
            )
            .bind(doc_id)
            .bind(data)
            .bind(through_seq)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// A value of the `meta` table.
    pub async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(v,)| v))
    }

    /// Sets a value of the `meta` table.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Highest seq among the document's stored changes, 0 if it has none
    /// (the `through_seq` of a snapshot of everything committed so far).
    pub async fn max_seq(&self, doc_id: &str) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// How many changes of the document are stored (tests, metrics).
    pub async fn changes_count(&self, doc_id: &str) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM changes WHERE doc_id = $1")
                .bind(doc_id)
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }
}

fn draft_row(
    (id, title, preamble, index_doc, created_at): (String, String, String, String, i64),
) -> DraftRow {
    DraftRow {
        id,
        title,
        preamble,
        index_doc,
        created_at,
    }
}
