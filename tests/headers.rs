//! Security headers and the operational guards: the web page may open a
//! websocket to its own origin only; every other response (JSON, errors,
//! each export format, metrics) carries `nosniff` and a strict
//! Content-Security-Policy (the HTML export: its own style, by hash);
//! `/metrics` needs its token or its own listener; the test clock refuses
//! moves out of range and stays where it was.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::harness::{
    Db, HttpResponse, METRICS_TOKEN, TestServer, free_port, http_get, http_request, within,
};

/// What data responses carry.
const STRICT: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy's directives, by name.
fn directives(policy: &str) -> Vec<(String, Vec<String>)> {
    policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            let name = words.next().expect("a directive name");
            (name, words.collect())
        })
        .collect()
}

fn directive(policy: &str, name: &str) -> Option<Vec<String>> {
    directives(policy)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn nosniff(what: &str, resp: &HttpResponse) -> Option<String> {
    (resp.header("x-content-type-options") != Some("nosniff")).then(|| {
        format!(
            "{what} ({}): X-Content-Type-Options {:?}",
            resp.status,
            resp.header("x-content-type-options")
        )
    })
}

fn strict(what: &str, resp: &HttpResponse) -> Vec<String> {
    let mut problems: Vec<String> = nosniff(what, resp).into_iter().collect();
    if resp.header("content-security-policy") != Some(STRICT) {
        problems.push(format!(
            "{what} ({}): Content-Security-Policy {:?}",
            resp.status,
            resp.header("content-security-policy")
        ));
    }
    problems
}

#[tokio::test]
async fn the_page_opens_websockets_to_its_own_origin_only() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let ws_origin = format!("ws://127.0.0.1:{}", server.port());
        for path in ["/", "/drafts/some-client-route"] {
            let page = http_get(server.port(), path).await.expect("GET the page");
            assert_eq!(page.status, 200, "{path}");
            assert!(
                page.header("content-type")
                    .is_some_and(|t| t.starts_with("text/html")),
                "{path}: {:?}",
                page.header("content-type")
            );
            let policy = page
                .header("content-security-policy")
                .expect("the page has a policy");
            assert_eq!(
                directive(policy, "connect-src"),
                Some(vec!["'self'".to_owned(), ws_origin.clone()]),
                "{path}: {policy}"
            );
            assert_eq!(
                directive(policy, "frame-ancestors"),
                Some(vec!["'none'".to_owned()])
            );
            assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
        }
    })
    .await;
}

#[tokio::test]
async fn api_and_error_responses_are_nosniff_with_a_strict_policy() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("draft id");
        let port = server.port();
        let mut problems = Vec::new();
        let mut check = |what: &str, resp: HttpResponse, status: u16| {
            if resp.status != status {
                problems.push(format!("{what}: {} {}", resp.status, resp.body));
            }
            problems.extend(strict(what, &resp));
        };
        check("drafts", server.get("/api/v1/drafts").await, 200);
        check(
            "a draft",
            server.get(&format!("/api/v1/drafts/{id}")).await,
            200,
        );
        check(
            "the API description",
            server.get("/api/v1/openapi.json").await,
            200,
        );
        check("healthz", server.get("/healthz").await, 200);
        check("readyz", server.get("/readyz").await, 200);
        check(
            "an unknown API path",
            server.get("/api/v1/no-such-thing").await,
            404,
        );
        check(
            "a missing web file",
            server.get("/no-such-file.js").await,
            404,
        );
        check(
            "without a session",
            http_get(port, "/api/v1/drafts").await.expect("GET"),
            401,
        );
        check(
            "a bad body",
            server
                .request(
                    "POST",
                    "/api/v1/drafts",
                    Some(server.token()),
                    Some(&serde_json::json!({ "no_such_field": 1 })),
                )
                .await,
            400,
        );
        check(
            "another method",
            server
                .request("DELETE", "/api/v1/drafts", Some(server.token()), None)
                .await,
            405,
        );
        check(
            "an unknown export format",
            server
                .get(&format!("/api/v1/drafts/{id}/export?format=pdf"))
                .await,
            400,
        );
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
    .await;
}

