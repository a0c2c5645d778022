//! Operations: backups, the health check and the `meta` table.

use crate::{BeginWrite, Error, Result, Store, now_ms};

impl Store {
    /// Writes a consistent copy of the whole SQLite database to `path` while
    /// it is in use (`VACUUM INTO`: one read transaction, a compacted file).
    /// PostgreSQL installations back up with `pg_dump` instead
    /// (`Error::Invalid` here).
    pub async fn backup_to(&self, path: &str) -> Result<()> {
        match self {
            Store::Sqlite(pool) => {
                if std::path::Path::new(path).exists() {
                    return Err(Error::Conflict(format!("{path} exists: choose a new file")));
                }
                sqlx::query("VACUUM INTO $1")
                    .bind(path)
                    .execute(pool)
                    .await?;
                Ok(())
            }
            Store::Postgres(_) => Err(Error::Invalid(
                "back up PostgreSQL with pg_dump (see the README)".into(),
            )),
        }
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
}
