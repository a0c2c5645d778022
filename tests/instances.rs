//! One `accord serve` per database: a second one on the same database is
//! refused and changes nothing while the first keeps serving; the
//! administration CLI works beside a running server; the lock goes with
//! the server (SIGTERM, `kill -9`, a dropped PostgreSQL connection); and
//! processes racing the first migration of a new database all succeed.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::process::{Child, Command};

use crate::harness::{
    Backend, Client, Db, TestServer, binary, free_port, http_get, on_both_backends, run_cli, within,
};

/// What a refused second server says (the store's message).
const ALREADY_RUNNING: &str = "another `accord serve` is already running on this database";
const NOT_SUPPORTED: &str = "Several instances on one database are not supported yet.";
/// The advisory lock `accord serve` holds on PostgreSQL.
const PG_LOCK_KEY: i64 = 0x6163_636f_7264_0001;

/// `accord serve` on `url` and `port`, its output in `log`.
fn spawn_serve(url: &str, port: u16, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("creating a server log");
    let stderr = log.try_clone().expect("cloning a file handle");
    Command::new(binary())
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url])
        .args(["--public-url", &format!("http://127.0.0.1:{port}")])
        .arg("--no-first-chair")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(stderr))
        .kill_on_drop(true)
        .spawn()
        .expect("spawning accord serve")
}

/// Starts another `accord serve` on `db`, expecting it to refuse: its exit
/// status and everything it printed. Panics if it is still running after
/// 20 s (it started serving).
async fn second_serve(db: &Db) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let log = dir.path().join("second.log");
    let mut child = spawn_serve(db.url(), free_port(), &log);
    let status = match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
        Ok(status) => status.expect("waiting for the second server"),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "a second `accord serve` on the same database is still running after 20 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

/// A second `accord serve` on `db` exits non-zero, saying why.
async fn assert_refused(db: &Db) {
    let (status, output) = second_serve(db).await;
    assert!(!status.success(), "the second server exited {status}");
    assert!(output.contains(ALREADY_RUNNING), "{output}");
    assert!(output.contains(NOT_SUPPORTED), "{output}");
    match db.backend {
        Backend::Sqlite => assert!(output.contains("accord.db.lock"), "{output}"),
        Backend::Postgres => assert!(output.contains("advisory lock"), "{output}"),
    }
    assert!(!output.contains("Accord is listening"), "{output}");
}

/// Row counts of the tables a starting server writes.
async fn counts(db: &Db) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "users",
        "actors",
        "meta",
        "drafts",
        "documents",
        "changes",
        "snapshots",
        "events",
        "sessions",
    ] {
        out.push(
            db.scalar_i64(&format!("SELECT COUNT(*) FROM {table}"))
                .await,
        );
    }
    out
}

/// A second server is refused and changes nothing; the first keeps
/// serving and accepting edits, and the CLI works beside it.
async fn a_second_serve_is_refused(db: Db) {
    let server = TestServer::start(db).await;
    let doc = server.element_doc(0).await;
    let mut client = Client::connect(&server).await;
    client.open(&doc).await;
    client.append(&doc, " (before)").await;
    server.wait_element_heads(&doc, &client.heads(&doc)).await;

    let before = counts(server.db()).await;
    assert_refused(server.db()).await;
    assert_eq!(
        counts(server.db()).await,
        before,
        "the refused server wrote"
    );

    // The first server did not notice.
    client.append(&doc, " (after)").await;
    server.wait_element_heads(&doc, &client.heads(&doc)).await;
    assert!(!client.is_closed());
    assert!(client.text(&doc).ends_with(" (before) (after)"));

    // The administration CLI works beside it.
    let invite = server.add_user("clerk", "reviewer", None).await;
    assert_eq!(server.sign_in(&invite).await.status, 200);
    let (ok, out, err) = server.cli(&["user", "list"]).await;
    assert!(ok && out.contains("clerk"), "{out}{err}");
    let draft = server.draft().await;
    let id = draft["id"].as_str().expect("a draft id");
    let (ok, out, err) = server.cli(&["draft", "list"]).await;
    assert!(ok && out.contains(id), "{out}{err}");
    let (ok, out, err) = server.cli(&["status", "--color", "never"]).await;
    assert!(ok && !out.is_empty(), "{out}{err}");
    let (ok, out, err) = server.cli(&["entity", "list"]).await;
    assert!(ok && !out.is_empty(), "{out}{err}");
    let (ok, out, err) = server.cli(&["export"]).await;
    assert!(ok && out.contains("(before) (after)"), "{out}{err}");
    let (ok, out, err) = run_cli(server.db().url(), &[], &["migrate"]).await;
    assert!(ok, "{out}{err}");
    if server.db().backend == Backend::Sqlite {
        let dir = tempfile::tempdir().expect("a temp dir");
        let backup = dir.path().join("backup.db");
        let (ok, out, err) = server
            .cli(&["backup", backup.to_str().expect("a path")])
            .await;
        assert!(ok, "{out}{err}");
    }
    // ... and the server still takes edits.
    client.append(&doc, " (end)").await;
    server.wait_element_heads(&doc, &client.heads(&doc)).await;
}
on_both_backends!(a_second_serve_is_refused, 120);