#[tokio::test]
async fn each_export_format_is_nosniff_with_its_policy() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("draft id");
        let export = |format: &str| format!("/api/v1/drafts/{id}/export?format={format}");
        let mut problems = Vec::new();
        for format in ["md", "akn"] {
            let resp = server.get(&export(format)).await;
            assert_eq!(resp.status, 200, "{format}: {}", resp.body);
            problems.extend(strict(format, &resp));
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));

        // The HTML page may apply its one style element, by hash, and
        // nothing else.
        let resp = server.get(&export("html")).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(resp.header("x-content-type-options"), Some("nosniff"));
        let policy = resp
            .header("content-security-policy")
            .expect("the HTML export has a policy");
        let style = resp
            .body
            .split_once("<style>")
            .and_then(|(_, rest)| rest.split_once("</style>"))
            .map(|(style, _)| style)
            .expect("the page has a style element");
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style));
        let mut seen = Vec::new();
        for (name, values) in directives(policy) {
            let want: Vec<String> = match name.as_str() {
                "default-src" | "frame-ancestors" | "base-uri" | "form-action" => {
                    vec!["'none'".into()]
                }
                "style-src" => vec![format!("'sha256-{hash}'")],
                "sandbox" => vec![],
                other => panic!("the HTML export allows {other}: {policy}"),
            };
            assert_eq!(values, want, "{name} in {policy}");
            seen.push(name);
        }
        for name in ["default-src", "style-src", "frame-ancestors"] {
            assert!(seen.iter().any(|s| s == name), "{name} in {policy}");
        }
    })
    .await;
}

#[tokio::test]
async fn metrics_are_off_without_a_token() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let session = format!("Bearer {}", server.token());
        for headers in [vec![], vec![("Authorization", session.as_str())]] {
            let resp = http_request(server.port(), "GET", "/metrics", &headers, None)
                .await
                .expect("GET /metrics");
            assert_eq!(resp.status, 404, "{}", resp.body);
            assert!(!resp.body.contains("accord_"), "{}", resp.body);
            assert_eq!(resp.json()["error"], "not_found");
        }
    })
    .await;
}

