//! The web app end to end: Debian's headless Chromium, driven by Playwright
//! (`tests/web/*.test.mjs`, `playwright-core` pinned in its package.json),
//! against the real server. The test makes the users with the CLI, one
//! one-time invite per browser context, and hands node the server's URL, the
//! invites, a chair's session token, one delegate session per entity of the
//! reference draft (for positions recorded through the API) and the folder
//! screenshots go to (`<target>/test-output/web/`).
//!
//! The chair's board test (`board.test.mjs`) runs last: it records positions
//! of all 28 entities and changes the draft's structure, which the other
//! tests, written for the scenario's elements as loaded, must not see.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::harness::{Db, TestServer, within};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The browser contexts the tests open: invite key, user name, role, entity.
const USERS: &[(&str, &str, &str, Option<&str>)] = &[
    ("coedit_iom", "Amina Diallo", "delegate", Some("IOM")),
    ("coedit_ilo", "Jonas Berg", "delegate", Some("ILO")),
    ("positions_iom", "Lucía Ortega", "delegate", Some("IOM")),
    ("positions_ilo", "Ravi Menon", "delegate", Some("ILO")),
    ("silence_iom", "Sara Haddad", "delegate", Some("IOM")),
    ("silence_ilo", "Tomás Ruiz", "delegate", Some("ILO")),
    ("offline_iom", "Mei Chen", "delegate", Some("IOM")),
    ("offline_ilo", "Olu Adeyemi", "delegate", Some("ILO")),
    ("reviewer", "Ingrid Audit", "reviewer", None),
    ("used", "Pavel Novak", "delegate", Some("IOM")),
    ("signout", "Kofi Mensah", "delegate", Some("ILO")),
    ("board_chair", "Helena Varga", "chair", None),
    ("board_iom", "Nadia Rahman", "delegate", Some("IOM")),
    ("history_iom", "Grace Mwangi", "delegate", Some("IOM")),
    ("history_ilo", "Henrik Dahl", "delegate", Some("ILO")),
    ("history_unhcr", "Yasmin Farah", "delegate", Some("UNHCR")),
    ("history_reviewer", "Marta Lindqvist", "reviewer", None),
    ("history_chair", "Daniel Osei", "chair", None),
];

/// The test files that run after all others, in this order, each in a node
/// run of its own (node sorts the files of one run by name). The history
/// test moves the consensus clock on by minutes, which would end the other
/// tests' silences. The accessibility audit (read-only) comes after both, so
/// that it sees the views with what they recorded: positions, objections,
/// silences, named versions, revisions by several entities, more drafts.
const LAST: &[&str] = &["board.test.mjs", "history.test.mjs", "a11y.test.mjs"];

/// `<target dir>/test-output/web`: CARGO_TARGET_DIR or `<workspace>/target`.
fn shots_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if PathBuf::from(&dir).is_relative() => workspace.join(dir),
        Some(dir) => PathBuf::from(dir),
        None => workspace.join("target"),
    };
    target.join("test-output").join("web")
}