/// The lock goes with the server: after SIGTERM and after `kill -9` a new
/// server starts on the database, and holds the lock in turn.
async fn the_lock_goes_with_the_server(db: Db) {
    let mut server = TestServer::start(db).await;
    let doc = server.element_doc(1).await;
    let mut client = Client::connect(&server).await;
    client.open(&doc).await;
    client.append(&doc, " kept").await;
    let heads = client.heads(&doc);
    server.wait_element_heads(&doc, &heads).await;
    assert_refused(server.db()).await;

    server.restart().await;
    server.wait_element_heads(&doc, &heads).await;
    assert_refused(server.db()).await;

    server.kill9().await;
    server.start_again().await;
    server.wait_element_heads(&doc, &heads).await;
    assert_refused(server.db()).await;

    // Once it has stopped, any new server may take over.
    server.kill9().await;
    let next = TestServer::start(server.db().alias()).await;
    next.wait_element_heads(&doc, &heads).await;
    assert_refused(next.db()).await;
}
on_both_backends!(the_lock_goes_with_the_server, 180);

/// Two servers and two CLI commands started at the same moment on a new
/// database, ten times: the commands succeed, exactly one server serves
/// and the other is refused (never "table … already exists").
async fn racing_the_first_migration(backend: Backend) {
    for round in 1..=10 {
        let db = match backend {
            Backend::Sqlite => Db::sqlite(),
            Backend::Postgres => Db::postgres().await,
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let ports = [free_port(), free_port()];
        let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
        let url = db.url();
        let mut serves = [
            spawn_serve(url, ports[0], &logs[0]),
            spawn_serve(url, ports[1], &logs[1]),
        ];
        let name = format!("early-{round}");
        let add_args = ["user", "add", "--name", &name, "--role", "reviewer"];
        let (migrate, add) = tokio::join!(
            run_cli(url, &[], &["migrate"]),
            run_cli(url, &[], &add_args)
        );
        let log = |i: usize| std::fs::read_to_string(&logs[i]).unwrap_or_default();
        assert!(
            migrate.0,
            "round {round}: accord migrate failed: {}",
            migrate.2
        );
        assert!(add.0, "round {round}: accord user add failed: {}", add.2);

        // One server exits, refused; the other answers /healthz.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut exited: [Option<ExitStatus>; 2] = [None, None];
        let mut healthy = [false, false];
        loop {
            for i in 0..2 {
                if exited[i].is_none() {
                    exited[i] = serves[i].try_wait().expect("polling a server");
                }
                if exited[i].is_none() && !healthy[i] {
                    healthy[i] = http_get(ports[i], "/healthz")
                        .await
                        .is_ok_and(|r| r.status == 200);
                }
            }
            let done = exited.iter().filter(|e| e.is_some()).count() == 1
                && healthy.iter().filter(|h| **h).count() == 1;
            if done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: expected one server serving and one refused, got exits \
                 {exited:?}, healthy {healthy:?}\n--- a ---\n{}\n--- b ---\n{}",
                log(0),
                log(1)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let refused = exited.iter().position(Option::is_some).expect("one exited");
        let status = exited[refused].expect("exited");
        let output = log(refused);
        assert!(!status.success(), "round {round}: {status}\n{output}");
        assert!(output.contains(ALREADY_RUNNING), "round {round}:\n{output}");
        let serving = 1 - refused;
        let resp = http_get(ports[serving], "/readyz")
            .await
            .expect("the serving server answers");
        assert_eq!(resp.status, 200, "round {round}: {}", log(serving));
        let _ = serves[serving].kill().await;
        let _ = serves[serving].wait().await;
        assert_eq!(
            db.scalar_i64(&format!(
                "SELECT COUNT(*) FROM users WHERE name = 'early-{round}'"
            ))
            .await,
            1
        );
    }
}

#[tokio::test]
async fn racing_the_first_migration_sqlite() {
    within(240, racing_the_first_migration(Backend::Sqlite)).await;
}

#[tokio::test]
async fn racing_the_first_migration_postgres() {
    within(240, racing_the_first_migration(Backend::Postgres)).await;
}

/// PostgreSQL: when the connection holding the advisory lock drops, the
/// server takes the lock again and keeps serving; if another session took
/// it meanwhile, the server stops at once with a clear log line.
#[tokio::test]
async fn a_dropped_lock_connection_on_postgres() {
    within(120, async {
        let server = TestServer::start(Db::postgres().await).await;
        let doc = server.element_doc(2).await;
        let terminate = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = current_database() \
                         AND application_name LIKE 'accord serve (pid %'";

        // Dropped, taken again: still one server, still serving.
        server.db().execute(terminate).await;
        wait_log(&server, "took the instance lock again").await;
        assert_refused(server.db()).await;
        let mut client = Client::connect(&server).await;
        client.open(&doc).await;
        client.append(&doc, " after the drop").await;
        server.wait_element_heads(&doc, &client.heads(&doc)).await;

        // Dropped, and another session takes the lock first: the server stops.
        let mut other = sqlx::PgConnection::connect(server.db().url())
            .await
            .expect("connecting to PostgreSQL");
        server.db().execute(terminate).await;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(PG_LOCK_KEY)
            .execute(&mut other)
            .await
            .expect("taking the lock");
        wait_log(&server, "another process took the instance lock").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while http_get(server.port(), "/healthz").await.is_ok() {
            assert!(Instant::now() < deadline, "the server still answers");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            server.log().contains("stopping at once"),
            "{}",
            server.log()
        );
        let _ = other.close().await;
    })
    .await;
}

/// Waits until the server's log contains `what`.
async fn wait_log(server: &TestServer, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.log().contains(what) {
        assert!(
            Instant::now() < deadline,
            "the server never logged {what:?}:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
