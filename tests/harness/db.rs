//! Databases: a fresh one of its own for each test, SQLite or PostgreSQL.

use std::path::PathBuf;

use sqlx::Connection;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test; removed when dropped.
pub struct Db {
    pub backend: Backend,
    url: String,
    _dir: Option<TempDir>,
    /// PostgreSQL: the admin URL and the database to drop.
    pg_cleanup: Option<(String, String)>,
}

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Runs `$body` with `$conn` bound to a fresh connection to the database
/// `$db`, whichever its backend, and closes the connection.
macro_rules! with_conn {
    ($db:expr, |$conn:ident| $body:expr) => {
        match $db.backend {
            Backend::Sqlite => {
                let mut $conn = sqlx::SqliteConnection::connect(&$db.url)
                    .await
                    .expect("opening the test's SQLite database");
                let result = $body;
                let _ = $conn.close().await;
                result
            }
            Backend::Postgres => {
                let mut $conn = sqlx::PgConnection::connect(&$db.url)
                    .await
                    .expect("opening the test's PostgreSQL database");
                let result = $body;
                let _ = $conn.close().await;
                result
            }
        }
    };
}

impl Db {
    /// A SQLite file in a fresh temporary folder (created by the server).
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let url = format!("sqlite://{}", dir.path().join("accord.db").display());
        Db {
            backend: Backend::Sqlite,
            url,
            _dir: Some(dir),
            pg_cleanup: None,
        }
    }

    /// An existing SQLite file (e.g. a restored backup); the caller owns it.
    pub fn sqlite_at(path: PathBuf) -> Db {
        Db {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            _dir: None,
            pg_cleanup: None,
        }
    }

    /// A fresh database `accord_it_<random>` on the test PostgreSQL server
    /// (`ACCORD_TEST_PG_URL`), dropped `WITH (FORCE)` when the test ends.
    pub async fn postgres() -> Db {
        let admin = std::env::var("ACCORD_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
        let name = format!("accord_it_{}", uuid::Uuid::new_v4().simple());
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(e) => panic!(
                "PostgreSQL is not reachable at {admin}: {e}\n\
                 Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                 (or point ACCORD_TEST_PG_URL at another server)"
            ),
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name} on {admin}: {e}"));
        let _ = conn.close().await;
        Db {
            backend: Backend::Postgres,
            url: with_database(&admin, &name),
            _dir: None,
            pg_cleanup: Some((admin, name)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this handle cleans nothing up: an [`alias`](Db::alias) of a
    /// database another test server uses, or a file the caller owns.
    pub fn is_alias(&self) -> bool {
        self.pg_cleanup.is_none() && self._dir.is_none()
    }

    /// The same database for a second server; the original cleans up.
    pub fn alias(&self) -> Db {
        Db {
            backend: self.backend,
            url: self.url.clone(),
            _dir: None,
            pg_cleanup: None,
        }
    }

    /// Runs SQL (possibly several statements) on this database from outside
    /// the server, e.g. to inject a storage failure.
    pub async fn execute(&self, sql: &str) {
        let result = with_conn!(self, |conn| sqlx::raw_sql(sqlx::AssertSqlSafe(
            sql.to_owned()
        ))
        .execute(&mut conn)
        .await
        .map(|_| ()));
        result.unwrap_or_else(|e| panic!("executing test SQL failed: {e}"));
    }

    /// One integer read from this database from outside the server.
    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        let result: Result<i64, sqlx::Error> = with_conn!(self, |conn| sqlx::query_scalar(
            sqlx::AssertSqlSafe(sql.to_owned())
        )
        .fetch_one(&mut conn)
        .await);
        result.unwrap_or_else(|e| panic!("reading test SQL failed: {e}"))
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg_cleanup.take() else {
            return;
        };
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building a runtime");
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("warning: could not drop the test database: {e}");
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}
