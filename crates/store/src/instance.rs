//! One `accord serve` per database, and one migration at a time.
//!
//! Two servers on one database would each believe they hold every change
//! of the documents they load (a snapshot records the database's highest
//! seq as covered) and would write with the same server actor, so until
//! several instances are supported `accord serve` holds an
//! [`InstanceLock`] for its whole lifetime, taken before it opens the
//! database:
//!
//! - SQLite: an exclusive OS lock (`flock`) on the file `DB.lock` beside
//!   the database file (`accord.db` → `accord.db.lock`), holding the
//!   server's process id. The operating system releases it when the
//!   process ends, however it ends; the file itself stays. An in-memory
//!   database belongs to its process and needs no lock.
//! - PostgreSQL: the session-level advisory lock [`PG_INSTANCE_LOCK_KEY`]
//!   (advisory locks are per database), held by a connection of its own,
//!   outside the pool. A watchdog pings it every second; when the
//!   connection is gone (PostgreSQL released the lock) it connects again
//!   and takes the lock again. Should another process hold it by then,
//!   [`InstanceLock::lost`] resolves, and the server stops at once.
//!
//! The administration commands do not take it: they work beside a running
//! server. Every process that opens and migrates a database serialises on
//! a second lock: SQLite's migrator takes none, so
//! [`Store::connect`](crate::Store) (a new file's switch to WAL) and
//! [`Store::migrate`](crate::Store) hold an exclusive lock on
//! `DB.migrate.lock`, waiting for it at most [`MIGRATION_LOCK_WAIT`];
//! sqlx's PostgreSQL migrator already holds an advisory lock of its own
//! (`pg_advisory_lock`, keyed by the database name) while it migrates.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// The PostgreSQL advisory lock that `accord serve` holds: "accord", 0, 1.
pub const PG_INSTANCE_LOCK_KEY: i64 = 0x6163_636f_7264_0001;
/// How long a process waits for another to finish migrating a SQLite file.
pub const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(120);
/// A server killed a moment ago may still hold its PostgreSQL lock until
/// its backend notices the closed socket: a new one retries this long.
const PG_GRACE: Duration = Duration::from_secs(3);
/// How often the watchdog checks the lock's connection.
const PG_HEARTBEAT: Duration = Duration::from_secs(1);
/// A ping or a connection attempt taking longer than this has failed.
const PG_TIMEOUT: Duration = Duration::from_secs(5);
const NOT_SUPPORTED: &str = "Several instances on one database are not supported yet.";

/// Held by `accord serve` from before it opens the database until it
/// exits: no other `accord serve` can start on the same database.
pub struct InstanceLock {
    held: Held,
    description: String,
}

enum Held {
    /// An in-memory SQLite database: nobody else can open it.
    Nothing,
    /// The locked `DB.lock` file (unlocked when closed).
    File { _file: File },
    Postgres {
        lost: watch::Receiver<Option<String>>,
        stop: Option<oneshot::Sender<()>>,
        watchdog: Option<JoinHandle<()>>,
    },
}

impl InstanceLock {
    /// Takes the instance lock of the database at `url` without touching
    /// the database itself, or fails with [`Error::Locked`] naming the
    /// holder when another `accord serve` runs on it.
    pub async fn acquire(url: &str) -> Result<InstanceLock> {
        match scheme(url) {
            "sqlite" => {
                if is_in_memory(url) {
                    return Ok(InstanceLock {
                        held: Held::Nothing,
                        description: "in-memory database, no lock".into(),
                    });
                }
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::InvalidUrl(format!("cannot parse SQLite URL: {e}")))?;
                let path = lock_path(options.get_filename(), "lock")?;
                let file = open_lock_file(&path)?;
                match file.try_lock() {
                    Ok(()) => {
                        write_pid(&file, &path)?;
                        Ok(InstanceLock {
                            held: Held::File { _file: file },
                            description: path.display().to_string(),
                        })
                    }
                    Err(TryLockError::WouldBlock) => Err(Error::Locked(format!(
                        "another `accord serve` is already running on this database \
                         ({url}; lock held on {}{}). {NOT_SUPPORTED}",
                        path.display(),
                        holder_pid(&path)
                            .map(|pid| format!(" by process {pid}"))
                            .unwrap_or_default()
                    ))),
                    Err(TryLockError::Error(e)) => Err(Error::Locked(format!(
                        "cannot lock {}: {e}",
                        path.display()
                    ))),
                }
            }
            "postgres" | "postgresql" => pg_acquire(url).await,
            other => Err(Error::InvalidUrl(format!(
                "unsupported scheme {other:?}: expected sqlite:PATH, sqlite://PATH, \
                 postgres://... or postgresql://..."
            ))),
        }
    }

    /// What is locked, for the log.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Resolves, with the reason, if the lock is lost for good: PostgreSQL
    /// dropped its connection and another process took it before this one
    /// could take it again. Never resolves for SQLite.
    pub fn lost(&self) -> impl Future<Output = String> + Send + 'static {
        let lost = match &self.held {
            Held::Postgres { lost, .. } => Some(lost.clone()),
            Held::Nothing | Held::File { .. } => None,
        };
        async move {
            if let Some(mut lost) = lost
                && let Ok(why) = lost.wait_for(Option::is_some).await
            {
                return why.clone().unwrap_or_default();
            }
            std::future::pending().await
        }
    }

    /// Releases the lock (closing its PostgreSQL connection cleanly).
    /// Dropping it releases it too.
    pub async fn release(mut self) {
        if let Held::Postgres {
            stop, watchdog: w, ..
        } = &mut self.held
        {
            if let Some(stop) = stop.take() {
                let _ = stop.send(());
            }
            if let Some(w) = w.take() {
                let _ = w.await;
            }
        }
    }
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        if let Held::Postgres {
            watchdog: Some(w), ..
        } = &self.held
        {
            w.abort();
        }
    }
}

