//! The stock JavaScript client (`tests/js/interop.test.mjs`) against the
//! real server.

use std::path::Path;
use std::time::Duration;

use crate::harness::{Db, TestServer, within};

#[tokio::test]
async fn stock_js_client_interoperates() {
    within(180, async {
        let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
        assert!(
            js.join("node_modules").is_dir(),
            "{}/node_modules is missing: run `npm ci` in tests/js (scripts/test does this)",
            js.display()
        );
        let server = TestServer::start(Db::sqlite()).await;
        let delegate = server
            .session_for("js-delegate", "delegate", Some("IOM"))
            .await;
        let run = tokio::process::Command::new("node")
            .args(["--test", "interop.test.mjs"])
            .current_dir(&js)
            .env("ACCORD_URL", server.http_url())
            .env("ACCORD_TOKEN", server.token())
            .env("ACCORD_DELEGATE_TOKEN", delegate)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(150), run)
            .await
            .expect("node --test did not finish within 150 s")
            .expect("running node (is Node 20 installed?)");
        assert!(
            output.status.success(),
            "node --test interop.test.mjs failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    })
    .await;
}
