//! The OpenAPI description the server serves at `/api/v1/openapi.json`
//! (generated from its handlers and types) kept true by the running
//! server: it is a well-formed OpenAPI 3.1 document; every documented
//! operation exists and answers only documented statuses, with bodies of
//! the documented shape (checked by the `jsonschema` crate against the
//! document's schemas); the documented roles (`x-roles`) and security
//! schemes hold; undocumented paths and methods are refused.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::{
    Client, Db, HttpResponse, TestServer, doc_id_of, http_get, http_request, within,
};

/// The methods an OpenAPI path item may have that the tests exercise, in
/// the order the tests run them (a patch before the delete of the same
/// element, an archive before the restore).
const METHODS: [&str; 5] = ["get", "post", "patch", "put", "delete"];

/// The paths outside `/api/v1` the document describes.
const OPERATIONAL: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/sync"];

const ROLES: [&str; 3] = ["chair", "delegate", "reviewer"];

/// The document `server` serves, fetched as documented: without a session.
async fn served_document(server: &TestServer) -> Value {
    let resp = http_get(server.port(), "/api/v1/openapi.json")
        .await
        .expect("GET /api/v1/openapi.json");
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(
        base_media(resp.header("content-type").unwrap_or_default()),
        "application/json"
    );
    serde_json::from_str(&resp.body).expect("the served document is JSON")
}

/// One documented operation.
#[derive(Clone)]
struct Op {
    path: String,
    method: String,
    op: Value,
}

impl Op {
    fn label(&self) -> String {
        format!(
            "{} {} ({})",
            self.method.to_uppercase(),
            self.path,
            self.op["operationId"].as_str().unwrap_or("?")
        )
    }

    /// Needs no session: `security: []`, or only the metrics token (not a
    /// session: see `tests/headers.rs`; these servers run without one, so
    /// /metrics answers its documented 404).
    fn is_public(&self) -> bool {
        self.op["security"]
            .as_array()
            .expect("every operation states its security")
            .iter()
            .all(|r| {
                r.as_object()
                    .is_some_and(|r| r.keys().all(|k| k == "metricsToken"))
            })
    }

    /// The roles it admits (`x-roles`).
    fn roles(&self) -> Vec<&str> {
        self.op["x-roles"]
            .as_array()
            .expect("every operation states its roles in x-roles")
            .iter()
            .map(|r| r.as_str().expect("a role name"))
            .collect()
    }

    fn statuses(&self) -> BTreeSet<u16> {
        self.op["responses"]
            .as_object()
            .expect("responses")
            .keys()
            .map(|k| {
                k.parse()
                    .unwrap_or_else(|_| panic!("{}: status {k}", self.label()))
            })
            .collect()
    }

    /// The documented success status (the lowest below 300).
    fn success(&self) -> u16 {
        *self
            .statuses()
            .iter()
            .find(|s| **s < 300)
            .unwrap_or_else(|| panic!("{} documents no success", self.label()))
    }

    fn has_body(&self) -> bool {
        self.op.get("requestBody").is_some()
    }

    /// The documented example of the JSON request body.
    fn example(&self) -> Option<Value> {
        let example = self
            .op
            .pointer("/requestBody/content/application~1json/example")?;
        Some(example.clone())
    }

    fn is_sync(&self) -> bool {
        self.path == "/sync"
    }

    fn is_sign_out(&self) -> bool {
        self.path == "/api/v1/session" && self.method == "delete"
    }
}

/// Every operation, in path order and, within a path, in `METHODS` order.
fn operations(doc: &Value) -> Vec<Op> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut sorted: Vec<&String> = paths.keys().collect();
    sorted.sort();
    let mut out = Vec::new();
    for path in sorted {
        let item = &paths[path.as_str()];
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push(Op {
                    path: path.clone(),
                    method: method.to_owned(),
                    op: op.clone(),
                });
            }
        }
    }
    out
}

/// Follows `$ref`s (`#/...`) within the document.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $refs: {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("$ref {reference} does not resolve"));
    }
    panic!("a $ref cycle")
}

/// The ids the path parameters take.
#[derive(Clone)]
struct Ids {
    draft: String,
    element: String,
    /// A participating entity's code.
    entity: String,
    /// An amendment and a comment (thread) of the draft; by default ids no
    /// draft has, so their operations answer 404.
    amendment: String,
    comment: String,
}

/// The id of no amendment and no comment.
const NO_ID: &str = "999999";

impl Ids {
    async fn of_reference_draft(server: &TestServer) -> Ids {
        let draft = server.draft().await;
        Ids {
            draft: draft["id"].as_str().expect("draft id").to_owned(),
            element: draft["elements"]
                .as_array()
                .and_then(|e| e.last())
                .and_then(|e| e["id"].as_str())
                .expect("an element id")
                .to_owned(),
            entity: draft["entities"][0]["code"]
                .as_str()
                .expect("an entity code")
                .to_owned(),
            amendment: NO_ID.into(),
            comment: NO_ID.into(),
        }
    }

    fn fill(&self, path: &str) -> String {
        let filled = path
            .replace("{id}", &self.draft)
            .replace("{eid}", &self.element)
            .replace("{entity}", &self.entity)
            .replace("{aid}", &self.amendment)
            .replace("{cid}", &self.comment);
        assert!(
            !filled.contains('{'),
            "a path parameter the tests cannot fill: {path}"
        );
        filled
    }

    /// `op`'s path filled, with every required query parameter set to its
    /// documented example.
    fn target(&self, doc: &Value, op: &Op) -> String {
        format!("{}{}", self.fill(&op.path), required_query(doc, op))
    }
}

