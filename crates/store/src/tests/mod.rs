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

// The tests of each area (after the macro and helpers above, which they use).
mod amendments;
mod changes;
mod consensus;
mod drafts;
mod history;
mod history_pages;
mod identity;
mod ops;
mod structure;
