//! Identity on the websocket: every change is attributed to the user whose
//! connection delivered it; reviewers sync read-only; actor ids and peer
//! ids belong to their first user; the upgrade needs a session and a
//! matching Origin; chairs' structure edits and presence reach clients live.

use std::time::{Duration, Instant};

use automerge::{ActorId, AutoCommit, ChangeHash};
use tokio_tungstenite::tungstenite;

use crate::harness::{
    Client, Db, TestServer, WAIT, http_request, on_both_backends, presence_view, within,
};

/// The change log entry of `hash`, as the API reports it.
async fn logged(server: &TestServer, hash: &ChangeHash) -> Option<serde_json::Value> {
    let draft = server.draft().await;
    let id = draft["id"].as_str().expect("draft id");
    let mut after = 0;
    loop {
        let page = server
            .get_json(&format!("/api/v1/drafts/{id}/changes?after={after}"))
            .await;
        let changes = page["changes"].as_array().expect("changes");
        if let Some(found) = changes.iter().find(|c| c["hash"] == hash.to_string()) {
            return Some(found.clone());
        }
        match page["next"].as_i64() {
            Some(next) => after = next,
            None => return None,
        }
    }
}

async fn wait_logged(server: &TestServer, hash: &ChangeHash) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(entry) = logged(server, hash).await {
            return entry;
        }
        assert!(Instant::now() < deadline, "change {hash} was never stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stored_changes(server: &TestServer) -> i64 {
    server.db().scalar_i64("SELECT COUNT(*) FROM changes").await
}

/// Each change is attributed to the user and entity of the connection that
/// delivered it, whatever actor it claims; a change the server already had
/// is not attributed again when another user delivers it.
async fn changes_are_attributed_to_the_delivering_user(db: Db) {
    let server = TestServer::start(db).await;
    let doc = server.element_doc(0).await;
    let alice = server.session_for("alice", "delegate", Some("IOM")).await;
    let bob = server.session_for("bob", "delegate", Some("ILO")).await;

    let mut a = Client::connect_with(&server, &alice).await;
    a.open(&doc).await;
    let by_alice = a.append(&doc, " [alice]").await;
    let entry = wait_logged(&server, &by_alice).await;
    assert_eq!(entry["user_name"], "alice");
    assert_eq!(entry["entity"], "IOM");
    assert!(entry["element"].is_string(), "{entry}");
    assert!(
        entry["committed_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // Bob starts from a copy of Alice's document (her change included,
    // say passed along offline) and adds his own, with his own actor.
    let mut copy = AutoCommit::load(&a.doc_mut(&doc).doc.save()).expect("a copy");
    copy.set_actor(ActorId::random());
    let mut b = Client::connect_with(&server, &bob).await;
    b.open_with(&doc, copy).await;
    let by_bob = b.append(&doc, " [bob]").await;
    let entry = wait_logged(&server, &by_bob).await;
    assert_eq!(entry["user_name"], "bob");
    assert_eq!(entry["entity"], "ILO");
    // Alice's change is still hers.
    let entry = wait_logged(&server, &by_alice).await;
    assert_eq!(entry["user_name"], "alice");
    a.wait_until(&doc, "Bob's edit", |d| d.text().ends_with(" [alice] [bob]"))
        .await;
}
on_both_backends!(changes_are_attributed_to_the_delivering_user, 120);

/// A user who reuses another user's actor id is refused (notice, read-only,
/// nothing stored); the owner of the actor keeps syncing.
async fn a_hijacked_actor_is_refused_and_the_victim_keeps_syncing(db: Db) {
    let server = TestServer::start(db).await;
    let doc = server.element_doc(1).await;
    let victim_token = server.session_for("victim", "delegate", Some("IOM")).await;
    let thief_token = server.session_for("thief", "delegate", Some("ILO")).await;

    let mut victim = Client::connect_with(&server, &victim_token).await;
    victim.open(&doc).await;
    let first = victim.append(&doc, " one").await;
    wait_logged(&server, &first).await;

    // The thief takes the victim's document, actor id included, and types
    // the victim's next sequence number.
    let mut stolen = AutoCommit::load(&victim.doc_mut(&doc).doc.save()).expect("a copy");
    stolen.set_actor(victim.doc_mut(&doc).doc.get_actor().clone());
    let mut thief = Client::connect_with(&server, &thief_token).await;
    thief.open_with(&doc, stolen).await;
    let before = stored_changes(&server).await;
    thief.append(&doc, " STOLEN").await;
    thief
        .wait_for("a foreign_actor notice", |c| {
            c.notices.iter().any(|n| n.code == "foreign_actor")
        })
        .await;
    assert!(
        !thief.is_closed(),
        "a content refusal keeps the socket open"
    );

    // The victim goes on typing; everything of theirs is stored and seen.
    let mut watcher = Client::connect(&server).await;
    watcher.open(&doc).await;
    let second = victim.append(&doc, " two").await;
    let entry = wait_logged(&server, &second).await;
    assert_eq!(entry["user_name"], "victim");
    watcher
        .wait_until(&doc, "the victim's edit", |d| {
            d.text().ends_with(" one two")
        })
        .await;
    assert!(!watcher.text(&doc).contains("STOLEN"));
    let (text, _) = server.element_state(&doc).await;
    assert!(!text.contains("STOLEN"), "{text}");
    assert_eq!(stored_changes(&server).await, before + 1);
}
on_both_backends!(
    a_hijacked_actor_is_refused_and_the_victim_keeps_syncing,
    120
);

/// A reviewer syncs read-only: their local edit is refused with a notice,
/// never stored and never seen by others, and they still receive edits.
#[tokio::test]
async fn a_reviewers_edit_never_reaches_the_server_or_other_clients() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(2).await;
        let reviewer_token = server.session_for("rita", "reviewer", None).await;
        let delegate_token = server.session_for("dan", "delegate", Some("UNHCR")).await;
        let mut reviewer = Client::connect_with(&server, &reviewer_token).await;
        let mut delegate = Client::connect_with(&server, &delegate_token).await;
        reviewer.open(&doc).await;
        delegate.open(&doc).await;
        let before = stored_changes(&server).await;

        // The server told the reviewer's sync state it is read-only, so a
        // well-behaved client keeps its local edit to itself...
        reviewer.append(&doc, " REVIEWER").await;
        reviewer.settle().await;
        assert_eq!(stored_changes(&server).await, before);
        // ...and one that pushes it anyway is refused with a notice.
        let change = reviewer
            .doc_mut(&doc)
            .doc
            .get_last_local_change()
            .expect("the reviewer's change")
            .raw_bytes()
            .to_vec();
        reviewer.push_changes(&doc, vec![change]).await;
        reviewer
            .wait_for("a read_only notice", |c| {
                c.notices.iter().any(|n| n.code == "read_only")
            })
            .await;
        let by_delegate = delegate.append(&doc, " delegate").await;
        wait_logged(&server, &by_delegate).await;
        reviewer
            .wait_until(&doc, "the delegate's edit", |d| {
                d.text().contains(" delegate")
            })
            .await;
        assert!(!delegate.text(&doc).contains("REVIEWER"));
        let (text, _) = server.element_state(&doc).await;
        assert!(!text.contains("REVIEWER"), "{text}");
        assert_eq!(stored_changes(&server).await, before + 1);
        assert!(!reviewer.is_closed());
    })
    .await;
}