/// `?name=value&…` with each required query parameter of `op` set to its
/// documented `example` (empty when it has none).
fn required_query(doc: &Value, op: &Op) -> String {
    let pairs: Vec<String> = op.op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "query" && p["required"] == true)
        .map(|p| {
            let name = p["name"].as_str().expect("a parameter name");
            let example = p["example"].as_str().unwrap_or_else(|| {
                panic!(
                    "{}: the required query parameter {name} has no example",
                    op.label()
                )
            });
            format!("{name}={}", encode(example))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Drafts in a given consensus state

/// The operation with this `operationId`.
fn find_op(doc: &Value, id: &str) -> Op {
    operations(doc)
        .into_iter()
        .find(|o| o.op["operationId"] == id)
        .unwrap_or_else(|| panic!("operation {id}"))
}

/// The entities createDraft's example names, each with a new delegate's
/// session (`who` keeps the users' names apart).
async fn example_delegates(server: &TestServer, doc: &Value, who: &str) -> Vec<(String, String)> {
    let example = find_op(doc, "createDraft")
        .example()
        .expect("createDraft's example");
    let mut out = Vec::new();
    for code in example["entities"]
        .as_array()
        .expect("the example names entities")
    {
        let code = code.as_str().expect("an entity code");
        let token = server
            .session_for(&format!("{who}-{code}"), "delegate", Some(code))
            .await;
        out.push((code.to_owned(), token));
    }
    out
}

/// A new draft made by the chair from createDraft's example: its id, its
/// first element and its first entity.
async fn example_draft(server: &TestServer, doc: &Value) -> Ids {
    let example = find_op(doc, "createDraft")
        .example()
        .expect("createDraft's example");
    let resp = server
        .request(
            "POST",
            "/api/v1/drafts",
            Some(server.token()),
            Some(&example),
        )
        .await;
    assert_eq!(
        resp.status, 201,
        "creating a draft from the example: {}",
        resp.body
    );
    let draft = resp.json();
    Ids {
        draft: draft["id"].as_str().expect("id").to_owned(),
        element: draft["elements"][0]["id"]
            .as_str()
            .expect("an element")
            .to_owned(),
        entity: draft["entities"][0]["code"]
            .as_str()
            .expect("an entity")
            .to_owned(),
        amendment: NO_ID.into(),
        comment: NO_ID.into(),
    }
}

/// The element ids of a draft, in order (archived ones left out).
async fn element_ids(server: &TestServer, draft: &str) -> Vec<String> {
    let draft = server.get_json(&format!("/api/v1/drafts/{draft}")).await;
    draft["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| e["id"].as_str().expect("an element id").to_owned())
        .collect()
}

/// `body` bound to the text of the element of `ids` as GET
/// /api/v1/drafts/{id} shows it now: its `text_hash` and `heads`.
async fn on_current_text(server: &TestServer, ids: &Ids, mut body: Value) -> Value {
    let draft = server
        .get_json(&format!("/api/v1/drafts/{}", ids.draft))
        .await;
    let element = draft["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .find(|e| e["id"] == ids.element.as_str())
        .unwrap_or_else(|| panic!("no element {} in {draft}", ids.element))
        .clone();
    body["text_hash"] = element["text_hash"].clone();
    body["heads"] = element["heads"].clone();
    body
}

/// `token`, a delegate of `entity`, states the position of `body` on the
/// element's current text.
async fn state_position(
    server: &TestServer,
    ids: &Ids,
    entity: &str,
    token: &str,
    body: Value,
) -> HttpResponse {
    let body = on_current_text(server, ids, body).await;
    let path = format!(
        "/api/v1/drafts/{}/elements/{}/positions/{entity}",
        ids.draft, ids.element
    );
    server.request("PUT", &path, Some(token), Some(&body)).await
}

/// Every delegate supports the element: with every participating entity
/// among them, it is agreed.
async fn agree(server: &TestServer, ids: &Ids, delegates: &[(String, String)]) {
    for (entity, token) in delegates {
        let resp =
            state_position(server, ids, entity, token, json!({ "position": "support" })).await;
        assert_eq!(resp.status, 201, "{entity} supporting: {}", resp.body);
    }
}

/// The element agreed, then adopted by the chair.
async fn adopt(server: &TestServer, ids: &Ids, delegates: &[(String, String)]) {
    agree(server, ids, delegates).await;
    let path = format!(
        "/api/v1/drafts/{}/elements/{}/adopt",
        ids.draft, ids.element
    );
    let resp = server
        .request("POST", &path, Some(server.token()), None)
        .await;
    assert_eq!(resp.status, 200, "adopting {}: {}", ids.element, resp.body);
}

/// Every element of the draft adopted.
async fn adopt_every_element(server: &TestServer, ids: &Ids, delegates: &[(String, String)]) {
    for element in element_ids(server, &ids.draft).await {
        let ids = Ids {
            element,
            ..ids.clone()
        };
        adopt(server, &ids, delegates).await;
    }
}

/// A silence deadline ahead of the server's consensus clock by more than
/// any minimum notice a test sets: New Year's Day in two years' time.
async fn far_deadline(server: &TestServer, draft: &str) -> String {
    let consensus = server
        .get_json(&format!("/api/v1/drafts/{draft}/consensus"))
        .await;
    let now = consensus["server_time"].as_str().expect("server_time");
    let year: i32 = now[..4].parse().expect("a year");
    format!("{}-01-01T00:00:00Z", year + 2)
}

/// The chair starts a silence procedure on the element, until `deadline`.
async fn start_silence(server: &TestServer, ids: &Ids, deadline: &str) {
    let body = json!({ "elements": [ids.element], "deadline": deadline });
    let resp = server
        .request(
            "POST",
            &format!("/api/v1/drafts/{}/silence", ids.draft),
            Some(server.token()),
            Some(&body),
        )
        .await;
    assert_eq!(resp.status, 201, "starting silence: {}", resp.body);
}

/// The ids and body with which `op` can succeed. Most run on the test's
/// draft (`ids`) with their documented example. The consensus commands each
/// get a new draft from createDraft's example (its delegates are
/// `delegates`) in the state they need: a position bound to the element's
/// current text; a silence deadline ahead of the server's clock; a running
/// silence procedure to cancel (the example's `elements`, if any, naming the
/// element); an agreed element to adopt; an adopted one to reopen; every
/// element adopted to adopt the draft.
async fn prepare(
    server: &TestServer,
    doc: &Value,
    op: &Op,
    ids: &Ids,
    delegates: &[(String, String)],
    caller: (&str, &str),
) -> (Ids, Send) {
    if let Some(prepared) = amendment_fixture(server, doc, op, caller).await {
        return prepared;
    }
    const PREPARED: [&str; 6] = [
        "putPosition",
        "startSilence",
        "cancelSilence",
        "adoptElement",
        "reopenElement",
        "adoptDraft",
    ];
    let id = op.op["operationId"].as_str().unwrap_or_default();
    if !PREPARED.contains(&id) {
        return (ids.clone(), Send::example_of(op));
    }
    let fresh = example_draft(server, doc).await;
    let example = op.example();
    let body = match id {
        "putPosition" => {
            let example = example.expect("putPosition's example");
            Some(on_current_text(server, &fresh, example).await)
        }
        "startSilence" => {
            let mut body = example.expect("startSilence's example");
            body["deadline"] = json!(far_deadline(server, &fresh.draft).await);
            Some(body)
        }
        "cancelSilence" => {
            start_silence(server, &fresh, &far_deadline(server, &fresh.draft).await).await;
            example.map(|mut body| {
                if body.get("elements").is_some_and(Value::is_array) {
                    body["elements"] = json!([fresh.element]);
                }
                body
            })
        }
        "adoptElement" => {
            agree(server, &fresh, delegates).await;
            example
        }
        "reopenElement" => {
            adopt(server, &fresh, delegates).await;
            example
        }
        _ => {
            adopt_every_element(server, &fresh, delegates).await;
            example
        }
    };
    (fresh, body.map_or(Send::Nothing, Send::Json))
}

/// For the amendment and comment operations that need one, what `caller`
/// (role, token) calls them on: a fresh draft where IOM and ILO take part,
/// an amendment or comment in the state the operation needs, and the body.
/// A chair acts for ILO (naming it), the delegate is IOM's; the amendment
/// is the other entity's where the caller sponsors or objects, the
/// caller's entity's where it withdraws or re-anchors. `None` for other
/// operations.
async fn amendment_fixture(
    server: &TestServer,
    doc: &Value,
    op: &Op,
    (role, token): (&str, &str),
) -> Option<(Ids, Send)> {
    static FIXTURES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let id = op.op["operationId"].as_str().unwrap_or_default();
    let prepared = [
        "proposeAmendment",
        "sponsorAmendment",
        "unsponsorAmendment",
        "objectToAmendment",
        "withdrawObjection",
        "withdrawAmendment",
        "reanchorAmendment",
        "acceptAmendment",
        "rejectAmendment",
        "addComment",
        "resolveComment",
    ];
    if !prepared.contains(&id) {
        return None;
    }
    let n = FIXTURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut example = find_op(doc, "createDraft")
        .example()
        .expect("createDraft's example");
    example["entities"] = json!(["IOM", "ILO"]);
    let resp = server
        .request(
            "POST",
            "/api/v1/drafts",
            Some(server.token()),
            Some(&example),
        )
        .await;
    assert_eq!(resp.status, 201, "a draft for amendments: {}", resp.body);
    let draft = resp.json();
    let mut ids = Ids {
        draft: draft["id"].as_str().expect("id").to_owned(),
        element: draft["elements"][0]["id"]
            .as_str()
            .expect("an element")
            .to_owned(),
        entity: "IOM".into(),
        amendment: NO_ID.into(),
        comment: NO_ID.into(),
    };
    let iom = server
        .session_for(&format!("amend-iom-{n}"), "delegate", Some("IOM"))
        .await;
    let ilo = server
        .session_for(&format!("amend-ilo-{n}"), "delegate", Some("ILO"))
        .await;
    let chair = role == "chair";
    // The caller's entity's delegate, and the other entity's.
    let (own, other) = if chair { (&ilo, &iom) } else { (&iom, &ilo) };
    let named = |mut body: Value| {
        if chair {
            body["entity"] = json!("ILO");
        }
        body
    };
    let body = match id {
        "proposeAmendment" => {
            let mut body = named(fixture_passage(server, &ids).await);
            body["text"] = json!("Second");
            body["reason"] = json!("Clearer.");
            body
        }
        "sponsorAmendment" | "objectToAmendment" => {
            ids.amendment = fixture_propose(server, &ids, other).await;
            let body = if id == "objectToAmendment" {
                json!({"reason": "Agreed language."})
            } else {
                json!({})
            };
            named(body)
        }
        "unsponsorAmendment" => {
            ids.amendment = fixture_propose(server, &ids, other).await;
            fixture_act(server, &ids, own, "sponsor", json!({})).await;
            named(json!({}))
        }
        "withdrawObjection" => {
            ids.amendment = fixture_propose(server, &ids, other).await;
            fixture_act(server, &ids, own, "object", json!({"reason": "No."})).await;
            named(json!({}))
        }
        "withdrawAmendment" => {
            ids.amendment = fixture_propose(server, &ids, own).await;
            json!({})
        }
        "reanchorAmendment" => {
            ids.amendment = fixture_propose(server, &ids, own).await;
            fixture_passage(server, &ids).await
        }
        "acceptAmendment" | "rejectAmendment" => {
            ids.amendment = fixture_propose(server, &ids, &iom).await;
            json!({"reason": "Out of scope."})
        }
        "addComment" => json!({"text": "@ILO: which instruments?"}),
        _ => {
            // resolveComment: a thread the caller wrote (a reviewer cannot write one).
            let by = if role == "reviewer" {
                server.token()
            } else {
                token
            };
            let path = format!(
                "/api/v1/drafts/{}/elements/{}/comments",
                ids.draft, ids.element
            );
            let resp = server
                .request(
                    "POST",
                    &path,
                    Some(by),
                    Some(&json!({"text": "A question."})),
                )
                .await;
            assert_eq!(resp.status, 201, "a fixture comment: {}", resp.body);
            ids.comment = resp.json()["id"].as_i64().expect("an id").to_string();
            json!({})
        }
    };
    let send = if op.has_body() {
        Send::Json(body)
    } else {
        Send::Nothing
    };
    Some((ids, send))
}

/// The first five characters of the fixture's element, at its current heads.
async fn fixture_passage(server: &TestServer, ids: &Ids) -> Value {
    let draft = server
        .get_json(&format!("/api/v1/drafts/{}", ids.draft))
        .await;
    let element = draft["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .find(|e| e["id"] == ids.element.as_str())
        .expect("the element")
        .clone();
    json!({"from": 0, "to": 5, "heads": element["heads"]})
}

/// `by` proposes an amendment to the fixture's element: its id.
async fn fixture_propose(server: &TestServer, ids: &Ids, by: &str) -> String {
    let mut body = fixture_passage(server, ids).await;
    body["text"] = json!("Second");
    body["reason"] = json!("Clearer.");
    let path = format!(
        "/api/v1/drafts/{}/elements/{}/amendments",
        ids.draft, ids.element
    );
    let resp = server.request("POST", &path, Some(by), Some(&body)).await;
    assert_eq!(resp.status, 201, "a fixture amendment: {}", resp.body);
    resp.json()["id"].as_i64().expect("an id").to_string()
}

/// `by` sponsors or objects to the fixture's amendment.
async fn fixture_act(server: &TestServer, ids: &Ids, by: &str, what: &str, body: Value) {
    let path = format!(
        "/api/v1/drafts/{}/amendments/{}/{what}",
        ids.draft, ids.amendment
    );
    let resp = server.request("POST", &path, Some(by), Some(&body)).await;
    assert_eq!(resp.status, 200, "fixture {what}: {}", resp.body);
}

// ---------------------------------------------------------------------------
// Requests

/// What a request carries as its JSON body.
enum Send {
    Nothing,
    /// An object with a field no request schema has.
    UnknownField,
    Json(Value),
}

impl Send {
    /// The documented example for operations with a body, else nothing.
    fn example_of(op: &Op) -> Send {
        match op.example() {
            Some(example) => Send::Json(example),
            None => Send::Nothing,
        }
    }
}

enum Credential<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    credential: &Credential<'_>,
    extra_headers: &[(&str, &str)],
    send: &Send,
) -> HttpResponse {
    let body = match send {
        Send::Nothing => None,
        Send::UnknownField => Some(json!({ "not_a_documented_field": true }).to_string()),
        Send::Json(value) => Some(value.to_string()),
    };
    let auth;
    let cookie;
    let mut headers: Vec<(&str, &str)> = extra_headers.to_vec();
    match credential {
        Credential::None => {}
        Credential::Bearer(token) => {
            auth = format!("Bearer {token}");
            headers.push(("Authorization", &auth));
        }
        Credential::Cookie(token) => {
            cookie = format!("accord_session={token}");
            headers.push(("Cookie", &cookie));
        }
    }
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let method = method.to_uppercase();
    http_request(
        server.port(),
        &method,
        path,
        &headers,
        body.as_deref().map(str::as_bytes),
    )
    .await
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A websocket handshake on `/sync` (`query` appended to the path), as a
/// response: 101 on success (the socket is dropped at once).
async fn sync_handshake(
    server: &TestServer,
    query: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let url = format!("ws://127.0.0.1:{}/sync{query}", server.port());
    let mut request = url.into_client_request().expect("a websocket request");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            tungstenite::http::HeaderValue::from_str(value).expect("a header value"),
        );
    }
    let connect = tokio_tungstenite::connect_async(request);
    let result = tokio::time::timeout(std::time::Duration::from_secs(15), connect)
        .await
        .expect("the websocket handshake timed out");
    let (status, response_headers, body) = match result {
        Ok((ws, response)) => {
            drop(ws);
            (
                response.status().as_u16(),
                response.headers().clone(),
                Vec::new(),
            )
        }
        Err(tungstenite::Error::Http(response)) => (
            response.status().as_u16(),
            response.headers().clone(),
            response.body().clone().unwrap_or_default(),
        ),
        Err(e) => panic!("the websocket handshake failed: {e}"),
    };
    HttpResponse {
        status,
        headers: response_headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

// ---------------------------------------------------------------------------
// Checking answers against the document

/// What an unknown path answers, to tell "no such route" from a documented
/// 404 of a resource.
struct Missing {
    api: HttpResponse,
    root: HttpResponse,
}

impl Missing {
    async fn probe(server: &TestServer) -> Missing {
        Missing {
            api: server.get("/api/v1/no-such-api-path").await,
            root: server.get("/no-such-root-path").await,
        }
    }

    /// The answer says the route does not exist (or not for this method).
    fn is_missing_route(&self, resp: &HttpResponse) -> bool {
        resp.status == 405
            || (resp.status == 404 && (resp.body == self.api.body || resp.body == self.root.body))
    }
}

/// Everything wrong with `resp` as an answer of `op`.
fn conformance(doc: &Value, op: &Op, resp: &HttpResponse) -> Vec<String> {
    let label = op.label();
    let mut out = Vec::new();
    let Some(documented) = op.op["responses"].get(resp.status.to_string()) else {
        out.push(format!(
            "{label}: answered {} which is not documented ({:?}); body {}",
            resp.status,
            op.statuses(),
            resp.body
        ));
        return out;
    };
    let documented = resolve(doc, documented);
    if let Some(headers) = documented.get("headers").and_then(Value::as_object) {
        for name in headers.keys() {
            if resp.header(name).is_none() {
                out.push(format!(
                    "{label}: {} lacks the documented header {name}",
                    resp.status
                ));
            }
        }
    }
    let Some(content) = documented.get("content").and_then(Value::as_object) else {
        if resp.status != 101 && !resp.body.is_empty() {
            out.push(format!(
                "{label}: {} is documented without a body, got {:?}",
                resp.status, resp.body
            ));
        }
        return out;
    };
    let content_type = resp.header("content-type").unwrap_or_default();
    let Some((media, media_doc)) = content
        .iter()
        .find(|(media, _)| base_media(content_type) == base_media(media))
    else {
        out.push(format!(
            "{label}: {} has Content-Type {content_type:?}, documented {:?}",
            resp.status,
            content.keys().collect::<Vec<_>>()
        ));
        return out;
    };
    if base_media(media) == "application/json" {
        let value: Value = match serde_json::from_str(&resp.body) {
            Ok(value) => value,
            Err(e) => {
                out.push(format!(
                    "{label}: {} body is not JSON ({e}): {}",
                    resp.status, resp.body
                ));
                return out;
            }
        };
        if let Some(schema) = media_doc.get("schema") {
            let at = format!("{label} {}", resp.status);
            validate(doc, schema, &value, &at, &mut out);
        }
    }
    out
}

fn base_media(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn assert_conforms(doc: &Value, op: &Op, resp: &HttpResponse) {
    let problems = conformance(doc, op, resp);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Checks `value` against `schema`, a schema of the document `doc` (its
/// `$ref`s point into the document), with the `jsonschema` crate: JSON
/// Schema 2020-12, OpenAPI 3.1's dialect, with formats (`date-time`, `uri`…)
/// asserted. Each problem is reported at `at` and the value's place in it.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let validator = validator(doc, schema);
    for error in validator.iter_errors(value) {
        out.push(format!("{at}{}: {error}", error.instance_path()));
    }
}

thread_local! {
    /// Validators by document and schema.
    static VALIDATORS: RefCell<HashMap<(String, String), Rc<jsonschema::Validator>>> =
        RefCell::new(HashMap::new());
}

/// `schema` compiled with the document as its root, so that the document's
/// `#/components/...` references resolve: the root is the document with
/// `schema` as its only applicator (`allOf`); the document's own members
/// are no JSON Schema keywords.
fn validator(doc: &Value, schema: &Value) -> Rc<jsonschema::Validator> {
    let key = (doc["components"].to_string(), schema.to_string());
    if let Some(validator) = VALIDATORS.with(|v| v.borrow().get(&key).cloned()) {
        return validator;
    }
    let mut root = doc.clone();
    root["allOf"] = json!([schema]);
    let validator = Rc::new(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{schema} is not a valid JSON Schema: {e}")),
    );
    VALIDATORS.with(|v| v.borrow_mut().insert(key, validator.clone()));
    validator
}

/// Every `$ref` in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn the_document_is_well_formed() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = served_document(&server).await;
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1.")),
            "an OpenAPI 3.1 document"
        );
        let mut all_refs = Vec::new();
        refs(&doc, &mut all_refs);
        for reference in &all_refs {
            let pointer = reference.strip_prefix('#').expect("a local $ref");
            assert!(
                doc.pointer(pointer).is_some(),
                "$ref {reference} does not resolve"
            );
        }
        let schemes = doc["components"]["securitySchemes"]
            .as_object()
            .expect("security schemes");
        let ops = operations(&doc);
        assert!(!ops.is_empty());
        let mut ids = BTreeSet::new();
        for op in &ops {
            let label = op.label();
            assert!(
                op.path.starts_with("/api/v1/") || OPERATIONAL.contains(&op.path.as_str()),
                "{label}: a path the server does not serve"
            );
            let id = op.op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{label}: no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} is not unique");
            for field in ["summary", "description"] {
                assert!(
                    op.op[field].as_str().is_some_and(|d| !d.is_empty()),
                    "{label}: no {field}"
                );
            }
            let tags = op.op["tags"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            assert!(!tags.is_empty(), "{label}: no tags");
            for tag in tags {
                assert!(
                    doc["tags"]
                        .as_array()
                        .expect("the document's tags")
                        .iter()
                        .any(|t| &t["name"] == tag),
                    "{label}: the tag {tag} is not described"
                );
            }
            assert!(
                op.op["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{label}: no responses"
            );
            for requirement in op.op["security"].as_array().expect("security") {
                for scheme in requirement.as_object().expect("a requirement").keys() {
                    assert!(
                        schemes.contains_key(scheme),
                        "{label}: unknown scheme {scheme}"
                    );
                }
            }
            for role in op.roles() {
                assert!(ROLES.contains(&role), "{label}: unknown role {role}");
            }
            assert_eq!(
                op.is_public(),
                op.roles().is_empty(),
                "{label}: an operation needs a session exactly when it names roles"
            );
            let statuses = op.statuses();
            if !op.is_public() {
                for status in [401, 403] {
                    assert!(
                        statuses.contains(&status),
                        "{label}: needs a session but lacks {status}"
                    );
                }
            }
            if op.has_body() {
                for status in [400, 413] {
                    assert!(
                        statuses.contains(&status),
                        "{label}: takes a body but lacks {status}"
                    );
                }
                let example = op
                    .example()
                    .unwrap_or_else(|| panic!("{label}: the request body has no example"));
                let schema = op
                    .op
                    .pointer("/requestBody/content/application~1json/schema")
                    .unwrap_or_else(|| panic!("{label}: the request body has no JSON schema"));
                let mut problems = Vec::new();
                validate(
                    &doc,
                    schema,
                    &example,
                    &format!("{label} example"),
                    &mut problems,
                );
                assert!(problems.is_empty(), "{}", problems.join("\n"));
            }
            // Every required query parameter has an example for the tests.
            required_query(&doc, op);
            // Every {param} in the path is declared as a path parameter.
            let mut params: Vec<Value> = Vec::new();
            for list in [
                &doc["paths"][op.path.as_str()]["parameters"],
                &op.op["parameters"],
            ] {
                for p in list.as_array().into_iter().flatten() {
                    params.push(resolve(&doc, p).clone());
                }
            }
            for segment in op.path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert!(
                        params
                            .iter()
                            .any(|p| p["name"] == name && p["in"] == "path"),
                        "{label}: path parameter {name} is not declared"
                    );
                }
            }
        }
        // The document is the route table: every route is registered
        // through utoipa-axum's `OpenApiRouter` with its operation (the
        // server's unit test `http::tests::every_route_is_in_the_document`
        // keeps it so), hence no list of routes to compare with here.
    })
    .await;
}

/// The served document is an OpenAPI 3.1 document as `utoipa`'s model of
/// one reads it: nothing in it is unknown to the model or of the wrong
/// shape (read and written back, it is unchanged).
#[tokio::test]
async fn the_served_document_is_well_formed_openapi() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let served = served_document(&server).await;
        assert_eq!(served["openapi"], "3.1.0", "an OpenAPI 3.1 document");
        let model: utoipa::openapi::OpenApi =
            serde_json::from_value(served.clone()).expect("an OpenAPI document");
        let written = serde_json::to_value(&model).expect("the model writes JSON");
        assert_eq!(
            written, served,
            "the document has parts the OpenAPI model does not know"
        );
    })
    .await;
}

