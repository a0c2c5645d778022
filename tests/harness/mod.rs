//! The test harness: the real `accord` binary as a child process, a fresh
//! database per test (SQLite file or PostgreSQL database), a websocket client
//! that speaks the automerge-repo protocol with real Automerge documents, and
//! a minimal HTTP/1.1 GET client.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accord_protocol::{DocMessage, Ephemeral, Message};
use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc};
use futures::{FutureExt, SinkExt, StreamExt};
use sqlx::Connection;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a client waits for silence before it calls a document settled.
pub const QUIET: Duration = Duration::from_millis(300);
/// The default bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);

/// Runs a test body with a hard time limit. Unlike `tokio::time::timeout`,
/// the body is dropped while the panic unwinds, so servers it owns print
/// their logs.
pub async fn within<F: Future>(secs: u64, body: F) -> F::Output {
    let body = std::pin::pin!(body);
    tokio::select! {
        out = body => out,
        () = tokio::time::sleep(Duration::from_secs(secs)) => {
            panic!("test timed out after {secs} s")
        }
    }
}

/// Declares `mod <name> { sqlite, postgres }` running `async fn <name>(Db)`
/// on both backends, each within `$secs` seconds.
macro_rules! on_both_backends {
    ($name:ident, $secs:expr) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::harness::Db::sqlite();
                $crate::harness::within($secs, super::$name(db)).await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = $crate::harness::Db::postgres().await;
                $crate::harness::within($secs, super::$name(db)).await;
            }
        }
    };
}
pub(crate) use on_both_backends;

// ---------------------------------------------------------------------------
// Databases

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

// ---------------------------------------------------------------------------
// The server

/// The `accord` binary under test.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("ACCORD_BIN") {
        return bin.into();
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_relative() {
                workspace.join(dir)
            } else {
                dir
            }
        }
        None => workspace.join("target"),
    };
    target.join("debug").join("accord")
}

/// The real server, started as `accord serve` in a temporary folder.
pub struct TestServer {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    log_path: PathBuf,
    extra_args: Vec<String>,
    starts: usize,
    db: Db,
    /// The session of the default user (a chair named "tester") that
    /// `get`, `ws_url` and `Client::connect` use.
    token: String,
}

impl TestServer {
    pub async fn start(db: Db) -> TestServer {
        Self::start_with(db, &[]).await
    }

