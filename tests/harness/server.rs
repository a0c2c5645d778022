//! The server under test: `accord serve` as a child process on a port of
//! its own, the administration CLI, users and sessions, and the API reads
//! tests share.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use tempfile::TempDir;

use super::WAIT;
use super::db::Db;
use super::http::{HttpResponse, http_get, http_request};

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
                    let name = if server.db.is_alias() {
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
