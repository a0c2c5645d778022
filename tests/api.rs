//! The HTTP endpoints: health, readiness, metrics and the JSON API.

use crate::harness::{Db, METRICS_TOKEN, TestServer, within};

#[tokio::test]
async fn operational_endpoints_answer() {
    within(60, async {
        let server =
            TestServer::start_with(Db::sqlite(), &["--metrics-token", METRICS_TOKEN]).await;
        assert_eq!(server.get("/healthz").await.status, 200);
        assert_eq!(server.readyz().await, 200);

        let metrics = server.metrics().await;
        assert_eq!(metrics.status, 200);
        let content_type = metrics.header("content-type").unwrap_or_default();
        assert!(content_type.contains("openmetrics") || content_type.starts_with("text/plain"));
        for name in ["accord_connections", "accord_changes_stored_total"] {
            assert!(
                metrics.body.contains(name),
                "/metrics lacks {name}:\n{}",
                metrics.body
            );
        }
    })
    .await;
}

#[tokio::test]
async fn drafts_and_entities_have_their_shape() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let drafts = server.get_json("/api/v1/drafts").await;
        let drafts = drafts.as_array().expect("a list of drafts");
        assert_eq!(drafts.len(), 1);
        let draft = &drafts[0];
        let id = draft["id"].as_str().expect("draft id");
        assert!(!id.is_empty());
        assert!(!draft["title"].as_str().expect("title").is_empty());
        let index_url = draft["index_url"].as_str().expect("index_url");
        assert!(index_url.starts_with("automerge:"), "{index_url}");
        accord_protocol::DocumentId::from_url(index_url).expect("a valid document id");

        let elements = draft["elements"].as_array().expect("elements");
        assert_eq!(elements.len(), 8);
        for element in elements {
            assert!(!element["id"].as_str().expect("id").is_empty());
            assert!(!element["label"].as_str().expect("label").is_empty());
            let url = element["doc_url"].as_str().expect("doc_url");
            accord_protocol::DocumentId::from_url(url).expect("a valid document id");
            assert!(!element["text"].as_str().expect("text").is_empty());
            let heads = element["heads"].as_array().expect("heads");
            assert_eq!(heads.len(), 1, "one server change per fresh element");
            let head = heads[0].as_str().expect("hex head");
            assert_eq!(head.len(), 64);
            assert!(
                head.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }

        // The same draft by id.
        let mut one = server.get_json(&format!("/api/v1/drafts/{id}")).await;
        let mut listed = draft.clone();
        assert!(
            one["server_time"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        one["server_time"].take();
        listed["server_time"].take();
        assert_eq!(one, listed);

        let missing = server.get("/api/v1/drafts/no-such-draft").await;
        assert_eq!(missing.status, 404);
        let body = missing.json();
        assert!(body["error"].is_string(), "{body}");
        assert!(body["message"].is_string(), "{body}");

        let entities = server.get_json("/api/v1/entities").await;
        let entities = entities.as_array().expect("a list of entities");
        assert_eq!(entities.len(), 28);
        for entity in entities {
            assert!(!entity["code"].as_str().expect("code").is_empty());
            assert!(!entity["name"].as_str().expect("name").is_empty());
        }
    })
    .await;
}

/// The web app is served at `/` with `index.html` for client routes, safe
/// headers, and never in place of a server path or a missing file.
#[tokio::test]
async fn the_web_app_is_served_with_its_routes_and_headers() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let port = server.port();
        let get = |path: &'static str| async move {
            crate::harness::http_get(port, path).await.expect("GET")
        };
        let root = get("/").await;
        assert_eq!(root.status, 200);
        assert!(
            root.header("content-type")
                .unwrap_or_default()
                .starts_with("text/html")
        );
        let csp = root.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(root.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(root.header("cache-control"), Some("no-cache"));
        for route in ["/join?invite=abc", "/drafts/some-draft"] {
            let page = get(route).await;
            assert_eq!(page.status, 200, "{route}");
            assert_eq!(page.body, root.body, "{route} serves the app");
        }
        let missing = get("/assets/missing-file.js").await;
        assert_eq!(missing.status, 404);
        let api = get("/api/v1/nothing-here").await;
        assert_eq!(api.status, 404);
        assert_eq!(api.json()["error"], "not_found");
        let sync = get("/syncx").await;
        assert_eq!(sync.status, 200, "only /sync itself is the server's");
    })
    .await;
}