    /// Starts with extra `serve` arguments, e.g. `["--max-text-chars", "1000"]`.
    /// Tests make their own users: the first chair a fresh installation
    /// creates is off unless `--first-chair` is among the arguments (it is
    /// not passed on).
    pub async fn start_with(db: Db, extra_args: &[&str]) -> TestServer {
        let first_chair = extra_args.contains(&"--first-chair");
        let mut extra_args: Vec<&str> = extra_args
            .iter()
            .copied()
            .filter(|a| *a != "--first-chair")
            .collect();
        if !first_chair {
            extra_args.push("--no-first-chair");
        }
        let extra_args = &extra_args[..];
        let bin = binary();
        assert!(
            bin.exists(),
            "the server binary {} does not exist: build it first: cargo build -p accord \
             (scripts/test does this), or set ACCORD_BIN",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let log_path = dir.path().join("server.log");
        let mut server = TestServer {
            child: None,
            port: 0,
            dir,
            log_path,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            starts: 0,
            db,
            token: String::new(),
        };
        // Another test may grab the free port between our probe and the
        // server's bind: try a few ports.
        for attempt in 1..=5 {
            server.port = free_port();
            match server.spawn_and_wait().await {
                Ok(()) => {
                    // A second server on the same database has its own chair.
                    let name = if server.db.pg_cleanup.is_none() && server.db._dir.is_none() {
                        format!("tester-{}", server.port)
                    } else {
                        "tester".to_owned()
                    };
                    server.token = server.session_for(&name, "chair", None).await;
                    return server;
                }
                Err(e) if attempt < 5 && server.log().contains("in use") => {
                    eprintln!("retrying on another port: {e}");
                }
                Err(e) => panic!("the server did not start: {e}\n{}", server.log_tail()),
            }
        }
        unreachable!()
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("opening the server log");
        writeln!(
            log,
            "===== start #{} on port {} =====",
            self.starts, self.port
        )
        .expect("writing the server log");
        let stderr = log.try_clone().expect("cloning a file handle");
        let addr = format!("127.0.0.1:{}", self.port);
        let child = Command::new(binary())
            .arg("serve")
            .args(["--listen", &addr])
            .args(["--database-url", self.db.url()])
            .args(["--public-url", &format!("http://{addr}")])
            .args(&self.extra_args)
            .current_dir(self.dir.path())
            .env(
                "RUST_LOG",
                std::env::var("ACCORD_TEST_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawning the server");
        self.child = Some(child);
    }

    async fn spawn_and_wait(&mut self) -> Result<(), String> {
        self.spawn();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .expect("just spawned")
                .try_wait()
                .map_err(|e| e.to_string())?
            {
                self.child = None;
                return Err(format!("the server exited during startup: {status}"));
            }
            if let Ok(resp) = http_get(self.port, "/healthz").await
                && resp.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("/healthz did not answer within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Graceful restart: SIGTERM, wait for the exit, start on the same DB.
    pub async fn restart(&mut self) {
        let pid = self.child.as_ref().expect("the server is running").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let status = self.wait_exit(Duration::from_secs(20)).await;
        assert!(
            status.success(),
            "the server did not stop cleanly on SIGTERM: {status}\n{}",
            self.log_tail()
        );
        self.start_again().await;
    }

    /// SIGKILL, then wait for the process to be gone.
    pub async fn kill9(&mut self) {
        let child = self.child.as_mut().expect("the server is running");
        child.kill().expect("sending SIGKILL");
        self.wait_exit(Duration::from_secs(10)).await;
    }

    /// Starts the server again (after `kill9`) on the same port and DB.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is still running");
        if let Err(e) = self.spawn_and_wait().await {
            panic!("the server did not start again: {e}\n{}", self.log_tail());
        }
    }

    async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().expect("the server is running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the server") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                panic!(
                    "the server did not exit within {limit:?}\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The websocket URL with the default user's session.
    pub fn ws_url(&self) -> String {
        self.ws_url_with(Some(&self.token))
    }

    /// The websocket URL with `token` (or none) as `?token=`.
    pub fn ws_url_with(&self, token: Option<&str>) -> String {
        match token {
            Some(token) => format!("ws://127.0.0.1:{}/sync?token={token}", self.port),
            None => format!("ws://127.0.0.1:{}/sync", self.port),
        }
    }

    /// The default user's session token.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs an administration command (`accord user add ...`) on this
    /// server's database; returns (success, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        self.cli_on(self.db.url(), args).await
    }

    /// Runs an administration command on the database at `url`.
    pub async fn cli_on(&self, url: &str, args: &[&str]) -> (bool, String, String) {
        run_cli(url, &["--public-url", &self.http_url()], args).await
    }

    /// Adds a user with the CLI; returns their one-time invite token.
    pub async fn add_user(&self, name: &str, role: &str, entity: Option<&str>) -> String {
        let mut args = vec!["user", "add", "--name", name, "--role", role];
        if let Some(entity) = entity {
            args.extend(["--entity", entity]);
        }
        let (ok, stdout, stderr) = self.cli(&args).await;
        assert!(ok, "accord user add failed: {stderr}");
        stdout
            .lines()
            .last()
            .expect("the token line")
            .trim()
            .to_owned()
    }

    /// Signs in with an invite; returns the response.
    pub async fn sign_in(&self, invite: &str) -> HttpResponse {
        let body = serde_json::json!({ "invite": invite });
        self.request("POST", "/api/v1/session", None, Some(&body))
            .await
    }

    /// Moves the server's test clock (`--test-clock`) on by `secs`, as the
    /// chair holding `token`.
    pub async fn advance_clock(&self, token: &str, secs: i64) {
        let resp = self
            .request(
                "POST",
                "/api/v1/test/clock",
                Some(token),
                Some(&serde_json::json!({ "advance_secs": secs })),
            )
            .await;
        assert_eq!(resp.status, 200, "moving the clock: {}", resp.body);
    }

    /// A new user signed in: their session token.
    pub async fn session_for(&self, name: &str, role: &str, entity: Option<&str>) -> String {
        let invite = self.add_user(name, role, entity).await;
        let resp = self.sign_in(&invite).await;
        assert_eq!(resp.status, 200, "sign-in failed: {}", resp.body);
        resp.json()["token"].as_str().expect("token").to_owned()
    }

    /// Any request, with `token` as a bearer token and `body` as JSON.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> HttpResponse {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let body = body.map(|b| b.to_string());
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        http_request(
            self.port,
            method,
            path,
            &headers,
            body.as_deref().map(str::as_bytes),
        )
        .await
        .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Everything the server has logged so far, all starts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(300);
        format!(
            "----- server log ({}, last {} lines) -----\n{}\n----- end of server log -----",
            self.log_path.display(),
            lines.len() - from,
            lines[from..].join("\n")
        )
    }

    /// GET `path` as the default user; panics if the server cannot be reached.
    pub async fn get(&self, path: &str) -> HttpResponse {
        self.request("GET", path, Some(&self.token), None).await
    }

    /// GET `path`, expecting 200 and a JSON body.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.body);
        resp.json()
    }

    /// The first (in the reference scenario: only) draft.
    pub async fn draft(&self) -> serde_json::Value {
        let drafts = self.get_json("/api/v1/drafts").await;
        drafts[0].clone()
    }

    /// The document id of element `i` of the first draft.
    pub async fn element_doc(&self, i: usize) -> String {
        let draft = self.draft().await;
        doc_id_of(&draft["elements"][i]["doc_url"])
    }

    /// The document id of the first draft's index.
    pub async fn index_doc(&self) -> String {
        doc_id_of(&self.draft().await["index_url"])
    }

    /// Element `doc_id` as the API reports it: (text, sorted hex heads).
    pub async fn element_state(&self, doc_id: &str) -> (String, Vec<String>) {
        let draft = self.draft().await;
        let elements = draft["elements"].as_array().expect("elements is an array");
        let element = elements
            .iter()
            .find(|e| doc_id_of(&e["doc_url"]) == doc_id)
            .unwrap_or_else(|| panic!("no element with document {doc_id}"));
        let text = element["text"].as_str().expect("text").to_owned();
        let mut heads: Vec<String> = element["heads"]
            .as_array()
            .expect("heads")
            .iter()
            .map(|h| h.as_str().expect("hex head").to_owned())
            .collect();
        heads.sort();
        (text, heads)
    }

    /// Polls the API until element `doc_id`'s text satisfies `pred`.
    pub async fn wait_element_text(&self, doc_id: &str, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (text, _) = self.element_state(doc_id).await;
            if pred(&text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the API never showed {what}; its text: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the API until element `doc_id`'s heads are `heads`: the server
    /// has committed exactly those changes.
    pub async fn wait_element_heads(&self, doc_id: &str, heads: &[ChangeHash]) {
        let want = hex_heads(heads);
        let deadline = Instant::now() + WAIT;
        loop {
            let (text, got) = self.element_state(doc_id).await;
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the API never reported heads {want:?}; it has {got:?}, text {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `/readyz`'s status code.
    pub async fn readyz(&self) -> u16 {
        self.get("/readyz").await.status
    }

    /// The server process's resident memory, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("the server runs").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .expect("reading the server's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    /// `GET /metrics` with the `--metrics-token` the server was started
    /// with (e.g. `start_with(db, &["--metrics-token", METRICS_TOKEN])`).
    pub async fn metrics(&self) -> HttpResponse {
        let token = self
            .extra_args
            .iter()
            .skip_while(|a| *a != "--metrics-token")
            .nth(1)
            .expect("/metrics needs the server started with --metrics-token");
        let auth = format!("Bearer {token}");
        http_request(
            self.port,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            None,
        )
        .await
        .unwrap_or_else(|e| panic!("GET /metrics failed: {e}"))
    }
}

/// Runs `accord ARGS --database-url URL OPTIONS`, an administration
/// command; returns (success, stdout, stderr).
pub async fn run_cli(url: &str, options: &[&str], args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(binary())
        .args(args)
        .args(["--database-url", url])
        .args(options)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("running the accord CLI");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A token for `--metrics-token` (see [`TestServer::metrics`]).
pub const METRICS_TOKEN: &str = "metrics-token-for-tests-7f3a9c";

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a probe port")
        .port()
}

/// `automerge:<id>` (a JSON string) → `<id>`.
pub fn doc_id_of(url: &serde_json::Value) -> String {
    let url = url.as_str().expect("an automerge: URL");
    url.strip_prefix("automerge:")
        .unwrap_or_else(|| panic!("not an automerge: URL: {url}"))
        .to_owned()
}

/// Heads as the API spells them: sorted lowercase hex.
pub fn hex_heads(heads: &[ChangeHash]) -> Vec<String> {
    let mut out: Vec<String> = heads.iter().map(ToString::to_string).collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// HTTP

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET to 127.0.0.1:`port` with `Connection: close`.
pub async fn http_get(port: u16, path: &str) -> std::io::Result<HttpResponse> {
    http_request(port, "GET", path, &[], None).await
}

/// Any HTTP/1.1 request to 127.0.0.1:`port` with `Connection: close`.
pub async fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<HttpResponse> {
    let io = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\nConnection: close\r\n"
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        stream.write_all(&bytes).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "HTTP timeout"))??;
    parse_response(&raw)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad HTTP response"))
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = out;
    }
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

// ---------------------------------------------------------------------------
// The protocol client

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the server closed the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close frame's code; `None` when the socket ended without one.
    pub code: Option<u16>,
    pub reason: String,
}

/// The server's own ephemeral notice (`type: "accord-notice"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub document_id: String,
    pub code: String,
    pub message: String,
}

/// What the server's sync messages for a document said.
#[derive(Debug, Clone)]
pub struct ServerSync {
    pub heads: Vec<ChangeHash>,
    pub flags: u8,
}

/// One document as the client holds it.
pub struct ClientDoc {
    pub doc: AutoCommit,
    pub state: sync::State,
    /// Every sync message the server sent for this document, in order.
    pub from_server: Vec<ServerSync>,
    /// Our heads, sorted (kept current after every change to `doc`).
    heads: Vec<ChangeHash>,
    /// Whether we hold every change the server's latest message named.
    caught_up: bool,
}

impl ClientDoc {
    /// The heads in the server's latest sync message.
    pub fn server_heads(&self) -> &[ChangeHash] {
        self.from_server.last().map_or(&[], |m| &m.heads)
    }

    /// The element text, or "" while the document has none.
    pub fn text(&self) -> String {
        match self.doc.get(ROOT, "text") {
            Ok(Some((automerge::Value::Object(ObjType::Text), id))) => {
                self.doc.text(id).expect("reading the text")
            }
            _ => String::new(),
        }
    }

    /// Sorted heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.heads.clone()
    }

    /// Whether we hold every change the server's latest heads name: we
    /// have caught up with the server (it may still lack ours).
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    fn refresh(&mut self) {
        self.heads = self.doc.get_heads();
        self.heads.sort();
        let server_heads = self.from_server.last().map(|m| m.heads.clone());
        self.caught_up = server_heads.is_some_and(|heads| {
            heads
                .iter()
                .all(|h| self.doc.get_change_by_hash(h).is_some())
        });
    }

    /// Whether our heads and the server's latest reported heads agree: the
    /// server has acknowledged everything we have.
    pub fn in_sync_with_server(&self) -> bool {
        let mut theirs = self.server_heads().to_vec();
        theirs.sort();
        !theirs.is_empty() && theirs == self.heads
    }
}

/// A websocket client of the automerge-repo protocol, version "1".
pub struct Client {
    ws: Ws,
    pub peer_id: String,
    pub server_peer_id: String,
    docs: HashMap<String, ClientDoc>,
    /// Every `ephemeral` message received (relays and the server's notices).
    pub ephemerals: Vec<Ephemeral>,
    /// The server's notices, decoded.
    pub notices: Vec<Notice>,
    /// `error` messages received.
    pub errors: Vec<String>,
    /// Document ids named by `doc-unavailable`.
    pub unavailable: Vec<String>,
    closed: Option<Closed>,
}

impl Client {
    /// Connects and joins with a fresh peer id.
    pub async fn connect(server: &TestServer) -> Client {
        let peer_id = format!("test-peer-{}", uuid::Uuid::new_v4().simple());
        Self::connect_as(server, &peer_id).await
    }

    /// Connects and joins as `peer_id`.
    pub async fn connect_as(server: &TestServer, peer_id: &str) -> Client {
        Self::connect_url_as(&server.ws_url(), peer_id).await
    }

    /// Connects with another user's session token and a fresh peer id.
    pub async fn connect_with(server: &TestServer, token: &str) -> Client {
        let peer_id = format!("test-peer-{}", uuid::Uuid::new_v4().simple());
        Self::connect_url_as(&server.ws_url_with(Some(token)), &peer_id).await
    }

    /// Connects to `url` and joins as `peer_id`.
    pub async fn connect_url_as(url: &str, peer_id: &str) -> Client {
        let mut client = Self::connect_raw_url(url).await;
        client.peer_id = peer_id.to_owned();
        client.send_message(&join(peer_id, &["1"])).await;
        let deadline = Instant::now() + WAIT;
        while client.server_peer_id.is_empty() {
            assert!(
                client.recv_one(deadline).await,
                "no `peer` answer to `join`: closed {:?}, errors {:?}",
                client.closed,
                client.errors
            );
        }
        client
    }

    /// Connects and joins with a tiny socket receive buffer, so that a client
    /// that stops reading fills the server's outbound queue quickly.
    pub async fn connect_small_buffer(server: &TestServer) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket
            .set_recv_buffer_size(4096)
            .expect("setting the receive buffer");
        let addr = format!("127.0.0.1:{}", server.port)
            .parse()
            .expect("address");
        let tcp = socket.connect(addr).await.expect("TCP connect");
        let (ws, _) = tokio_tungstenite::client_async(server.ws_url(), MaybeTlsStream::Plain(tcp))
            .await
            .expect("websocket handshake");
        let mut client = Self::from_ws(ws);
        let peer_id = format!("test-peer-{}", uuid::Uuid::new_v4().simple());
        client.peer_id = peer_id.clone();
        client.send_message(&join(&peer_id, &["1"])).await;
        let deadline = Instant::now() + WAIT;
        while client.server_peer_id.is_empty() {
            assert!(
                client.recv_one(deadline).await,
                "no `peer` answer to `join`"
            );
        }
        client
    }

    /// Connects without the handshake (for protocol violations).
    pub async fn connect_raw(server: &TestServer) -> Client {
        Self::connect_raw_url(&server.ws_url()).await
    }

    /// Connects to `url` without the handshake.
    pub async fn connect_raw_url(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("websocket connect timed out")
            .expect("websocket connect failed");
        Self::from_ws(ws)
    }

    fn from_ws(ws: Ws) -> Client {
        Client {
            ws,
            peer_id: String::new(),
            server_peer_id: String::new(),
            docs: HashMap::new(),
            ephemerals: Vec::new(),
            notices: Vec::new(),
            errors: Vec::new(),
            unavailable: Vec::new(),
            closed: None,
        }
    }

    // --- sending

    /// Sends one frame of raw bytes. Returns false if the socket is gone.
    pub async fn send_frame(&mut self, bytes: Vec<u8>) -> bool {
        self.ws
            .send(tungstenite::Message::Binary(bytes.into()))
            .await
            .is_ok()
    }

    /// Sends a text frame (not part of the protocol).
    pub async fn send_text(&mut self, text: &str) -> bool {
        self.ws
            .send(tungstenite::Message::Text(text.into()))
            .await
            .is_ok()
    }

    pub async fn send_message(&mut self, message: &Message) -> bool {
        self.send_frame(message.encode()).await
    }

    fn doc_message(&self, doc_id: &str, data: Vec<u8>) -> DocMessage {
        DocMessage {
            sender_id: self.peer_id.clone(),
            target_id: self.server_peer_id.clone(),
            document_id: doc_id.to_owned(),
            data,
        }
    }

    /// Generates a sync message for `doc_id` and sends it, if there is one.
    async fn flush(&mut self, doc_id: &str) {
        let doc = self.docs.get_mut(doc_id).expect("the document is open");
        let message = doc.doc.sync().generate_sync_message(&mut doc.state);
        if let Some(message) = message {
            trace(&format!(
                "{} -> sync heads {:?} need {:?} changes {} flags {:?}",
                self.peer_id,
                message.heads,
                message.need,
                message.changes.len(),
                message.flags
            ));
            let message = Message::Sync(self.doc_message(doc_id, message.encode()));
            self.send_message(&message).await;
        }
    }

    /// Sends an `ephemeral` message about `doc_id`.
    pub async fn send_ephemeral(
        &mut self,
        doc_id: &str,
        session_id: &str,
        count: u64,
        data: &[u8],
    ) {
        let message = Message::Ephemeral(Ephemeral {
            sender_id: self.peer_id.clone(),
            target_id: self.server_peer_id.clone(),
            document_id: doc_id.to_owned(),
            count,
            session_id: session_id.to_owned(),
            data: data.to_vec(),
        });
        assert!(self.send_message(&message).await, "the socket is gone");
    }

    /// Sends `changes` of `doc_id` in a hand-made sync message, whatever the
    /// sync state thinks (e.g. when the server announced read-only).
    pub async fn push_changes(&mut self, doc_id: &str, changes: Vec<Vec<u8>>) {
        let doc = self.docs.get_mut(doc_id).expect("the document is open");
        let message = sync::Message {
            heads: doc.doc.get_heads(),
            need: Vec::new(),
            have: Vec::new(),
            changes: changes.into(),
            flags: None,
            version: sync::MessageVersion::V1,
        };
        let message = Message::Sync(self.doc_message(doc_id, message.encode()));
        assert!(self.send_message(&message).await, "the socket is gone");
    }

    // --- documents

    /// Requests a document the client does not have and syncs until it
    /// matches the server's state and the server falls silent.
    pub async fn open(&mut self, doc_id: &str) {
        self.open_with(doc_id, AutoCommit::new()).await;
    }

    /// Syncs a document the client may already hold (e.g. after a
    /// reconnect: the same local document, a fresh sync state) until the
    /// client has everything the server announced and the server falls
    /// silent. Whether the server got the client's own changes is for the
    /// caller to check (see [`TestServer::wait_element_heads`]).
    pub async fn open_with(&mut self, doc_id: &str, doc: AutoCommit) {
        self.begin(doc_id, doc).await;
        self.wait_until(doc_id, "the document to sync", ClientDoc::caught_up)
            .await;
        self.settle().await;
    }

    /// Registers the document and sends the first message (`request` when
    /// the client has nothing, else `sync`), without waiting.
    pub async fn begin(&mut self, doc_id: &str, mut doc: AutoCommit) {
        let mut state = sync::State::new();
        let empty = doc.get_heads().is_empty();
        let first = doc
            .sync()
            .generate_sync_message(&mut state)
            .expect("a fresh sync state always has a first message");
        let mut entry = ClientDoc {
            doc,
            state,
            from_server: Vec::new(),
            heads: Vec::new(),
            caught_up: false,
        };
        entry.refresh();
        self.docs.insert(doc_id.to_owned(), entry);
        let message = self.doc_message(doc_id, first.encode());
        let message = if empty {
            Message::Request(message)
        } else {
            Message::Sync(message)
        };
        assert!(self.send_message(&message).await, "the socket is gone");
    }

    /// Asks for a document the server should not have; waits for `doc-unavailable`.
    pub async fn expect_unavailable(&mut self, doc_id: &str) {
        self.begin(doc_id, AutoCommit::new()).await;
        let id = doc_id.to_owned();
        self.wait_for("doc-unavailable", move |c| c.unavailable.contains(&id))
            .await;
        self.docs.remove(doc_id);
    }

    pub fn doc(&self, doc_id: &str) -> &ClientDoc {
        self.docs.get(doc_id).expect("the document is open")
    }

    pub fn doc_mut(&mut self, doc_id: &str) -> &mut ClientDoc {
        self.docs.get_mut(doc_id).expect("the document is open")
    }

    /// Takes the local document out (to reconnect with it).
    pub fn take_doc(&mut self, doc_id: &str) -> AutoCommit {
        self.docs.remove(doc_id).expect("the document is open").doc
    }

    pub fn text(&self, doc_id: &str) -> String {
        self.doc(doc_id).text()
    }

    pub fn heads(&self, doc_id: &str) -> Vec<ChangeHash> {
        self.doc(doc_id).heads()
    }

    /// Makes a local change with `f(doc, text_obj)`, commits it and sends it.
    /// Returns the new change's hash.
    pub async fn edit(
        &mut self,
        doc_id: &str,
        f: impl FnOnce(&mut AutoCommit, &ObjId),
    ) -> ChangeHash {
        let hash = self.edit_local(doc_id, f);
        self.flush(doc_id).await;
        self.await_ack(doc_id, hash).await;
        hash
    }

    /// Keeps the conversation going until the server's heads include
    /// `hash`, a notice arrives or the socket closes — at most a few
    /// seconds. The sync protocol may need another round trip before the
    /// change is sent (when the client still waits for an answer to its
    /// previous message), and a client that stops reading would never send
    /// it. A change the server never takes is for the caller to notice.
    async fn await_ack(&mut self, doc_id: &str, hash: ChangeHash) {
        let deadline = Instant::now() + Duration::from_secs(3);
        let notices = self.notices.len();
        while !self.doc(doc_id).server_heads().contains(&hash)
            && self.notices.len() == notices
            && !self.is_closed()
        {
            if !self.recv_one(deadline).await {
                break;
            }
        }
    }

    /// Makes and commits a local change without sending it.
    pub fn edit_local(
        &mut self,
        doc_id: &str,
        f: impl FnOnce(&mut AutoCommit, &ObjId),
    ) -> ChangeHash {
        let doc = self.docs.get_mut(doc_id).expect("the document is open");
        let text = match doc.doc.get(ROOT, "text") {
            Ok(Some((automerge::Value::Object(ObjType::Text), id))) => id,
            _ => ROOT,
        };
        f(&mut doc.doc, &text);
        let hash = doc.doc.commit().expect("the edit made a change");
        doc.refresh();
        hash
    }

    /// Appends `s` to the element's text and sends the change.
    pub async fn append(&mut self, doc_id: &str, s: &str) -> ChangeHash {
        self.edit(doc_id, |doc, text| {
            let len = doc.length(text);
            doc.splice_text(text, len, 0, s).expect("splicing text");
        })
        .await
    }

    /// Inserts `s` at character `pos` and sends the change.
    pub async fn insert(&mut self, doc_id: &str, pos: usize, s: &str) -> ChangeHash {
        self.edit(doc_id, |doc, text| {
            doc.splice_text(text, pos, 0, s).expect("splicing text");
        })
        .await
    }

    // --- receiving

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Handles the next frame if one arrives before `deadline`. Returns false
    /// on timeout or when the socket is closed.
    async fn recv_one(&mut self, deadline: Instant) -> bool {
        if self.closed.is_some() {
            return false;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.ws.next()).await {
            Err(_) => false,
            Ok(None) => {
                self.mark_closed(None, "socket ended without a close frame");
                false
            }
            Ok(Some(Err(e))) => {
                self.mark_closed(None, &e.to_string());
                false
            }
            Ok(Some(Ok(frame))) => {
                self.handle(frame).await;
                true
            }
        }
    }

    /// Handles every frame that has already arrived, without waiting.
    pub async fn drain_ready(&mut self) {
        while self.closed.is_none() {
            let Some(next) = self.ws.next().now_or_never() else {
                return;
            };
            match next {
                None => self.mark_closed(None, "socket ended without a close frame"),
                Some(Err(e)) => self.mark_closed(None, &e.to_string()),
                Some(Ok(frame)) => self.handle(frame).await,
            }
        }
    }

    fn mark_closed(&mut self, code: Option<u16>, reason: &str) {
        if self.closed.is_none() {
            self.closed = Some(Closed {
                code,
                reason: reason.to_owned(),
            });
        }
    }

    async fn handle(&mut self, frame: tungstenite::Message) {
        let bytes = match frame {
            tungstenite::Message::Binary(bytes) => bytes,
            tungstenite::Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                    None => (None, String::new()),
                };
                self.mark_closed(code, &reason);
                return;
            }
            tungstenite::Message::Text(text) => {
                panic!("the server sent a text frame: {text}")
            }
            _ => return, // ping/pong: tungstenite answers pings itself
        };
        let message = Message::decode(&bytes)
            .unwrap_or_else(|e| panic!("the server sent an undecodable message: {e}"));
        match message {
            Message::Peer {
                sender_id,
                target_id,
                selected_protocol_version,
                ..
            } => {
                assert_eq!(target_id, self.peer_id, "`peer` names us as target");
                assert_eq!(selected_protocol_version, "1");
                self.server_peer_id = sender_id;
            }
            Message::Sync(m) => self.on_sync(m).await,
            Message::Error { message } => self.errors.push(message),
            Message::DocUnavailable { document_id, .. } => self.unavailable.push(document_id),
            Message::Ephemeral(e) => {
                if e.sender_id == self.server_peer_id
                    && let Some(notice) = decode_notice(&e.data)
                {
                    assert_eq!(notice.document_id, e.document_id, "notice names its doc");
                    self.notices.push(notice);
                }
                self.ephemerals.push(e);
            }
            other => panic!("unexpected message from the server: {other:?}"),
        }
    }

    async fn on_sync(&mut self, m: DocMessage) {
        assert_eq!(m.target_id, self.peer_id, "sync addressed to us");
        assert_eq!(m.sender_id, self.server_peer_id, "sync from the server");
        let Some(doc) = self.docs.get_mut(&m.document_id) else {
            panic!("sync for a document we never opened: {}", m.document_id);
        };
        let message = sync::Message::decode(&m.data)
            .unwrap_or_else(|e| panic!("the server sent bad sync data: {e}"));
        trace(&format!(
            "{} <- sync heads {:?} need {:?} changes {} flags {:?}",
            self.peer_id,
            message.heads,
            message.need,
            message.changes.len(),
            message.flags
        ));
        doc.from_server.push(ServerSync {
            heads: message.heads.clone(),
            flags: flag_bits(message.flags),
        });
        doc.doc
            .sync()
            .receive_sync_message(&mut doc.state, message)
            .expect("applying the server's sync message");
        doc.refresh();
        self.flush(&m.document_id).await;
    }

    /// Keeps syncing until `pred(doc)` holds; panics after [`WAIT`].
    pub async fn wait_until(
        &mut self,
        doc_id: &str,
        what: &str,
        pred: impl Fn(&ClientDoc) -> bool,
    ) {
        let id = doc_id.to_owned();
        self.wait_for(what, move |c| pred(c.doc(&id))).await;
    }

    /// Keeps syncing until `pred(self)` holds; panics after [`WAIT`] or if
    /// the socket closes first.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Client) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            if pred(self) {
                return;
            }
            assert!(
                self.closed.is_none(),
                "the connection closed while waiting for {what}: {:?}; errors {:?}; notices {:?}",
                self.closed,
                self.errors,
                self.notices
            );
            if !self.recv_one(deadline).await && self.closed.is_none() {
                panic!(
                    "timed out after {WAIT:?} waiting for {what}; errors {:?}; notices {:?}",
                    self.errors, self.notices
                );
            }
        }
    }

    /// Keeps answering until the server has been silent for [`QUIET`].
    /// Panics if it never falls silent (a sync loop).
    pub async fn settle(&mut self) {
        let hard = Instant::now() + WAIT;
        let mut frames = 0usize;
        loop {
            let quiet_until = (Instant::now() + QUIET).min(hard);
            if !self.recv_one(quiet_until).await {
                break;
            }
            frames += 1;
            assert!(
                Instant::now() < hard,
                "the server never fell silent ({frames} frames in {WAIT:?}): a sync loop?"
            );
        }
    }

    /// Reads until the server closes the socket; panics after [`WAIT`].
    pub async fn expect_closed(&mut self) -> Closed {
        let deadline = Instant::now() + WAIT;
        while self.closed.is_none() {
            if !self.recv_one(deadline).await && self.closed.is_none() {
                panic!("the server did not close the connection within {WAIT:?}");
            }
        }
        self.closed.clone().expect("closed")
    }
}

