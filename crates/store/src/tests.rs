//! Store tests. Each runs against a fresh SQLite file always, and against a
//! fresh PostgreSQL database (`ACCORD_TEST_PG_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): a PostgreSQL that cannot be
//! reached fails those tests, it does not skip them.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Connection;

use super::*;

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
        peer_id: Some(format!("peer-{user}")),
        conn_id: Some(conn),
        user_id: Some(user.into()),
        entity_code: Some("EU".into()),
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
