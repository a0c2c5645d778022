//! Identity and access over HTTP and the administration CLI: users and
//! invites, sign-in, sessions and device links, sign-in throttling, body
//! limits, `Origin` checks, and who may do what (the roles × actions
//! matrix).
//!
//! Every refusal is checked for its status, its JSON body
//! `{ "error", "message" }` with the right machine code, and for having
//! changed nothing: the state is read back after it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::harness::{Db, HttpResponse, TestServer, http_request, on_both_backends, within};

// ---------------------------------------------------------------------------
// Helpers

/// Asserts that `resp` is a refusal with `status` and machine code `code`
/// in a JSON `{ error, message }` body; returns the message.
#[track_caller]
fn refused(resp: &HttpResponse, status: u16, code: &str, what: &str) -> String {
    assert_eq!(
        resp.status, status,
        "{what}: expected {status} `{code}`, got {}: {}",
        resp.status, resp.body
    );
    let content_type = resp.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: a refusal has a JSON body; content-type {content_type:?}, body {:?}",
        resp.body
    );
    let body: Value = serde_json::from_str(&resp.body).unwrap_or_else(|e| {
        panic!(
            "{what}: the refusal body is not JSON ({e}): {:?}",
            resp.body
        )
    });
    assert_eq!(body["error"], code, "{what}: the machine code; body {body}");
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: the refusal has no message: {body}"));
    assert!(
        !message.trim().is_empty(),
        "{what}: the message is empty: {body}"
    );
    message.to_owned()
}

/// Asserts a 2xx status `status`; returns the JSON body (`Null` when empty).
#[track_caller]
fn accepted(resp: &HttpResponse, status: u16, what: &str) -> Value {
    assert_eq!(
        resp.status, status,
        "{what}: expected {status}, got {}: {}",
        resp.status, resp.body
    );
    if resp.body.trim().is_empty() {
        Value::Null
    } else {
        resp.json()
    }
}

/// Any request with arbitrary headers and a raw body.
async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    http_request(
        server.port(),
        method,
        path,
        headers,
        body.map(str::as_bytes),
    )
    .await
    .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"))
}

/// POST /api/v1/session with a raw body and content type.
async fn sign_in_raw(server: &TestServer, content_type: Option<&str>, body: &str) -> HttpResponse {
    let mut headers = Vec::new();
    if let Some(content_type) = content_type {
        headers.push(("Content-Type", content_type));
    }
    send(server, "POST", "/api/v1/session", &headers, Some(body)).await
}

/// GET /api/v1/me with a bearer token.
async fn me(server: &TestServer, token: &str) -> HttpResponse {
    server.request("GET", "/api/v1/me", Some(token), None).await
}

fn cookie(token: &str) -> String {
    format!("accord_session={token}")
}