/// A `join` message.
pub fn join(peer_id: &str, versions: &[&str]) -> Message {
    Message::Join {
        sender_id: peer_id.to_owned(),
        peer_metadata: Some(ciborium::Value::Map(vec![(
            ciborium::Value::Text("isEphemeral".into()),
            ciborium::Value::Bool(true),
        )])),
        supported_protocol_versions: versions.iter().map(|v| v.to_string()).collect(),
    }
}

/// CBOR-encodes a value.
pub fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR to a Vec");
    out
}

fn decode_notice(data: &[u8]) -> Option<Notice> {
    let value: ciborium::Value = ciborium::from_reader(data).ok()?;
    let map = value.as_map()?;
    let field = |key: &str| {
        map.iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .and_then(|(_, v)| v.as_text())
            .map(str::to_owned)
    };
    if field("type")? != "accord-notice" {
        return None;
    }
    Some(Notice {
        document_id: field("documentId")?,
        code: field("code")?,
        message: field("message")?,
    })
}

/// The flag bits of a sync message (see `automerge::sync::MessageFlags`).
fn flag_bits(flags: Option<sync::MessageFlags>) -> u8 {
    let Some(flags) = flags else { return 0 };
    [
        sync::MessageFlags::SYNC_RESET,
        sync::MessageFlags::READ_ONLY,
        sync::MessageFlags::SUPPORTS_SYNC_RESET,
    ]
    .into_iter()
    .filter(|f| flags.contains(*f))
    .fold(0, |acc, f| acc | f)
}