/// A peer id belongs to the connection that holds it: another user's
/// connection claiming it is refused; the holder keeps syncing.
#[tokio::test]
async fn another_users_claim_of_a_connected_peer_id_is_refused() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;
        let other = server.session_for("mallory", "delegate", Some("WHO")).await;
        let mut holder = Client::connect_as(&server, "peer-shared").await;
        holder.open(&doc).await;

        let url = server.ws_url_with(Some(&other));
        let mut intruder = Client::connect_raw_url(&url).await;
        intruder
            .send_message(&crate::harness::join("peer-shared", &["1"]))
            .await;
        let closed = intruder.expect_closed().await;
        assert_eq!(closed.code, Some(1008), "{closed:?}");
        assert!(!intruder.errors.is_empty());

        let hash = holder.append(&doc, " still here").await;
        server.wait_element_heads(&doc, &[hash]).await;
        assert!(!holder.is_closed());
    })
    .await;
}

/// The raw upgrade answer: `Ok(())` for 101, else the HTTP status.
async fn upgrade_status(url: &str, headers: &[(&str, &str)]) -> Result<(), u16> {
    use tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("a websocket request");
    for (name, value) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            value.parse().expect("header value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

/// The upgrade needs a live session and, when an Origin is sent, the public
/// one; a cookie-authenticated upgrade must carry it. Refusals leave the
/// connected clients alone.
#[tokio::test]
async fn the_websocket_upgrade_checks_session_and_origin() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;
        let mut bystander = Client::connect(&server).await;
        bystander.open(&doc).await;
        let token = server.token().to_owned();
        let origin = server.http_url();

        assert_eq!(
            upgrade_status(&server.ws_url_with(None), &[]).await,
            Err(401)
        );
        let forged = "ab".repeat(32);
        assert_eq!(
            upgrade_status(&server.ws_url_with(Some(&forged)), &[]).await,
            Err(401)
        );
        assert_eq!(
            upgrade_status(&server.ws_url_with(Some(&token[..40])), &[]).await,
            Err(401),
            "a truncated token"
        );
        assert_eq!(
            upgrade_status(
                &server.ws_url_with(Some(&token)),
                &[("Origin", "https://evil.example")]
            )
            .await,
            Err(403),
            "a cross-site upgrade"
        );
        let cookie = format!("accord_session={token}");
        assert_eq!(
            upgrade_status(&server.ws_url_with(None), &[("Cookie", &cookie)]).await,
            Err(403),
            "a cookie upgrade without Origin"
        );
        assert_eq!(
            upgrade_status(
                &server.ws_url_with(None),
                &[("Cookie", &cookie), ("Origin", &origin)]
            )
            .await,
            Ok(()),
            "a cookie upgrade from the public origin"
        );
        assert_eq!(
            upgrade_status(&server.ws_url_with(Some(&token)), &[("Origin", &origin)]).await,
            Ok(())
        );

        let hash = bystander.append(&doc, " unharmed").await;
        server.wait_element_heads(&doc, &[hash]).await;
        assert!(
            !server.log().contains(&token),
            "a token appeared in the log"
        );
    })
    .await;
}