#[tokio::test]
async fn web_app_in_a_real_browser() {
    within(1500, async {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the browser tests need Debian's chromium package \
             (apt-get install chromium; scripts/test installs it)"
        );
        assert!(
            web.join("node_modules").join("playwright-core").is_dir(),
            "{}/node_modules is missing: run `npm ci` in tests/web (scripts/test does this)",
            web.display()
        );
        let mut files: Vec<String> = std::fs::read_dir(&web)
            .expect("reading tests/web")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".test.mjs"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no *.test.mjs in {}", web.display());
        // ACCORD_WEB_TESTS=a.test.mjs,b.test.mjs runs only those files.
        if let Ok(only) = std::env::var("ACCORD_WEB_TESTS") {
            let only: Vec<&str> = only.split(',').map(str::trim).collect();
            for name in &only {
                assert!(
                    files.iter().any(|f| f == name),
                    "ACCORD_WEB_TESTS: no {name} in {}",
                    web.display()
                );
            }
            files.retain(|f| only.contains(&f.as_str()));
        }
        // The runs of node: every other file at once, then each of LAST.
        let mut runs: Vec<Vec<String>> = vec![
            files
                .iter()
                .filter(|f| !LAST.contains(&f.as_str()))
                .cloned()
                .collect(),
        ];
        runs.extend(
            LAST.iter()
                .filter(|l| files.iter().any(|f| f == *l))
                .map(|l| vec![(*l).to_owned()]),
        );
        runs.retain(|run| !run.is_empty());
        // This run's screenshots only.
        let shots = shots_dir();
        std::fs::create_dir_all(&shots)
            .unwrap_or_else(|e| panic!("creating {}: {e}", shots.display()));
        for entry in std::fs::read_dir(&shots).expect("reading the screenshot folder") {
            let path = entry.expect("a folder entry").path();
            if path.extension().is_some_and(|e| e == "png") {
                let _ = std::fs::remove_file(path);
            }
        }

        let server = TestServer::start_with(
            Db::sqlite(),
            &["--test-clock", "--silence-min-minutes", "1"],
        )
        .await;
        // The page the browser loads must be the web app, not an error.
        let page = server.request("GET", "/", None, None).await;
        assert_eq!(page.status, 200, "GET / : {}", page.body);

        let mut invites = Map::new();
        for (key, name, role, entity) in USERS {
            let token = server.add_user(name, role, *entity).await;
            invites.insert((*key).to_owned(), Value::String(token));
        }
        let chair = server.session_for("Chair Okafor", "chair", None).await;

        // One delegate session per entity of the draft, for positions
        // recorded through the API.
        let drafts = server
            .request("GET", "/api/v1/drafts", Some(&chair), None)
            .await;
        assert_eq!(drafts.status, 200, "GET /api/v1/drafts: {}", drafts.body);
        let entities: Vec<String> = drafts.json()[0]["entities"]
            .as_array()
            .expect("the draft's entities")
            .iter()
            .map(|e| e["code"].as_str().expect("an entity code").to_owned())
            .collect();
        assert_eq!(entities.len(), 28, "the reference scenario has 28 entities");
        let mut delegates = Map::new();
        for code in &entities {
            let name = format!("Delegate of {code}");
            let token = server.session_for(&name, "delegate", Some(code)).await;
            delegates.insert(code.clone(), Value::String(token));
        }

        let invites = Value::Object(invites).to_string();
        let delegates = Value::Object(delegates).to_string();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(1380);
        let mut failures = Vec::new();
        for run in &runs {
            let node = tokio::process::Command::new("node")
                .arg("--test")
                .args(["--test-concurrency=1", "--test-reporter=spec"])
                .args(run)
                .current_dir(&web)
                .env("ACCORD_URL", server.http_url())
                .env("ACCORD_INVITES", &invites)
                .env("ACCORD_CHAIR_TOKEN", &chair)
                .env("ACCORD_DELEGATE_TOKENS", &delegates)
                .env("ACCORD_SHOTS", &shots)
                .env("ACCORD_CHROMIUM", CHROMIUM)
                .kill_on_drop(true)
                .output();
            let left = deadline.saturating_duration_since(Instant::now());
            let output = tokio::time::timeout(left, node)
                .await
                .unwrap_or_else(|_| {
                    panic!("node --test {} did not finish within 1380 s", run.join(" "))
                })
                .expect("running node (is Node 20 installed?)");
            eprint!("{}", String::from_utf8_lossy(&output.stdout));
            if !output.status.success() {
                failures.push(format!(
                    "node --test {} failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    run.join(" "),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
        eprintln!(
            "browser tests: {:.1} s; screenshots in {}",
            started.elapsed().as_secs_f64(),
            shots.display()
        );
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    })
    .await;
}