/// With `ACCORD_TEST_TRACE` set, prints the sync traffic of every client.
fn trace(line: &str) {
    if std::env::var_os("ACCORD_TEST_TRACE").is_some() {
        eprintln!("[trace] {line}");
    }
}

/// One entry of the server's presence feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentEntry {
    pub name: String,
    pub entity: Option<String>,
    pub peer_id: String,
    pub elements: Vec<String>,
}

/// Who is present in a draft as the server's feed on the index document
/// told `client`: the last whole list (`accord-presence`) with every
/// change after it (`accord-presence-change`) applied; `None` before the
/// first list. Only the server's own messages count.
pub fn presence_view(client: &Client) -> Option<Vec<PresentEntry>> {
    let mut view: Option<Vec<PresentEntry>> = None;
    for e in &client.ephemerals {
        if e.sender_id != client.server_peer_id {
            continue;
        }
        let Ok(value) = ciborium::from_reader::<ciborium::Value, _>(&e.data[..]) else {
            continue;
        };
        let Some(map) = value.as_map() else { continue };
        let get = |key: &str| {
            map.iter()
                .find(|(k, _)| k.as_text() == Some(key))
                .map(|(_, v)| v)
        };
        match get("type").and_then(|t| t.as_text()) {
            Some("accord-presence") => {
                view = Some(present_entries(get("present")));
            }
            Some("accord-presence-change") => {
                let Some(list) = view.as_mut() else { continue };
                let left: Vec<&str> = get("left")
                    .and_then(|l| l.as_array())
                    .map(|l| l.iter().filter_map(|v| v.as_text()).collect())
                    .unwrap_or_default();
                list.retain(|p| !left.contains(&p.peer_id.as_str()));
                for entry in present_entries(get("upsert")) {
                    list.retain(|p| p.peer_id != entry.peer_id);
                    list.push(entry);
                }
            }
            _ => {}
        }
    }
    view
}

fn present_entries(value: Option<&ciborium::Value>) -> Vec<PresentEntry> {
    let Some(entries) = value.and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let map = entry.as_map()?;
            let get = |key: &str| {
                map.iter()
                    .find(|(k, _)| k.as_text() == Some(key))
                    .map(|(_, v)| v)
            };
            Some(PresentEntry {
                name: get("name")?.as_text()?.to_owned(),
                entity: get("entity").and_then(|v| v.as_text().map(str::to_owned)),
                peer_id: get("peerId")?.as_text()?.to_owned(),
                elements: get("elements")?
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.as_text().map(str::to_owned))
                    .collect(),
            })
        })
        .collect()
}