/// Signing out closes the session's websockets; its token no longer opens one.
#[tokio::test]
async fn signing_out_closes_the_sessions_websockets() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;
        let token = server.session_for("leaver", "delegate", Some("IOM")).await;
        let mut client = Client::connect_with(&server, &token).await;
        client.open(&doc).await;
        let resp = server
            .request("DELETE", "/api/v1/session", Some(&token), None)
            .await;
        assert_eq!(resp.status, 204, "{}", resp.body);
        let closed = client.expect_closed().await;
        assert_eq!(closed.code, Some(4001), "{closed:?}");
        assert_eq!(
            upgrade_status(&server.ws_url_with(Some(&token)), &[]).await,
            Err(401)
        );
    })
    .await;
}

/// The index document as a client holds it.
fn index_of(client: &Client, doc: &str) -> accord_model::IndexState {
    accord_model::read_index(&client.doc(doc).doc).expect("an index document")
}

/// A chair's structure edits, made through the API, reach every client of
/// the index document live; clients cannot write the index themselves.
#[tokio::test]
async fn a_chairs_structure_edits_reach_every_client_live() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("id").to_owned();
        let index = server.index_doc().await;
        let chair = server.session_for("chairperson", "chair", None).await;
        let delegate = server.session_for("del", "delegate", Some("IOM")).await;
        let reviewer = server.session_for("rev", "reviewer", None).await;
        let mut clients = vec![
            Client::connect_with(&server, &delegate).await,
            Client::connect_with(&server, &reviewer).await,
        ];
        for client in &mut clients {
            client.open(&index).await;
            assert_eq!(index_of(client, &index).elements.len(), 8);
        }

        let added = server
            .request(
                "POST",
                &format!("/api/v1/drafts/{id}/elements"),
                Some(&chair),
                Some(
                    &serde_json::json!({ "label": "(i)", "text": "A new element.", "position": 0 }),
                ),
            )
            .await;
        assert_eq!(added.status, 201, "{}", added.body);
        let new_id = added.json()["id"].as_str().expect("id").to_owned();
        for client in &mut clients {
            let want = new_id.clone();
            client
                .wait_until(&index, "the new element first", move |d| {
                    accord_model::read_index(&d.doc)
                        .is_ok_and(|i| i.elements.len() == 9 && i.elements[0].id == want)
                })
                .await;
        }

        let renamed = server
            .request(
                "PATCH",
                &format!("/api/v1/drafts/{id}/elements/{new_id}"),
                Some(&chair),
                Some(&serde_json::json!({ "label": "(z)", "position": 8 })),
            )
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.body);
        let patched = server
            .request(
                "PATCH",
                &format!("/api/v1/drafts/{id}"),
                Some(&chair),
                Some(&serde_json::json!({ "title": "Revised title" })),
            )
            .await;
        assert_eq!(patched.status, 200, "{}", patched.body);
        for client in &mut clients {
            let want = new_id.clone();
            client
                .wait_until(&index, "the rename, move and title", move |d| {
                    accord_model::read_index(&d.doc).is_ok_and(|i| {
                        i.title == "Revised title"
                            && i.elements
                                .last()
                                .is_some_and(|e| e.id == want && e.label == "(z)")
                    })
                })
                .await;
        }

        let archived = server
            .request(
                "DELETE",
                &format!("/api/v1/drafts/{id}/elements/{new_id}"),
                Some(&chair),
                None,
            )
            .await;
        assert_eq!(archived.status, 200, "{}", archived.body);
        for client in &mut clients {
            client
                .wait_until(&index, "the archive", |d| {
                    accord_model::read_index(&d.doc).is_ok_and(|i| i.elements.len() == 8)
                })
                .await;
        }
        // The API and the index agree.
        let api: Vec<String> = server.draft().await["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect();
        let synced: Vec<String> = index_of(&clients[0], &index)
            .elements
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(api, synced);

        // The structure edit was stored with the chair's attribution.
        let events = server
            .db()
            .scalar_i64("SELECT COUNT(*) FROM events WHERE kind = 'element_added'")
            .await;
        assert_eq!(events, 1);
    })
    .await;
}