/// A well-formed token nobody issued.
fn forged_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn is_token(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` → unix milliseconds.
fn unix_ms(iso: &str) -> i64 {
    let bad = || -> ! { panic!("not an RFC 3339 UTC time: {iso:?}") };
    let Some(rest) = iso.strip_suffix('Z') else {
        bad()
    };
    let Some((date, time)) = rest.split_once('T') else {
        bad()
    };
    let date: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().unwrap_or_else(|_| bad()))
        .collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let hms: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse().unwrap_or_else(|_| bad()))
        .collect();
    if date.len() != 3 || hms.len() != 3 || frac.is_empty() {
        bad();
    }
    let millis: i64 = format!("{frac:0<3}")[..3].parse().unwrap_or_else(|_| bad());
    // Days from the civil date (H. Hinnant's algorithm).
    let (y, m, d) = (date[0], date[1], date[2]);
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + hms[0]) * 60 + hms[1]) * 60_000 + hms[2] * 1000 + millis
}

#[test]
fn unix_ms_parses_rfc3339() {
    assert_eq!(unix_ms("1970-01-01T00:00:00.000Z"), 0);
    assert_eq!(unix_ms("2000-03-01T00:00:01.5Z"), 951_868_801_500);
    assert_eq!(unix_ms("2024-02-29T23:59:59Z"), 1_709_251_199_000);
}

/// Everything the refusals below must leave alone, as a chair reads it:
/// every draft (elements, archived elements, entities, text, heads) and
/// its change log.
async fn snapshot(server: &TestServer) -> Value {
    // A structure edit re-projects consensus into the index document in the
    // background (a server change): wait until nothing moves for 500 ms.
    let mut last = read_everything(server).await;
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let now = read_everything(server).await;
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the drafts kept changing for 10 s with nobody editing");
}

async fn read_everything(server: &TestServer) -> Value {
    let drafts = server.get_json("/api/v1/drafts").await;
    let mut out = Vec::new();
    for draft in drafts.as_array().expect("a list of drafts") {
        let mut draft = draft.clone();
        draft["server_time"].take();
        let id = draft["id"].as_str().expect("draft id").to_owned();
        let changes = server
            .get_json(&format!("/api/v1/drafts/{id}/changes?limit=5000"))
            .await;
        out.push(json!({ "draft": draft, "changes": changes["changes"] }));
    }
    Value::Array(out)
}

/// One draft as the default chair reads it.
async fn read_draft(server: &TestServer, id: &str) -> Value {
    server.get_json(&format!("/api/v1/drafts/{id}")).await
}

/// The labels of a draft's elements, in order, after checking that each
/// element's `position` is its index.
fn labels(draft: &Value) -> Vec<String> {
    let elements = draft["elements"].as_array().expect("elements");
    elements
        .iter()
        .enumerate()
        .map(|(i, e)| {
            assert_eq!(
                e["position"].as_i64(),
                Some(i as i64),
                "element {i} has position {}; draft {draft}",
                e["position"]
            );
            e["label"].as_str().expect("label").to_owned()
        })
        .collect()
}

fn element_id(draft: &Value, label: &str) -> String {
    draft["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .find(|e| e["label"] == label)
        .unwrap_or_else(|| panic!("no element {label:?} in {draft}"))["id"]
        .as_str()
        .expect("element id")
        .to_owned()
}

fn draft_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list of drafts")
        .iter()
        .map(|d| d["id"].as_str().expect("draft id").to_owned())
        .collect()
}

/// The invite token a `user add`/`user invite` printed: the last line,
/// also found in the `/join?invite=` link.
#[track_caller]
fn printed_invite(server: &TestServer, stdout: &str) -> String {
    let token = stdout.lines().last().unwrap_or_default().trim().to_owned();
    assert!(
        is_token(&token),
        "the last line is the 64-hex token: {stdout:?}"
    );
    let link = format!("{}/join?invite={token}", server.http_url());
    assert!(
        stdout.contains(&link),
        "the output has the link {link}: {stdout:?}"
    );
    token
}

/// `accord user list` as (name, role, entity, status) rows.
async fn user_rows(server: &TestServer) -> Vec<(String, String, String, String)> {
    let (ok, stdout, stderr) = server.cli(&["user", "list"]).await;
    assert!(ok, "accord user list failed: {stderr}");
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 4, "a user line has 4 columns: {line:?}");
            (
                cols[0].to_owned(),
                cols[1].to_owned(),
                cols[2].to_owned(),
                cols[3].to_owned(),
            )
        })
        .collect()
}

fn row<'a>(
    rows: &'a [(String, String, String, String)],
    name: &str,
) -> &'a (String, String, String, String) {
    rows.iter()
        .find(|r| r.0 == name)
        .unwrap_or_else(|| panic!("`user list` lacks {name}: {rows:?}"))
}

// ---------------------------------------------------------------------------
// 1. The administration CLI

#[tokio::test]
async fn the_cli_manages_entities_users_and_invites() {
    within(120, async {
        let server = TestServer::start(Db::sqlite()).await;

        // Entities: the 28 of the reference scenario, as the API lists them.
        let (ok, stdout, stderr) = server.cli(&["entity", "list"]).await;
        assert!(ok, "accord entity list failed: {stderr}");
        let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 28, "28 entities: {stdout}");
        let api = server.get_json("/api/v1/entities").await;
        let codes: Vec<&str> = api
            .as_array()
            .expect("entities")
            .iter()
            .map(|e| e["code"].as_str().expect("code"))
            .collect();
        for code in ["IOM", "ILO", "UNHCR"] {
            assert!(codes.contains(&code), "the API lists {code}");
        }
        for code in &codes {
            assert!(
                lines
                    .iter()
                    .any(|l| l.split_whitespace().next() == Some(code)),
                "`entity list` lists {code}: {stdout}"
            );
        }

        // Refused additions print a clear reason and add nobody.
        let before = user_rows(&server).await;
        let refusals: [(&[&str], &str, &str); 5] = [
            (
                &["user", "add", "--name", "dana", "--role", "delegate"],
                "--entity",
                "a delegate without --entity",
            ),
            (
                &[
                    "user", "add", "--name", "dana", "--role", "delegate", "--entity", "NOPE",
                ],
                "NOPE",
                "a delegate of an unknown entity",
            ),
            (
                &[
                    "user", "add", "--name", "dana", "--role", "chair", "--entity", "NOPE",
                ],
                "NOPE",
                "a chair of an unknown entity",
            ),
            (
                &["user", "add", "--name", "tester", "--role", "reviewer"],
                "exists",
                "a name already taken",
            ),
            (
                &["user", "add", "--name", "dana", "--role", "president"],
                "president",
                "an unknown role",
            ),
        ];
        for (args, needle, what) in refusals {
            let (ok, stdout, stderr) = server.cli(args).await;
            assert!(
                !ok,
                "{what}: `accord user add` must fail; stdout {stdout:?}"
            );
            assert!(
                stderr.contains(needle),
                "{what}: the error names {needle:?}: {stderr:?}"
            );
            assert!(
                !stdout.lines().any(|l| is_token(l.trim())),
                "{what}: no invite is printed: {stdout:?}"
            );
        }
        assert_eq!(
            user_rows(&server).await,
            before,
            "refused additions added nobody"
        );

        // A delegate: a link and, last, the token.
        let (ok, stdout, stderr) = server
            .cli(&[
                "user", "add", "--name", "ana", "--role", "delegate", "--entity", "IOM",
            ])
            .await;
        assert!(ok, "accord user add failed: {stderr}");
        let ana_invite = printed_invite(&server, &stdout);
        let (ok, stdout, stderr) = server
            .cli(&["user", "add", "--name", "ben", "--role", "reviewer"])
            .await;
        assert!(ok, "accord user add failed: {stderr}");
        let ben_invite = printed_invite(&server, &stdout);
        assert_ne!(ana_invite, ben_invite);

        let rows = user_rows(&server).await;
        assert_eq!(
            row(&rows, "ana"),
            &(
                "ana".into(),
                "delegate".into(),
                "IOM".into(),
                "active".into()
            )
        );
        assert_eq!(
            row(&rows, "ben"),
            &("ben".into(), "reviewer".into(), "-".into(), "active".into())
        );
        assert_eq!(row(&rows, "tester").1, "chair");

        // The invites work.
        let ana = accepted(&server.sign_in(&ana_invite).await, 200, "ana signs in");
        let ana_id = ana["user"]["id"].as_str().expect("id").to_owned();
        let ana_token = ana["token"].as_str().expect("token").to_owned();
        assert_eq!(ana["user"]["entity"], "IOM");
        let ben = accepted(&server.sign_in(&ben_invite).await, 200, "ben signs in");
        let ben_id = ben["user"]["id"].as_str().expect("id").to_owned();

        // `user invite`: a fresh invite for the same user.
        let (ok, stdout, stderr) = server.cli(&["user", "invite", "ben"]).await;
        assert!(ok, "accord user invite failed: {stderr}");
        let ben_again = printed_invite(&server, &stdout);
        assert_ne!(ben_again, ben_invite);
        let ben2 = accepted(
            &server.sign_in(&ben_again).await,
            200,
            "ben signs in with a fresh invite",
        );
        assert_eq!(ben2["user"]["id"], ben_id.as_str(), "the same user");
        let (ok, _, stderr) = server.cli(&["user", "invite", "nobody"]).await;
        assert!(!ok && stderr.contains("nobody"), "unknown user: {stderr:?}");

        // A fresh invite replaces an earlier unused one.
        let (ok, stdout, stderr) = server
            .cli(&["user", "add", "--name", "carl", "--role", "chair"])
            .await;
        assert!(ok, "accord user add failed: {stderr}");
        let carl_first = printed_invite(&server, &stdout);
        let (ok, stdout, stderr) = server.cli(&["user", "invite", "carl"]).await;
        assert!(ok, "accord user invite failed: {stderr}");
        let carl_second = printed_invite(&server, &stdout);
        refused(
            &server.sign_in(&carl_first).await,
            401,
            "invite_expired",
            "an unused invite replaced by a fresh one",
        );
        let carl = accepted(&server.sign_in(&carl_second).await, 200, "the fresh invite");
        assert_eq!(carl["user"]["role"], "chair");

        // `user disable`: sessions end, unused invites stop working.
        let (ok, stdout, stderr) = server.cli(&["user", "invite", "ana"]).await;
        assert!(ok, "accord user invite failed: {stderr}");
        let ana_unused = printed_invite(&server, &stdout);
        accepted(&me(&server, &ana_token).await, 200, "ana's session before");
        let (ok, _, stderr) = server.cli(&["user", "disable", "ana"]).await;
        assert!(ok, "accord user disable failed: {stderr}");
        refused(
            &me(&server, &ana_token).await,
            401,
            "unauthenticated",
            "a disabled user's session",
        );
        refused(
            &server.sign_in(&ana_unused).await,
            403,
            "user_disabled",
            "a disabled user's unused invite",
        );
        assert_eq!(row(&user_rows(&server).await, "ana").3, "disabled");
        let users = server.get_json("/api/v1/users").await;
        assert!(
            !users
                .as_array()
                .expect("users")
                .iter()
                .any(|u| u["name"] == "ana"),
            "a disabled user is not listed: {users}"
        );
        let (ok, _, stderr) = server.cli(&["user", "invite", "ana"]).await;
        assert!(
            !ok && stderr.contains("enable"),
            "no invite for a disabled user: {stderr:?}"
        );
        let (ok, _, stderr) = server.cli(&["user", "disable", "nobody"]).await;
        assert!(!ok && stderr.contains("nobody"), "unknown user: {stderr:?}");
        // Ben is untouched.
        accepted(
            &me(&server, ben2["token"].as_str().expect("token")).await,
            200,
            "another user's session",
        );

        // Enabled again, the old session and invite stay dead; a fresh
        // invite works, for the same user.
        let (ok, _, stderr) = server.cli(&["user", "enable", "ana"]).await;
        assert!(ok, "accord user enable failed: {stderr}");
        refused(
            &me(&server, &ana_token).await,
            401,
            "unauthenticated",
            "a session ended by disabling, after enabling",
        );
        refused(
            &server.sign_in(&ana_unused).await,
            401,
            "invite_expired",
            "an invite revoked by disabling, after enabling",
        );
        let (ok, stdout, stderr) = server.cli(&["user", "invite", "ana"]).await;
        assert!(ok, "accord user invite failed: {stderr}");
        let ana_fresh = printed_invite(&server, &stdout);
        let back = accepted(&server.sign_in(&ana_fresh).await, 200, "ana signs in again");
        assert_eq!(back["user"]["id"], ana_id.as_str(), "the same user");
        assert_eq!(row(&user_rows(&server).await, "ana").3, "active");
    })
    .await;
}

// ---------------------------------------------------------------------------
// 2 and 4. Sign-in, sessions, device links

async fn sign_in_and_sessions(db: Db) {
    let server = TestServer::start_with(
        db,
        &[
            "--session-idle-hours",
            "1",
            "--session-max-days",
            "1",
            "--device-link-minutes",
            "5",
        ],
    )
    .await;
    let invite = server.add_user("alice", "delegate", Some("UNHCR")).await;
    let hour = 3_600_000;

    // Malformed sign-ins carrying the valid invite: refused before it is
    // looked at, so it stays unused.
    let with_field = json!({ "invite": invite, "remember": true }).to_string();
    let plain = json!({ "invite": invite }).to_string();
    let cases = [
        (
            Some("application/json"),
            with_field.clone(),
            400,
            "bad_request",
            "an unknown field",
        ),
        (
            Some("application/json"),
            format!("{{\"invite\": \"{invite}\""),
            400,
            "bad_request",
            "malformed JSON",
        ),
        (
            Some("application/json"),
            "{}".to_owned(),
            400,
            "bad_request",
            "no invite",
        ),
        (
            Some("application/json"),
            json!({ "invite": 7 }).to_string(),
            400,
            "bad_request",
            "an invite that is not a string",
        ),
        (
            Some("text/plain"),
            plain.clone(),
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        (
            None,
            plain.clone(),
            415,
            "unsupported_media_type",
            "no content type",
        ),
    ];
    for (content_type, body, status, code, what) in cases {
        let resp = sign_in_raw(&server, content_type, &body).await;
        refused(&resp, status, code, &format!("sign-in with {what}"));
        assert!(
            resp.header("set-cookie").is_none(),
            "{what}: no cookie on a refusal"
        );
    }

    // Signing in.
    let before = now_ms();
    let resp = server.sign_in(&invite).await;
    let after = now_ms();
    let body = accepted(&resp, 200, "sign-in with a fresh invite");
    let token = body["token"].as_str().expect("token").to_owned();
    assert!(is_token(&token), "a 64-hex session token: {token:?}");
    assert_ne!(token, invite, "the session is not the invite");
    let user = &body["user"];
    let alice_id = user["id"].as_str().expect("user.id").to_owned();
    assert!(!alice_id.is_empty());
    assert_eq!(user["name"], "alice");
    assert_eq!(user["role"], "delegate");
    assert_eq!(user["entity"], "UNHCR");
    let expires = unix_ms(body["expires_at"].as_str().expect("expires_at"));
    assert!(
        expires > before + hour - 60_000 && expires <= after + hour + 5_000,
        "the session's first expiry is an idle period (1 h) away: {}",
        body["expires_at"]
    );

    let set_cookie = resp.header("set-cookie").expect("a Set-Cookie header");
    let parts: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert_eq!(parts[0], cookie(&token), "the cookie is the session token");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            parts.iter().any(|p| p.eq_ignore_ascii_case(attribute)),
            "the cookie has {attribute}: {set_cookie}"
        );
    }
    assert!(
        !parts.iter().any(|p| p.eq_ignore_ascii_case("Secure")),
        "no Secure over plain http: {set_cookie}"
    );

    // The session, as bearer and as cookie.
    let me_bearer = accepted(&me(&server, &token).await, 200, "GET /me with the bearer");
    assert_eq!(me_bearer["user"]["id"], alice_id.as_str());
    assert_eq!(me_bearer["user"]["name"], "alice");
    assert_eq!(me_bearer["user"]["role"], "delegate");
    assert_eq!(me_bearer["user"]["entity"], "UNHCR");
    assert_eq!(me_bearer["entity"]["code"], "UNHCR");
    assert!(
        me_bearer["entity"]["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    let now = now_ms();
    let session_expires = unix_ms(
        me_bearer["session"]["expires_at"]
            .as_str()
            .expect("session.expires_at"),
    );
    assert!(
        session_expires > now && session_expires <= now + hour + 5_000,
        "sliding expiry within the idle hour: {} (now {now})",
        me_bearer["session"]["expires_at"]
    );
    let server_time = unix_ms(me_bearer["server_time"].as_str().expect("server_time"));
    assert!((server_time - now).abs() < 60_000, "server_time is now");

    let cookie_header = cookie(&token);
    let me_cookie = send(
        &server,
        "GET",
        "/api/v1/me",
        &[("Cookie", &cookie_header)],
        None,
    )
    .await;
    let me_cookie = accepted(&me_cookie, 200, "GET /me with the cookie alone");
    assert_eq!(me_cookie["user"]["id"], alice_id.as_str());
    let other_cookies = format!("theme=dark; {cookie_header}; lang=fr");
    let with_others = send(
        &server,
        "GET",
        "/api/v1/me",
        &[("Cookie", &other_cookies)],
        None,
    )
    .await;
    accepted(&with_others, 200, "the cookie among others");

    // Used, forged and truncated invites. The used one is a conflict.
    refused(
        &server.sign_in(&invite).await,
        409,
        "invite_used",
        "the same invite again",
    );
    refused(
        &server.sign_in(&forged_token()).await,
        401,
        "invalid_invite",
        "a forged invite",
    );
    refused(
        &server.sign_in(&invite[..63]).await,
        401,
        "invalid_invite",
        "a truncated invite",
    );
    refused(
        &server.sign_in("").await,
        401,
        "invalid_invite",
        "an empty invite",
    );
    refused(
        &server.sign_in(&invite.to_uppercase()).await,
        401,
        "invalid_invite",
        "the invite in upper case",
    );
    // None of that touched the session.
    accepted(
        &me(&server, &token).await,
        200,
        "the session after refusals",
    );

    // No session, forged and truncated sessions.
    let resp = send(&server, "GET", "/api/v1/me", &[], None).await;
    refused(&resp, 401, "unauthenticated", "GET /me without a session");
    refused(
        &me(&server, &forged_token()).await,
        401,
        "unauthenticated",
        "a forged bearer token",
    );
    refused(
        &me(&server, &token[..63]).await,
        401,
        "unauthenticated",
        "a truncated bearer token",
    );
    refused(
        &me(&server, &invite).await,
        401,
        "unauthenticated",
        "the (used) invite as a bearer token",
    );
    let forged_cookie = cookie(&forged_token());
    let resp = send(
        &server,
        "GET",
        "/api/v1/me",
        &[("Cookie", &forged_cookie)],
        None,
    )
    .await;
    refused(&resp, 401, "unauthenticated", "a forged cookie");
    let resp = send(
        &server,
        "GET",
        "/api/v1/me",
        &[("Authorization", &format!("Basic {token}"))],
        None,
    )
    .await;
    refused(&resp, 401, "unauthenticated", "a non-bearer Authorization");

    // A link for another device: a second session for the same user.
    let before = now_ms();
    let resp = server
        .request("POST", "/api/v1/session/device", Some(&token), None)
        .await;
    let device = accepted(&resp, 201, "POST /session/device");
    let device_invite = device["invite"].as_str().expect("invite").to_owned();
    assert!(is_token(&device_invite), "a 64-hex invite: {device}");
    assert_eq!(
        device["link"],
        format!("{}/join?invite={device_invite}", server.http_url()),
        "the link signs in with the invite"
    );
    let link_expires = unix_ms(device["expires_at"].as_str().expect("expires_at"));
    assert!(
        link_expires > before + 4 * 60_000 && link_expires <= now_ms() + 5 * 60_000 + 5_000,
        "the link lives --device-link-minutes (5): {}",
        device["expires_at"]
    );
    let second = accepted(
        &server.sign_in(&device_invite).await,
        200,
        "sign-in with the device link",
    );
    assert_eq!(
        second["user"]["id"],
        alice_id.as_str(),
        "the device link signs in the same user"
    );
    let token2 = second["token"].as_str().expect("token").to_owned();
    assert_ne!(token2, token, "a second session");
    accepted(&me(&server, &token2).await, 200, "the second session");
    accepted(&me(&server, &token).await, 200, "the first session still");
    refused(
        &server.sign_in(&device_invite).await,
        409,
        "invite_used",
        "the device link a second time",
    );
    refused(
        &server
            .request("POST", "/api/v1/session/device", None, None)
            .await,
        401,
        "unauthenticated",
        "a device link without a session",
    );

    // Signing out ends this session only and clears the cookie.
    let resp = server
        .request("DELETE", "/api/v1/session", Some(&token), None)
        .await;
    assert_eq!(resp.status, 204, "sign-out: {}", resp.body);
    let cleared = resp.header("set-cookie").expect("sign-out sets the cookie");
    let parts: Vec<&str> = cleared.split(';').map(str::trim).collect();
    assert_eq!(
        parts[0], "accord_session=",
        "the cookie is emptied: {cleared}"
    );
    assert!(
        parts.iter().any(|p| p.eq_ignore_ascii_case("Max-Age=0")),
        "the cookie expires now: {cleared}"
    );
    assert!(
        parts.iter().any(|p| p.eq_ignore_ascii_case("Path=/")),
        "the cleared cookie has the same path: {cleared}"
    );
    refused(
        &me(&server, &token).await,
        401,
        "unauthenticated",
        "the token after sign-out",
    );
    let resp = send(
        &server,
        "GET",
        "/api/v1/me",
        &[("Cookie", &cookie_header)],
        None,
    )
    .await;
    refused(&resp, 401, "unauthenticated", "the cookie after sign-out");
    refused(
        &server
            .request("DELETE", "/api/v1/session", Some(&token), None)
            .await,
        401,
        "unauthenticated",
        "signing out twice",
    );
    accepted(
        &me(&server, &token2).await,
        200,
        "the other device's session after sign-out",
    );
}

on_both_backends!(sign_in_and_sessions, 120);

// ---------------------------------------------------------------------------
// 3. Throttling failed sign-ins

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_address() {
    within(60, async {
        let server = TestServer::start_with(
            Db::sqlite(),
            &["--signin-failures", "3", "--signin-window-secs", "3"],
        )
        .await;
        let invite = server.add_user("carla", "reviewer", None).await;

        for i in 1..=3 {
            refused(
                &server.sign_in(&forged_token()).await,
                401,
                "invalid_invite",
                &format!("failed sign-in #{i}"),
            );
        }
        // Now even a valid invite waits, and is not consumed.
        let resp = server.sign_in(&invite).await;
        let message = refused(
            &resp,
            429,
            "too_many_attempts",
            "a valid invite after 3 failures",
        );
        let retry: u64 = resp
            .header("retry-after")
            .unwrap_or_else(|| panic!("a 429 has Retry-After: {:?}", resp.headers))
            .parse()
            .expect("Retry-After is seconds");
        assert!(
            (1..=3).contains(&retry),
            "Retry-After within the 3 s window: {retry}"
        );
        assert!(
            resp.header("set-cookie").is_none(),
            "no session while throttled"
        );
        assert!(!message.is_empty());
        refused(
            &server.sign_in(&forged_token()).await,
            429,
            "too_many_attempts",
            "another attempt while throttled",
        );

        // Signed-in clients keep being served meanwhile.
        accepted(
            &me(&server, server.token()).await,
            200,
            "GET /me while sign-ins are throttled",
        );
        accepted(
            &server.get("/api/v1/drafts").await,
            200,
            "GET /drafts while sign-ins are throttled",
        );

        // After the window the same invite signs in: it was not used.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let body = accepted(
            &server.sign_in(&invite).await,
            200,
            "the valid invite after the window",
        );
        assert_eq!(body["user"]["name"], "carla");
        // And the counter started again.
        refused(
            &server.sign_in(&forged_token()).await,
            401,
            "invalid_invite",
            "a failure after the window",
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// 2. Body limits and malformed requests

#[tokio::test]
async fn bodies_above_the_limit_are_refused() {
    within(90, async {
        let server = TestServer::start_with(Db::sqlite(), &["--max-body-bytes", "1024"]).await;
        let invite = server.add_user("dora", "delegate", Some("ILO")).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("draft id").to_owned();
        let element = draft["elements"][0]["id"]
            .as_str()
            .expect("element id")
            .to_owned();
        let pad = "x".repeat(4000);
        let chair = server.token().to_owned();
        let before = snapshot(&server).await;

        // Sign-in: refused by size, the invite stays unused.
        let big = json!({ "invite": invite, "pad": pad }).to_string();
        let resp = sign_in_raw(&server, Some("application/json"), &big).await;
        refused(&resp, 413, "too_large", "a sign-in body above the limit");

        // Chair endpoints.
        let cases = [
            (
                "PATCH",
                format!("/api/v1/drafts/{id}"),
                json!({ "preamble": pad }),
            ),
            (
                "POST",
                "/api/v1/drafts".to_owned(),
                json!({ "title": "Big", "elements": [{ "label": "A", "text": pad }] }),
            ),
            (
                "POST",
                format!("/api/v1/drafts/{id}/elements"),
                json!({ "label": "Big", "text": pad }),
            ),
            (
                "PATCH",
                format!("/api/v1/drafts/{id}/elements/{element}"),
                json!({ "label": "L", "pad": pad }),
            ),
        ];
        for (method, path, body) in &cases {
            let resp = server.request(method, path, Some(&chair), Some(body)).await;
            refused(
                &resp,
                413,
                "too_large",
                &format!("{method} {path} above the limit"),
            );
        }
        assert_eq!(
            snapshot(&server).await,
            before,
            "bodies above the limit changed nothing"
        );

        // Malformed chair requests are JSON refusals too.
        let path = format!("/api/v1/drafts/{id}");
        let auth = format!("Bearer {chair}");
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Authorization", &auth), ("Content-Type", "text/plain")],
            Some(r#"{"title":"T"}"#),
        )
        .await;
        refused(&resp, 415, "unsupported_media_type", "PATCH as text/plain");
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some(r#"{"title":"#),
        )
        .await;
        refused(&resp, 400, "bad_request", "PATCH with malformed JSON");
        let resp = server
            .request(
                "PATCH",
                &path,
                Some(&chair),
                Some(&json!({ "title": "T", "colour": "red" })),
            )
            .await;
        refused(&resp, 400, "bad_request", "PATCH with an unknown field");
        let restore = format!("/api/v1/drafts/{id}/elements/{element}/restore");
        let resp = send(
            &server,
            "POST",
            &restore,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            Some("{not json"),
        )
        .await;
        refused(&resp, 400, "bad_request", "restore with malformed JSON");
        assert_eq!(
            snapshot(&server).await,
            before,
            "malformed requests changed nothing"
        );

        // Below the limit, the same endpoints work.
        let preamble = "y".repeat(800);
        let resp = server
            .request(
                "PATCH",
                &path,
                Some(&chair),
                Some(&json!({ "preamble": preamble })),
            )
            .await;
        accepted(&resp, 200, "a body below the limit");
        assert_eq!(
            read_draft(&server, &id).await["preamble"],
            preamble.as_str()
        );
        accepted(
            &server.sign_in(&invite).await,
            200,
            "the invite refused by size still works",
        );
    })
    .await;
}

// ---------------------------------------------------------------------------
// 5. Origin

#[tokio::test]
async fn origin_is_checked_and_required_with_cookies() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let id = server.draft().await["id"]
            .as_str()
            .expect("draft id")
            .to_owned();
        let path = format!("/api/v1/drafts/{id}");
        let own = server.http_url();
        let evil = "https://evil.example";
        let other_port = format!("http://127.0.0.1:{}", server.port().wrapping_add(1));
        let bearer = format!("Bearer {}", server.token());
        let token = server.session_for("cookie-chair", "chair", None).await;
        let jar = cookie(&token);
        let json_type = ("Content-Type", "application/json");
        let patch = |title: &str| json!({ "title": title }).to_string();
        let before = snapshot(&server).await;

        // A foreign Origin is refused whatever the credentials.
        for origin in [evil, other_port.as_str(), "null"] {
            let resp = send(
                &server,
                "GET",
                "/api/v1/me",
                &[("Authorization", &bearer), ("Origin", origin)],
                None,
            )
            .await;
            refused(
                &resp,
                403,
                "bad_origin",
                &format!("bearer GET from {origin}"),
            );
        }
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Authorization", &bearer), ("Origin", evil), json_type],
            Some(&patch("Evil by bearer")),
        )
        .await;
        refused(&resp, 403, "bad_origin", "bearer PATCH from evil.example");
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Cookie", &jar), ("Origin", evil), json_type],
            Some(&patch("Evil by cookie")),
        )
        .await;
        refused(&resp, 403, "bad_origin", "cookie PATCH from evil.example");
        let resp = send(
            &server,
            "GET",
            "/api/v1/me",
            &[("Cookie", &jar), ("Origin", evil)],
            None,
        )
        .await;
        refused(&resp, 403, "bad_origin", "cookie GET from evil.example");

        // Sign-in from a foreign origin: refused, the invite unused.
        let invite = server.add_user("eve", "reviewer", None).await;
        let resp = send(
            &server,
            "POST",
            "/api/v1/session",
            &[("Origin", evil), json_type],
            Some(&json!({ "invite": invite }).to_string()),
        )
        .await;
        refused(&resp, 403, "bad_origin", "sign-in from evil.example");
        assert!(resp.header("set-cookie").is_none(), "no cookie");

        // The cookie without Origin: reads yes, writes no.
        let resp = send(&server, "GET", "/api/v1/me", &[("Cookie", &jar)], None).await;
        assert_eq!(
            accepted(&resp, 200, "cookie GET /me without Origin")["user"]["name"],
            "cookie-chair"
        );
        let resp = send(&server, "GET", &path, &[("Cookie", &jar)], None).await;
        accepted(&resp, 200, "cookie GET draft without Origin");
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Cookie", &jar), json_type],
            Some(&patch("Forged by a form")),
        )
        .await;
        refused(&resp, 403, "origin_required", "cookie PATCH without Origin");
        let resp = send(
            &server,
            "POST",
            "/api/v1/session/device",
            &[("Cookie", &jar)],
            None,
        )
        .await;
        refused(
            &resp,
            403,
            "origin_required",
            "cookie POST /session/device without Origin",
        );
        let resp = send(
            &server,
            "DELETE",
            "/api/v1/session",
            &[("Cookie", &jar)],
            None,
        )
        .await;
        refused(
            &resp,
            403,
            "origin_required",
            "cookie sign-out without Origin",
        );
        let resp = send(&server, "GET", "/api/v1/me", &[("Cookie", &jar)], None).await;
        accepted(
            &resp,
            200,
            "the cookie session survived the refused sign-out",
        );
        assert_eq!(
            snapshot(&server).await,
            before,
            "refused cross-origin requests changed nothing"
        );

        // The matching Origin makes cookie writes work.
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Cookie", &jar), ("Origin", &own), json_type],
            Some(&patch("Titled from the browser")),
        )
        .await;
        accepted(&resp, 200, "cookie PATCH with the matching Origin");
        assert_eq!(
            read_draft(&server, &id).await["title"],
            "Titled from the browser"
        );
        let resp = send(
            &server,
            "POST",
            "/api/v1/session/device",
            &[("Cookie", &jar), ("Origin", &own)],
            None,
        )
        .await;
        accepted(&resp, 201, "cookie device link with the matching Origin");

        // Bearer clients need no Origin; a matching one is fine.
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Authorization", &bearer), json_type],
            Some(&patch("Titled by a script")),
        )
        .await;
        accepted(&resp, 200, "bearer PATCH without Origin");
        let resp = send(
            &server,
            "PATCH",
            &path,
            &[("Authorization", &bearer), ("Origin", &own), json_type],
            Some(&patch("Titled by a script, again")),
        )
        .await;
        accepted(&resp, 200, "bearer PATCH with the matching Origin");
        assert_eq!(
            read_draft(&server, &id).await["title"],
            "Titled by a script, again"
        );

        // The invite refused from evil.example works from here.
        let resp = send(
            &server,
            "POST",
            "/api/v1/session",
            &[("Origin", &own), json_type],
            Some(&json!({ "invite": invite }).to_string()),
        )
        .await;
        accepted(&resp, 200, "sign-in with the matching Origin");

        // Signing out by cookie, with Origin, ends the cookie session.
        let resp = send(
            &server,
            "DELETE",
            "/api/v1/session",
            &[("Cookie", &jar), ("Origin", &own)],
            None,
        )
        .await;
        assert_eq!(resp.status, 204, "cookie sign-out: {}", resp.body);
        let resp = send(&server, "GET", "/api/v1/me", &[("Cookie", &jar)], None).await;
        refused(&resp, 401, "unauthenticated", "the cookie after sign-out");
    })
    .await;
}

// ---------------------------------------------------------------------------
// 6. Roles × actions

struct Actor {
    label: &'static str,
    role: &'static str,
    entity: Option<&'static str>,
    name: &'static str,
    token: String,
}

/// Everyone but the chairs tries `method path body`: each gets 403
/// `forbidden` naming their role, and nothing changes.
async fn only_chairs_may(
    server: &TestServer,
    actors: &[Actor],
    method: &str,
    path: &str,
    body: Option<&Value>,
) {
    let before = snapshot(server).await;
    for actor in actors.iter().filter(|a| a.role != "chair") {
        let what = format!("{} {method} {path}", actor.label);
        let resp = server.request(method, path, Some(&actor.token), body).await;
        let message = refused(&resp, 403, "forbidden", &what);
        assert!(
            message.contains(actor.role) && message.contains("chair"),
            "{what}: the message names the caller's role and who may: {message:?}"
        );
    }
    assert_eq!(
        snapshot(server).await,
        before,
        "{method} {path}: refused calls changed nothing"
    );
}

async fn roles_and_actions(db: Db) {
    let server = TestServer::start(db).await;
    let chair = Actor {
        label: "the chair",
        role: "chair",
        entity: None,
        name: "tester",
        token: server.token().to_owned(),
    };
    let mut actors = vec![chair];
    for (label, role, entity, name) in [
        ("the IOM delegate", "delegate", Some("IOM"), "del-iom"),
        ("the ILO delegate", "delegate", Some("ILO"), "del-ilo"),
        ("the reviewer", "reviewer", None, "rev"),
    ] {
        let token = server.session_for(name, role, entity).await;
        actors.push(Actor {
            label,
            role,
            entity,
            name,
            token,
        });
    }
    let chair = actors[0].token.clone();
    let iom = actors[1].token.clone();
    let ilo = actors[2].token.clone();
    let reference = server.draft().await;
    let reference_id = reference["id"].as_str().expect("draft id").to_owned();
    let me_chair = accepted(&me(&server, &chair).await, 200, "the chair's /me");
    let chair_id = me_chair["user"]["id"].as_str().expect("id").to_owned();

    // Reads: every role.
    for actor in &actors {
        let who = actor.label;
        let body = accepted(&me(&server, &actor.token).await, 200, who);
        assert_eq!(body["user"]["name"], actor.name, "{who}: /me");
        assert_eq!(body["user"]["role"], actor.role, "{who}: /me");
        assert_eq!(body["user"]["entity"], json!(actor.entity), "{who}: /me");
        let get = |path: String| {
            let token = actor.token.clone();
            let server = &server;
            async move {
                let resp = server.request("GET", &path, Some(&token), None).await;
                accepted(&resp, 200, &format!("{who} GET {path}"))
            }
        };
        let list = get("/api/v1/drafts".into()).await;
        assert!(
            draft_ids(&list).contains(&reference_id),
            "{who} sees the reference draft"
        );
        let one = get(format!("/api/v1/drafts/{reference_id}")).await;
        assert_eq!(one["elements"].as_array().map(Vec::len), Some(8), "{who}");
        let entities = get("/api/v1/entities".into()).await;
        assert_eq!(entities.as_array().map(Vec::len), Some(28), "{who}");
        let users = get("/api/v1/users".into()).await;
        for other in &actors {
            assert!(
                users
                    .as_array()
                    .expect("users")
                    .iter()
                    .any(|u| u["name"] == other.name && u["role"] == other.role),
                "{who}: /users lists {}: {users}",
                other.name
            );
        }
        let presence = get(format!("/api/v1/drafts/{reference_id}/presence")).await;
        assert_eq!(presence["draft"], reference_id.as_str(), "{who}");
        assert!(presence["present"].is_array(), "{who}: {presence}");
    }

    // Creating drafts: chairs only, valid bodies only.
    let new_draft = json!({
        "title": "Side letter",
        "preamble": "Recalling the declaration,",
        "elements": [
            { "label": "A", "text": "alpha" },
            { "label": "B", "text": "beta" },
            { "label": "C", "text": "gamma" },
        ],
        "entities": ["IOM"],
    });
    only_chairs_may(&server, &actors, "POST", "/api/v1/drafts", Some(&new_draft)).await;
    let before = snapshot(&server).await;
    let element = json!([{ "label": "A", "text": "alpha" }]);
    let invalid = [
        (
            json!({ "title": "  ", "elements": element }),
            "invalid",
            "an empty title",
        ),
        (
            json!({ "title": "T", "elements": [] }),
            "invalid",
            "no elements",
        ),
        (
            json!({ "title": "T", "elements": [{ "label": " ", "text": "x" }] }),
            "invalid",
            "an empty label",
        ),
        (json!({ "elements": element }), "bad_request", "no title"),
        (
            json!({ "title": "T", "elements": element, "owner": "me" }),
            "bad_request",
            "an unknown field",
        ),
        (
            json!({ "title": "T", "elements": element, "entities": ["IOM", "NOPE"] }),
            "unknown_entity",
            "an unknown entity",
        ),
    ];
    for (body, code, what) in &invalid {
        let resp = server
            .request("POST", "/api/v1/drafts", Some(&chair), Some(body))
            .await;
        refused(&resp, 400, code, &format!("a draft with {what}"));
    }
    assert_eq!(
        snapshot(&server).await,
        before,
        "invalid drafts changed nothing"
    );
    let resp = server
        .request("POST", "/api/v1/drafts", Some(&chair), Some(&new_draft))
        .await;
    let created = accepted(&resp, 201, "the chair creates a draft");
    let id = created["id"].as_str().expect("draft id").to_owned();
    assert_eq!(created["title"], "Side letter");
    assert_eq!(created["preamble"], "Recalling the declaration,");
    assert_eq!(labels(&created), ["A", "B", "C"]);
    assert_eq!(created["elements"][1]["text"], "beta");
    assert_eq!(created["archived_elements"], json!([]));
    let codes: Vec<&str> = created["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| e["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["IOM"]);
    let mut read = read_draft(&server, &id).await;
    let mut created = created.clone();
    read["server_time"].take();
    created["server_time"].take();
    assert_eq!(read, created, "the draft reads back as created");

    // Visibility: delegates see drafts their entity takes part in.
    for actor in &actors {
        let list = server
            .request("GET", "/api/v1/drafts", Some(&actor.token), None)
            .await;
        let ids = draft_ids(&accepted(&list, 200, actor.label));
        let sees = actor.entity != Some("ILO");
        assert_eq!(
            ids.contains(&id),
            sees,
            "{} sees the IOM-only draft: {sees}",
            actor.label
        );
        for path in [
            format!("/api/v1/drafts/{id}"),
            format!("/api/v1/drafts/{id}/presence"),
        ] {
            let resp = server.request("GET", &path, Some(&actor.token), None).await;
            if sees {
                accepted(&resp, 200, &format!("{} GET {path}", actor.label));
            } else {
                refused(
                    &resp,
                    404,
                    "not_found",
                    &format!("{} GET {path}", actor.label),
                );
            }
        }
    }

    // Title and preamble.
    let draft_path = format!("/api/v1/drafts/{id}");
    let patch = json!({ "title": "Side letter (rev. 1)", "preamble": "Recalling," });
    only_chairs_may(&server, &actors, "PATCH", &draft_path, Some(&patch)).await;
    let resp = server
        .request("PATCH", &draft_path, Some(&chair), Some(&patch))
        .await;
    accepted(&resp, 200, "the chair edits title and preamble");
    let read = read_draft(&server, &id).await;
    assert_eq!(read["title"], "Side letter (rev. 1)");
    assert_eq!(read["preamble"], "Recalling,");

    // Adding an element.
    let elements_path = format!("/api/v1/drafts/{id}/elements");
    let add = json!({ "label": "D", "text": "delta", "position": 1 });
    only_chairs_may(&server, &actors, "POST", &elements_path, Some(&add)).await;
    let resp = server
        .request("POST", &elements_path, Some(&chair), Some(&add))
        .await;
    let added = accepted(&resp, 201, "the chair adds an element");
    assert_eq!(added["label"], "D");
    assert_eq!(added["text"], "delta");
    assert_eq!(added["position"], 1);
    let read = read_draft(&server, &id).await;
    assert_eq!(labels(&read), ["A", "D", "B", "C"]);
    assert_eq!(element_id(&read, "D"), added["id"].as_str().expect("id"));

    // Renaming and moving.
    let c = element_id(&read, "C");
    let c_path = format!("/api/v1/drafts/{id}/elements/{c}");
    let moved = json!({ "label": "C2", "position": 0 });
    only_chairs_may(&server, &actors, "PATCH", &c_path, Some(&moved)).await;
    let resp = server
        .request("PATCH", &c_path, Some(&chair), Some(&moved))
        .await;
    let view = accepted(&resp, 200, "the chair renames and moves an element");
    assert_eq!(view["id"], c.as_str());
    assert_eq!(view["label"], "C2");
    assert_eq!(view["position"], 0);
    assert_eq!(
        labels(&read_draft(&server, &id).await),
        ["C2", "A", "D", "B"]
    );

    // Archiving.
    let a = element_id(&read, "A");
    let d = element_id(&read, "D");
    let a_path = format!("/api/v1/drafts/{id}/elements/{a}");
    only_chairs_may(&server, &actors, "DELETE", &a_path, None).await;
    let resp = server.request("DELETE", &a_path, Some(&chair), None).await;
    let after = accepted(&resp, 200, "the chair archives an element");
    assert_eq!(labels(&after), ["C2", "D", "B"]);
    let read = read_draft(&server, &id).await;
    assert_eq!(labels(&read), ["C2", "D", "B"]);
    let archived = read["archived_elements"].as_array().expect("archived");
    assert_eq!(archived.len(), 1, "{read}");
    assert_eq!(archived[0]["id"], a.as_str());
    assert_eq!(archived[0]["label"], "A");
    assert!(
        archived[0]["doc_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("automerge:"))
    );

    // An archived element cannot be edited or archived again.
    let before = snapshot(&server).await;
    let resp = server
        .request(
            "PATCH",
            &a_path,
            Some(&chair),
            Some(&json!({ "label": "A2" })),
        )
        .await;
    refused(&resp, 409, "archived", "PATCH on an archived element");
    let resp = server.request("DELETE", &a_path, Some(&chair), None).await;
    refused(&resp, 409, "archived", "archiving an archived element");
    let d_restore = format!("/api/v1/drafts/{id}/elements/{d}/restore");
    let resp = server.request("POST", &d_restore, Some(&chair), None).await;
    refused(
        &resp,
        409,
        "not_archived",
        "restoring an element not archived",
    );
    assert_eq!(snapshot(&server).await, before, "conflicts changed nothing");

    // Restoring.
    let a_restore = format!("/api/v1/drafts/{id}/elements/{a}/restore");
    let at = json!({ "position": 1 });
    only_chairs_may(&server, &actors, "POST", &a_restore, Some(&at)).await;
    let resp = server
        .request("POST", &a_restore, Some(&chair), Some(&at))
        .await;
    let view = accepted(&resp, 200, "the chair restores an element");
    assert_eq!(view["id"], a.as_str());
    assert_eq!(view["position"], 1);
    assert_eq!(view["text"], "alpha", "the text comes back with it");
    let read = read_draft(&server, &id).await;
    assert_eq!(labels(&read), ["C2", "A", "D", "B"]);
    assert_eq!(read["archived_elements"], json!([]));

    // Unknown drafts and elements.
    let before = snapshot(&server).await;
    for actor in &actors {
        for path in [
            "/api/v1/drafts/no-such-draft".to_owned(),
            "/api/v1/drafts/no-such-draft/presence".to_owned(),
        ] {
            let resp = server.request("GET", &path, Some(&actor.token), None).await;
            refused(
                &resp,
                404,
                "not_found",
                &format!("{} GET {path}", actor.label),
            );
        }
    }
    let missing_draft: [(&str, &str, Option<Value>); 6] = [
        ("GET", "/api/v1/drafts/no-such-draft/changes", None),
        (
            "PATCH",
            "/api/v1/drafts/no-such-draft",
            Some(json!({ "title": "T" })),
        ),
        (
            "POST",
            "/api/v1/drafts/no-such-draft/elements",
            Some(json!({ "label": "L" })),
        ),
        (
            "PATCH",
            "/api/v1/drafts/no-such-draft/elements/x",
            Some(json!({ "label": "L" })),
        ),
        ("DELETE", "/api/v1/drafts/no-such-draft/elements/x", None),
        (
            "POST",
            "/api/v1/drafts/no-such-draft/elements/x/restore",
            None,
        ),
    ];
    for (method, path, body) in &missing_draft {
        let resp = server
            .request(method, path, Some(&chair), body.as_ref())
            .await;
        refused(&resp, 404, "not_found", &format!("{method} {path}"));
    }
    let missing_element: [(&str, String, Option<Value>); 3] = [
        (
            "PATCH",
            format!("/api/v1/drafts/{id}/elements/no-such-element"),
            Some(json!({ "label": "L" })),
        ),
        (
            "DELETE",
            format!("/api/v1/drafts/{id}/elements/no-such-element"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/drafts/{id}/elements/no-such-element/restore"),
            None,
        ),
    ];
    for (method, path, body) in &missing_element {
        let resp = server
            .request(method, path, Some(&chair), body.as_ref())
            .await;
        refused(&resp, 404, "not_found", &format!("{method} {path}"));
    }
    // An element of another draft is not this draft's.
    let foreign = reference["elements"][0]["id"].as_str().expect("id");
    let resp = server
        .request(
            "PATCH",
            &format!("/api/v1/drafts/{id}/elements/{foreign}"),
            Some(&chair),
            Some(&json!({ "label": "L" })),
        )
        .await;
    refused(&resp, 404, "not_found", "an element of another draft");
    assert_eq!(
        snapshot(&server).await,
        before,
        "requests for unknown things changed nothing"
    );

    // The change log: chairs and reviewers; delegates are refused.
    let changes_path = format!("/api/v1/drafts/{id}/changes");
    let mut logs = Vec::new();
    for actor in &actors {
        let resp = server
            .request("GET", &changes_path, Some(&actor.token), None)
            .await;
        if actor.role == "delegate" {
            let message = refused(
                &resp,
                403,
                "forbidden",
                &format!("{} reads changes", actor.label),
            );
            assert!(message.contains("delegate"), "{message:?}");
            continue;
        }
        let body = accepted(&resp, 200, &format!("{} reads changes", actor.label));
        let changes = body["changes"].as_array().expect("changes").clone();
        assert!(!changes.is_empty(), "the new draft has changes");
        let mut last = 0;
        for change in &changes {
            for key in [
                "seq",
                "hash",
                "element",
                "user",
                "user_name",
                "entity",
                "committed_at",
            ] {
                assert!(
                    change.get(key).is_some(),
                    "a change entry has {key}: {change}"
                );
            }
            let seq = change["seq"].as_i64().expect("seq");
            assert!(seq > last, "seq increases: {changes:?}");
            last = seq;
            assert!(is_token(change["hash"].as_str().expect("hash")), "{change}");
            unix_ms(change["committed_at"].as_str().expect("committed_at"));
        }
        // The structure edits are the chair's.
        assert!(
            changes
                .iter()
                .any(|c| c["user"] == chair_id.as_str() && c["user_name"] == "tester"),
            "the chair's structure edits are attributed to the chair: {changes:?}"
        );
        // The new element's first change is recorded against it.
        assert!(
            changes.iter().any(|c| c["element"] == d.as_str()),
            "element D has changes in the log: {changes:?}"
        );
        logs.push(changes);
    }
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0], logs[1], "chairs and reviewers read the same log");

    // The IOM delegate, taking part, still may not change the structure of
    // its own draft; the ILO delegate cannot even see it.
    let resp = server.request("GET", &draft_path, Some(&iom), None).await;
    accepted(&resp, 200, "the IOM delegate reads its draft");
    let resp = server.request("GET", &draft_path, Some(&ilo), None).await;
    refused(
        &resp,
        404,
        "not_found",
        "the ILO delegate reads the IOM draft",
    );
}

on_both_backends!(roles_and_actions, 120);

// ---------------------------------------------------------------------------
// Every refusal is JSON, whichever part of the request is malformed

/// The body, query and path of a request are each read by an extractor;
/// whichever refuses, the answer is the API's JSON error, not the
/// framework's plain text.
#[tokio::test]
async fn malformed_requests_get_json_refusals() {
    within(60, async {
        let server = TestServer::start_with(Db::sqlite(), &["--max-body-bytes", "1024"]).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("draft id").to_owned();
        let element = draft["elements"][0]["id"]
            .as_str()
            .expect("element id")
            .to_owned();
        let chair = server.token().to_owned();
        let before = snapshot(&server).await;

        // The restore endpoint reads its optional body itself.
        let pad = "x".repeat(4000);
        let resp = server
            .request(
                "POST",
                &format!("/api/v1/drafts/{id}/elements/{element}/restore"),
                Some(&chair),
                Some(&json!({ "position": 0, "pad": pad })),
            )
            .await;
        refused(&resp, 413, "too_large", "a restore body above the limit");

        // A query that does not parse.
        for query in ["limit=many", "after=soon"] {
            let resp = server
                .get(&format!("/api/v1/drafts/{id}/changes?{query}"))
                .await;
            refused(&resp, 400, "bad_request", &format!("changes?{query}"));
        }

        // A path segment that is not UTF-8.
        for path in ["/api/v1/drafts/%FF", "/api/v1/drafts/%FF/presence"] {
            let resp = server.get(path).await;
            refused(&resp, 400, "bad_request", &format!("GET {path}"));
        }

        // Paths and methods the API does not have.
        let resp = server.get("/api/v1/no-such-thing").await;
        refused(&resp, 404, "not_found", "an unknown API path");
        let resp = server
            .request("PUT", "/api/v1/drafts", Some(&chair), None)
            .await;
        refused(&resp, 405, "method_not_allowed", "PUT /api/v1/drafts");

        assert_eq!(
            snapshot(&server).await,
            before,
            "malformed requests changed nothing"
        );
    })
    .await;
}
