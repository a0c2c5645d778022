//! Connecting, migrating, the health check and the `meta` table.

use super::*;

async fn migrate_twice(store: Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.drafts().await.unwrap().is_empty());
}
test_both_dbs!(migrate_twice, sqlite_migrate_twice, postgres_migrate_twice);

async fn backend_name(store: Store) {
    let expected = match store {
        Store::Sqlite(_) => "sqlite",
        Store::Postgres(_) => "postgres",
    };
    assert_eq!(store.backend_name(), expected);
}
test_both_dbs!(backend_name, sqlite_backend_name, postgres_backend_name);
async fn check_health_and_meta(store: Store) {
    store.check_health().await.unwrap();
    store.check_health().await.unwrap();
    assert_eq!(store.get_meta("actor").await.unwrap(), None);
    store.set_meta("actor", "abc").await.unwrap();
    store.set_meta("actor", "def").await.unwrap();
    assert_eq!(
        store.get_meta("actor").await.unwrap().as_deref(),
        Some("def")
    );
}
test_both_dbs!(
    check_health_and_meta,
    sqlite_check_health_and_meta,
    postgres_check_health_and_meta
);
async fn health_fails_when_storage_cannot_commit(store: Store) {
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_heartbeat BEFORE UPDATE ON heartbeat \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END; \
             CREATE TRIGGER fail_heartbeat_ins BEFORE INSERT ON heartbeat \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_heartbeat; DROP TRIGGER fail_heartbeat_ins;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_heartbeat() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_heartbeat BEFORE INSERT OR UPDATE ON heartbeat \
             FOR EACH ROW EXECUTE FUNCTION fail_heartbeat();",
            "DROP TRIGGER fail_heartbeat ON heartbeat; DROP FUNCTION fail_heartbeat();",
        ),
    };
    store.check_health().await.unwrap();
    exec_raw(&store, create).await;
    store.check_health().await.unwrap_err();
    exec_raw(&store, drop_trigger).await;
    store.check_health().await.unwrap();
}
test_both_dbs!(
    health_fails_when_storage_cannot_commit,
    sqlite_health_fails_when_storage_cannot_commit,
    postgres_health_fails_when_storage_cannot_commit
);

#[tokio::test]
async fn connect_rejects_unknown_scheme() {
    for url in ["mysql://localhost/db", "accord.db", "", "http://x"] {
        match Store::connect(url).await {
            Err(Error::InvalidUrl(msg)) => assert!(msg.contains("sqlite"), "{msg}"),
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn connect_in_memory_sqlite() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    store.check_health().await.unwrap();
    store.set_meta("k", "v").await.unwrap();
    assert_eq!(store.get_meta("k").await.unwrap().as_deref(), Some("v"));
}

#[tokio::test]
async fn sqlite_file_is_created_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub.db");
    let store = Store::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert!(path.exists());
    let Store::Sqlite(pool) = &store else {
        unreachable!()
    };
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (sync,): (i64,) = sqlx::query_as("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(sync, 2, "FULL");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    store.close().await;
}

#[tokio::test]
async fn postgres_synchronous_commit_is_on() {
    run_postgres(|store| async move {
        let Store::Postgres(pool) = &store else {
            unreachable!()
        };
        let (v,): (String,) = sqlx::query_as("SHOW synchronous_commit")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(v, "on");
        // Set by the store on connect, not merely the server's default.
        let (source,): (String,) =
            sqlx::query_as("SELECT source FROM pg_settings WHERE name = 'synchronous_commit'")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!(source, "client");
    })
    .await;
}

#[test]
fn url_with_database_replaces_the_path() {
    assert_eq!(
        url_with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        url_with_database("postgresql://u:p@h/test?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(url_with_database("postgres://h", "x"), "postgres://h/x");
}