/// One entry of the presence feed: name, entity, elements.
type PresentEntry = (String, Option<String>, Vec<String>);

/// The presence feed as (name, entity, elements).
fn presence_of(client: &Client) -> Option<Vec<PresentEntry>> {
    Some(
        presence_view(client)?
            .into_iter()
            .map(|p| (p.name, p.entity, p.elements))
            .collect(),
    )
}

/// Presence comes from the server: who is connected, as which user and
/// entity, in which elements — live on the index document and by API.
#[tokio::test]
async fn presence_is_the_servers_and_live() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("id").to_owned();
        let element_id = draft["elements"][3]["id"].as_str().expect("id").to_owned();
        let index = server.index_doc().await;
        let doc = server.element_doc(3).await;
        let watcher_token = server.session_for("watcher", "reviewer", None).await;
        let amy_token = server.session_for("amy", "delegate", Some("UNICEF")).await;

        let mut watcher = Client::connect_with(&server, &watcher_token).await;
        watcher.open(&index).await;
        let mut amy = Client::connect_with(&server, &amy_token).await;
        amy.open(&index).await;
        amy.open(&doc).await;

        let want = element_id.clone();
        watcher
            .wait_for("amy in the presence feed", move |c| {
                presence_of(c).is_some_and(|p| {
                    p.iter().any(|(name, entity, elements)| {
                        name == "amy"
                            && entity.as_deref() == Some("UNICEF")
                            && elements.contains(&want)
                    })
                })
            })
            .await;
        let listed = server
            .get_json(&format!("/api/v1/drafts/{id}/presence"))
            .await;
        let names: Vec<&str> = listed["present"]
            .as_array()
            .expect("present")
            .iter()
            .map(|p| p["name"].as_str().expect("name"))
            .collect();
        assert!(
            names.contains(&"amy") && names.contains(&"watcher"),
            "{listed}"
        );

        drop(amy);
        watcher
            .wait_for("amy gone from the presence feed", |c| {
                presence_of(c).is_some_and(|p| p.iter().all(|(name, ..)| name != "amy"))
            })
            .await;
    })
    .await;
}

/// A second device signs in by link and speaks for the same user.
#[tokio::test]
async fn a_second_device_signs_in_by_link_as_the_same_user() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(5).await;
        let first = server
            .session_for("traveller", "delegate", Some("FAO"))
            .await;
        let link = server
            .request("POST", "/api/v1/session/device", Some(&first), None)
            .await;
        assert_eq!(link.status, 201, "{}", link.body);
        let link = link.json();
        assert!(
            link["link"]
                .as_str()
                .is_some_and(|l| l.contains("/join?invite="))
        );
        let signed_in = server
            .sign_in(link["invite"].as_str().expect("invite"))
            .await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.body);
        let second = signed_in.json()["token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_ne!(second, first);

        let mut laptop = Client::connect_with(&server, &second).await;
        laptop.open(&doc).await;
        let hash = laptop.append(&doc, " from the laptop").await;
        let entry = wait_logged(&server, &hash).await;
        assert_eq!(entry["user_name"], "traveller");
        assert_eq!(entry["entity"], "FAO");

        let again = server
            .sign_in(link["invite"].as_str().expect("invite"))
            .await;
        assert_eq!(again.status, 409, "{}", again.body);
        // The raw API answer carries no token for a reused link.
        let raw = http_request(server.port(), "GET", "/api/v1/me", &[], None)
            .await
            .expect("GET /api/v1/me");
        assert_eq!(raw.status, 401);
    })
    .await;
}

/// A fresh installation creates a first chair and logs a one-time invite
/// for them; a restart does not make another.
#[tokio::test]
async fn a_fresh_installation_invites_its_first_chair() {
    within(60, async {
        let mut server = TestServer::start_with(Db::sqlite(), &["--first-chair"]).await;
        let log = server.log();
        let line = log
            .lines()
            .find(|l| l.contains("/join?invite="))
            .expect("the first chair's invite in the log");
        let invite: String = line
            .split("/join?invite=")
            .nth(1)
            .expect("a token")
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        let resp = server.sign_in(&invite).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(resp.json()["user"]["role"], "chair");
        assert_eq!(resp.json()["user"]["name"], "chair");

        server.restart().await;
        let invites = log.matches("/join?invite=").count();
        assert_eq!(server.log().matches("/join?invite=").count(), invites);
    })
    .await;
}