/// Every (path, method) exists and answers the chair with a documented
/// status and body. Mutating operations get a body with an unknown field,
/// which the documented closed schemas (`additionalProperties: false`)
/// promise to refuse with 400, so nothing changes; operations without a
/// body run for real.
#[tokio::test]
async fn every_documented_operation_exists_and_answers_as_documented() {
    within(120, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = served_document(&server).await;
        let ids = Ids::of_reference_draft(&server).await;
        let missing = Missing::probe(&server).await;
        let mut problems = Vec::new();
        for op in operations(&doc) {
            let label = op.label();
            let path = ids.target(&doc, &op);
            let mut answers = Vec::new();
            if op.is_sync() {
                // The upgrade, with the session as `?token=`…
                let query = format!("?token={}", server.token());
                answers.push(sync_handshake(&server, &query, &[]).await);
                // …and a plain GET that is not an upgrade.
                answers.push(server.get(&path).await);
                let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
                assert_eq!(statuses, [101, 400], "{label}");
            } else {
                let leaving;
                let token = if op.is_sign_out() {
                    leaving = server.session_for("leaving-chair", "chair", None).await;
                    leaving.as_str()
                } else {
                    server.token()
                };
                let send = if op.has_body() {
                    Send::UnknownField
                } else {
                    Send::Nothing
                };
                let resp = call(
                    &server,
                    &op.method,
                    &path,
                    &Credential::Bearer(token),
                    &[],
                    &send,
                )
                .await;
                if op.has_body() {
                    let closed = op
                        .op
                        .pointer("/requestBody/content/application~1json/schema")
                        .map(|s| resolve(&doc, s))
                        .and_then(|s| s.get("additionalProperties"))
                        == Some(&Value::Bool(false));
                    if closed && resp.status != 400 {
                        problems.push(format!(
                            "{label}: the body schema is closed, yet an unknown field got {}: {}",
                            resp.status, resp.body
                        ));
                    }
                }
                answers.push(resp);
            }
            for resp in &answers {
                if missing.is_missing_route(resp) {
                    problems.push(format!(
                        "{label}: no such route: {} {}",
                        resp.status, resp.body
                    ));
                }
                problems.extend(conformance(&doc, &op, resp));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
    .await;
}

/// Every GET that answers the chair 200 with JSON has the documented shape,
/// with every array the documented bodies hold non-empty, so their item
/// schemas are checked too: an archived element, a connected client present
/// in an element, stored changes, a timeline, a named version to read and
/// compare with, an element edited by a delegate since it. The consensus
/// state and the history answers are checked in full (see `vary_consensus`,
/// `edit_after_version` and `coverage`): every documented property filled
/// somewhere, none undocumented. The exports answer in every format with
/// the documented content types.
#[tokio::test]
async fn documented_get_responses_have_the_documented_shape() {
    within(120, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = served_document(&server).await;
        let ids = Ids::of_reference_draft(&server).await;
        let archive = format!("/api/v1/drafts/{}/elements/{}", ids.draft, ids.element);
        let resp = server
            .request("DELETE", &archive, Some(server.token()), None)
            .await;
        assert_eq!(resp.status, 200, "archiving an element: {}", resp.body);
        let mut client = Client::connect(&server).await;
        client.open(&server.index_doc().await).await;
        client.open(&server.element_doc(0).await).await;
        let presence = format!("/api/v1/drafts/{}/presence", ids.draft);
        crate::harness::within(15, async {
            while server.get_json(&presence).await["present"][0]["elements"]
                .as_array()
                .is_none_or(Vec::is_empty)
            {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
        .await;
        let adopted_draft = vary_consensus(&server, &doc, &ids, &mut client).await;
        // Kept connected to the end: present in the element it edited.
        let (edited, _editor) = edit_after_version(&server, &ids).await;

        let mut checked = 0;
        let mut problems = Vec::new();
        for op in operations(&doc) {
            if op.method != "get" || op.is_sync() {
                continue;
            }
            let label = op.label();
            let json_200 = op
                .op
                .pointer("/responses/200")
                .map(|r| resolve(&doc, r))
                .and_then(|r| r.pointer("/content/application~1json/schema"));
            let Some(schema) = json_200 else {
                continue;
            };
            let id = op.op["operationId"].as_str().unwrap_or_default();
            let answers = shape_answers(&server, &doc, &op, &ids, &edited).await;
            let mut bodies = Vec::new();
            for (path, resp) in answers {
                if resp.status != 200 {
                    problems.push(format!(
                        "{label}: {} for the chair at {path}: {}",
                        resp.status, resp.body
                    ));
                    continue;
                }
                problems.extend(conformance(&doc, &op, &resp));
                let body = resp.json();
                let mut empty = Vec::new();
                empty_arrays(&body, &format!("{label} at {path}"), 0, &mut empty);
                problems.extend(
                    empty
                        .into_iter()
                        .map(|at| format!("{at}: empty, so unchecked")),
                );
                bodies.push(body);
            }
            if bodies.is_empty() {
                continue;
            }
            checked += 1;
            if id == "getConsensus" {
                // With an adopted draft's too (`adopted_at`).
                let other = Ids {
                    draft: adopted_draft.clone(),
                    ..ids.clone()
                };
                let adopted = server.get(&other.fill(&op.path)).await;
                problems.extend(conformance(&doc, &op, &adopted));
                bodies.push(adopted.json());
            }
            if FULLY_CHECKED.contains(&id) {
                let bodies: Vec<&Value> = bodies.iter().collect();
                coverage(&doc, schema, &bodies, &label, &mut problems);
            }
        }
        assert!(checked >= 10, "only {checked} GET operations were checked");

        // The exports, now and at the named version: each format with its
        // documented content type, the delegate's edit only in the current
        // text.
        let export = find_op(&doc, "exportDraft");
        for (format, media) in [
            ("md", "text/markdown"),
            ("html", "text/html"),
            ("akn", "application/akn+xml"),
        ] {
            for (version, edited_text) in [("", true), ("&version=Shape%20check", false)] {
                let path = format!("{}?format={format}{version}", ids.fill(&export.path));
                let resp = server.get(&path).await;
                let what = format!("{} at {path}", export.label());
                if resp.status != 200 {
                    problems.push(format!("{what}: {} {}", resp.status, resp.body));
                    continue;
                }
                problems.extend(conformance(&doc, &export, &resp));
                let content_type = resp.header("content-type").unwrap_or_default();
                if base_media(content_type) != media || !content_type.contains("charset=utf-8") {
                    problems.push(format!(
                        "{what}: Content-Type {content_type:?}, expected {media}; charset=utf-8"
                    ));
                }
                if resp.body.contains(DELEGATE_EDIT) != edited_text {
                    problems.push(format!(
                        "{what}: the delegate's edit {}expected in {}",
                        if edited_text { "" } else { "not " },
                        resp.body
                    ));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
    .await;
}

/// The GETs whose answers `coverage` checks in full.
const FULLY_CHECKED: [&str; 5] = [
    "getConsensus",
    "getHistory",
    "readDraft",
    "compareVersions",
    "getAttribution",
];

/// The text `edit_after_version` inserts.
const DELEGATE_EDIT: &str = "As amended by a delegate, ";

/// The requests (path and answer) by which the shape test checks a GET
/// `op`: its path with the required query examples, and for the history
/// operations real parameters: the timeline whole and paged by its cursor,
/// the draft now and at the version "Shape check", the comparison from that
/// version to now, and the attribution of the element `edited` since it.
async fn shape_answers(
    server: &TestServer,
    doc: &Value,
    op: &Op,
    ids: &Ids,
    edited: &str,
) -> Vec<(String, HttpResponse)> {
    let base = ids.fill(&op.path);
    let paths = match op.op["operationId"].as_str().unwrap_or_default() {
        "getHistory" => {
            let first = format!("{base}?limit=2");
            let page = server.get(&first).await;
            let next = page.json()["next"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("a full page of the timeline has a cursor: {}", page.body)
                })
                .to_owned();
            vec![
                base.clone(),
                first,
                format!("{base}?limit=2&cursor={}", encode(&next)),
            ]
        }
        "readDraft" => vec![base.clone(), format!("{base}?version=Shape%20check")],
        // The threads are on the edited element (the last is archived).
        "listComments" => {
            let other = Ids {
                element: edited.to_owned(),
                ..ids.clone()
            };
            vec![other.fill(&op.path)]
        }
        "compareVersions" => vec![format!("{base}?from=Shape%20check&to=now")],
        "getAttribution" => {
            let other = Ids {
                element: edited.to_owned(),
                ..ids.clone()
            };
            vec![other.fill(&op.path)]
        }
        _ => vec![ids.target(doc, op)],
    };
    let mut out = Vec::new();
    for path in paths {
        let resp = server.get(&path).await;
        out.push((path, resp));
    }
    out
}

/// After the version "Shape check" (named by `vary_consensus`), a delegate
/// edits the reference draft's fourth element through a sync client: it
/// deletes the text's last character and inserts `DELEGATE_EDIT` at its
/// start, so comparisons and attribution show insertions and deletions by
/// an author with an entity. Returns the element's id and the client.
async fn edit_after_version(server: &TestServer, ids: &Ids) -> (String, Client) {
    let draft = server
        .get_json(&format!("/api/v1/drafts/{}", ids.draft))
        .await;
    let element = &draft["elements"][3];
    let entity = draft["entities"][0]["code"].as_str().expect("an entity");
    let token = server
        .session_for("shape-editor", "delegate", Some(entity))
        .await;
    let mut client = Client::connect_with(server, &token).await;
    let doc_id = doc_id_of(&element["doc_url"]);
    client.open(&doc_id).await;
    let edit = client
        .edit(&doc_id, |doc, text| {
            let len = doc.length(text);
            doc.splice_text(text, len - 1, 1, "")
                .expect("deleting a character");
            doc.splice_text(text, 0, 0, DELEGATE_EDIT)
                .expect("inserting text");
        })
        .await;
    server.wait_element_heads(&doc_id, &[edit]).await;
    (
        element["id"].as_str().expect("an element id").to_owned(),
        client,
    )
}

/// Brings the reference draft's elements (all but the last, archived) into
/// the states a draft's consensus can show, with every optional part of the
/// answer present somewhere: the first adopted; the second objected, with a
/// proposed wording, a reservation and support ad referendum; the third
/// under silence; the fourth with a stale position (its text edited through
/// `client` after it); the fifth with a silence broken by an objection. Returns a draft made from createDraft's example and
/// adopted as a whole.
async fn vary_consensus(
    server: &TestServer,
    doc: &Value,
    ids: &Ids,
    client: &mut Client,
) -> String {
    let draft = server
        .get_json(&format!("/api/v1/drafts/{}", ids.draft))
        .await;
    let elements = draft["elements"].as_array().expect("elements");
    assert!(elements.len() >= 4, "the reference draft has four elements");
    let mut delegates = Vec::new();
    for entity in draft["entities"].as_array().expect("entities") {
        let code = entity["code"].as_str().expect("a code");
        let token = server
            .session_for(&format!("shape-{code}"), "delegate", Some(code))
            .await;
        delegates.push((code.to_owned(), token));
    }
    assert!(
        delegates.len() >= 4,
        "the reference draft has four entities"
    );
    let on = |i: usize| Ids {
        element: elements[i]["id"].as_str().expect("an id").to_owned(),
        ..ids.clone()
    };

    adopt(server, &on(0), &delegates).await;
    let positions = [
        json!({ "position": "object", "note": "Too broad.", "wording": "Facilitating mobility;" }),
        json!({ "position": "reservation", "note": "On the record." }),
        json!({ "position": "support_ad_ref" }),
    ];
    for ((entity, token), body) in delegates.iter().zip(positions) {
        let resp = state_position(server, &on(1), entity, token, body).await;
        assert_eq!(
            resp.status, 201,
            "{entity} on the second element: {}",
            resp.body
        );
    }
    start_silence(server, &on(2), &far_deadline(server, &ids.draft).await).await;
    let (entity, token) = &delegates[3];
    let resp = state_position(
        server,
        &on(3),
        entity,
        token,
        json!({ "position": "support" }),
    )
    .await;
    assert_eq!(
        resp.status, 201,
        "{entity} on the fourth element: {}",
        resp.body
    );
    let doc_id = doc_id_of(&elements[3]["doc_url"]);
    client.open(&doc_id).await;
    let edit = client.append(&doc_id, " (revised)").await;
    server.wait_element_heads(&doc_id, &[edit]).await;

    // The fifth: a silence broken by an objection (its last silence).
    assert!(elements.len() >= 5, "the reference draft has five elements");
    start_silence(server, &on(4), &far_deadline(server, &ids.draft).await).await;
    let (entity, token) = &delegates[0];
    let resp = state_position(
        server,
        &on(4),
        entity,
        token,
        json!({ "position": "object", "note": "Breaks the silence." }),
    )
    .await;
    assert_eq!(
        resp.status, 201,
        "{entity} on the fifth element: {}",
        resp.body
    );
    assert_eq!(resp.json()["silence_broken"], true);

    // An amendment with a sponsor and an objection, and a comment thread
    // with a reply and mentions, on the fourth element (the one edited after
    // the version; the last is archived): their lists have something to show.
    let fourth = on(3);
    let last = server
        .get_json(&format!("/api/v1/drafts/{}", ids.draft))
        .await["elements"]
        .as_array()
        .and_then(|e| {
            e.iter()
                .find(|e| e["id"] == fourth.element.as_str())
                .cloned()
        })
        .expect("the fourth element");
    let base = format!("/api/v1/drafts/{}", ids.draft);
    let (proposer, by) = &delegates[0];
    let body =
        json!({"from": 0, "to": 3, "text": "The", "reason": "Style.", "heads": last["heads"]});
    let path = format!("{base}/elements/{}/amendments", fourth.element);
    let resp = server.request("POST", &path, Some(by), Some(&body)).await;
    assert_eq!(resp.status, 201, "{proposer} proposes: {}", resp.body);
    let aid = resp.json()["id"].as_i64().expect("an id");
    for (i, (what, body)) in [("sponsor", json!({})), ("object", json!({"reason": "No."}))]
        .into_iter()
        .enumerate()
    {
        let (_, token) = &delegates[i + 1];
        let path = format!("{base}/amendments/{aid}/{what}");
        let resp = server
            .request("POST", &path, Some(token), Some(&body))
            .await;
        assert_eq!(resp.status, 200, "{what}: {}", resp.body);
    }
    let path = format!("{base}/elements/{}/comments", fourth.element);
    let mention = format!("@{} and @shape-{}: agreed?", delegates[1].0, delegates[2].0);
    let resp = server
        .request("POST", &path, Some(by), Some(&json!({"text": mention})))
        .await;
    assert_eq!(resp.status, 201, "a comment: {}", resp.body);
    let thread = resp.json()["id"].as_i64().expect("an id");
    let reply = json!({"text": "Yes.", "reply_to": thread});
    let resp = server
        .request("POST", &path, Some(&delegates[1].1), Some(&reply))
        .await;
    assert_eq!(resp.status, 201, "a reply: {}", resp.body);

    // A named version, so the list has one.
    let resp = server
        .request(
            "POST",
            &format!("/api/v1/drafts/{}/versions", ids.draft),
            Some(server.token()),
            Some(&json!({ "name": "Shape check" })),
        )
        .await;
    assert_eq!(resp.status, 201, "naming a version: {}", resp.body);

    let adopted = example_draft(server, doc).await;
    let example = find_op(doc, "createDraft")
        .example()
        .expect("createDraft's example");
    let participants: Vec<(String, String)> = delegates
        .iter()
        .filter(|(code, _)| {
            example["entities"]
                .as_array()
                .is_some_and(|e| e.contains(&json!(code)))
        })
        .cloned()
        .collect();
    adopt_every_element(server, &adopted, &participants).await;
    let resp = server
        .request(
            "POST",
            &format!("/api/v1/drafts/{}/adopt", adopted.draft),
            Some(server.token()),
            None,
        )
        .await;
    assert_eq!(resp.status, 201, "adopting the draft: {}", resp.body);
    adopted.draft
}

/// What `values`, instances of `schema`, leave unchecked of the schemas
/// they hold: an object schema's property that is absent, null or an empty
/// array in every instance of that schema met anywhere (so its own schema
/// never applied), or a property an object has that its schema does not
/// document. Instances are pooled by `$ref` (by place for schemas written
/// in place); the alternatives of an `anyOf`/`oneOf` each get the values
/// they admit, so an alternative never met is reported too.
fn coverage(doc: &Value, schema: &Value, values: &[&Value], at: &str, out: &mut Vec<String>) {
    let mut pool = Pool::new();
    instances(doc, schema, values, at, &mut pool);
    for (key, (schema, objects)) in pool {
        let properties = schema["properties"].as_object().expect("properties");
        let undocumented: BTreeSet<&String> = objects
            .iter()
            .filter_map(|o| o.as_object())
            .flat_map(|o| o.keys())
            .filter(|name| !properties.contains_key(*name))
            .collect();
        for name in undocumented {
            out.push(format!(
                "{at}: {key} has the undocumented property {name:?}"
            ));
        }
        for name in properties.keys() {
            if !objects.iter().any(|o| is_filled(&o[name.as_str()])) {
                out.push(format!(
                    "{at}: {key}.{name} is absent, null or empty each time, so unchecked"
                ));
            }
        }
    }
}

/// Object schemas by `$ref` or place: the schema and its instances.
type Pool<'a> = std::collections::BTreeMap<String, (&'a Value, Vec<&'a Value>)>;

fn instances<'a>(
    doc: &'a Value,
    schema: &'a Value,
    values: &[&'a Value],
    at: &str,
    pool: &mut Pool<'a>,
) {
    let (name, schema) = without_null(doc, schema);
    if let Some(items) = schema.get("items") {
        let all: Vec<&Value> = values
            .iter()
            .filter_map(|v| v.as_array())
            .flatten()
            .collect();
        instances(doc, items, &all, &format!("{at}[]"), pool);
    }
    // Alternatives (other than null): each with the values it admits.
    for key in ["anyOf", "oneOf"] {
        for (i, option) in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let admitted: Vec<&Value> = values
                .iter()
                .copied()
                .filter(|v| {
                    let mut problems = Vec::new();
                    validate(doc, option, v, at, &mut problems);
                    problems.is_empty()
                })
                .collect();
            instances(doc, option, &admitted, &format!("{at}|{key}[{i}]"), pool);
        }
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let objects: Vec<&Value> = values.iter().copied().filter(|v| v.is_object()).collect();
    pool.entry(name.map_or_else(|| at.to_owned(), str::to_owned))
        .or_insert((schema, Vec::new()))
        .1
        .extend(&objects);
    for (name, field) in properties {
        let filled: Vec<&Value> = objects
            .iter()
            .map(|o| &o[name.as_str()])
            .filter(|v| is_filled(v))
            .collect();
        instances(doc, field, &filled, &format!("{at}.{name}"), pool);
    }
}

/// Neither null (or absent) nor an empty array.
fn is_filled(value: &Value) -> bool {
    !value.is_null() && value.as_array().is_none_or(|a| !a.is_empty())
}

/// `schema` resolved, and if it is one schema or null (`anyOf`/`oneOf`
/// with `{"type": "null"}`), that schema; with the `$ref` it was reached by.
fn without_null<'a>(doc: &'a Value, schema: &'a Value) -> (Option<&'a str>, &'a Value) {
    let name = schema.get("$ref").and_then(Value::as_str);
    let resolved = resolve(doc, schema);
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = resolved.get(key).and_then(Value::as_array) {
            let rest: Vec<&Value> = options
                .iter()
                .filter(|o| resolve(doc, o).get("type") != Some(&json!("null")))
                .collect();
            if let [only] = rest[..] {
                return without_null(doc, only);
            }
        }
    }
    (name, resolved)
}

/// Arrays in `value` down to two levels of nesting that are empty. (The
/// list of each element's heads counts; a draft's lists too.)
fn empty_arrays(value: &Value, at: &str, depth: usize, out: &mut Vec<String>) {
    if depth > 2 {
        return;
    }
    match value {
        Value::Array(items) if items.is_empty() => out.push(at.to_owned()),
        Value::Array(items) => empty_arrays(&items[0], &format!("{at}[0]"), depth + 1, out),
        Value::Object(map) => {
            for (key, v) in map {
                // The document itself is not data.
                if key == "paths" || key == "components" {
                    continue;
                }
                empty_arrays(v, &format!("{at}.{key}"), depth + 1, out)
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn undocumented_paths_and_methods_are_refused() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = served_document(&server).await;
        let ids = Ids::of_reference_draft(&server).await;
        let paths = doc["paths"].as_object().expect("paths");
        let error_schema = json!({ "$ref": "#/components/schemas/Error" });
        for undocumented in [
            "/api/v1/nothing-here",
            "/api/v1/drafts/{id}/nothing-here",
            "/api/v1/drafts/{id}/elements/{eid}/nothing-here",
            "/api/v1/draft",
            "/api/v1",
            "/api/v2/drafts",
        ] {
            assert!(!paths.contains_key(undocumented));
            let path = ids.fill(undocumented);
            let resp = server.get(&path).await;
            assert_eq!(resp.status, 404, "GET {path}: {}", resp.body);
            if undocumented.starts_with("/api/v1/") {
                let body = resp.json();
                let mut problems = Vec::new();
                validate(&doc, &error_schema, &body, &path, &mut problems);
                assert!(problems.is_empty(), "{}", problems.join("\n"));
                assert_eq!(body["error"], "not_found", "GET {path}: {body}");
            }
        }
        // A documented path with a method it does not document: 405.
        for (path, item) in paths {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            for method in METHODS {
                if item.get(method).is_some() {
                    continue;
                }
                let filled = ids.fill(path);
                let send = if method == "get" {
                    Send::Nothing
                } else {
                    Send::Json(json!({}))
                };
                let resp = call(
                    &server,
                    method,
                    &filled,
                    &Credential::Bearer(server.token()),
                    &[],
                    &send,
                )
                .await;
                assert_eq!(resp.status, 405, "{method} {filled}: {}", resp.body);
                let body = resp.json();
                let mut problems = Vec::new();
                validate(&doc, &error_schema, &body, &filled, &mut problems);
                assert!(problems.is_empty(), "{}", problems.join("\n"));
                assert_eq!(
                    body["error"], "method_not_allowed",
                    "{method} {filled}: {body}"
                );
            }
        }
    })
    .await;
}

/// Without a session every operation that documents security answers 401
/// `{error, message}`; those with `security: []` do not. The documented
/// schemes work where documented: cookie, bearer, and `?token=` on /sync
/// only; and the Origin rules answer the documented 403.
#[tokio::test]
async fn security_is_as_documented() {
    within(120, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = served_document(&server).await;
        let ids = Ids::of_reference_draft(&server).await;
        let origin = server.http_url();
        let bogus = "0".repeat(64);
        let mut problems = Vec::new();
        let mut secured = 0;
        for op in operations(&doc) {
            let label = op.label();
            let path = ids.target(&doc, &op);
            if op.is_public() {
                // With an empty body where one is required (no sign-in
                // attempt is counted).
                let send = if op.has_body() {
                    Send::Json(json!({}))
                } else {
                    Send::Nothing
                };
                let resp = call(&server, &op.method, &path, &Credential::None, &[], &send).await;
                if resp.status == 401 {
                    problems.push(format!("{label}: needs no session, yet 401: {}", resp.body));
                }
                problems.extend(conformance(&doc, &op, &resp));
                continue;
            }
            secured += 1;
            let answers = if op.is_sync() {
                vec![
                    sync_handshake(&server, "", &[]).await,
                    sync_handshake(&server, &format!("?token={bogus}"), &[]).await,
                    sync_handshake(
                        &server,
                        "",
                        &[("Authorization", &format!("Bearer {bogus}"))],
                    )
                    .await,
                ]
            } else {
                let send = Send::example_of(&op);
                vec![
                    call(&server, &op.method, &path, &Credential::None, &[], &send).await,
                    call(
                        &server,
                        &op.method,
                        &path,
                        &Credential::Bearer(&bogus),
                        &[],
                        &send,
                    )
                    .await,
                    call(
                        &server,
                        &op.method,
                        &path,
                        &Credential::Cookie(&bogus),
                        &[("Origin", &origin)],
                        &send,
                    )
                    .await,
                ]
            };
            for resp in answers {
                if resp.status != 401 {
                    problems.push(format!(
                        "{label}: {} without a live session: {}",
                        resp.status, resp.body
                    ));
                    continue;
                }
                problems.extend(conformance(&doc, &op, &resp));
                let body = resp.json();
                if !(body["error"].is_string() && body["message"].is_string()) {
                    problems.push(format!("{label}: 401 without {{error, message}}: {body}"));
                }
            }
            // A browser's cookie session changing something without an
            // Origin, or with another site's: 403.
            if op.method != "get" && !op.is_sync() {
                let leaving;
                let token = if op.is_sign_out() {
                    leaving = server.session_for("leaving-chair", "chair", None).await;
                    leaving.as_str()
                } else {
                    server.token()
                };
                let send = Send::example_of(&op);
                for (headers, code) in [
                    (vec![], "origin_required"),
                    (vec![("Origin", "http://elsewhere.invalid")], "bad_origin"),
                ] {
                    let resp = call(
                        &server,
                        &op.method,
                        &path,
                        &Credential::Cookie(token),
                        &headers,
                        &send,
                    )
                    .await;
                    problems.extend(conformance(&doc, &op, &resp));
                    if resp.status != 403 || resp.json()["error"] != code {
                        problems.push(format!(
                            "{label}: a cookie session with Origin {headers:?}: {} {}",
                            resp.status, resp.body
                        ));
                    }
                }
            }
        }
        assert!(secured >= 14, "only {secured} operations need a session");
        assert!(problems.is_empty(), "{}", problems.join("\n"));

        let ops = operations(&doc);
        let find = |id: &str| {
            ops.iter()
                .find(|o| o.op["operationId"] == id)
                .unwrap_or_else(|| panic!("operation {id}"))
                .clone()
        };
        let token = server.token();

        // The cookie session reads; `?token=` is for /sync only.
        let me = find("getMe");
        let resp = call(
            &server,
            "get",
            "/api/v1/me",
            &Credential::Cookie(token),
            &[],
            &Send::Nothing,
        )
        .await;
        assert_eq!(
            resp.status, 200,
            "GET /api/v1/me with the cookie: {}",
            resp.body
        );
        assert_conforms(&doc, &me, &resp);
        let resp = http_get(server.port(), &format!("/api/v1/me?token={token}"))
            .await
            .expect("GET /api/v1/me?token=");
        assert_eq!(resp.status, 401, "?token= outside /sync: {}", resp.body);
        assert_conforms(&doc, &me, &resp);

        // /sync: each documented scheme upgrades; Origin rules answer 403.
        let sync = find("sync");
        let schemes: Vec<String> = sync.op["security"]
            .as_array()
            .expect("security")
            .iter()
            .flat_map(|r| r.as_object().expect("a requirement").keys().cloned())
            .collect();
        assert_eq!(schemes, ["sessionCookie", "bearerToken", "syncToken"]);
        let bearer = format!("Bearer {token}");
        let cookie = format!("accord_session={token}");
        let none: Vec<(&str, &str)> = Vec::new();
        let cases = [
            ("syncToken", format!("?token={token}"), none, 101),
            (
                "bearerToken",
                String::new(),
                vec![("Authorization", &bearer)],
                101,
            ),
            (
                "sessionCookie",
                String::new(),
                vec![("Cookie", &cookie), ("Origin", &origin)],
                101,
            ),
            (
                "cookie without Origin",
                String::new(),
                vec![("Cookie", &cookie)],
                403,
            ),
            (
                "another site",
                format!("?token={token}"),
                vec![("Origin", "http://elsewhere.invalid")],
                403,
            ),
        ];
        for (what, query, headers, want) in cases {
            let resp = sync_handshake(&server, &query, &headers).await;
            assert_eq!(resp.status, want, "/sync with {what}: {}", resp.body);
            assert_conforms(&doc, &sync, &resp);
        }
    })
    .await;
}

/// `x-roles` holds: a role it names is admitted (the documented success,
/// with the documented example bodies, on a draft made for the test, or for
/// the consensus commands on a draft in the state they need: see
/// `prepare`), a role it does not name gets 403 `forbidden`; a delegate
/// whose entity does not take part in a draft gets 404 for it. The server
/// runs with `--test-clock`, so that chairs may move the clock.
#[tokio::test]
async fn roles_are_as_documented() {
    within(180, async {
        let server = TestServer::start_with(Db::sqlite(), &["--test-clock"]).await;
        let doc = served_document(&server).await;
        let ops = operations(&doc);
        let create = ops
            .iter()
            .find(|o| o.op["operationId"] == "createDraft")
            .expect("createDraft")
            .clone();
        let example = create.example().expect("createDraft's example");
        let participants: Vec<&str> = example["entities"]
            .as_array()
            .expect("the example names entities")
            .iter()
            .map(|e| e.as_str().expect("an entity code"))
            .collect();
        let resp = server
            .request(
                "POST",
                "/api/v1/drafts",
                Some(server.token()),
                Some(&example),
            )
            .await;
        assert_eq!(
            resp.status, 201,
            "creating a draft from the example: {}",
            resp.body
        );
        assert_conforms(&doc, &create, &resp);
        let draft = resp.json();
        let ids = Ids {
            draft: draft["id"].as_str().expect("id").to_owned(),
            element: draft["elements"][0]["id"]
                .as_str()
                .expect("an element")
                .to_owned(),
            entity: participants[0].to_owned(),
            amendment: NO_ID.into(),
            comment: NO_ID.into(),
        };
        let entities = server.get_json("/api/v1/entities").await;
        let outsider_entity = entities
            .as_array()
            .expect("entities")
            .iter()
            .filter_map(|e| e["code"].as_str())
            .find(|code| !participants.contains(code))
            .expect("an entity outside the example draft")
            .to_owned();

        let delegate = server
            .session_for("delegate-in", "delegate", Some(participants[0]))
            .await;
        let reviewer = server.session_for("reviewer", "reviewer", None).await;
        let outsider = server
            .session_for("delegate-out", "delegate", Some(&outsider_entity))
            .await;
        let fixture_delegates = example_delegates(&server, &doc, "fixture").await;
        let sessions = [
            ("chair", server.token().to_owned()),
            ("delegate", delegate),
            ("reviewer", reviewer),
        ];

        let mut problems = Vec::new();
        for (role, token) in &sessions {
            for op in &ops {
                if op.is_public() || op == &create {
                    continue;
                }
                let label = format!("{role}: {}", op.label());
                let admitted = op.roles().contains(role);
                if op.is_sync() {
                    let resp = sync_handshake(&server, &format!("?token={token}"), &[]).await;
                    if (resp.status == 101) != admitted {
                        problems.push(format!("{label}: {} {}", resp.status, resp.body));
                    }
                    problems.extend(conformance(&doc, op, &resp));
                    continue;
                }
                let leaving;
                let token = if op.is_sign_out() {
                    leaving = server
                        .session_for(
                            &format!("leaving-{role}"),
                            role,
                            participants.first().copied(),
                        )
                        .await;
                    leaving.as_str()
                } else {
                    token.as_str()
                };
                let (op_ids, send) =
                    prepare(&server, &doc, op, &ids, &fixture_delegates, (role, token)).await;
                let path = op_ids.target(&doc, op);
                let resp = call(
                    &server,
                    &op.method,
                    &path,
                    &Credential::Bearer(token),
                    &[],
                    &send,
                )
                .await;
                problems.extend(conformance(&doc, op, &resp));
                if admitted {
                    if resp.status != op.success() {
                        problems.push(format!(
                            "{label}: admitted, expected {}, got {} {}",
                            op.success(),
                            resp.status,
                            resp.body
                        ));
                    }
                } else if resp.status != 403 || resp.json()["error"] != "forbidden" {
                    problems.push(format!(
                        "{label}: not admitted, expected 403 forbidden, got {} {}",
                        resp.status, resp.body
                    ));
                }
            }
        }

        // Delegates see only the drafts their entity takes part in.
        let list = call(
            &server,
            "get",
            "/api/v1/drafts",
            &Credential::Bearer(&outsider),
            &[],
            &Send::Nothing,
        )
        .await;
        assert_eq!(list.status, 200, "{}", list.body);
        let listed: Vec<Value> = list.json().as_array().expect("a list").clone();
        assert!(
            listed.iter().all(|d| d["id"] != ids.draft.as_str()),
            "a delegate of {outsider_entity} lists a draft it does not take part in"
        );
        for op in &ops {
            if op.method != "get" || !op.path.contains("{id}") {
                continue;
            }
            let path = ids.target(&doc, op);
            let resp = call(
                &server,
                "get",
                &path,
                &Credential::Bearer(&outsider),
                &[],
                &Send::Nothing,
            )
            .await;
            problems.extend(conformance(&doc, op, &resp));
            let want = if op.roles().contains(&"delegate") {
                404
            } else {
                403
            };
            if resp.status != want {
                problems.push(format!(
                    "an outside delegate: {}: expected {want}, got {} {}",
                    op.label(),
                    resp.status,
                    resp.body
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
    .await;
}

/// The documented refusals can be provoked and look as documented: bodies
/// over the limit (413), without a JSON content type (415), bad queries
/// (400), structure conflicts (409), unknown elements (404), the test clock
/// without `--test-clock` (400), sign-ins that fail (401, 403, 409) or are
/// throttled (429 with `Retry-After`).
#[tokio::test]
async fn documented_refusals_look_as_documented() {
    within(120, async {
        let server = TestServer::start_with(
            Db::sqlite(),
            &["--max-body-bytes", "1000", "--signin-failures", "3"],
        )
        .await;
        let doc = served_document(&server).await;
        let ops = operations(&doc);
        let find = |id: &str| {
            ops.iter()
                .find(|o| o.op["operationId"] == id)
                .unwrap_or_else(|| panic!("operation {id}"))
                .clone()
        };
        let ids = Ids::of_reference_draft(&server).await;
        let chair = Credential::Bearer(server.token());
        let mut problems = Vec::new();
        let mut expect = |op: &Op, resp: HttpResponse, status: u16, what: &str| {
            if resp.status != status {
                problems.push(format!(
                    "{} {what}: expected {status}, got {} {}",
                    op.label(),
                    resp.status,
                    resp.body
                ));
            }
            problems.extend(conformance(&doc, op, &resp));
        };

        // Every operation with a body: too large, and not declared JSON.
        let big = Send::Json(json!({ "padding": "x".repeat(2000) }));
        for op in ops.iter().filter(|o| o.has_body()) {
            let path = ids.fill(&op.path);
            let resp = call(&server, &op.method, &path, &chair, &[], &big).await;
            expect(op, resp, 413, "with a body over the limit");
            if op.statuses().contains(&415) {
                let resp = http_request(
                    server.port(),
                    &op.method.to_uppercase(),
                    &path,
                    &[("Authorization", &format!("Bearer {}", server.token()))],
                    Some(b"{}"),
                )
                .await
                .expect("a request without Content-Type");
                expect(op, resp, 415, "without a JSON content type");
            }
        }

        // A query that is not an integer.
        let changes = find("listChanges");
        let path = format!("{}?after=x", ids.fill(&changes.path));
        let resp = call(&server, "get", &path, &chair, &[], &Send::Nothing).await;
        expect(&changes, resp, 400, "with ?after=x");

        // Structure conflicts and unknown elements.
        let archive = find("archiveElement");
        let update = find("updateElement");
        let restore = find("restoreElement");
        let element_path = ids.fill(&archive.path);
        let restore_path = ids.fill(&restore.path);
        let resp = call(&server, "post", &restore_path, &chair, &[], &Send::Nothing).await;
        expect(&restore, resp, 409, "of an element that is not archived");
        let resp = call(
            &server,
            "delete",
            &element_path,
            &chair,
            &[],
            &Send::Nothing,
        )
        .await;
        expect(&archive, resp, 200, "of an element");
        let resp = call(
            &server,
            "delete",
            &element_path,
            &chair,
            &[],
            &Send::Nothing,
        )
        .await;
        expect(&archive, resp, 409, "of an archived element");
        let rename = Send::Json(json!({ "label": "renamed" }));
        let resp = call(&server, "patch", &element_path, &chair, &[], &rename).await;
        expect(&update, resp, 409, "of an archived element");
        let resp = call(&server, "post", &restore_path, &chair, &[], &Send::Nothing).await;
        expect(&restore, resp, 200, "of an archived element without a body");
        let unknown = format!("/api/v1/drafts/{}/elements/no-such-element", ids.draft);
        let resp = call(&server, "patch", &unknown, &chair, &[], &rename).await;
        expect(&update, resp, 404, "of an unknown element");
        let resp = call(&server, "delete", &unknown, &chair, &[], &Send::Nothing).await;
        expect(&archive, resp, 404, "of an unknown element");
        let get_draft = find("getDraft");
        let resp = call(
            &server,
            "get",
            "/api/v1/drafts/no-such-draft",
            &chair,
            &[],
            &Send::Nothing,
        )
        .await;
        expect(&get_draft, resp, 404, "of an unknown draft");

        // The history operations' refusals: bad queries (400), an unknown
        // named version or element (404).
        let unknown_element = Ids {
            element: "no-such-element".into(),
            ..ids.clone()
        };
        for (id, query, status, what) in [
            ("exportDraft", "?format=pdf", 400, "in an unknown format"),
            ("exportDraft", "", 400, "without a format"),
            ("compareVersions", "", 400, "without from"),
            (
                "compareVersions",
                "?from=at:tomorrow",
                400,
                "from a time that is not one",
            ),
            (
                "readDraft",
                "?version=Shape&at=2026-01-01T00:00:00Z",
                400,
                "at two versions",
            ),
            (
                "readDraft",
                "?at=tomorrow",
                400,
                "at a time that is not one",
            ),
            (
                "readDraft",
                "?heads=%5B%5D",
                400,
                "at heads that are not an object",
            ),
            ("readDraft", "?nonsense=1", 400, "with an unknown parameter"),
            (
                "getHistory",
                "?cursor=x",
                400,
                "from a cursor that is not one",
            ),
            (
                "getHistory",
                "?from=yesterday",
                400,
                "from a time that is not one",
            ),
            ("getHistory", "?limit=x", 400, "with ?limit=x"),
            (
                "readDraft",
                "?version=No%20such%20version",
                404,
                "at an unknown version",
            ),
            (
                "compareVersions",
                "?from=No%20such%20version",
                404,
                "from an unknown version",
            ),
            (
                "exportDraft",
                "?format=md&version=No%20such%20version",
                404,
                "at an unknown version",
            ),
            (
                "getAttribution",
                "?version=No%20such%20version",
                404,
                "at an unknown version",
            ),
        ] {
            let op = find(id);
            let path = format!("{}{query}", ids.fill(&op.path));
            let resp = call(&server, "get", &path, &chair, &[], &Send::Nothing).await;
            if status == 404 {
                assert_eq!(
                    resp.json()["message"],
                    "that named version does not exist",
                    "GET {path}: {}",
                    resp.body
                );
            }
            expect(&op, resp, status, what);
        }
        let attribution = find("getAttribution");
        let resp = call(
            &server,
            "get",
            &unknown_element.fill(&attribution.path),
            &chair,
            &[],
            &Send::Nothing,
        )
        .await;
        expect(&attribution, resp, 404, "of an unknown element");

        // The consensus clock does not move without --test-clock.
        let clock = find("advanceClock");
        let resp = call(
            &server,
            "post",
            &clock.path,
            &chair,
            &[],
            &Send::example_of(&clock),
        )
        .await;
        assert_eq!(resp.json()["error"], "invalid", "{}", resp.body);
        expect(&clock, resp, 400, "without --test-clock");

        // Sign-in: a foreign origin (not counted), a success, each kind of
        // failure (counted), then the throttle.
        let sign_in = find("signIn");
        let with = |invite: &str| Send::Json(json!({ "invite": invite }));
        let foreign = [("Origin", "http://elsewhere.invalid")];
        let unknown = "f".repeat(64);
        let resp = call(
            &server,
            "post",
            &sign_in.path,
            &Credential::None,
            &foreign,
            &with(&unknown),
        )
        .await;
        expect(&sign_in, resp, 403, "from another site");
        let resp = call(
            &server,
            "post",
            &sign_in.path,
            &Credential::None,
            &[],
            &with(&unknown),
        )
        .await;
        expect(&sign_in, resp, 401, "with an unknown invite");
        let invite = server.add_user("signs-in", "delegate", Some("IOM")).await;
        let resp = call(
            &server,
            "post",
            &sign_in.path,
            &Credential::None,
            &[],
            &with(&invite),
        )
        .await;
        expect(&sign_in, resp, 200, "with an invite");
        let resp = call(
            &server,
            "post",
            &sign_in.path,
            &Credential::None,
            &[],
            &with(&invite),
        )
        .await;
        expect(&sign_in, resp, 409, "with a used invite");
        let invite = server.add_user("disabled", "delegate", Some("IOM")).await;
        let (ok, _, stderr) = server.cli(&["user", "disable", "disabled"]).await;
        assert!(ok, "accord user disable: {stderr}");
        let resp = call(
            &server,
            "post",
            &sign_in.path,
            &Credential::None,
            &[],
            &with(&invite),
        )
        .await;
        expect(&sign_in, resp, 403, "of a disabled user");
        let resp = call(
            &server,
            "post",
            &sign_in.path,
            &Credential::None,
            &[],
            &with(&unknown),
        )
        .await;
        expect(&sign_in, resp, 429, "after too many failures");

        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
    .await;
}

/// The consensus commands' documented refusals can be provoked, with the
/// documented codes and bodies (`current_hash` with `text_changed`,
/// `refusals` with `silence_refused`), on a draft made from createDraft's
/// example taken through its states: open, agreed ad referendum, under
/// silence, objected, adopted element by element, adopted as a whole.
#[tokio::test]
async fn consensus_refusals_look_as_documented() {
    within(120, async {
        let server = TestServer::start_with(Db::sqlite(), &["--test-clock"]).await;
        let doc = served_document(&server).await;
        let find = |id: &str| find_op(&doc, id);
        let delegates = example_delegates(&server, &doc, "refusals").await;
        let delegate = delegates[0].1.clone();
        let ids = example_draft(&server, &doc).await;
        let chair = Credential::Bearer(server.token());
        let as_delegate = Credential::Bearer(&delegate);
        let mut problems = Vec::new();
        let mut expect = |op: &Op, resp: &HttpResponse, status: u16, code: &str, what: &str| {
            // An error's code, or none (`""`) for a success.
            let got = serde_json::from_str::<Value>(&resp.body).unwrap_or_default();
            let code_ok = if code.is_empty() {
                got["error"].is_null()
            } else {
                got["error"] == code
            };
            if resp.status != status || !code_ok {
                problems.push(format!(
                    "{} {what}: expected {status} {code}, got {} {}",
                    op.label(),
                    resp.status,
                    resp.body
                ));
            }
            problems.extend(conformance(&doc, op, resp));
        };

        // Stating a position.
        let put = find("putPosition");
        let path = ids.fill(&put.path);
        let position = async |body: Value| Send::Json(on_current_text(&server, &ids, body).await);
        let support = position(json!({ "position": "support" })).await;
        let outside = server
            .get_json("/api/v1/entities")
            .await
            .as_array()
            .expect("entities")
            .iter()
            .filter_map(|e| e["code"].as_str().map(str::to_owned))
            .find(|code| delegates.iter().all(|(c, _)| c != code))
            .expect("an entity outside the example draft");
        let other = Ids {
            entity: outside.clone(),
            ..ids.clone()
        };
        let resp = call(
            &server,
            "put",
            &other.fill(&put.path),
            &as_delegate,
            &[],
            &support,
        )
        .await;
        expect(&put, &resp, 403, "forbidden", "for another entity");
        let outsider = server
            .session_for("refusals-outsider", "delegate", Some(&outside))
            .await;
        let resp = call(
            &server,
            "put",
            &other.fill(&put.path),
            &Credential::Bearer(&outsider),
            &[],
            &support,
        )
        .await;
        expect(
            &put,
            &resp,
            404,
            "not_found",
            "by a delegate of an entity outside the draft",
        );
        for (body, code, what) in [
            (
                json!({ "position": "maybe" }),
                "invalid",
                "of an unknown position",
            ),
            (
                json!({ "position": "reservation" }),
                "note_required",
                "a reservation without a note",
            ),
            (
                json!({ "position": "object" }),
                "reason_required",
                "an objection without a reason",
            ),
            (
                json!({ "position": "support", "wording": "Other words." }),
                "invalid",
                "a wording without an objection",
            ),
        ] {
            let send = position(body).await;
            let resp = call(&server, "put", &path, &as_delegate, &[], &send).await;
            expect(&put, &resp, 400, code, what);
        }
        let Send::Json(current) = &support else {
            unreachable!()
        };
        let mut body = current.clone();
        body["heads"] = json!([]);
        let resp = call(&server, "put", &path, &as_delegate, &[], &Send::Json(body)).await;
        expect(&put, &resp, 400, "invalid", "without heads");
        let mut body = current.clone();
        body["heads"] = json!(["ab".repeat(32)]);
        let resp = call(&server, "put", &path, &as_delegate, &[], &Send::Json(body)).await;
        expect(&put, &resp, 409, "not_synced", "on heads the server lacks");
        let mut body = current.clone();
        body["text_hash"] = json!("0".repeat(64));
        let resp = call(&server, "put", &path, &as_delegate, &[], &Send::Json(body)).await;
        expect(&put, &resp, 409, "text_changed", "on another text");
        assert_eq!(
            resp.json()["current_hash"],
            current["text_hash"],
            "text_changed names the current hash: {}",
            resp.body
        );
        let unknown = Ids {
            element: "no-such-element".into(),
            ..ids.clone()
        };
        let resp = call(
            &server,
            "put",
            &unknown.fill(&put.path),
            &as_delegate,
            &[],
            &support,
        )
        .await;
        expect(&put, &resp, 404, "not_found", "on an unknown element");

        // Adoption and silence on an open element.
        let adopt_element = find("adoptElement");
        let reopen = find("reopenElement");
        let adopt_draft = find("adoptDraft");
        let start = find("startSilence");
        let cancel = find("cancelSilence");
        let post = async |op: &Op, send: &Send| {
            call(&server, &op.method, &ids.fill(&op.path), &chair, &[], send).await
        };
        let resp = post(&adopt_element, &Send::Nothing).await;
        expect(
            &adopt_element,
            &resp,
            409,
            "not_agreed",
            "of an open element",
        );
        let resp = post(&reopen, &Send::Nothing).await;
        expect(
            &reopen,
            &resp,
            409,
            "not_adopted",
            "of an element not adopted",
        );
        let resp = post(&adopt_draft, &Send::Nothing).await;
        expect(
            &adopt_draft,
            &resp,
            409,
            "not_all_adopted",
            "with an open element",
        );
        let resp = post(&cancel, &Send::Nothing).await;
        expect(
            &cancel,
            &resp,
            409,
            "no_silence",
            "without a silence procedure",
        );
        let far = far_deadline(&server, &ids.draft).await;
        let silence = |elements: Value, deadline: &str| {
            Send::Json(json!({ "elements": elements, "deadline": deadline }))
        };
        let element = json!([ids.element]);
        let resp = post(&start, &silence(element.clone(), "tomorrow")).await;
        expect(
            &start,
            &resp,
            400,
            "invalid",
            "with a deadline that is not a time",
        );
        let resp = post(&start, &silence(json!([]), &far)).await;
        expect(&start, &resp, 400, "invalid", "of no element");
        let resp = post(&start, &silence(json!(["no-such-element"]), &far)).await;
        expect(&start, &resp, 404, "not_found", "of an unknown element");
        let now = server
            .get_json(&format!("/api/v1/drafts/{}/consensus", ids.draft))
            .await["server_time"]
            .as_str()
            .expect("server_time")
            .to_owned();
        let refusal = |resp: &HttpResponse, code: &str| {
            let body = resp.json();
            assert_eq!(body["refusals"][0]["error"], code, "{}", resp.body);
            assert_eq!(body["refusals"][0]["element"], ids.element.as_str());
        };
        let resp = post(&start, &silence(json!("all"), &now)).await;
        expect(
            &start,
            &resp,
            409,
            "silence_refused",
            "with a deadline too soon",
        );
        refusal(&resp, "deadline_too_soon");

        // Agreed ad referendum: not adopted; under silence once only.
        let ad_ref = position(json!({ "position": "support_ad_ref" })).await;
        let resp = call(&server, "put", &path, &as_delegate, &[], &ad_ref).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        let resp = post(&adopt_element, &Send::Nothing).await;
        expect(
            &adopt_element,
            &resp,
            409,
            "ad_ref_pending",
            "agreed ad referendum",
        );
        let resp = post(&start, &silence(element.clone(), &far)).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        let resp = post(&start, &silence(element.clone(), &far)).await;
        expect(&start, &resp, 409, "silence_refused", "twice");
        refusal(&resp, "already_under_silence");
        let resp = post(&cancel, &Send::Nothing).await;
        expect(&cancel, &resp, 200, "", "without a body");

        // Objected: no silence.
        let objection =
            position(json!({ "position": "object", "note": "No.", "wording": "Other words." }))
                .await;
        let resp = call(&server, "put", &path, &as_delegate, &[], &objection).await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        let resp = post(&start, &silence(element.clone(), &far)).await;
        expect(
            &start,
            &resp,
            409,
            "silence_refused",
            "of an objected element",
        );
        refusal(&resp, "objected");

        // Adopted: no positions, no silence; the draft adopted once.
        adopt(&server, &ids, &delegates).await;
        let resp = call(
            &server,
            "put",
            &path,
            &as_delegate,
            &[],
            &position(json!({ "position": "support" })).await,
        )
        .await;
        expect(&put, &resp, 409, "adopted", "on an adopted element");
        let resp = post(&start, &silence(element.clone(), &far)).await;
        expect(
            &start,
            &resp,
            409,
            "silence_refused",
            "of an adopted element",
        );
        refusal(&resp, "adopted");
        let resp = post(&adopt_draft, &Send::Nothing).await;
        expect(&adopt_draft, &resp, 201, "", "without a body");
        let resp = post(&adopt_draft, &Send::Nothing).await;
        expect(&adopt_draft, &resp, 409, "already_adopted", "twice");
        let resp = post(&reopen, &Send::Nothing).await;
        expect(
            &reopen,
            &resp,
            409,
            "draft_adopted",
            "of an adopted draft's element",
        );

        // The clock moves forward only.
        let clock = find("advanceClock");
        let resp = call(
            &server,
            "post",
            &clock.path,
            &chair,
            &[],
            &Send::Json(json!({ "advance_secs": -1 })),
        )
        .await;
        expect(&clock, &resp, 400, "invalid", "backwards");

        assert!(problems.is_empty(), "{}", problems.join("\n"));
    })
    .await;
}

impl PartialEq for Op {
    fn eq(&self, other: &Op) -> bool {
        self.path == other.path && self.method == other.method
    }
}

/// The validator follows the document's references and asserts patterns,
/// formats and closed objects.
#[test]
fn validation_follows_the_documents_schemas() {
    let doc = json!({
        "openapi": "3.1.0",
        "components": {"schemas": {
            "Hex": {"type": "string", "pattern": "^[0-9a-f]{4}$"},
            "Prefixed": {"type": "string", "pattern": "^automerge:"},
            "Stamp": {"type": "string", "format": "date-time"},
            "Pair": {
                "type": "object",
                "required": ["hex"],
                "additionalProperties": false,
                "properties": {"hex": {"$ref": "#/components/schemas/Hex"}}
            }
        }}
    });
    let ok = |name: &str, value: Value| {
        let mut problems = Vec::new();
        let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        validate(&doc, &schema, &value, name, &mut problems);
        problems.is_empty()
    };
    assert!(ok("Hex", json!("09af")));
    assert!(!ok("Hex", json!("09aF")));
    assert!(!ok("Hex", json!("09afe")));
    assert!(ok("Prefixed", json!("automerge:abc")));
    assert!(!ok("Prefixed", json!("automerge")));
    assert!(ok("Stamp", json!("2026-01-02T03:04:05.678Z")));
    assert!(!ok("Stamp", json!("1767322245678")));
    assert!(ok("Pair", json!({"hex": "09af"})));
    assert!(!ok("Pair", json!({"hex": "09aF"})));
    assert!(!ok("Pair", json!({"hex": "09af", "more": 1})));
    assert!(!ok("Pair", json!({})));
}