/// The migration lock of the SQLite database at `url` (see
/// [`sqlite_migration_lock`]); none for an in-memory or temporary one.
pub(crate) async fn sqlite_url_migration_lock(url: &str) -> Result<Option<File>> {
    if is_in_memory(url) {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::InvalidUrl(format!("cannot parse SQLite URL: {e}")))?;
    if options.get_filename().as_os_str().is_empty() {
        return Ok(None);
    }
    Ok(Some(sqlite_migration_lock(options.get_filename()).await?))
}

/// Waits (at most [`MIGRATION_LOCK_WAIT`]) for the exclusive lock on the
/// migration lock file of the SQLite database file `db_file`, and returns
/// it: the lock is released when the file is dropped. Held while a process
/// opens the database (switching a new file to WAL takes an exclusive lock
/// that SQLite's busy timeout does not wait for) and while it migrates.
pub(crate) async fn sqlite_migration_lock(db_file: &Path) -> Result<File> {
    let path = lock_path(db_file, "migrate.lock")?;
    let file = open_lock_file(&path)?;
    let started = Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                write_pid(&file, &path)?;
                return Ok(file);
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(Error::Locked(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
        if started.elapsed() >= MIGRATION_LOCK_WAIT {
            return Err(Error::Locked(format!(
                "another process has been opening or migrating this database for over {} s \
                 (lock held on {}{}); try again when it is done",
                MIGRATION_LOCK_WAIT.as_secs(),
                path.display(),
                holder_pid(&path)
                    .map(|pid| format!(" by process {pid}"))
                    .unwrap_or_default()
            )));
        }
        if !said {
            said = true;
            tracing::info!(lock = %path.display(), "waiting for another process to finish migrating");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn scheme(url: &str) -> &str {
    url.split_once(':').map(|(s, _)| s).unwrap_or("")
}

/// Whether a SQLite URL names an in-memory database.
pub(crate) fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// `DB.suffix` beside the database file, with the folder's path resolved
/// (so every spelling of the database's path finds the same lock file).
fn lock_path(db_file: &Path, suffix: &str) -> Result<PathBuf> {
    let resolved = match std::fs::canonicalize(db_file) {
        Ok(path) => path,
        Err(_) => {
            let folder = match db_file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let folder = std::fs::canonicalize(folder).map_err(|e| {
                Error::Locked(format!(
                    "cannot find the database's folder {}: {e}",
                    folder.display()
                ))
            })?;
            let Some(name) = db_file.file_name() else {
                return Err(Error::InvalidUrl(format!(
                    "{} does not name a database file",
                    db_file.display()
                )));
            };
            folder.join(name)
        }
    };
    let mut path = OsString::from(resolved);
    path.push(".");
    path.push(suffix);
    Ok(PathBuf::from(path))
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::Locked(format!("cannot open the lock file {}: {e}", path.display())))
}

/// Records this process's id in the lock file it has locked.
fn write_pid(mut file: &File, path: &Path) -> Result<()> {
    file.set_len(0)
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(|e| {
            Error::Locked(format!(
                "cannot write the lock file {}: {e}",
                path.display()
            ))
        })
}

/// The process id a lock file records, if any.
fn holder_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

// ---------------------------------------------------------------------------
// PostgreSQL

/// Who holds the advisory lock: (backend pid, application name, client address).
type Holder = (i32, Option<String>, Option<String>);

async fn pg_acquire(url: &str) -> Result<InstanceLock> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| Error::InvalidUrl(format!("cannot parse PostgreSQL URL: {e}")))?
        .application_name(&format!("accord serve (pid {})", std::process::id()));
    let shown = pg_display(&options);
    let deadline = Instant::now() + PG_GRACE;
    let mut conn = options.connect().await?;
    loop {
        if pg_try_lock(&mut conn).await? {
            break;
        }
        if Instant::now() >= deadline {
            let holder = pg_holder(&mut conn).await?;
            let _ = conn.close().await;
            return Err(Error::Locked(format!(
                "another `accord serve` is already running on this database ({shown}; {}). \
                 {NOT_SUPPORTED}{}",
                describe_holder(holder.as_ref()),
                holder
                    .map(|(pid, ..)| format!(
                        " If that server is gone, end its session: SELECT pg_terminate_backend({pid});"
                    ))
                    .unwrap_or_default()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = pg_backend_pid(&mut conn).await?;
    let (lost_tx, lost) = watch::channel(None);
    let (stop, stopped) = oneshot::channel();
    let description = format!("{shown}, advisory lock {PG_INSTANCE_LOCK_KEY:#x} (backend {pid})");
    let watchdog = tokio::spawn(pg_watchdog(options, conn, pid, shown, lost_tx, stopped));
    Ok(InstanceLock {
        held: Held::Postgres {
            lost,
            stop: Some(stop),
            watchdog: Some(watchdog),
        },
        description,
    })
}

/// Keeps the lock: pings its connection every [`PG_HEARTBEAT`]; when the
/// connection is gone, takes the lock again on a new one. Reports on
/// `lost_tx` and ends if another process took it meanwhile.
async fn pg_watchdog(
    options: PgConnectOptions,
    mut conn: PgConnection,
    mut pid: i32,
    shown: String,
    lost_tx: watch::Sender<Option<String>>,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stopped => {
                let _ = conn.close().await;
                return;
            }
            () = tokio::time::sleep(PG_HEARTBEAT) => {}
        }
        if let Ok(Ok(())) = tokio::time::timeout(PG_TIMEOUT, conn.ping()).await {
            continue;
        }
        tracing::warn!(
            database = %shown,
            "the connection holding the instance lock is gone; taking the lock again"
        );
        let mut warned_stale = false;
        loop {
            match pg_retake(&options, pid).await {
                Ok(Retake::Taken(new_conn, new_pid)) => {
                    tracing::info!(database = %shown, backend = new_pid, "took the instance lock again");
                    conn = new_conn;
                    pid = new_pid;
                    break;
                }
                Ok(Retake::Other(holder)) => {
                    let why = format!(
                        "another process took the instance lock of this database \
                         ({shown}; {}) while this server's lock connection was down: \
                         stopping at once, without writing snapshots (every acknowledged \
                         change is committed). {NOT_SUPPORTED}",
                        describe_holder(Some(&holder))
                    );
                    let _ = lost_tx.send(Some(why));
                    return;
                }
                Ok(Retake::StillOurs) => {
                    if !warned_stale {
                        warned_stale = true;
                        tracing::warn!(
                            database = %shown,
                            backend = pid,
                            "PostgreSQL still holds the instance lock for this server's old \
                             session; waiting for it to end"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(database = %shown, error = %e, "cannot take the instance lock again yet");
                }
            }
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(PG_HEARTBEAT) => {}
            }
        }
    }
}

enum Retake {
    Taken(PgConnection, i32),
    /// Still held by this server's former session (PostgreSQL has not
    /// noticed its end yet): nobody else can hold it meanwhile.
    StillOurs,
    Other(Holder),
}

async fn pg_retake(options: &PgConnectOptions, old_pid: i32) -> Result<Retake> {
    let mut conn = tokio::time::timeout(PG_TIMEOUT, options.connect())
        .await
        .map_err(|_| Error::Locked("connecting timed out".into()))??;
    if pg_try_lock(&mut conn).await? {
        let pid = pg_backend_pid(&mut conn).await?;
        return Ok(Retake::Taken(conn, pid));
    }
    let holder = pg_holder(&mut conn).await?;
    let _ = conn.close().await;
    Ok(match holder {
        Some(holder) if holder.0 != old_pid => Retake::Other(holder),
        // Held by our old session, or released just now: try again.
        _ => Retake::StillOurs,
    })
}

async fn pg_try_lock(conn: &mut PgConnection) -> Result<bool> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(PG_INSTANCE_LOCK_KEY)
        .fetch_one(conn)
        .await?)
}

async fn pg_backend_pid(conn: &mut PgConnection) -> Result<i32> {
    Ok(sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await?)
}

/// The session holding the instance lock of the current database, if any.
async fn pg_holder(conn: &mut PgConnection) -> Result<Option<Holder>> {
    // A bigint key is stored as classid (high half), objid (low half), objsubid 1.
    let key = PG_INSTANCE_LOCK_KEY as u64;
    Ok(sqlx::query_as(
        "SELECT l.pid, a.application_name, host(a.client_addr) \
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
         AND l.classid::bigint = $1 AND l.objid::bigint = $2 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind((key >> 32) as i64)
    .bind((key & 0xffff_ffff) as i64)
    .fetch_optional(conn)
    .await?)
}

fn describe_holder(holder: Option<&Holder>) -> String {
    match holder {
        None => format!("advisory lock {PG_INSTANCE_LOCK_KEY:#x} held"),
        Some((pid, app, addr)) => {
            let mut s = format!("advisory lock {PG_INSTANCE_LOCK_KEY:#x} held by backend {pid}");
            if let Some(app) = app.as_deref().filter(|a| !a.is_empty()) {
                s.push_str(&format!(", {app}"));
            }
            if let Some(addr) = addr {
                s.push_str(&format!(" from {addr}"));
            }
            s
        }
    }
}

/// The database a PostgreSQL URL names, without its password.
fn pg_display(options: &PgConnectOptions) -> String {
    format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    )
}