#[tokio::test]
async fn metrics_need_their_token() {
    within(60, async {
        let server =
            TestServer::start_with(Db::sqlite(), &["--metrics-token", METRICS_TOKEN]).await;
        let wrong = format!("Bearer {METRICS_TOKEN}x");
        let short = format!("Bearer {}", &METRICS_TOKEN[..METRICS_TOKEN.len() - 1]);
        let session = format!("Bearer {}", server.token());
        let basic = format!("Basic {METRICS_TOKEN}");
        for (what, headers) in [
            ("no token", vec![]),
            ("a wrong token", vec![("Authorization", wrong.as_str())]),
            (
                "a prefix of the token",
                vec![("Authorization", short.as_str())],
            ),
            ("a session token", vec![("Authorization", session.as_str())]),
            ("another scheme", vec![("Authorization", basic.as_str())]),
        ] {
            let resp = http_request(server.port(), "GET", "/metrics", &headers, None)
                .await
                .expect("GET /metrics");
            assert_eq!(resp.status, 401, "{what}: {}", resp.body);
            assert_eq!(resp.json()["error"], "unauthenticated", "{what}");
            assert!(
                resp.header("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{what}: {:?}",
                resp.headers
            );
            assert!(!resp.body.contains("accord_"), "{what}: {}", resp.body);
            assert!(strict(what, &resp).is_empty(), "{what}: {:?}", resp.headers);
        }
        let resp = server.metrics().await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert!(resp.body.contains("accord_connections"), "{}", resp.body);
        assert!(strict("metrics", &resp).is_empty(), "{:?}", resp.headers);
    })
    .await;
}

#[tokio::test]
async fn metrics_have_a_listener_of_their_own() {
    within(60, async {
        // Without a token: only there, to anyone who reaches it.
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let server = TestServer::start_with(Db::sqlite(), &["--metrics-listen", &addr]).await;
        let main = http_get(server.port(), "/metrics").await.expect("GET");
        assert_eq!(main.status, 404, "on the main listener: {}", main.body);
        let resp = http_get(port, "/metrics").await.expect("GET");
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert!(resp.body.contains("accord_connections"), "{}", resp.body);
        assert!(strict("metrics", &resp).is_empty(), "{:?}", resp.headers);
        // Nothing else is served there.
        for path in ["/", "/healthz", "/api/v1/drafts", "/api/v1/openapi.json"] {
            let resp = http_get(port, path).await.expect("GET");
            assert_eq!(resp.status, 404, "{path} on the metrics listener");
        }
        drop(server);

        // With a token: the token there too.
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let server = TestServer::start_with(
            Db::sqlite(),
            &["--metrics-listen", &addr, "--metrics-token", METRICS_TOKEN],
        )
        .await;
        assert_eq!(http_get(port, "/metrics").await.expect("GET").status, 401);
        let auth = format!("Bearer {METRICS_TOKEN}");
        let resp = http_request(port, "GET", "/metrics", &[("Authorization", &auth)], None)
            .await
            .expect("GET");
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(server.metrics().await.status, 200);
    })
    .await;
}

/// An RFC 3339 UTC time (`2026-12-03T08:00:00.000Z`) in Unix ms.
fn unix_ms(iso: &str) -> i64 {
    let bad = || -> ! { panic!("not an RFC 3339 UTC time: {iso}") };
    let (date, time) = iso
        .trim_end_matches('Z')
        .split_once('T')
        .unwrap_or_else(|| bad());
    let num = |s: &str| s.parse::<i64>().unwrap_or_else(|_| bad());
    let d: Vec<i64> = date.split('-').map(num).collect();
    let (secs, ms) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = secs.split(':').map(num).collect();
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) * 1000) + num(ms)
}

#[tokio::test]
async fn the_test_clock_refuses_moves_out_of_range() {
    within(60, async {
        let server = TestServer::start_with(Db::sqlite(), &["--test-clock"]).await;
        let move_by = |secs: i64| {
            let server = &server;
            async move {
                server
                    .request(
                        "POST",
                        "/api/v1/test/clock",
                        Some(server.token()),
                        Some(&serde_json::json!({ "advance_secs": secs })),
                    )
                    .await
            }
        };
        let now = |resp: HttpResponse| {
            assert_eq!(resp.status, 200, "{}", resp.body);
            unix_ms(resp.json()["now"].as_str().expect("now"))
        };
        let before = now(move_by(0).await);
        const TEN_YEARS: i64 = 3660 * 86_400;
        for secs in [i64::MAX, i64::MAX / 1000 + 1, TEN_YEARS + 1, -1, i64::MIN] {
            let resp = move_by(secs).await;
            assert_eq!(resp.status, 400, "advance_secs {secs}: {}", resp.body);
            assert_eq!(resp.json()["error"], "invalid", "advance_secs {secs}");
        }
        let after = now(move_by(0).await);
        assert!(
            (before..before + 60_000).contains(&after),
            "the clock moved: {before} → {after}"
        );

        // Ten years a step, a hundred in all.
        let mut last = after;
        for _ in 0..10 {
            let moved = now(move_by(TEN_YEARS).await);
            assert!(moved >= last + TEN_YEARS * 1000, "{last} → {moved}");
            last = moved;
        }
        let resp = move_by(1).await;
        assert_eq!(resp.status, 400, "past a hundred years: {}", resp.body);
        assert!(now(move_by(0).await) >= last);
    })
    .await;
}
