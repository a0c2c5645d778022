//! Store tests. Each runs against a fresh SQLite file always, and against a
//! fresh PostgreSQL database (`ACCORD_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): a PostgreSQL that cannot be
//! reached fails those tests, it does not skip them.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;

use super::*;
use crate::changes::{DocBatch, InsertedChange, UserRun, batch_history};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Writes each test once and runs it on both backends, like zed's
/// `test_both_dbs!`: `test_both_dbs!(body_fn, sqlite_test, postgres_test);`
/// where `async fn body_fn(store: Store)`.
macro_rules! test_both_dbs {
    ($body:ident, $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            run_sqlite($body).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            run_postgres($body).await;
        }
    };
}

async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("accord.db").display());
    let store = Store::connect(&url).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    let result = tokio::spawn(body(store.clone())).await;
    store.close().await;
    drop(dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var("ACCORD_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
    // A single direct connection: a server that is down fails at once with the real cause.
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL tests need a server at {base} (set ACCORD_TEST_PG_URL, or start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`): {e}"
        )
    });
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!(
        "accord_test_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");

    let url = url_with_database(&base, &name);
    let result = async {
        let store = Store::connect(&url).await.expect("open PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        let result = tokio::spawn(body(store.clone())).await;
        store.close().await;
        result
    }
    .await;

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop test database");
    admin.close().await.expect("close admin connection");
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `base` with its database (the URL path) replaced by `name`.
fn url_with_database(base: &str, name: &str) -> String {
    let (before_query, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let scheme_end = before_query.find("://").map_or(0, |i| i + 3);
    let host_end = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |i| scheme_end + i);
    let mut url = format!("{}/{}", &before_query[..host_end], name);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Runs backend-specific SQL (possibly several statements) on the test store.
async fn exec_raw(store: &Store, sql: &str) {
    let safe = sqlx::AssertSqlSafe(sql.to_owned());
    match store {
        Store::Sqlite(pool) => sqlx::raw_sql(safe).execute(pool).await.map(drop),
        Store::Postgres(pool) => sqlx::raw_sql(safe).execute(pool).await.map(drop),
    }
    .unwrap_or_else(|e| panic!("raw SQL failed: {e}\n{sql}"));
}

fn change(hash: &str, data: &str) -> NewChangeData {
    NewChangeData {
        hash: hash.as_bytes().to_vec(),
        data: data.as_bytes().to_vec(),
    }
}

fn delivered(doc: &str, hash: &str, data: &str, user: &str, conn: i64) -> NewChange {
    NewChange {
        doc_id: doc.into(),
        hash: hash.as_bytes().to_vec(),
        data: data.as_bytes().to_vec(),
        actor: format!("actor-{user}").into_bytes(),
        peer_id: Some(format!("peer-{user}")),
        conn_id: Some(conn),
        user_id: Some(user.into()),
        entity_code: Some("EU".into()),
        inserted: None,
        deleted: None,
        heads_after: None,
    }
}

fn entities() -> Vec<Entity> {
    [
        ("US", "United States"),
        ("EU", "European Union"),
        ("G77", "Group of 77"),
    ]
    .into_iter()
    .map(|(code, name)| Entity {
        code: code.into(),
        name: name.into(),
    })
    .collect()
}

/// A draft with an index document and elements `el-0`..`el-{n-1}` whose
/// documents are `doc-el-0`..; every document has two initial changes.
fn new_draft(id: &str, n: usize) -> NewDraft {
    let doc = |doc_id: String, kind| NewDocument {
        changes: vec![
            change(&format!("{doc_id}-h1"), &format!("{doc_id}-c1")),
            change(&format!("{doc_id}-h2"), &format!("{doc_id}-c2")),
        ],
        id: doc_id,
        kind,
    };
    NewDraft {
        id: id.into(),
        title: format!("Title of {id}"),
        preamble: "Recalling...".into(),
        index: doc(format!("{id}-index"), DocKind::Index),
        elements: (0..n)
            .map(|i| NewElement {
                id: format!("{id}-el-{i}"),
                label: format!("OP{}", i + 1),
                doc: doc(format!("{id}-doc-el-{i}"), DocKind::Element),
            })
            .collect(),
        entity_codes: vec!["G77".into(), "US".into()],
    }
}

/// Reads `(hash, data, user_id, conn_id)` of a document's changes in seq order.
async fn attribution(store: &Store, doc: &str) -> Vec<(Vec<u8>, Option<String>, Option<i64>)> {
    const SQL: &str = "SELECT hash, user_id, conn_id FROM changes WHERE doc_id = $1 ORDER BY seq";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(SQL).bind(doc).fetch_all(pool).await,
        Store::Postgres(pool) => sqlx::query_as(SQL).bind(doc).fetch_all(pool).await,
    }
    .unwrap()
}

async fn setup_draft(store: &Store) -> NewDraft {
    store.upsert_entities(&entities()).await.unwrap();
    let draft = new_draft("d1", 3);
    store.create_draft(&draft).await.unwrap();
    draft
}

fn bytes(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

// ---------------------------------------------------------------------------

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

async fn entities_upsert_keeps_order(store: Store) {
    store.upsert_entities(&entities()).await.unwrap();
    assert_eq!(store.entities().await.unwrap(), entities());
    // Re-upsert in another order, with a renamed entity: the new order wins.
    let mut reordered = entities();
    reordered.reverse();
    reordered[0].name = "G-77 and China".into();
    store.upsert_entities(&reordered).await.unwrap();
    assert_eq!(store.entities().await.unwrap(), reordered);
}
test_both_dbs!(
    entities_upsert_keeps_order,
    sqlite_entities_upsert_keeps_order,
    postgres_entities_upsert_keeps_order
);

async fn create_draft_reads_back(store: Store) {
    let draft = setup_draft(&store).await;
    let second = new_draft("d2", 1);
    store.create_draft(&second).await.unwrap();

    let drafts = store.drafts().await.unwrap();
    assert_eq!(
        drafts.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    let d1 = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(d1.title, "Title of d1");
    assert_eq!(d1.preamble, "Recalling...");
    assert_eq!(d1.index_doc, "d1-index");
    assert!(d1.created_at > 1_600_000_000_000, "unix ms");
    assert_eq!(store.draft("nope").await.unwrap(), None);

    let elements = store.elements("d1").await.unwrap();
    assert_eq!(elements.len(), 3);
    for (i, el) in elements.iter().enumerate() {
        assert_eq!(
            el,
            &ElementRow {
                id: format!("d1-el-{i}"),
                draft_id: "d1".into(),
                position: i as i64,
                label: format!("OP{}", i + 1),
                doc_id: draft.elements[i].doc.id.clone(),
                archived: false,
            }
        );
    }
    // Participants come back in entity (scenario) order, not insertion order.
    let participants = store.draft_entities("d1").await.unwrap();
    assert_eq!(
        participants
            .iter()
            .map(|e| e.code.as_str())
            .collect::<Vec<_>>(),
        ["US", "G77"]
    );

    assert_eq!(
        store.document("d1-index").await.unwrap(),
        Some(DocumentRow {
            id: "d1-index".into(),
            draft_id: "d1".into(),
            kind: DocKind::Index
        })
    );
    assert_eq!(
        store.document("d1-doc-el-2").await.unwrap().unwrap().kind,
        DocKind::Element
    );
    assert_eq!(store.document("nope").await.unwrap(), None);
}
test_both_dbs!(
    create_draft_reads_back,
    sqlite_create_draft_reads_back,
    postgres_create_draft_reads_back
);

async fn create_draft_is_atomic(store: Store) {
    store.upsert_entities(&entities()).await.unwrap();
    let mut bad = new_draft("d1", 2);
    bad.entity_codes.push("UNKNOWN".into()); // foreign key violation
    store.create_draft(&bad).await.unwrap_err();
    assert_eq!(store.draft("d1").await.unwrap(), None);
    assert_eq!(store.document("d1-index").await.unwrap(), None);
    assert_eq!(store.changes_count("d1-index").await.unwrap(), 0);
    // The same draft without the bad participant is created.
    bad.entity_codes.pop();
    store.create_draft(&bad).await.unwrap();
    assert_eq!(store.elements("d1").await.unwrap().len(), 2);
}
test_both_dbs!(
    create_draft_is_atomic,
    sqlite_create_draft_is_atomic,
    postgres_create_draft_is_atomic
);

async fn load_document_returns_initial_changes(store: Store) {
    setup_draft(&store).await;
    let doc = store.load_document("d1-doc-el-1").await.unwrap().unwrap();
    assert_eq!(doc.snapshot, None);
    assert_eq!(doc.snapshot_through, 0);
    assert_eq!(
        doc.changes,
        [bytes("d1-doc-el-1-c1"), bytes("d1-doc-el-1-c2")]
    );
    assert!(doc.last_seq > 0);
    assert_eq!(store.max_seq("d1-doc-el-1").await.unwrap(), doc.last_seq);
    assert_eq!(store.max_seq("nope").await.unwrap(), 0);
    // The server's own changes carry no attribution.
    assert_eq!(
        attribution(&store, "d1-doc-el-1").await,
        [
            (bytes("d1-doc-el-1-h1"), None, None),
            (bytes("d1-doc-el-1-h2"), None, None)
        ]
    );
    assert_eq!(store.load_document("nope").await.unwrap(), None);
}
test_both_dbs!(
    load_document_returns_initial_changes,
    sqlite_load_document_returns_initial_changes,
    postgres_load_document_returns_initial_changes
);

async fn commit_is_idempotent_and_keeps_first_attribution(store: Store) {
    setup_draft(&store).await;
    let (a, b) = ("d1-doc-el-0", "d1-index");
    let batch = vec![
        delivered(a, "a1", "A1", "alice", 1),
        delivered(b, "b1", "B1", "alice", 1),
        delivered(a, "a2", "A2", "bob", 2),
        delivered(a, "a1", "A1", "bob", 2), // the same change twice in one batch
    ];
    let receipt = store.commit(&batch).await.unwrap();
    assert_eq!(receipt.stored, 3);
    assert!(receipt.committed_at > 1_600_000_000_000);
    assert_eq!(store.changes_count(a).await.unwrap(), 4);
    assert_eq!(store.changes_count(b).await.unwrap(), 3);

    // Another peer offers the same changes again: nothing is stored twice.
    let again: Vec<NewChange> = batch
        .iter()
        .map(|c| NewChange {
            user_id: Some("carol".into()),
            conn_id: Some(3),
            ..c.clone()
        })
        .collect();
    assert_eq!(store.commit(&again).await.unwrap().stored, 0);
    assert_eq!(store.changes_count(a).await.unwrap(), 4);
    assert_eq!(store.changes_count(b).await.unwrap(), 3);
    let attributed = attribution(&store, a).await;
    assert_eq!(
        attributed[2..],
        [
            (bytes("a1"), Some("alice".into()), Some(1)),
            (bytes("a2"), Some("bob".into()), Some(2)),
        ]
    );

    // Loading returns the changes in commit order.
    let doc = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(
        doc.changes,
        [
            bytes("d1-doc-el-0-c1"),
            bytes("d1-doc-el-0-c2"),
            bytes("A1"),
            bytes("A2")
        ]
    );
    // An empty batch is fine.
    assert_eq!(store.commit(&[]).await.unwrap().stored, 0);
}
test_both_dbs!(
    commit_is_idempotent_and_keeps_first_attribution,
    sqlite_commit_is_idempotent_and_keeps_first_attribution,
    postgres_commit_is_idempotent_and_keeps_first_attribution
);

async fn commit_large_batch(store: Store) {
    setup_draft(&store).await;
    // More rows than one multi-row INSERT holds.
    let batch: Vec<NewChange> = (0..CHANGES_PER_INSERT * 2 + 7)
        .map(|i| {
            let doc = if i % 2 == 0 {
                "d1-doc-el-0"
            } else {
                "d1-doc-el-1"
            };
            delivered(doc, &format!("h{i}"), &format!("c{i}"), "alice", 1)
        })
        .collect();
    let receipt = store.commit(&batch).await.unwrap();
    assert_eq!(receipt.stored, batch.len());
    let doc = store.load_document("d1-doc-el-1").await.unwrap().unwrap();
    let expected: Vec<Vec<u8>> = ["d1-doc-el-1-c1".to_string(), "d1-doc-el-1-c2".to_string()]
        .into_iter()
        .chain(
            (0..batch.len())
                .filter(|i| i % 2 == 1)
                .map(|i| format!("c{i}")),
        )
        .map(|s| s.into_bytes())
        .collect();
    assert_eq!(doc.changes, expected);
}
test_both_dbs!(
    commit_large_batch,
    sqlite_commit_large_batch,
    postgres_commit_large_batch
);

async fn snapshot_then_later_changes(store: Store) {
    setup_draft(&store).await;
    let a = "d1-doc-el-0";
    store
        .commit(&[delivered(a, "a1", "A1", "alice", 1)])
        .await
        .unwrap();
    let before = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(before.changes.len(), 3);
    store
        .save_snapshot(a, b"SNAPSHOT-1", before.last_seq)
        .await
        .unwrap();
    store
        .commit(&[
            delivered(a, "a2", "A2", "bob", 2),
            delivered(a, "a3", "A3", "bob", 2),
        ])
        .await
        .unwrap();

    let doc = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(doc.snapshot.as_deref(), Some(&b"SNAPSHOT-1"[..]));
    assert_eq!(doc.snapshot_through, before.last_seq);
    assert_eq!(doc.changes, [bytes("A2"), bytes("A3")]);
    assert!(doc.last_seq > before.last_seq);

    // A newer snapshot replaces it; an older one never moves it back.
    store
        .save_snapshot(a, b"SNAPSHOT-2", doc.last_seq)
        .await
        .unwrap();
    store
        .save_snapshot(a, b"STALE", before.last_seq)
        .await
        .unwrap();
    let doc2 = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(doc2.snapshot.as_deref(), Some(&b"SNAPSHOT-2"[..]));
    assert_eq!(doc2.snapshot_through, doc.last_seq);
    assert!(doc2.changes.is_empty());
    assert_eq!(doc2.last_seq, doc.last_seq);
    // Changes are never deleted.
    assert_eq!(store.changes_count(a).await.unwrap(), 5);
}
test_both_dbs!(
    snapshot_then_later_changes,
    sqlite_snapshot_then_later_changes,
    postgres_snapshot_then_later_changes
);

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

async fn failed_commit_stores_nothing(store: Store) {
    setup_draft(&store).await;
    let (a, b) = ("d1-doc-el-0", "d1-doc-el-1");
    let batch = vec![
        delivered(a, "a1", "A1", "alice", 1),
        delivered(b, "b1", "B1", "bob", 2),
    ];
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_changes BEFORE INSERT ON changes \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_changes;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_changes() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_changes BEFORE INSERT ON changes \
             FOR EACH ROW EXECUTE FUNCTION fail_changes();",
            "DROP TRIGGER fail_changes ON changes; DROP FUNCTION fail_changes();",
        ),
    };
    exec_raw(&store, create).await;

    let err = store.commit(&batch).await.unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err:?}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.changes_count(a).await.unwrap(), 2);
    assert_eq!(store.changes_count(b).await.unwrap(), 2);
    assert_eq!(
        store.load_document(a).await.unwrap().unwrap().changes.len(),
        2
    );
    // Health still works: only inserts into `changes` fail.
    store.check_health().await.unwrap();

    exec_raw(&store, drop_trigger).await;
    assert_eq!(store.commit(&batch).await.unwrap().stored, 2);
    assert_eq!(store.changes_count(a).await.unwrap(), 3);
    assert_eq!(store.changes_count(b).await.unwrap(), 3);
    assert_eq!(
        attribution(&store, b).await[2],
        (bytes("b1"), Some("bob".into()), Some(2))
    );
}
test_both_dbs!(
    failed_commit_stores_nothing,
    sqlite_failed_commit_stores_nothing,
    postgres_failed_commit_stores_nothing
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

async fn concurrent_commits(store: Store) {
    setup_draft(&store).await;
    // Many writers at once: SQLite's single writer queues them (BEGIN
    // IMMEDIATE + busy timeout) instead of failing with SQLITE_BUSY.
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let doc = format!("d1-doc-el-{}", t % 3);
                    let c = delivered(&doc, &format!("t{t}-{i}"), "x", "alice", t);
                    assert_eq!(store.commit(&[c]).await.unwrap().stored, 1);
                    store.load_document(&doc).await.unwrap().unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut sum = 0;
    for i in 0..3 {
        sum += store
            .changes_count(&format!("d1-doc-el-{i}"))
            .await
            .unwrap();
    }
    assert_eq!(sum, 3 * 2 + 8 * 20);
}
test_both_dbs!(
    concurrent_commits,
    sqlite_concurrent_commits,
    postgres_concurrent_commits
);

// --- Users, invites, sessions ------------------------------------------------

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn new_user(id: &str, name: &str, role: Role, entity: Option<&str>) -> NewUser {
    NewUser {
        id: id.into(),
        name: name.into(),
        role,
        entity_code: entity.map(Into::into),
    }
}

fn new_session(token: &str, now: i64) -> NewSession {
    NewSession {
        token_hash: token.into(),
        expires_at: now + HOUR,
        max_expires_at: now + DAY,
    }
}

/// Entities plus a delegate `u-bob` ("Bob", EU); returns Bob.
async fn setup_bob(store: &Store) -> UserRow {
    store.upsert_entities(&entities()).await.unwrap();
    store
        .add_user(&new_user("u-bob", "Bob", Role::Delegate, Some("EU")))
        .await
        .unwrap()
}

#[test]
fn role_and_invite_kind_round_trip() {
    for role in [Role::Chair, Role::Delegate, Role::Reviewer] {
        assert_eq!(Role::parse(role.as_str()), Some(role));
    }
    assert_eq!(Role::parse("admin"), None);
    for kind in [InviteKind::Invite, InviteKind::Device] {
        assert_eq!(InviteKind::parse(kind.as_str()), Some(kind));
    }
}

async fn users_add_list_get(store: Store) {
    let bob = setup_bob(&store).await;
    assert_eq!(
        bob,
        UserRow {
            id: "u-bob".into(),
            name: "Bob".into(),
            role: Role::Delegate,
            entity_code: Some("EU".into()),
            disabled: false,
            created_at: bob.created_at,
        }
    );
    assert!(bob.created_at > 1_600_000_000_000, "unix ms");
    let chair = store
        .add_user(&new_user("u-chair", "Chair", Role::Chair, None))
        .await
        .unwrap();
    let ann = store
        .add_user(&new_user("u-ann", "Ann", Role::Reviewer, None))
        .await
        .unwrap();
    assert_eq!(
        store.users().await.unwrap(),
        [ann.clone(), bob.clone(), chair.clone()]
    );
    assert_eq!(store.user("u-bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(store.user_by_name("Chair").await.unwrap(), Some(chair));
    assert_eq!(store.user("Bob").await.unwrap(), None);
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);

    // A taken name or id.
    match store
        .add_user(&new_user("u-bob2", "Bob", Role::Reviewer, None))
        .await
    {
        Err(Error::Conflict(msg)) => assert!(msg.contains("Bob"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    match store
        .add_user(&new_user("u-bob", "Robert", Role::Reviewer, None))
        .await
    {
        Err(Error::Conflict(msg)) => assert!(msg.contains("u-bob"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    // A delegate needs an existing entity.
    match store
        .add_user(&new_user("u-eve", "Eve", Role::Delegate, None))
        .await
    {
        Err(Error::Invalid(msg)) => assert!(msg.contains("entity"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match store
        .add_user(&new_user("u-eve", "Eve", Role::Delegate, Some("XX")))
        .await
    {
        Err(Error::Invalid(msg)) => assert!(msg.contains("XX"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    // Nothing was written by the failures.
    assert_eq!(store.users().await.unwrap().len(), 3);
    assert_eq!(store.user("u-eve").await.unwrap(), None);
}
test_both_dbs!(
    users_add_list_get,
    sqlite_users_add_list_get,
    postgres_users_add_list_get
);

async fn invites_redeem(store: Store) {
    let bob = setup_bob(&store).await;
    let now = now_ms();

    // Redeemed once; a second redeem is refused and opens no session.
    store
        .create_invite("u-bob", "inv-1", InviteKind::Invite, now + HOUR)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_invite("inv-1", &new_session("s-1", now), now)
            .await
            .unwrap(),
        Redeemed::Ok(bob.clone())
    );
    assert_eq!(
        store
            .redeem_invite("inv-1", &new_session("s-2", now), now + 1)
            .await
            .unwrap(),
        Redeemed::Used
    );
    assert_eq!(store.session("s-1", now).await.unwrap().unwrap().user, bob);
    assert_eq!(store.session("s-2", now).await.unwrap(), None);

    // Expired: expires_at must be after now.
    store
        .create_invite("u-bob", "inv-2", InviteKind::Device, now + 1000)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_invite("inv-2", &new_session("s-3", now), now + 1000)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    assert_eq!(store.session("s-3", now).await.unwrap(), None);

    assert_eq!(
        store
            .redeem_invite("nope", &new_session("s-4", now), now)
            .await
            .unwrap(),
        Redeemed::Unknown
    );

    // Disabling revokes unused invites; invites of a disabled user are refused.
    store
        .create_invite("u-bob", "inv-3", InviteKind::Device, now + HOUR)
        .await
        .unwrap();
    assert!(store.set_user_disabled("Bob", true).await.unwrap());
    assert!(store.user("u-bob").await.unwrap().unwrap().disabled);
    assert_eq!(
        store
            .redeem_invite("inv-3", &new_session("s-5", now), now)
            .await
            .unwrap(),
        Redeemed::Disabled
    );
    store
        .create_invite("u-bob", "inv-4", InviteKind::Device, now + HOUR)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_invite("inv-4", &new_session("s-6", now), now)
            .await
            .unwrap(),
        Redeemed::Disabled
    );
    // Re-enabled: the invite created while disabled works, the revoked one stays dead.
    assert!(store.set_user_disabled("Bob", false).await.unwrap());
    let later = now_ms() + 1;
    assert_eq!(
        store
            .redeem_invite("inv-3", &new_session("s-7", later), later)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    let bob_enabled = store.user("u-bob").await.unwrap().unwrap();
    assert!(!bob_enabled.disabled);
    assert_eq!(
        store
            .redeem_invite("inv-4", &new_session("s-8", later), later)
            .await
            .unwrap(),
        Redeemed::Ok(bob_enabled)
    );
    assert!(!store.set_user_disabled("nobody", true).await.unwrap());

    // Unknown user, reused token hash.
    assert!(matches!(
        store
            .create_invite("u-nobody", "inv-5", InviteKind::Invite, now + HOUR)
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store
            .create_invite("u-bob", "inv-1", InviteKind::Invite, now + HOUR)
            .await,
        Err(Error::Conflict(_))
    ));
}
test_both_dbs!(
    invites_redeem,
    sqlite_invites_redeem,
    postgres_invites_redeem
);

async fn concurrent_redeem_succeeds_once(store: Store) {
    setup_bob(&store).await;
    let now = now_ms();
    for round in 0..5 {
        let invite = format!("inv-{round}");
        store
            .create_invite("u-bob", &invite, InviteKind::Invite, now + HOUR)
            .await
            .unwrap();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|t| {
                let (store, barrier, invite) = (store.clone(), barrier.clone(), invite.clone());
                tokio::spawn(async move {
                    let session = new_session(&format!("s-{round}-{t}"), now);
                    barrier.wait().await;
                    store.redeem_invite(&invite, &session, now).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let ok = outcomes
            .iter()
            .filter(|r| matches!(r, Redeemed::Ok(_)))
            .count();
        assert_eq!(ok, 1, "{outcomes:?}");
        assert!(outcomes.contains(&Redeemed::Used), "{outcomes:?}");
        let mut live = 0;
        for t in 0..2 {
            let session = store.session(&format!("s-{round}-{t}"), now).await;
            live += usize::from(session.unwrap().is_some());
        }
        assert_eq!(live, 1, "exactly one session opened");
    }
}
test_both_dbs!(
    concurrent_redeem_succeeds_once,
    sqlite_concurrent_redeem_succeeds_once,
    postgres_concurrent_redeem_succeeds_once
);

async fn sessions_expire_revoke_and_follow_disabling(store: Store) {
    let bob = setup_bob(&store).await;
    let now = now_ms();
    for (invite, session) in [("inv-1", "s-1"), ("inv-2", "s-2")] {
        store
            .create_invite("u-bob", invite, InviteKind::Device, now + HOUR)
            .await
            .unwrap();
        let redeemed = store
            .redeem_invite(invite, &new_session(session, now), now)
            .await
            .unwrap();
        assert_eq!(redeemed, Redeemed::Ok(bob.clone()));
    }
    assert_eq!(
        store.session("s-1", now).await.unwrap(),
        Some(SessionRow {
            token_hash: "s-1".into(),
            user: bob.clone(),
            created_at: now,
            last_seen: now,
            expires_at: now + HOUR,
            max_expires_at: now + DAY,
        })
    );
    // Expiry: live while expires_at > now.
    assert!(
        store
            .session("s-1", now + HOUR - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.session("s-1", now + HOUR).await.unwrap(), None);
    assert_eq!(store.session("unknown", now).await.unwrap(), None);

    // Touching slides the expiry, never beyond max_expires_at.
    store
        .touch_session("s-1", now + 10, now + 2 * HOUR)
        .await
        .unwrap();
    let touched = store.session("s-1", now + HOUR).await.unwrap().unwrap();
    assert_eq!(
        (touched.created_at, touched.last_seen, touched.expires_at),
        (now, now + 10, now + 2 * HOUR)
    );
    store
        .touch_session("s-1", now + 20, now + 2 * DAY)
        .await
        .unwrap();
    let capped = store.session("s-1", now + 30).await.unwrap().unwrap();
    assert_eq!((capped.last_seen, capped.expires_at), (now + 20, now + DAY));
    assert_eq!(store.session("s-1", now + DAY).await.unwrap(), None);

    // Revocation is final: touching does not revive it.
    store.revoke_session("s-1", now + 40).await.unwrap();
    assert_eq!(store.session("s-1", now + 50).await.unwrap(), None);
    store
        .touch_session("s-1", now + 60, now + 3 * HOUR)
        .await
        .unwrap();
    assert_eq!(store.session("s-1", now + 70).await.unwrap(), None);
    assert!(store.session("s-2", now + 70).await.unwrap().is_some());

    // A disabled user has no live session, even one not (yet) revoked.
    let flag = |on: bool| format!("UPDATE users SET disabled = {on} WHERE id = 'u-bob'");
    exec_raw(&store, &flag(true)).await;
    assert_eq!(store.session("s-2", now).await.unwrap(), None);
    exec_raw(&store, &flag(false)).await;
    assert!(store.session("s-2", now).await.unwrap().is_some());
    // Disabling through the store revokes: re-enabling does not bring it back.
    assert!(store.set_user_disabled("Bob", true).await.unwrap());
    assert_eq!(store.session("s-2", now).await.unwrap(), None);
    assert!(store.set_user_disabled("Bob", false).await.unwrap());
    assert_eq!(store.session("s-2", now).await.unwrap(), None);
}
test_both_dbs!(
    sessions_expire_revoke_and_follow_disabling,
    sqlite_sessions_expire_revoke_and_follow_disabling,
    postgres_sessions_expire_revoke_and_follow_disabling
);

// --- Actor ownership ---------------------------------------------------------

async fn sorted_owners(store: &Store) -> Vec<(Vec<u8>, String)> {
    let mut owners = store.actor_owners().await.unwrap();
    owners.sort();
    owners
}

fn owner(actor: &str, user: &str) -> (Vec<u8>, String) {
    (bytes(actor), user.into())
}

async fn commit_records_actor_owners(store: Store) {
    setup_draft(&store).await;
    let (a, b) = ("d1-doc-el-0", "d1-doc-el-1");
    assert!(store.actor_owners().await.unwrap().is_empty());
    store
        .commit(&[
            delivered(a, "a1", "A1", "alice", 1),
            delivered(b, "b1", "B1", "bob", 2),
            delivered(a, "a2", "A2", "alice", 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        sorted_owners(&store).await,
        [owner("actor-alice", "alice"), owner("actor-bob", "bob")]
    );

    // Later changes of alice's actor delivered by someone else: still alice's.
    let by_mallory = NewChange {
        user_id: Some("mallory".into()),
        ..delivered(a, "a3", "A3", "alice", 3)
    };
    assert_eq!(store.commit(&[by_mallory]).await.unwrap().stored, 1);
    // Within one batch, the first user to deliver from a new actor owns it;
    // a change without a user (the server's own) claims nothing.
    let shared = |hash: &str, user: &str| NewChange {
        actor: bytes("actor-shared"),
        ..delivered(b, hash, "S", user, 4)
    };
    let server_own = NewChange {
        actor: bytes("actor-server"),
        user_id: None,
        ..delivered(b, "srv", "SRV", "server", 5)
    };
    store
        .commit(&[shared("s1", "carol"), shared("s2", "dave"), server_own])
        .await
        .unwrap();
    assert_eq!(
        sorted_owners(&store).await,
        [
            owner("actor-alice", "alice"),
            owner("actor-bob", "bob"),
            owner("actor-shared", "carol"),
        ]
    );

    // claim_actor returns the first owner.
    assert_eq!(
        store.claim_actor(b"actor-alice", "zed").await.unwrap(),
        "alice"
    );
    assert_eq!(
        store.claim_actor(b"actor-server", "server").await.unwrap(),
        "server"
    );
    assert_eq!(
        store.claim_actor(b"actor-server", "bob").await.unwrap(),
        "server"
    );
    // ...and commit does not take a claimed actor over.
    let as_server = NewChange {
        actor: bytes("actor-server"),
        ..delivered(b, "srv2", "SRV2", "bob", 2)
    };
    store.commit(&[as_server]).await.unwrap();
    assert_eq!(
        sorted_owners(&store).await,
        [
            owner("actor-alice", "alice"),
            owner("actor-bob", "bob"),
            owner("actor-server", "server"),
            owner("actor-shared", "carol"),
        ]
    );
}
test_both_dbs!(
    commit_records_actor_owners,
    sqlite_commit_records_actor_owners,
    postgres_commit_records_actor_owners
);

async fn commit_and_actor_claims_are_one_transaction(store: Store) {
    setup_draft(&store).await;
    let a = "d1-doc-el-0";
    let batch = [delivered(a, "a1", "A1", "alice", 1)];
    // Recording the owner fails: the changes are not stored either.
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_actors BEFORE INSERT ON actors \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_actors;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_actors() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_actors BEFORE INSERT ON actors \
             FOR EACH ROW EXECUTE FUNCTION fail_actors();",
            "DROP TRIGGER fail_actors ON actors; DROP FUNCTION fail_actors();",
        ),
    };
    exec_raw(&store, create).await;
    let err = store.commit(&batch).await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.changes_count(a).await.unwrap(), 2);
    exec_raw(&store, drop_trigger).await;
    assert!(store.actor_owners().await.unwrap().is_empty());

    // A batch failing on its changes claims no actor.
    let bad = [
        delivered(a, "a1", "A1", "alice", 1),
        delivered("no-such-doc", "x1", "X1", "bob", 2),
    ];
    store.commit(&bad).await.unwrap_err();
    assert!(store.actor_owners().await.unwrap().is_empty());
    assert_eq!(store.changes_count(a).await.unwrap(), 2);

    assert_eq!(store.commit(&batch).await.unwrap().stored, 1);
    assert_eq!(
        store.actor_owners().await.unwrap(),
        [owner("actor-alice", "alice")]
    );
}
test_both_dbs!(
    commit_and_actor_claims_are_one_transaction,
    sqlite_commit_and_actor_claims_are_one_transaction,
    postgres_commit_and_actor_claims_are_one_transaction
);

// --- Structure edits and events ----------------------------------------------

fn event(kind: &str, element: Option<&str>) -> NewEvent {
    NewEvent {
        kind: kind.into(),
        element_id: element.map(Into::into),
        user_id: Some("u-chair".into()),
        entity_code: None,
        data: format!(r#"{{"kind":"{kind}"}}"#),
    }
}

/// A server change to the draft's index document, attributed to the chair.
fn index_change(hash: &str) -> NewChange {
    NewChange {
        actor: bytes("actor-server"),
        entity_code: None,
        ..delivered("d1-index", hash, &format!("data-{hash}"), "u-chair", 9)
    }
}

/// `(id, position)` of the draft's listed elements.
async fn listed(store: &Store, draft: &str) -> Vec<(String, i64)> {
    store
        .elements(draft)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.position))
        .collect()
}

fn ids_at(ids: &[&str]) -> Vec<(String, i64)> {
    (0_i64..)
        .zip(ids)
        .map(|(p, id)| (id.to_string(), p))
        .collect()
}

async fn structure_edits(store: Store) {
    setup_draft(&store).await;
    let new_el = NewElement {
        id: "d1-el-new".into(),
        label: "OP4".into(),
        doc: NewDocument {
            id: "d1-doc-el-new".into(),
            kind: DocKind::Element,
            changes: vec![change("new-h1", "new-c1"), change("new-h2", "new-c2")],
        },
    };

    // Add an element (appended) and retitle, with the index change and an event.
    let at = store
        .apply_structure(&StructureEdit {
            draft_id: "d1".into(),
            index_changes: vec![index_change("ix1")],
            title: Some("New title".into()),
            new_elements: vec![new_el],
            events: vec![event("element_added", Some("d1-el-new"))],
            ..StructureEdit::default()
        })
        .await
        .unwrap();
    assert!(at > 1_600_000_000_000);
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-new"])
    );
    let added = store.elements("d1").await.unwrap().pop().unwrap();
    assert_eq!(
        (added.label.as_str(), added.doc_id.as_str(), added.archived),
        ("OP4", "d1-doc-el-new", false)
    );
    assert_eq!(
        store.document("d1-doc-el-new").await.unwrap().unwrap(),
        DocumentRow {
            id: "d1-doc-el-new".into(),
            draft_id: "d1".into(),
            kind: DocKind::Element
        }
    );
    let doc = store.load_document("d1-doc-el-new").await.unwrap().unwrap();
    assert_eq!(doc.changes, [bytes("new-c1"), bytes("new-c2")]);
    assert_eq!(
        attribution(&store, "d1-index").await.last().unwrap(),
        &(bytes("ix1"), Some("u-chair".into()), Some(9))
    );
    let draft = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(
        (draft.title.as_str(), draft.preamble.as_str()),
        ("New title", "Recalling...")
    );
    // The server's change does not make the chair own the server's actor.
    assert!(store.actor_owners().await.unwrap().is_empty());
    let events = store.events("d1", 0, 100).await.unwrap();
    assert_eq!(
        events,
        [EventRow {
            seq: events[0].seq,
            draft_id: "d1".into(),
            kind: "element_added".into(),
            element_id: Some("d1-el-new".into()),
            user_id: Some("u-chair".into()),
            entity_code: None,
            data: r#"{"kind":"element_added"}"#.into(),
            at,
        }]
    );

    // Rename and reorder; preamble only.
    store
        .apply_structure(&StructureEdit {
            draft_id: "d1".into(),
            index_changes: vec![index_change("ix2")],
            preamble: Some("Noting...".into()),
            labels: vec![("d1-el-new".into(), "OP0".into())],
            order: Some(vec![
                "d1-el-new".into(),
                "d1-el-0".into(),
                "d1-el-1".into(),
                "d1-el-2".into(),
            ]),
            events: vec![
                event("element_renamed", Some("d1-el-new")),
                event("elements_reordered", None),
            ],
            ..StructureEdit::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-new", "d1-el-0", "d1-el-1", "d1-el-2"])
    );
    assert_eq!(store.elements("d1").await.unwrap()[0].label, "OP0");
    let draft = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(
        (draft.title.as_str(), draft.preamble.as_str()),
        ("New title", "Noting...")
    );

    // Archive: no longer listed, kept (with its position) by all_elements.
    store
        .apply_structure(&StructureEdit {
            draft_id: "d1".into(),
            archived: vec![("d1-el-1".into(), true)],
            order: Some(vec!["d1-el-new".into(), "d1-el-0".into(), "d1-el-2".into()]),
            events: vec![event("element_archived", Some("d1-el-1"))],
            ..StructureEdit::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-new", "d1-el-0", "d1-el-2"])
    );
    let all: Vec<(String, i64, bool)> = store
        .all_elements("d1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.position, e.archived))
        .collect();
    assert_eq!(
        all,
        [
            ("d1-el-new".into(), 0, false),
            ("d1-el-0".into(), 1, false),
            ("d1-el-2".into(), 2, false),
            ("d1-el-1".into(), 2, true),
        ]
    );
    // Archiving without a new order also hides it from elements().
    store
        .apply_structure(&StructureEdit {
            draft_id: "d1".into(),
            archived: vec![("d1-el-0".into(), true)],
            ..StructureEdit::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        [("d1-el-new".into(), 0), ("d1-el-2".into(), 2)]
    );

    // Restore both.
    store
        .apply_structure(&StructureEdit {
            draft_id: "d1".into(),
            archived: vec![("d1-el-1".into(), false), ("d1-el-0".into(), false)],
            order: Some(vec![
                "d1-el-1".into(),
                "d1-el-new".into(),
                "d1-el-0".into(),
                "d1-el-2".into(),
            ]),
            events: vec![event("element_restored", Some("d1-el-1"))],
            ..StructureEdit::default()
        })
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-1", "d1-el-new", "d1-el-0", "d1-el-2"])
    );
    assert_eq!(store.all_elements("d1").await.unwrap().len(), 4);
    assert_eq!(store.changes_count("d1-index").await.unwrap(), 4);

    // Events in order, paged by seq.
    let events = store.events("d1", 0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "element_added",
            "element_renamed",
            "elements_reordered",
            "element_archived",
            "element_restored"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        store.events("d1", events[1].seq, 2).await.unwrap(),
        events[2..4]
    );
    assert!(
        store
            .events("d1", events[4].seq, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.events("d2", 0, 10).await.unwrap().is_empty());

    // record_event outside a structure edit.
    let recorded = store
        .record_event("d1", &event("silence_broken", None))
        .await
        .unwrap();
    assert!(recorded.seq > events[4].seq);
    assert_eq!(
        store.events("d1", events[4].seq, 10).await.unwrap(),
        [recorded]
    );
}
test_both_dbs!(
    structure_edits,
    sqlite_structure_edits,
    postgres_structure_edits
);

async fn structure_edit_errors_write_nothing(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let edit = |f: &dyn Fn(&mut StructureEdit)| {
        let mut e = StructureEdit {
            draft_id: "d1".into(),
            title: Some("Changed".into()),
            index_changes: vec![index_change("ix-bad")],
            new_elements: vec![NewElement {
                id: "d1-el-x".into(),
                label: "X".into(),
                doc: NewDocument {
                    id: "d1-doc-el-x".into(),
                    kind: DocKind::Element,
                    changes: vec![change("x-h1", "x-c1")],
                },
            }],
            events: vec![event("element_added", Some("d1-el-x"))],
            ..StructureEdit::default()
        };
        f(&mut e);
        e
    };
    let order = |ids: &[&str]| Some(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cases: Vec<(StructureEdit, &str)> = vec![
        (edit(&|e| e.draft_id = "nope".into()), "not found"),
        (
            edit(&|e| e.labels = vec![("d1-el-9".into(), "L".into())]),
            "not found",
        ),
        (
            edit(&|e| e.labels = vec![("d2-el-0".into(), "L".into())]),
            "not found",
        ),
        (
            edit(&|e| e.archived = vec![("nope".into(), true)]),
            "not found",
        ),
        (
            edit(&|e| e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-9"])),
            "not found",
        ),
        (
            edit(&|e| e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2"])),
            "invalid",
        ),
        (
            edit(&|e| e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-x", "d1-el-x"])),
            "invalid",
        ),
        (
            edit(&|e| {
                e.archived = vec![("d1-el-1".into(), true)];
                e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-x"]);
            }),
            "invalid",
        ),
        (
            edit(&|e| {
                e.index_changes = vec![NewChange {
                    doc_id: "d2-index".into(),
                    ..index_change("ix-d2")
                }]
            }),
            "invalid",
        ),
    ];
    for (i, (bad, expected)) in cases.iter().enumerate() {
        let err = store.apply_structure(bad).await.unwrap_err();
        let kind = match err {
            Error::NotFound(_) => "not found",
            Error::Invalid(_) => "invalid",
            _ => "other",
        };
        assert_eq!(kind, *expected, "case {i}: {err:?}");
    }
    // None of it was written.
    assert_eq!(
        store.draft("d1").await.unwrap().unwrap().title,
        "Title of d1"
    );
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-0", "d1-el-1", "d1-el-2"])
    );
    assert_eq!(store.all_elements("d1").await.unwrap().len(), 3);
    assert_eq!(store.document("d1-doc-el-x").await.unwrap(), None);
    assert_eq!(store.changes_count("d1-index").await.unwrap(), 2);
    assert_eq!(store.changes_count("d2-index").await.unwrap(), 2);
    assert!(store.events("d1", 0, 100).await.unwrap().is_empty());

    // The same edit, valid, goes through.
    store
        .apply_structure(&edit(&|e| {
            e.order = order(&["d1-el-x", "d1-el-0", "d1-el-1", "d1-el-2"])
        }))
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-x", "d1-el-0", "d1-el-1", "d1-el-2"])
    );
    // Element and document ids are unique.
    let again = store.apply_structure(&edit(&|e| e.title = None)).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let other_doc = store
        .apply_structure(&edit(&|e| e.new_elements[0].doc.id = "d1-doc-el-y".into()))
        .await;
    assert!(
        matches!(other_doc, Err(Error::Conflict(_))),
        "{other_doc:?}"
    );

    assert!(matches!(
        store.record_event("nope", &event("x", None)).await,
        Err(Error::NotFound(_))
    ));
}
test_both_dbs!(
    structure_edit_errors_write_nothing,
    sqlite_structure_edit_errors_write_nothing,
    postgres_structure_edit_errors_write_nothing
);

// --- Change listing -----------------------------------------------------------

async fn draft_changes_join_and_page(store: Store) {
    setup_bob(&store).await;
    store.create_draft(&new_draft("d1", 3)).await.unwrap();
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let receipt = store
        .commit(&[
            delivered("d1-doc-el-1", "x1", "X1", "u-bob", 1),
            delivered("d1-index", "x2", "X2", "u-ghost", 2),
            delivered("d2-doc-el-0", "y1", "Y1", "u-bob", 1),
        ])
        .await
        .unwrap();

    let all = store.draft_changes("d1", 0, 1000).await.unwrap();
    // 2 initial changes for the index and each of 3 elements, then 2 delivered.
    assert_eq!(all.len(), 2 * 4 + 2);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(all.iter().all(|c| c.doc_id.starts_with("d1-")));
    let initial = all
        .iter()
        .find(|c| c.hash == bytes("d1-doc-el-2-h1"))
        .unwrap();
    assert_eq!(
        (
            initial.element_id.as_deref(),
            initial.user_id.as_deref(),
            initial.user_name.as_deref()
        ),
        (Some("d1-el-2"), None, None)
    );
    let index_initial = all.iter().find(|c| c.hash == bytes("d1-index-h2")).unwrap();
    assert_eq!(index_initial.element_id, None);
    assert_eq!(
        all[8],
        ChangeInfo {
            seq: all[8].seq,
            hash: bytes("x1"),
            doc_id: "d1-doc-el-1".into(),
            element_id: Some("d1-el-1".into()),
            user_id: Some("u-bob".into()),
            user_name: Some("Bob".into()),
            entity_code: Some("EU".into()),
            committed_at: receipt.committed_at,
        }
    );
    assert_eq!(
        all[9],
        ChangeInfo {
            seq: all[9].seq,
            hash: bytes("x2"),
            doc_id: "d1-index".into(),
            element_id: None,
            user_id: Some("u-ghost".into()),
            user_name: None,
            entity_code: Some("EU".into()),
            committed_at: receipt.committed_at,
        }
    );

    // Pages by after_seq.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.draft_changes("d1", after, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(
        store.draft_changes("d2", 0, 1000).await.unwrap().len(),
        2 * 2 + 1
    );
    assert!(store.draft_changes("nope", 0, 10).await.unwrap().is_empty());
}
test_both_dbs!(
    draft_changes_join_and_page,
    sqlite_draft_changes_join_and_page,
    postgres_draft_changes_join_and_page
);

async fn a_fresh_invite_expires_the_unused_ones(store: Store) {
    let user = store
        .add_user(&NewUser {
            id: "u-fresh".into(),
            name: "fresh".into(),
            role: Role::Chair,
            entity_code: None,
        })
        .await
        .unwrap();
    let far = now_ms() + 3_600_000;
    store
        .create_invite(&user.id, "old", InviteKind::Invite, far)
        .await
        .unwrap();
    store
        .create_invite(&user.id, "device", InviteKind::Device, far)
        .await
        .unwrap();
    assert_eq!(
        store
            .expire_invites(&user.id, InviteKind::Invite)
            .await
            .unwrap(),
        1
    );
    let session = |hash: &str| NewSession {
        token_hash: hash.into(),
        expires_at: far,
        max_expires_at: far,
    };
    let now = now_ms() + 1;
    assert_eq!(
        store
            .redeem_invite("old", &session("s1"), now)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    assert!(matches!(
        store
            .redeem_invite("device", &session("s2"), now)
            .await
            .unwrap(),
        Redeemed::Ok(_)
    ));
}
test_both_dbs!(
    a_fresh_invite_expires_the_unused_ones,
    fresh_invite_expires_unused_sqlite,
    fresh_invite_expires_unused_postgres
);

// --- Consensus: positions, silences, adoptions, versions ------------------------

const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A delegate's position of `entity` on element `d1-el-{el}` of draft d1.
fn position(el: usize, entity: &str, stance: &str, at: i64) -> NewPosition {
    NewPosition {
        draft_id: "d1".into(),
        element_id: format!("d1-el-{el}"),
        entity_code: entity.into(),
        stance: stance.into(),
        note: None,
        wording: None,
        text_hash: HASH_A.into(),
        heads: r#"["0a1b"]"#.into(),
        user_id: Some(format!("u-{entity}")),
        by_silence: false,
        at,
    }
}

/// A position recorded by silence.
fn by_silence(el: usize, entity: &str, at: i64) -> NewPosition {
    NewPosition {
        user_id: None,
        by_silence: true,
        ..position(el, entity, "support", at)
    }
}

/// A silence on element `d1-el-{el}` of draft d1.
fn silence(el: usize, started_at: i64, deadline: i64) -> NewSilence {
    NewSilence {
        draft_id: "d1".into(),
        element_id: format!("d1-el-{el}"),
        deadline,
        locked_text: format!("locked text of el-{el}"),
        locked_text_hash: HASH_A.into(),
        locked_heads: r#"["0a1b"]"#.into(),
        started_by: "u-chair".into(),
        started_at,
        confirmed_stale: "[]".into(),
    }
}

fn silence_started() -> NewEvent {
    NewEvent {
        kind: "silence_started".into(),
        element_id: None,
        user_id: Some("u-chair".into()),
        entity_code: None,
        data: "{}".into(),
    }
}

async fn start(store: &Store, el: usize, started_at: i64, deadline: i64) -> SilenceRow {
    store
        .start_silence(&silence(el, started_at, deadline), &silence_started())
        .await
        .unwrap()
}

/// The draft's events of `kind`.
async fn events_of(store: &Store, draft: &str, kind: &str) -> Vec<EventRow> {
    let mut events = store.events(draft, 0, 10_000).await.unwrap();
    events.retain(|e| e.kind == kind);
    events
}

/// The draft's silence `id`.
async fn silence_by_id(store: &Store, draft: &str, id: i64) -> SilenceRow {
    let silences = store.silences(draft).await.unwrap();
    silences.into_iter().find(|s| s.id == id).expect("silence")
}

async fn positions_ledger_appends_in_order(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let now = now_ms();
    assert!(store.positions("d1").await.unwrap().is_empty());

    let mut recorded = Vec::new();
    for (i, (el, entity, stance)) in [
        (1, "US", "support"),
        (0, "G77", "object"),
        (1, "US", "reservation"),
        (2, "EU", "abstain"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = position(el, entity, stance, now + i as i64);
        if stance != "support" {
            p.note = Some(format!("note {i}"));
        }
        if stance == "object" {
            p.wording = Some("Replace with [...]".into());
        }
        let (row, broken) = store.record_position(&p, None).await.unwrap();
        assert!(!broken);
        assert_eq!(
            row,
            PositionRow {
                seq: row.seq,
                draft_id: p.draft_id.clone(),
                element_id: p.element_id.clone(),
                entity_code: p.entity_code.clone(),
                stance: p.stance.clone(),
                note: p.note.clone(),
                wording: p.wording.clone(),
                text_hash: p.text_hash.clone(),
                heads: p.heads.clone(),
                user_id: p.user_id.clone(),
                by_silence: false,
                at: p.at,
            }
        );
        recorded.push(row);
    }
    // Another draft's ledger is separate, and shares the seq.
    let other = NewPosition {
        draft_id: "d2".into(),
        element_id: "d2-el-0".into(),
        ..position(0, "US", "support", now)
    };
    let (other_row, _) = store.record_position(&other, None).await.unwrap();
    assert!(other_row.seq > recorded.last().unwrap().seq);
    assert_eq!(store.positions("d2").await.unwrap(), [other_row]);

    let ledger = store.positions("d1").await.unwrap();
    assert_eq!(ledger, recorded);
    assert!(ledger.windows(2).all(|w| w[0].seq < w[1].seq));

    // Nothing is recorded for an element of another draft, or an unknown stance.
    let wrong_draft = NewPosition {
        element_id: "d2-el-0".into(),
        ..position(0, "US", "support", now)
    };
    assert!(matches!(
        store.record_position(&wrong_draft, None).await,
        Err(Error::NotFound(_))
    ));
    store
        .record_position(&position(0, "US", "maybe", now), None)
        .await
        .unwrap_err();
    assert_eq!(store.positions("d1").await.unwrap(), recorded);
}
test_both_dbs!(
    positions_ledger_appends_in_order,
    sqlite_positions_ledger_appends_in_order,
    postgres_positions_ledger_appends_in_order
);

async fn record_position_breaks_silence_once(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let s = start(&store, 0, now, now + HOUR).await;
    assert_eq!(
        store.element_lock("d1-doc-el-0").await.unwrap().as_deref(),
        Some("locked text of el-0")
    );

    let mut objection = position(0, "G77", "object", now + 10);
    objection.note = Some("We said \"no\"\\\n\tand\u{1}mean it".into());
    let (row, broken) = store.record_position(&objection, Some(s.id)).await.unwrap();
    assert!(broken);
    assert_eq!(row.stance, "object");
    let after = silence_by_id(&store, "d1", s.id).await;
    assert_eq!(
        after,
        SilenceRow {
            state: "broken".into(),
            ended_at: Some(now + 10),
            ended_by: Some("u-G77".into()),
            reason: objection.note.clone(),
            ..s.clone()
        }
    );
    let events = events_of(&store, "d1", "silence_broken").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].user_id.as_deref(), Some("u-G77"));
    assert_eq!(events[0].entity_code.as_deref(), Some("G77"));
    assert_eq!(events[0].at, now + 10);
    assert_eq!(
        events[0].data,
        format!(
            r#"{{"silence":{},"reason":"We said \"no\"\\\n\tand\u0001mean it"}}"#,
            s.id
        )
    );
    // The lock lifted; the silence is no longer scheduled.
    assert_eq!(store.element_lock("d1-doc-el-0").await.unwrap(), None);
    assert!(store.active_silences().await.unwrap().is_empty());

    // A second objection is recorded but breaks nothing.
    let mut second = position(0, "US", "object", now + 20);
    second.note = None;
    let (_, broken) = store.record_position(&second, Some(s.id)).await.unwrap();
    assert!(!broken);
    assert_eq!(events_of(&store, "d1", "silence_broken").await.len(), 1);
    assert_eq!(silence_by_id(&store, "d1", s.id).await, after);
    assert_eq!(store.positions("d1").await.unwrap().len(), 2);
}
test_both_dbs!(
    record_position_breaks_silence_once,
    sqlite_record_position_breaks_silence_once,
    postgres_record_position_breaks_silence_once
);

async fn position_on_inactive_silence_breaks_nothing(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let cancelled = start(&store, 0, now, now + HOUR).await;
    assert!(
        store
            .cancel_silence(cancelled.id, "u-chair", now + 1)
            .await
            .unwrap()
    );
    let other = start(&store, 1, now, now + HOUR).await;

    // On a cancelled silence, on another element's silence, on no silence.
    for (el, id) in [(0, cancelled.id), (0, other.id), (0, 9_999)] {
        let (_, broken) = store
            .record_position(&position(el, "US", "object", now + 5), Some(id))
            .await
            .unwrap();
        assert!(!broken);
    }
    assert_eq!(
        silence_by_id(&store, "d1", cancelled.id).await.state,
        "cancelled"
    );
    assert_eq!(
        store.active_silences().await.unwrap(),
        std::slice::from_ref(&other)
    );
    assert!(events_of(&store, "d1", "silence_broken").await.is_empty());
    assert_eq!(store.positions("d1").await.unwrap().len(), 3);
}
test_both_dbs!(
    position_on_inactive_silence_breaks_nothing,
    sqlite_position_on_inactive_silence_breaks_nothing,
    postgres_position_on_inactive_silence_breaks_nothing
);

async fn start_silence_once_per_element(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let s0 = start(&store, 0, now, now + 2 * HOUR).await;
    assert_eq!(
        s0,
        SilenceRow {
            id: s0.id,
            draft_id: "d1".into(),
            element_id: "d1-el-0".into(),
            deadline: now + 2 * HOUR,
            locked_text: "locked text of el-0".into(),
            locked_text_hash: HASH_A.into(),
            locked_heads: r#"["0a1b"]"#.into(),
            started_by: "u-chair".into(),
            started_at: now,
            state: "active".into(),
            ended_at: None,
            ended_by: None,
            reason: None,
            confirmed_stale: "[]".into(),
        }
    );
    let started = events_of(&store, "d1", "silence_started").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(started[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(started[0].at, now);
    assert_eq!(
        started[0].data,
        format!(r#"{{"silence":{},"deadline":{}}}"#, s0.id, now + 2 * HOUR)
    );

    // A second active silence on the element: Conflict, nothing written.
    let again = store
        .start_silence(&silence(0, now, now + HOUR), &silence_started())
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(events_of(&store, "d1", "silence_started").await.len(), 1);

    // Another element is fine; extra event data is kept after ours.
    let extra = NewEvent {
        data: r#" { "text_hash": "aa" } "#.into(),
        ..silence_started()
    };
    let s1 = store
        .start_silence(&silence(1, now, now + HOUR), &extra)
        .await
        .unwrap();
    assert_eq!(
        events_of(&store, "d1", "silence_started").await[1].data,
        format!(
            r#"{{"silence":{},"deadline":{},"text_hash": "aa"}}"#,
            s1.id,
            now + HOUR
        )
    );
    // By deadline for the scheduler; newest first for the draft.
    assert_eq!(
        store.active_silences().await.unwrap(),
        [s1.clone(), s0.clone()]
    );
    assert_eq!(store.silences("d1").await.unwrap(), [s1, s0.clone()]);

    // Once the first has ended, the element may go under silence again.
    assert!(store.cancel_silence(s0.id, "u-chair", now).await.unwrap());
    let s2 = start(&store, 0, now + 1, now + HOUR).await;
    assert!(s2.id > s0.id);
    assert_eq!(store.silences("d1").await.unwrap().len(), 3);

    // An element that is not the draft's.
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let foreign = NewSilence {
        element_id: "d2-el-0".into(),
        ..silence(0, now, now + HOUR)
    };
    let result = store.start_silence(&foreign, &silence_started()).await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    assert!(store.silences("d2").await.unwrap().is_empty());
}
test_both_dbs!(
    start_silence_once_per_element,
    sqlite_start_silence_once_per_element,
    postgres_start_silence_once_per_element
);

async fn fire_silence_at_deadline_once(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let deadline = now + HOUR;
    let s = start(&store, 0, now, deadline).await;
    let entries = [
        by_silence(0, "US", deadline),
        by_silence(0, "G77", deadline),
    ];

    // Before the deadline: nothing.
    assert!(
        !store
            .fire_silence(s.id, deadline - 1, &entries)
            .await
            .unwrap()
    );
    assert_eq!(silence_by_id(&store, "d1", s.id).await, s);
    assert!(store.positions("d1").await.unwrap().is_empty());
    assert!(events_of(&store, "d1", "silence_fired").await.is_empty());

    // At the deadline: fired, entries appended, event.
    assert!(store.fire_silence(s.id, deadline, &entries).await.unwrap());
    let fired = silence_by_id(&store, "d1", s.id).await;
    assert_eq!(fired.state, "fired");
    assert_eq!(fired.ended_at, Some(deadline));
    assert_eq!(fired.ended_by, None);
    let ledger = store.positions("d1").await.unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(ledger.iter().all(|p| p.by_silence && p.user_id.is_none()));
    assert_eq!(
        ledger
            .iter()
            .map(|p| p.entity_code.as_str())
            .collect::<Vec<_>>(),
        ["US", "G77"]
    );
    let events = events_of(&store, "d1", "silence_fired").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].user_id, None);
    assert_eq!(events[0].at, deadline);
    assert_eq!(
        events[0].data,
        format!(r#"{{"silence":{},"recorded":2}}"#, s.id)
    );
    assert_eq!(store.element_lock("d1-doc-el-0").await.unwrap(), None);

    // Once only, even later.
    assert!(
        !store
            .fire_silence(s.id, deadline + HOUR, &entries)
            .await
            .unwrap()
    );
    assert_eq!(store.positions("d1").await.unwrap().len(), 2);
    assert_eq!(events_of(&store, "d1", "silence_fired").await.len(), 1);

    // After the deadline, without entries.
    let s1 = start(&store, 1, now, deadline).await;
    assert!(store.fire_silence(s1.id, deadline + 5, &[]).await.unwrap());
    assert_eq!(
        silence_by_id(&store, "d1", s1.id).await.ended_at,
        Some(deadline + 5)
    );

    // An entry for another element: Invalid, nothing written.
    let s2 = start(&store, 2, now, deadline).await;
    let result = store
        .fire_silence(
            s2.id,
            deadline,
            &[by_silence(2, "US", deadline), by_silence(1, "US", deadline)],
        )
        .await;
    assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
    assert_eq!(silence_by_id(&store, "d1", s2.id).await, s2);
    assert_eq!(store.positions("d1").await.unwrap().len(), 2);
    assert!(
        store
            .fire_silence(s2.id, deadline, &[by_silence(2, "US", deadline)])
            .await
            .unwrap()
    );
    assert_eq!(store.positions("d1").await.unwrap().len(), 3);
}
test_both_dbs!(
    fire_silence_at_deadline_once,
    sqlite_fire_silence_at_deadline_once,
    postgres_fire_silence_at_deadline_once
);

async fn concurrent_fires_fire_once(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    for round in 0..5_usize {
        let s = start(&store, 0, now, now + 1).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    let entries = [by_silence(0, "US", now + 1), by_silence(0, "G77", now + 1)];
                    barrier.wait().await;
                    store.fire_silence(s.id, now + 1, &entries).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|fired| **fired).count(),
            1,
            "{outcomes:?}"
        );
        assert_eq!(store.positions("d1").await.unwrap().len(), 2 * (round + 1));
        assert_eq!(
            events_of(&store, "d1", "silence_fired").await.len(),
            round + 1
        );
        assert_eq!(silence_by_id(&store, "d1", s.id).await.state, "fired");
    }
}
test_both_dbs!(
    concurrent_fires_fire_once,
    sqlite_concurrent_fires_fire_once,
    postgres_concurrent_fires_fire_once
);

async fn cancelled_silence_does_not_fire(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let s = start(&store, 0, now, now + 10).await;
    assert!(
        store
            .cancel_silence(s.id, "u-chair", now + 1)
            .await
            .unwrap()
    );
    let cancelled = silence_by_id(&store, "d1", s.id).await;
    assert_eq!(cancelled.state, "cancelled");
    assert_eq!(cancelled.ended_at, Some(now + 1));
    assert_eq!(cancelled.ended_by.as_deref(), Some("u-chair"));
    let events = events_of(&store, "d1", "silence_cancelled").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].data, format!(r#"{{"silence":{}}}"#, s.id));

    assert!(
        !store
            .cancel_silence(s.id, "u-chair", now + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_silence(9_999, "u-chair", now + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .fire_silence(s.id, now + 10, &[by_silence(0, "US", now + 10)])
            .await
            .unwrap()
    );
    assert_eq!(silence_by_id(&store, "d1", s.id).await, cancelled);
    assert!(store.positions("d1").await.unwrap().is_empty());
    assert_eq!(events_of(&store, "d1", "silence_cancelled").await.len(), 1);
    assert!(events_of(&store, "d1", "silence_fired").await.is_empty());
}
test_both_dbs!(
    cancelled_silence_does_not_fire,
    sqlite_cancelled_silence_does_not_fire,
    postgres_cancelled_silence_does_not_fire
);

async fn adopt_reopen_adopt(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let adopted = store
        .adopt_element(
            "d1",
            "d1-el-0",
            "The text.",
            HASH_A,
            r#"["0a"]"#,
            "u-chair",
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        adopted,
        AdoptionRow {
            id: adopted.id,
            draft_id: "d1".into(),
            element_id: "d1-el-0".into(),
            text: "The text.".into(),
            text_hash: HASH_A.into(),
            heads: r#"["0a"]"#.into(),
            adopted_by: "u-chair".into(),
            adopted_at: now,
            reopened_by: None,
            reopened_at: None,
        }
    );
    assert_eq!(
        store.adoptions("d1").await.unwrap(),
        std::slice::from_ref(&adopted)
    );
    let events = events_of(&store, "d1", "element_adopted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(
        events[0].data,
        format!(r#"{{"adoption":{},"text_hash":"{HASH_A}"}}"#, adopted.id)
    );

    // Twice: Conflict, nothing written.
    let twice = store
        .adopt_element("d1", "d1-el-0", "Other.", HASH_A, "[]", "u-chair", now + 1)
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(events_of(&store, "d1", "element_adopted").await.len(), 1);

    // Reopen once.
    assert!(
        store
            .reopen_element("d1", "d1-el-0", "u-chair", now + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reopen_element("d1", "d1-el-0", "u-chair", now + 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reopen_element("d1", "d1-el-1", "u-chair", now + 3)
            .await
            .unwrap()
    );
    assert!(store.adoptions("d1").await.unwrap().is_empty());
    let reopened = events_of(&store, "d1", "element_reopened").await;
    assert_eq!(reopened.len(), 1);
    assert_eq!(
        reopened[0].data,
        format!(r#"{{"adoption":{}}}"#, adopted.id)
    );

    // Adopted again, with a new row.
    let again = store
        .adopt_element(
            "d1",
            "d1-el-0",
            "New text.",
            HASH_A,
            "[]",
            "u-chair",
            now + 4,
        )
        .await
        .unwrap();
    assert!(again.id > adopted.id);
    let other = store
        .adopt_element("d1", "d1-el-2", "Third.", HASH_A, "[]", "u-chair", now + 5)
        .await
        .unwrap();
    assert_eq!(store.adoptions("d1").await.unwrap(), [again, other]);
    assert_eq!(events_of(&store, "d1", "element_adopted").await.len(), 3);

    // Not an element of the draft.
    let result = store
        .adopt_element("d1", "nope", "x", HASH_A, "[]", "u-chair", now)
        .await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
}
test_both_dbs!(
    adopt_reopen_adopt,
    sqlite_adopt_reopen_adopt,
    postgres_adopt_reopen_adopt
);

async fn element_lock_follows_silence_and_adoption(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let lock = |doc: &'static str| {
        let store = store.clone();
        async move { store.element_lock(doc).await.unwrap() }
    };
    assert_eq!(lock("d1-doc-el-0").await, None);
    assert_eq!(lock("nope").await, None);

    let s = start(&store, 0, now, now + HOUR).await;
    assert_eq!(
        lock("d1-doc-el-0").await.as_deref(),
        Some("locked text of el-0")
    );
    assert_eq!(lock("d1-doc-el-1").await, None);

    // Adoption wins over the silence.
    store
        .adopt_element("d1", "d1-el-0", "Adopted.", HASH_A, "[]", "u-chair", now)
        .await
        .unwrap();
    assert_eq!(lock("d1-doc-el-0").await.as_deref(), Some("Adopted."));
    assert!(
        store
            .reopen_element("d1", "d1-el-0", "u-chair", now)
            .await
            .unwrap()
    );
    assert_eq!(
        lock("d1-doc-el-0").await.as_deref(),
        Some("locked text of el-0")
    );
    assert!(store.cancel_silence(s.id, "u-chair", now).await.unwrap());
    assert_eq!(lock("d1-doc-el-0").await, None);

    store
        .adopt_element(
            "d1",
            "d1-el-0",
            "Adopted again.",
            HASH_A,
            "[]",
            "u-chair",
            now,
        )
        .await
        .unwrap();
    assert_eq!(lock("d1-doc-el-0").await.as_deref(), Some("Adopted again."));
    assert!(
        store
            .reopen_element("d1", "d1-el-0", "u-chair", now)
            .await
            .unwrap()
    );
    assert_eq!(lock("d1-doc-el-0").await, None);
}
test_both_dbs!(
    element_lock_follows_silence_and_adoption,
    sqlite_element_lock_follows_silence_and_adoption,
    postgres_element_lock_follows_silence_and_adoption
);

async fn versions_are_unique_per_draft(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let now = now_ms();
    let heads = r#"{"d1-index":["0a"],"d1-doc-el-0":["0b","0c"]}"#;
    let v1 = store
        .create_version("d1", "Rev. 1", heads, Some("u-chair"), false, now)
        .await
        .unwrap();
    assert_eq!(
        v1,
        VersionRow {
            id: v1.id,
            draft_id: "d1".into(),
            name: "Rev. 1".into(),
            heads: heads.into(),
            created_by: Some("u-chair".into()),
            created_at: now,
            final_version: false,
        }
    );
    let dup = store
        .create_version("d1", "Rev. 1", "{}", None, false, now + 1)
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    // The same name in another draft; a version named by the server.
    let other = store
        .create_version("d2", "Rev. 1", "{}", None, false, now + 1)
        .await
        .unwrap();
    let v2 = store
        .create_version("d1", "Rev. \"2\"", "{}", None, false, now + 2)
        .await
        .unwrap();
    assert_eq!(
        store.versions("d1").await.unwrap(),
        [v1.clone(), v2.clone()]
    );
    assert_eq!(store.versions("d2").await.unwrap(), [other]);

    let events = events_of(&store, "d1", "version_named").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(
        events[0].data,
        format!(r#"{{"version":{},"name":"Rev. 1"}}"#, v1.id)
    );
    assert_eq!(events[1].user_id, None);
    assert_eq!(
        events[1].data,
        format!(r#"{{"version":{},"name":"Rev. \"2\""}}"#, v2.id)
    );

    let missing = store
        .create_version("nope", "Rev. 1", "{}", None, false, now)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
test_both_dbs!(
    versions_are_unique_per_draft,
    sqlite_versions_are_unique_per_draft,
    postgres_versions_are_unique_per_draft
);

async fn adopt_draft_once_with_final_version(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let now = now_ms();
    let d1 = store.draft("d1").await.unwrap().unwrap();
    assert_eq!((d1.adopted_at, d1.adopted_by), (None, None));

    let heads = r#"{"d1-index":["0a"]}"#;
    let version = store
        .adopt_draft("d1", "u-chair", "Final", heads, now)
        .await
        .unwrap();
    assert_eq!(
        version,
        VersionRow {
            id: version.id,
            draft_id: "d1".into(),
            name: "Final".into(),
            heads: heads.into(),
            created_by: Some("u-chair".into()),
            created_at: now,
            final_version: true,
        }
    );
    assert_eq!(
        store.versions("d1").await.unwrap(),
        std::slice::from_ref(&version)
    );
    let d1 = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(d1.adopted_at, Some(now));
    assert_eq!(d1.adopted_by.as_deref(), Some("u-chair"));
    assert_eq!(store.drafts().await.unwrap()[0], d1);
    let events = events_of(&store, "d1", "draft_adopted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(
        events[0].data,
        format!(r#"{{"version":{},"name":"Final"}}"#, version.id)
    );

    // Twice: Conflict, nothing written.
    let twice = store
        .adopt_draft("d1", "u-other", "Final 2", "{}", now + 1)
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(store.draft("d1").await.unwrap().unwrap(), d1);
    assert_eq!(store.versions("d1").await.unwrap(), [version]);
    assert_eq!(events_of(&store, "d1", "draft_adopted").await.len(), 1);

    // A taken version name: Conflict, and the draft stays unadopted.
    store
        .create_version("d2", "Final", "{}", None, false, now)
        .await
        .unwrap();
    let taken = store.adopt_draft("d2", "u-chair", "Final", "{}", now).await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    assert_eq!(store.draft("d2").await.unwrap().unwrap().adopted_at, None);
    assert!(events_of(&store, "d2", "draft_adopted").await.is_empty());

    let missing = store
        .adopt_draft("nope", "u-chair", "Final", "{}", now)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
test_both_dbs!(
    adopt_draft_once_with_final_version,
    sqlite_adopt_draft_once_with_final_version,
    postgres_adopt_draft_once_with_final_version
);

#[test]
fn json_helpers_escape_and_merge() {
    assert_eq!(json_string("a\"b\\c\n\u{7}é"), r#""a\"b\\c\n\u0007é""#);
    assert_eq!(json_opt_string(None), "null");
    assert_eq!(json_prepend_members(r#""a":1"#, ""), r#"{"a":1}"#);
    assert_eq!(json_prepend_members(r#""a":1"#, " { } "), r#"{"a":1}"#);
    assert_eq!(
        json_prepend_members(r#""a":1"#, r#"{"b":[2]}"#),
        r#"{"a":1,"b":[2]}"#
    );
    assert_eq!(json_prepend_members(r#""a":1"#, "[1]"), r#"{"a":1}"#);
}

// --- History: doc heads, revisions, the timeline by time ------------------------

/// A fixed server time (unix ms) the history tests move from.
const T0: i64 = 1_700_000_000_000;
const SEC: i64 = 1_000;

/// The entity each test user speaks for.
fn entity_of(user: &str) -> &'static str {
    match user {
        "u-alice" => "US",
        "u-carol" => "G77",
        _ => "EU",
    }
}

/// `user` typing into element document `doc`: a change inserting and
/// deleting that many characters.
fn typing(doc: &str, hash: &str, user: &str, inserted: i64, deleted: i64) -> NewChange {
    NewChange {
        entity_code: Some(entity_of(user).into()),
        inserted: Some(inserted),
        deleted: Some(deleted),
        ..delivered(doc, hash, &format!("data-{hash}"), user, 1)
    }
}

/// The server's own change to `doc` (no user).
fn server_change(doc: &str, hash: &str) -> NewChange {
    NewChange {
        actor: bytes("actor-server"),
        user_id: None,
        entity_code: None,
        peer_id: None,
        conn_id: None,
        ..delivered(doc, hash, &format!("data-{hash}"), "server", 0)
    }
}

/// A JSON heads array of one hash.
fn heads(hash: &str) -> String {
    format!(r#"["{hash}"]"#)
}

/// `batch` with `heads_after = heads(hash)` on its last change.
fn with_heads(mut batch: Vec<NewChange>, hash: &str) -> Vec<NewChange> {
    batch.last_mut().expect("a change").heads_after = Some(heads(hash));
    batch
}

/// Commits `batch` at `now`.
async fn commit_at(store: &Store, now: i64, batch: Vec<NewChange>) -> CommitReceipt {
    let receipt = store.commit_at(&batch, now).await.unwrap();
    assert_eq!(receipt.committed_at, now);
    receipt
}

/// Entities, users Alice (US) and Bob (EU), draft d1 with 3 elements.
async fn setup_history(store: &Store) {
    setup_bob(store).await;
    store
        .add_user(&new_user("u-alice", "Alice", Role::Delegate, Some("US")))
        .await
        .unwrap();
    store.create_draft(&new_draft("d1", 3)).await.unwrap();
}

/// The seq of each of the draft's changes, by hash.
async fn seqs(store: &Store, draft: &str) -> std::collections::HashMap<Vec<u8>, i64> {
    store
        .draft_changes(draft, 0, 1_000_000)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.hash, c.seq))
        .collect()
}

async fn all_revisions(store: &Store, draft: &str) -> Vec<RevisionRow> {
    store
        .revisions(draft, &HistoryFilter::default(), None, 10_000)
        .await
        .unwrap()
}

#[test]
fn batch_history_groups_by_document_then_user() {
    let changes = vec![
        typing("a", "1", "u-alice", 1, 0),
        NewChange {
            heads_after: Some("early".into()),
            ..typing("a", "2", "u-bob", 2, 1)
        },
        NewChange {
            heads_after: Some("late".into()),
            ..typing("a", "3", "u-alice", 3, 0)
        },
        NewChange {
            heads_after: Some("b-heads".into()),
            ..typing("b", "4", "u-bob", 4, 0)
        },
        NewChange {
            heads_after: Some("c-heads".into()),
            ..typing("c", "5", "u-bob", 1, 0)
        },
    ];
    let row = |seq: i64, doc: &str, user: Option<&str>, ins: Option<i64>| -> InsertedChange {
        (
            seq,
            doc.into(),
            user.map(Into::into),
            user.map(|u| entity_of(u).into()),
            ins,
            Some(1),
        )
    };
    // In no particular order; "c" was already stored (nothing inserted).
    let inserted = vec![
        row(12, "a", Some("u-alice"), Some(3)),
        row(10, "a", Some("u-alice"), Some(1)),
        row(13, "b", None, None),
        row(11, "a", Some("u-bob"), None),
        row(14, "b", Some("u-bob"), Some(4)),
    ];
    let run = |user: &str, first, last, changes, ins, del| UserRun {
        user_id: user.into(),
        entity_code: Some(entity_of(user).into()),
        first_seq: first,
        last_seq: last,
        changes,
        inserted: ins,
        deleted: del,
    };
    assert_eq!(
        batch_history(&changes, inserted),
        [
            DocBatch {
                doc_id: "a".into(),
                through_seq: 12,
                heads_after: Some("late"),
                runs: vec![
                    run("u-alice", 10, 12, 2, 4, 2),
                    run("u-bob", 11, 11, 1, 0, 1)
                ],
            },
            DocBatch {
                doc_id: "b".into(),
                through_seq: 14,
                heads_after: Some("b-heads"),
                runs: vec![run("u-bob", 14, 14, 1, 4, 1)],
            },
        ]
    );
}

async fn revisions_follow_one_users_gaps(store: Store) {
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    // One user typing at t, t+10s, t+25s: one revision.
    commit_at(
        &store,
        T0,
        with_heads(
            vec![
                typing(a, "a1", "u-alice", 3, 0),
                typing(a, "a2", "u-alice", 2, 1),
            ],
            "0a01",
        ),
    )
    .await;
    commit_at(
        &store,
        T0 + 10 * SEC,
        with_heads(vec![typing(a, "a3", "u-alice", 5, 0)], "0a02"),
    )
    .await;
    commit_at(
        &store,
        T0 + 25 * SEC,
        with_heads(vec![typing(a, "a4", "u-alice", 0, 4)], "0a03"),
    )
    .await;
    let seq = seqs(&store, "d1").await;
    let revs = all_revisions(&store, "d1").await;
    let first = RevisionRow {
        id: revs[0].id,
        draft_id: "d1".into(),
        doc_id: a.into(),
        element_id: "d1-el-0".into(),
        user_id: "u-alice".into(),
        user_name: Some("Alice".into()),
        entity_code: Some("US".into()),
        start_at: T0,
        end_at: T0 + 25 * SEC,
        first_seq: seq[&bytes("a1")],
        last_seq: seq[&bytes("a4")],
        changes: 4,
        inserted: 10,
        deleted: 5,
        before_heads: "[]".into(),
        after_heads: Some(heads("0a03")),
    };
    assert_eq!(revs, std::slice::from_ref(&first));

    // 35 s after its end: a second revision, starting from the first's heads.
    commit_at(
        &store,
        T0 + 60 * SEC,
        with_heads(vec![typing(a, "a5", "u-alice", 1, 0)], "0a04"),
    )
    .await;
    // 29.999 s later: the same revision (no heads given: its after heads stay;
    // the server's own change is nobody's revision).
    let second_end = T0 + 60 * SEC + 29_999;
    commit_at(
        &store,
        second_end,
        vec![typing(a, "a6", "u-alice", 1, 0), server_change(a, "s1")],
    )
    .await;
    // Exactly 30 s after its end: a third.
    let third = second_end + REVISION_GAP_MS;
    commit_at(
        &store,
        third,
        with_heads(vec![typing(a, "a7", "u-alice", 0, 2)], "0a07"),
    )
    .await;
    let seq = seqs(&store, "d1").await;
    let revs = all_revisions(&store, "d1").await;
    assert_eq!(revs.len(), 3, "{revs:#?}");
    assert_eq!(revs[0], first);
    assert!(revs[0].id < revs[1].id && revs[1].id < revs[2].id);
    assert_eq!(
        revs[1],
        RevisionRow {
            id: revs[1].id,
            start_at: T0 + 60 * SEC,
            end_at: second_end,
            first_seq: seq[&bytes("a5")],
            last_seq: seq[&bytes("a6")],
            changes: 2,
            inserted: 2,
            deleted: 0,
            before_heads: heads("0a03"),
            after_heads: Some(heads("0a04")),
            ..first.clone()
        }
    );
    assert_eq!(
        revs[2],
        RevisionRow {
            id: revs[2].id,
            start_at: third,
            end_at: third,
            first_seq: seq[&bytes("a7")],
            last_seq: seq[&bytes("a7")],
            changes: 1,
            inserted: 0,
            deleted: 2,
            // The latest heads before its batch (the batch in between gave none).
            before_heads: heads("0a04"),
            after_heads: Some(heads("0a07")),
            ..first
        }
    );
    // Commit order, not time, picks the revision to extend: a batch stamped
    // earlier than the latest revision's end extends it (its end stays).
    commit_at(
        &store,
        third - 5 * SEC,
        vec![typing(a, "a8", "u-alice", 1, 0)],
    )
    .await;
    let revs = all_revisions(&store, "d1").await;
    assert_eq!(revs.len(), 3);
    assert_eq!((revs[2].end_at, revs[2].changes), (third, 2));
}
test_both_dbs!(
    revisions_follow_one_users_gaps,
    sqlite_revisions_follow_one_users_gaps,
    postgres_revisions_follow_one_users_gaps
);

async fn revisions_per_user_whatever_others_type(store: Store) {
    setup_history(&store).await;
    let b = "d1-doc-el-1";
    // Carol (unknown to the users table) typed long before.
    commit_at(
        &store,
        T0 - 100 * SEC,
        with_heads(vec![typing(b, "c0", "u-carol", 4, 0)], "0c00"),
    )
    .await;
    // Alice alone, then Bob and Alice interleaved in one batch (with a
    // change of the server's), then each of them alone, every second.
    commit_at(
        &store,
        T0,
        with_heads(
            vec![
                typing(b, "x1", "u-alice", 1, 0),
                typing(b, "x2", "u-alice", 1, 0),
            ],
            "0b01",
        ),
    )
    .await;
    commit_at(
        &store,
        T0 + SEC,
        with_heads(
            vec![
                typing(b, "y1", "u-bob", 2, 0),
                typing(b, "x3", "u-alice", 0, 1),
                server_change(b, "s1"),
                typing(b, "y2", "u-bob", 3, 1),
            ],
            "0b02",
        ),
    )
    .await;
    for i in 3..=10_i64 {
        let user = if i % 2 == 0 { "u-alice" } else { "u-bob" };
        commit_at(
            &store,
            T0 + (i - 1) * SEC,
            with_heads(
                vec![typing(b, &format!("z{i}"), user, 1, 0)],
                &format!("0b{i:02}"),
            ),
        )
        .await;
    }
    let seq = seqs(&store, "d1").await;
    let revs = all_revisions(&store, "d1").await;
    let carol = RevisionRow {
        id: revs[0].id,
        draft_id: "d1".into(),
        doc_id: b.into(),
        element_id: "d1-el-1".into(),
        user_id: "u-carol".into(),
        user_name: None,
        entity_code: Some("G77".into()),
        start_at: T0 - 100 * SEC,
        end_at: T0 - 100 * SEC,
        first_seq: seq[&bytes("c0")],
        last_seq: seq[&bytes("c0")],
        changes: 1,
        inserted: 4,
        deleted: 0,
        before_heads: "[]".into(),
        after_heads: Some(heads("0c00")),
    };
    let alice = RevisionRow {
        id: revs[1].id,
        user_id: "u-alice".into(),
        user_name: Some("Alice".into()),
        entity_code: Some("US".into()),
        start_at: T0,
        end_at: T0 + 9 * SEC,
        first_seq: seq[&bytes("x1")],
        last_seq: seq[&bytes("z10")],
        changes: 7,
        inserted: 6,
        deleted: 1,
        before_heads: heads("0c00"),
        after_heads: Some(heads("0b10")),
        ..carol.clone()
    };
    let bob = RevisionRow {
        id: revs[2].id,
        user_id: "u-bob".into(),
        user_name: Some("Bob".into()),
        entity_code: Some("EU".into()),
        start_at: T0 + SEC,
        end_at: T0 + 8 * SEC,
        first_seq: seq[&bytes("y1")],
        last_seq: seq[&bytes("z9")],
        changes: 6,
        inserted: 9,
        deleted: 1,
        before_heads: heads("0b01"),
        after_heads: Some(heads("0b09")),
        ..carol.clone()
    };
    assert_eq!(revs, [carol, alice, bob]);
}
test_both_dbs!(
    revisions_per_user_whatever_others_type,
    sqlite_revisions_per_user_whatever_others_type,
    postgres_revisions_per_user_whatever_others_type
);

/// `(doc_id, through_seq, committed_at, heads)` of every doc_heads row, by id.
async fn doc_heads_rows(store: &Store) -> Vec<(String, i64, i64, String)> {
    const SQL: &str =
        "SELECT doc_id, through_seq, committed_at, heads FROM doc_heads ORDER BY doc_id, id";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        Store::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
    }
    .unwrap()
}

async fn doc_heads_per_batch_and_by_time(store: Store) {
    setup_history(&store).await;
    let (a, b, ix) = ("d1-doc-el-0", "d1-doc-el-1", "d1-index");
    assert_eq!(store.doc_heads_at(a, i64::MAX).await.unwrap(), None);
    assert!(
        store
            .draft_heads_at("d1", i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    // One batch of two documents: a row each, through its last new seq.
    commit_at(
        &store,
        T0,
        vec![
            typing(a, "a1", "u-alice", 1, 0),
            typing(b, "b1", "u-bob", 1, 0),
            NewChange {
                heads_after: Some(heads("0a02")),
                ..typing(a, "a2", "u-alice", 1, 0)
            },
            NewChange {
                heads_after: Some(heads("0b02")),
                ..typing(b, "b2", "u-bob", 1, 0)
            },
        ],
    )
    .await;
    let (a_t0, b_t0) = (
        store.max_seq(a).await.unwrap(),
        store.max_seq(b).await.unwrap(),
    );
    assert_eq!(
        doc_heads_rows(&store).await,
        [
            (a.to_owned(), a_t0, T0, heads("0a02")),
            (b.to_owned(), b_t0, T0, heads("0b02")),
        ]
    );
    // Of several heads given for a document, the last wins.
    commit_at(
        &store,
        T0 + 10 * SEC,
        vec![
            NewChange {
                heads_after: Some(heads("0a0f")),
                ..typing(a, "a3", "u-alice", 1, 0)
            },
            NewChange {
                heads_after: Some(heads("0a04")),
                ..typing(a, "a4", "u-alice", 1, 0)
            },
        ],
    )
    .await;
    let a_t10 = store.max_seq(a).await.unwrap();
    // No heads given: no row. Nothing new stored: no row either.
    commit_at(
        &store,
        T0 + 20 * SEC,
        vec![typing(a, "a5", "u-alice", 1, 0)],
    )
    .await;
    let again = commit_at(
        &store,
        T0 + 30 * SEC,
        with_heads(vec![typing(a, "a4", "u-alice", 1, 0)], "0aff"),
    )
    .await;
    assert_eq!(again.stored, 0);
    assert_eq!(
        doc_heads_rows(&store).await,
        [
            (a.to_owned(), a_t0, T0, heads("0a02")),
            (a.to_owned(), a_t10, T0 + 10 * SEC, heads("0a04")),
            (b.to_owned(), b_t0, T0, heads("0b02")),
        ]
    );
    for (at, expected) in [
        (T0 - 1, None),
        (T0, Some("0a02")),
        (T0 + 10 * SEC - 1, Some("0a02")),
        (T0 + 10 * SEC, Some("0a04")),
        (T0 + 35 * SEC, Some("0a04")),
        (i64::MAX, Some("0a04")),
    ] {
        assert_eq!(
            store.doc_heads_at(a, at).await.unwrap(),
            expected.map(heads),
            "at {at}"
        );
    }
    // Two batches at the same time: the later one is the state at that time.
    for (hash, h) in [("a6", "0a06"), ("a7", "0a07")] {
        commit_at(
            &store,
            T0 + 40 * SEC,
            with_heads(vec![typing(a, hash, "u-alice", 1, 0)], h),
        )
        .await;
    }
    assert_eq!(
        store.doc_heads_at(a, T0 + 40 * SEC).await.unwrap(),
        Some(heads("0a07"))
    );
    assert_eq!(
        store.doc_heads_at(b, T0 + 40 * SEC).await.unwrap(),
        Some(heads("0b02"))
    );
    assert_eq!(store.doc_heads_at("nope", i64::MAX).await.unwrap(), None);

    // A structure edit records the index document's heads (and archives el-0:
    // archived elements stay part of the draft's versions).
    let edited = store
        .apply_structure(&StructureEdit {
            draft_id: "d1".into(),
            index_changes: vec![NewChange {
                heads_after: Some(heads("1d01")),
                ..index_change("ix1")
            }],
            archived: vec![("d1-el-0".into(), true)],
            ..StructureEdit::default()
        })
        .await
        .unwrap();
    assert!(edited > T0 + 40 * SEC);
    assert_eq!(
        store.doc_heads_at(ix, edited).await.unwrap(),
        Some(heads("1d01"))
    );
    assert_eq!(store.doc_heads_at(ix, edited - 1).await.unwrap(), None);
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(d, h)| (d.to_string(), heads(h)))
            .collect()
    };
    assert!(store.draft_heads_at("d1", T0 - 1).await.unwrap().is_empty());
    // Elements in their current order (archived last); el-2 has none, nor
    // had the index then.
    assert_eq!(
        store.draft_heads_at("d1", T0 + 15 * SEC).await.unwrap(),
        pairs(&[(b, "0b02"), (a, "0a04")])
    );
    // The index first.
    assert_eq!(
        store.draft_heads_at("d1", edited).await.unwrap(),
        pairs(&[(ix, "1d01"), (b, "0b02"), (a, "0a07")])
    );
    assert!(
        store
            .draft_heads_at("nope", i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    // The chair's index change makes no revision: revisions are of elements.
    let revs = all_revisions(&store, "d1").await;
    assert!(revs.iter().all(|r| r.doc_id != ix), "{revs:#?}");
}
test_both_dbs!(
    doc_heads_per_batch_and_by_time,
    sqlite_doc_heads_per_batch_and_by_time,
    postgres_doc_heads_per_batch_and_by_time
);

/// `(hash, inserted, deleted)` of a document's changes in seq order.
async fn counts(store: &Store, doc: &str) -> Vec<(Vec<u8>, Option<i64>, Option<i64>)> {
    const SQL: &str = "SELECT hash, inserted, deleted FROM changes WHERE doc_id = $1 ORDER BY seq";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(SQL).bind(doc).fetch_all(pool).await,
        Store::Postgres(pool) => sqlx::query_as(SQL).bind(doc).fetch_all(pool).await,
    }
    .unwrap()
}

async fn change_authors_in_seq_order(store: Store) {
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    let created = store.draft("d1").await.unwrap().unwrap().created_at;
    commit_at(
        &store,
        T0,
        vec![
            typing(a, "a1", "u-bob", 1, 0),
            server_change(a, "s1"),
            typing(a, "a2", "u-alice", 0, 2),
        ],
    )
    .await;
    // An earlier clock does not reorder: seq order is commit order.
    commit_at(&store, T0 - 5 * SEC, vec![typing(a, "a3", "u-carol", 7, 3)]).await;
    let author = |hash: &str, user: Option<&str>, at: i64| {
        (
            bytes(hash),
            user.map(Into::into),
            user.map(|u| entity_of(u).to_owned()),
            at,
        )
    };
    assert_eq!(
        store.change_authors(a).await.unwrap(),
        [
            author("d1-doc-el-0-h1", None, created),
            author("d1-doc-el-0-h2", None, created),
            author("a1", Some("u-bob"), T0),
            author("s1", None, T0),
            author("a2", Some("u-alice"), T0),
            author("a3", Some("u-carol"), T0 - 5 * SEC),
        ]
    );
    assert!(store.change_authors("nope").await.unwrap().is_empty());
    // The character counts are stored with each change (none for the
    // initial changes nor where the caller gave none).
    assert_eq!(
        counts(&store, a).await,
        [
            (bytes("d1-doc-el-0-h1"), None, None),
            (bytes("d1-doc-el-0-h2"), None, None),
            (bytes("a1"), Some(1), Some(0)),
            (bytes("s1"), None, None),
            (bytes("a2"), Some(0), Some(2)),
            (bytes("a3"), Some(7), Some(3)),
        ]
    );
}
test_both_dbs!(
    change_authors_in_seq_order,
    sqlite_change_authors_in_seq_order,
    postgres_change_authors_in_seq_order
);

async fn history_is_part_of_the_commit(store: Store) {
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    let batch = with_heads(vec![typing(a, "a1", "u-alice", 1, 0)], "0a01");
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_revisions BEFORE INSERT ON revisions \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_revisions;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_revisions() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_revisions BEFORE INSERT ON revisions \
             FOR EACH ROW EXECUTE FUNCTION fail_revisions();",
            "DROP TRIGGER fail_revisions ON revisions; DROP FUNCTION fail_revisions();",
        ),
    };
    exec_raw(&store, create).await;
    let err = store.commit_at(&batch, T0).await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.changes_count(a).await.unwrap(), 2);
    assert!(doc_heads_rows(&store).await.is_empty());
    assert!(store.actor_owners().await.unwrap().is_empty());
    exec_raw(&store, drop_trigger).await;

    assert_eq!(commit_at(&store, T0, batch).await.stored, 1);
    assert_eq!(doc_heads_rows(&store).await.len(), 1);
    assert_eq!(all_revisions(&store, "d1").await.len(), 1);
    // `commit` is `commit_at` on the server's clock.
    let receipt = store
        .commit(&[typing(a, "a2", "u-alice", 1, 0)])
        .await
        .unwrap();
    assert!(receipt.committed_at > T0);
    let revs = all_revisions(&store, "d1").await;
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1].start_at, receipt.committed_at);
}
test_both_dbs!(
    history_is_part_of_the_commit,
    sqlite_history_is_part_of_the_commit,
    postgres_history_is_part_of_the_commit
);

/// Every page of `fetch(after)` (pages of `limit`), concatenated; each page
/// continues after the cursor `key(last row)` of the one before.
async fn all_pages<T, F, Fut>(limit: usize, key: impl Fn(&T) -> (i64, i64), fetch: F) -> Vec<T>
where
    F: Fn(Option<(i64, i64)>) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(after).await;
        assert!(page.len() <= limit);
        let Some(last) = page.last() else { break };
        after = Some(key(last));
        let full = page.len() == limit;
        all.extend(page);
        if !full {
            break;
        }
    }
    all
}

async fn history_filters_and_cursors(store: Store) {
    setup_history(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let el = |i: usize| format!("d1-doc-el-{i}");

    // --- Revisions.
    commit_at(
        &store,
        T0,
        vec![
            typing(&el(0), "r1", "u-alice", 1, 0),
            typing(&el(1), "r2", "u-bob", 1, 0),
        ],
    )
    .await;
    commit_at(
        &store,
        T0 + 100 * SEC,
        vec![typing(&el(0), "r3", "u-bob", 1, 0)],
    )
    .await;
    commit_at(
        &store,
        T0 + 150 * SEC,
        vec![typing("d2-doc-el-0", "o1", "u-alice", 1, 0)],
    )
    .await;
    commit_at(
        &store,
        T0 + 200 * SEC,
        vec![
            typing(&el(2), "r4", "u-alice", 1, 0),
            typing(&el(2), "r5", "u-carol", 1, 0),
        ],
    )
    .await;
    commit_at(
        &store,
        T0 + 300 * SEC,
        vec![typing(&el(0), "r6", "u-alice", 1, 0)],
    )
    .await;
    let revs = all_revisions(&store, "d1").await;
    assert!(
        revs.windows(2)
            .all(|w| (w[0].start_at, w[0].id) < (w[1].start_at, w[1].id))
    );
    let mut listed: Vec<(i64, String, String)> = revs
        .iter()
        .map(|r| (r.start_at - T0, r.element_id.clone(), r.user_id.clone()))
        .collect();
    listed.sort();
    let secs = |list: &[(i64, &str, &str)]| -> Vec<(i64, String, String)> {
        list.iter()
            .map(|(s, e, u)| (s * SEC, e.to_string(), u.to_string()))
            .collect()
    };
    assert_eq!(
        listed,
        secs(&[
            (0, "d1-el-0", "u-alice"),
            (0, "d1-el-1", "u-bob"),
            (100, "d1-el-0", "u-bob"),
            (200, "d1-el-2", "u-alice"),
            (200, "d1-el-2", "u-carol"),
            (300, "d1-el-0", "u-alice"),
        ])
    );
    let revisions = |filter: HistoryFilter| {
        let store = store.clone();
        async move {
            let rows = store.revisions("d1", &filter, None, 100).await.unwrap();
            rows.into_iter()
                .map(|r| (r.start_at - T0, r.element_id, r.user_id))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        revisions(HistoryFilter {
            element_id: Some("d1-el-0".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[
            (0, "d1-el-0", "u-alice"),
            (100, "d1-el-0", "u-bob"),
            (300, "d1-el-0", "u-alice")
        ])
    );
    assert_eq!(
        revisions(HistoryFilter {
            entity_code: Some("US".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[
            (0, "d1-el-0", "u-alice"),
            (200, "d1-el-2", "u-alice"),
            (300, "d1-el-0", "u-alice")
        ])
    );
    assert_eq!(
        revisions(HistoryFilter {
            user_id: Some("u-bob".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(0, "d1-el-1", "u-bob"), (100, "d1-el-0", "u-bob")])
    );
    let mut ranged = revisions(HistoryFilter {
        from: Some(T0 + 100 * SEC),
        to: Some(T0 + 300 * SEC),
        ..HistoryFilter::default()
    })
    .await;
    ranged.sort();
    assert_eq!(
        ranged,
        secs(&[
            (100, "d1-el-0", "u-bob"),
            (200, "d1-el-2", "u-alice"),
            (200, "d1-el-2", "u-carol")
        ])
    );
    assert_eq!(
        revisions(HistoryFilter {
            element_id: Some("d1-el-0".into()),
            user_id: Some("u-alice".into()),
            from: Some(T0 + 1),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(300, "d1-el-0", "u-alice")])
    );
    // Cursor paging gives every revision once, in order, also within one start time.
    let paged = all_pages(
        2,
        |r: &RevisionRow| (r.start_at, r.id),
        |after| {
            let store = store.clone();
            async move {
                store
                    .revisions("d1", &HistoryFilter::default(), after, 2)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(paged, revs);
    let one_by_one = all_pages(
        1,
        |r: &RevisionRow| (r.start_at, r.id),
        |after| {
            let store = store.clone();
            async move {
                store
                    .revisions("d1", &HistoryFilter::default(), after, 1)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(one_by_one, revs);
    let d2 = all_revisions(&store, "d2").await;
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0].element_id, "d2-el-0");
    assert!(all_revisions(&store, "nope").await.is_empty());

    // --- Events (the timeline).
    store
        .create_version("d1", "V1", "{}", Some("u-chair"), false, T0)
        .await
        .unwrap();
    store
        .create_version("d2", "Other", "{}", Some("u-chair"), false, T0 + SEC)
        .await
        .unwrap();
    store
        .adopt_element("d1", "d1-el-0", "text", HASH_A, "[]", "u-chair", T0 + SEC)
        .await
        .unwrap();
    let silence = start(&store, 1, T0 + 2 * SEC, T0 + DAY).await;
    let (_, broken) = store
        .record_position(
            &position(1, "G77", "object", T0 + 3 * SEC),
            Some(silence.id),
        )
        .await
        .unwrap();
    assert!(broken);
    store
        .create_version("d1", "V2", "{}", Some("u-chair"), false, T0 + 3 * SEC)
        .await
        .unwrap();
    let late = store
        .record_event("d1", &event("note", None))
        .await
        .unwrap();
    assert!(late.at > T0 + DAY);

    let events = |filter: HistoryFilter, after: Option<(i64, i64)>| {
        let store = store.clone();
        async move {
            store
                .events_between("d1", &filter, after, 100)
                .await
                .unwrap()
        }
    };
    let kinds =
        |rows: &[EventRow]| -> Vec<String> { rows.iter().map(|e| e.kind.clone()).collect() };
    let all = events(HistoryFilter::default(), None).await;
    assert_eq!(
        kinds(&all),
        [
            "version_named",
            "element_adopted",
            "silence_started",
            "silence_broken",
            "version_named",
            "note"
        ]
    );
    assert_eq!(all, store.events("d1", 0, 100).await.unwrap());
    let filtered = |f: HistoryFilter| {
        let events = &events;
        async move { kinds(&events(f, None).await) }
    };
    assert_eq!(
        filtered(HistoryFilter {
            element_id: Some("d1-el-1".into()),
            ..HistoryFilter::default()
        })
        .await,
        ["silence_started", "silence_broken"]
    );
    assert_eq!(
        filtered(HistoryFilter {
            entity_code: Some("G77".into()),
            ..HistoryFilter::default()
        })
        .await,
        ["silence_broken"]
    );
    assert_eq!(
        filtered(HistoryFilter {
            user_id: Some("u-chair".into()),
            ..HistoryFilter::default()
        })
        .await,
        [
            "version_named",
            "element_adopted",
            "silence_started",
            "version_named",
            "note"
        ]
    );
    assert_eq!(
        filtered(HistoryFilter {
            from: Some(T0 + SEC),
            to: Some(T0 + 3 * SEC),
            ..HistoryFilter::default()
        })
        .await,
        ["element_adopted", "silence_started"]
    );
    let at_broken = all[3].clone();
    assert_eq!(
        kinds(
            &events(
                HistoryFilter::default(),
                Some((at_broken.at, at_broken.seq))
            )
            .await
        ),
        ["version_named", "note"]
    );
    let paged = all_pages(
        1,
        |e: &EventRow| (e.at, e.seq),
        |after| {
            let store = store.clone();
            async move {
                store
                    .events_between("d1", &HistoryFilter::default(), after, 1)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(paged, all);

    // --- Positions (the ledger), out of time order.
    for p in [
        position(0, "US", "support", T0 + 5 * SEC),
        position(2, "US", "abstain", T0 + 4 * SEC),
        position(0, "G77", "support", T0 + 5 * SEC),
        by_silence(2, "G77", T0 + 6 * SEC),
    ] {
        store.record_position(&p, None).await.unwrap();
    }
    let ledger = |filter: HistoryFilter| {
        let store = store.clone();
        async move {
            store
                .positions_between("d1", &filter, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|p| (p.at - T0, p.element_id, p.entity_code))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ledger(HistoryFilter::default()).await,
        secs(&[
            (3, "d1-el-1", "G77"),
            (4, "d1-el-2", "US"),
            (5, "d1-el-0", "US"),
            (5, "d1-el-0", "G77"),
            (6, "d1-el-2", "G77"),
        ])
    );
    assert_eq!(
        ledger(HistoryFilter {
            entity_code: Some("US".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(4, "d1-el-2", "US"), (5, "d1-el-0", "US")])
    );
    assert_eq!(
        ledger(HistoryFilter {
            user_id: Some("u-G77".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(3, "d1-el-1", "G77"), (5, "d1-el-0", "G77")])
    );
    assert_eq!(
        ledger(HistoryFilter {
            element_id: Some("d1-el-2".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(4, "d1-el-2", "US"), (6, "d1-el-2", "G77")])
    );
    assert_eq!(
        ledger(HistoryFilter {
            from: Some(T0 + 4 * SEC),
            to: Some(T0 + 6 * SEC),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[
            (4, "d1-el-2", "US"),
            (5, "d1-el-0", "US"),
            (5, "d1-el-0", "G77")
        ])
    );
    let all_positions = store
        .positions_between("d1", &HistoryFilter::default(), None, 100)
        .await
        .unwrap();
    let paged = all_pages(
        2,
        |p: &PositionRow| (p.at, p.seq),
        |after| {
            let store = store.clone();
            async move {
                store
                    .positions_between("d1", &HistoryFilter::default(), after, 2)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(paged, all_positions);
    assert!(
        store
            .positions_between("d2", &HistoryFilter::default(), None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Everyone who appears, once per (user, entity), by name.
    let people = store.history_people("d1").await.unwrap();
    let who = |list: &[(&str, Option<&str>, Option<&str>)]| -> Vec<(String, Option<String>, Option<String>)> {
        list.iter()
            .map(|(u, n, e)| (u.to_string(), n.map(str::to_owned), e.map(str::to_owned)))
            .collect()
    };
    assert_eq!(
        people,
        who(&[
            ("u-alice", Some("Alice"), Some("US")),
            ("u-bob", Some("Bob"), Some("EU")),
            ("u-G77", None, Some("G77")),
            ("u-US", None, Some("US")),
            ("u-carol", None, Some("G77")),
            ("u-chair", None, None),
        ])
    );
    assert_eq!(
        store.history_people("d2").await.unwrap(),
        who(&[
            ("u-alice", Some("Alice"), Some("US")),
            ("u-chair", None, None)
        ])
    );
}
test_both_dbs!(
    history_filters_and_cursors,
    sqlite_history_filters_and_cursors,
    postgres_history_filters_and_cursors
);

/// 100,000 changes on one element document, in 1,000 batches of 100 (Alice
/// and Bob interleaved, every 10 s, with a 60 s pause every 10 batches):
/// history queries read the kept history, never the change log. Timings are
/// printed (the benchmark proper is elsewhere).
async fn history_of_100k_changes(store: Store) {
    use std::time::Instant;
    const BATCHES: i64 = 1_000;
    const PER_BATCH: i64 = 100;
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    let time = |b: i64| T0 + b * 10 * SEC + (b / 10) * 60 * SEC;
    let hash = |b: i64| format!("{b:064x}");
    let started = Instant::now();
    for b in 0..BATCHES {
        let batch: Vec<NewChange> = (0..PER_BATCH)
            .map(|i| {
                let user = if i % 2 == 0 { "u-alice" } else { "u-bob" };
                let deleted = i64::from(i % 10 == 0);
                typing(a, &format!("c{b}-{i}"), user, 1, deleted)
            })
            .collect();
        let receipt = commit_at(&store, time(b), with_heads(batch, &hash(b))).await;
        assert_eq!(receipt.stored, PER_BATCH as usize);
    }
    eprintln!(
        "[{}] committed {} changes in {BATCHES} batches: {:?}",
        store.backend_name(),
        BATCHES * PER_BATCH,
        started.elapsed()
    );
    assert_eq!(
        store.changes_count(a).await.unwrap(),
        BATCHES * PER_BATCH + 2
    );

    // Revisions: one per user per 10-batch block, paged 50 at a time.
    let t = Instant::now();
    let first_page = store
        .revisions("d1", &HistoryFilter::default(), None, 50)
        .await
        .unwrap();
    let first_page_time = t.elapsed();
    assert_eq!(first_page.len(), 50);
    let mut revs = first_page.clone();
    let mut page_times = Vec::new();
    loop {
        let last = revs.last().unwrap();
        let t = Instant::now();
        let page = store
            .revisions(
                "d1",
                &HistoryFilter::default(),
                Some((last.start_at, last.id)),
                50,
            )
            .await
            .unwrap();
        page_times.push(t.elapsed());
        if page.is_empty() {
            break;
        }
        revs.extend(page);
    }
    eprintln!(
        "[{}] revisions: first page {first_page_time:?}, next pages {page_times:?}",
        store.backend_name()
    );
    assert_eq!(revs.len(), 200);
    for (k, pair) in (0_i64..).zip(revs.chunks(2)) {
        let before = if k == 0 {
            "[]".to_owned()
        } else {
            heads(&hash(10 * k - 1))
        };
        let mut users = Vec::new();
        for r in pair {
            assert_eq!(
                (r.start_at, r.end_at, r.changes, r.inserted),
                (time(10 * k), time(10 * k + 9), 500, 500),
                "block {k}"
            );
            assert_eq!(r.deleted, if r.user_id == "u-alice" { 100 } else { 0 });
            assert_eq!(r.before_heads, before);
            assert_eq!(r.after_heads, Some(heads(&hash(10 * k + 9))));
            users.push(r.user_id.as_str());
        }
        users.sort_unstable();
        assert_eq!(users, ["u-alice", "u-bob"]);
    }
    let t = Instant::now();
    let bobs = store
        .revisions(
            "d1",
            &HistoryFilter {
                user_id: Some("u-bob".into()),
                from: Some(time(500)),
                ..HistoryFilter::default()
            },
            None,
            20,
        )
        .await
        .unwrap();
    eprintln!(
        "[{}] revisions by user from a time: {:?}",
        store.backend_name(),
        t.elapsed()
    );
    assert_eq!(bobs.len(), 20);
    assert!(bobs.iter().all(|r| r.user_id == "u-bob"));
    assert_eq!(bobs[0].start_at, time(500));

    // The document and the draft at a time.
    let t = Instant::now();
    assert_eq!(store.doc_heads_at(a, time(0) - 1).await.unwrap(), None);
    for b in [0, 1, 499, 500, 998, 999] {
        for at in [time(b), time(b) + 5 * SEC] {
            assert_eq!(
                store.doc_heads_at(a, at).await.unwrap(),
                Some(heads(&hash(b))),
                "batch {b}"
            );
        }
    }
    eprintln!(
        "[{}] 13 doc_heads_at: {:?}",
        store.backend_name(),
        t.elapsed()
    );
    let t = Instant::now();
    assert_eq!(
        store.draft_heads_at("d1", time(500)).await.unwrap(),
        [(a.to_owned(), heads(&hash(500)))]
    );
    eprintln!(
        "[{}] draft_heads_at: {:?}",
        store.backend_name(),
        t.elapsed()
    );
    let t = Instant::now();
    let authors = store.change_authors(a).await.unwrap();
    eprintln!(
        "[{}] change_authors ({} rows): {:?}",
        store.backend_name(),
        authors.len(),
        t.elapsed()
    );
    assert_eq!(authors.len() as i64, BATCHES * PER_BATCH + 2);
    assert_eq!(authors[2].0, bytes("c0-0"));
    assert_eq!(authors.last().unwrap().3, time(BATCHES - 1));
}
test_both_dbs!(
    history_of_100k_changes,
    sqlite_history_of_100k_changes,
    postgres_history_of_100k_changes
);
