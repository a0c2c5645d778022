//! Amendments and comments through the real API and real sync clients, on
//! both backends: the whole life of an amendment (proposed, sponsored, in
//! conflict after a concurrent edit, re-anchored, accepted with the
//! proposer's attribution, rejected, withdrawn), the refusals that change
//! nothing, the `amendments` editing mode refusing delegates' typing, and
//! comments with mentions; the timeline carries it all.

use serde_json::{Value, json};

use crate::harness::{Client, Db, HttpResponse, TestServer, on_both_backends};

/// The reference draft with a chair, a reviewer and delegates of IOM, ILO
/// and UNDP.
struct Room {
    server: TestServer,
    draft: String,
    chair: String,
    reviewer: String,
    iom: String,
    ilo: String,
    undp: String,
}

impl Room {
    async fn open(db: Db) -> Room {
        let server = TestServer::start(db).await;
        let draft = server.draft().await["id"]
            .as_str()
            .expect("draft id")
            .to_owned();
        let chair = server.session_for("the-chair", "chair", None).await;
        let reviewer = server.session_for("the-reviewer", "reviewer", None).await;
        let iom = server
            .session_for("Ana Ruiz", "delegate", Some("IOM"))
            .await;
        let ilo = server.session_for("Bo Chen", "delegate", Some("ILO")).await;
        let undp = server
            .session_for("Cy Diaz", "delegate", Some("UNDP"))
            .await;
        Room {
            server,
            draft,
            chair,
            reviewer,
            iom,
            ilo,
            undp,
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/drafts/{}{rest}", self.draft)
    }

    async fn call(
        &self,
        method: &str,
        token: &str,
        rest: &str,
        body: Option<Value>,
    ) -> HttpResponse {
        self.server
            .request(method, &self.path(rest), Some(token), body.as_ref())
            .await
    }

    /// Element `i` as the API shows it now.
    async fn element(&self, i: usize) -> Value {
        self.server.draft().await["elements"][i].clone()
    }

    /// Proposes replacing `passage` of element `i` (as it reads now) with `text`.
    async fn propose(&self, token: &str, i: usize, passage: &str, text: &str) -> HttpResponse {
        let element = self.element(i).await;
        let current = element["text"].as_str().expect("text");
        let from = char_offset(current, passage);
        let body = json!({
            "from": from,
            "to": from + passage.chars().count(),
            "text": text,
            "reason": "Clearer wording.",
            "heads": element["heads"],
        });
        let rest = format!(
            "/elements/{}/amendments",
            element["id"].as_str().expect("id")
        );
        self.call("POST", token, &rest, Some(body)).await
    }

    async fn amendment(&self, id: i64) -> Value {
        let resp = self.call("GET", &self.reviewer, "/amendments", None).await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        resp.json()["amendments"]
            .as_array()
            .expect("amendments")
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no amendment {id}: {}", resp.body))
    }

    async fn act(
        &self,
        method: &str,
        token: &str,
        id: i64,
        what: &str,
        body: Option<Value>,
    ) -> HttpResponse {
        self.call(method, token, &format!("/amendments/{id}/{what}"), body)
            .await
    }

    async fn events(&self, kind: &str) -> Vec<Value> {
        let resp = self
            .call("GET", &self.reviewer, "/history?limit=500", None)
            .await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        resp.json()["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["type"] == kind)
            .cloned()
            .collect()
    }
}

/// The code-point offset of `passage` in `text`.
fn char_offset(text: &str, passage: &str) -> usize {
    let at = text
        .find(passage)
        .unwrap_or_else(|| panic!("{passage:?} is not in {text:?}"));
    text[..at].chars().count()
}

fn code(resp: &HttpResponse) -> String {
    resp.json()["error"].as_str().unwrap_or_default().to_owned()
}

/// A word of element `i`'s text to amend: its fourth word (long enough to
/// be unique in the reference text).
async fn some_word(room: &Room, i: usize) -> String {
    let element = room.element(i).await;
    let text = element["text"].as_str().expect("text");
    text.split_whitespace()
        .filter(|w| w.chars().all(char::is_alphabetic) && w.len() > 5)
        .find(|w| text.matches(*w).count() == 1)
        .unwrap_or_else(|| panic!("no unique long word in {text:?}"))
        .to_owned()
}

/// Propose, sponsor, object, conflict, re-anchor, accept (credited to the
/// proposer), reject, withdraw; and every refusal changes nothing.
async fn an_amendment_lives_and_is_accepted_for_its_entity(db: Db) {
    let room = Room::open(db).await;
    let word = some_word(&room, 0).await;
    let resp = room.propose(&room.iom, 0, &word, "REPLACED").await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let a = resp.json();
    let id = a["id"].as_i64().expect("id");
    assert_eq!(a["state"], "open");
    assert_eq!(a["entity"], "IOM");
    assert_eq!(a["original"], word.as_str());
    assert_eq!(a["sponsors"], json!(["IOM"]));

    // Refusals: nothing changes.
    let element = room.element(0).await;
    let eid = element["id"].as_str().expect("id").to_owned();
    let bad = |from: usize, to: usize, heads: Value, reason: &str| json!({"from": from, "to": to, "text": "x", "reason": reason, "heads": heads});
    let len = element["text"].as_str().expect("text").chars().count();
    let rest = format!("/elements/{eid}/amendments");
    let cases = [
        (
            &room.iom,
            bad(0, len + 1, element["heads"].clone(), "r"),
            400,
            "range",
        ),
        (
            &room.iom,
            bad(3, 2, element["heads"].clone(), "r"),
            400,
            "range",
        ),
        (
            &room.iom,
            bad(0, 1, element["heads"].clone(), "  "),
            400,
            "reason_required",
        ),
        (
            &room.iom,
            bad(0, 1, json!(["00".repeat(32)]), "r"),
            409,
            "not_synced",
        ),
        (
            &room.reviewer,
            bad(0, 1, element["heads"].clone(), "r"),
            403,
            "forbidden",
        ),
    ];
    for (token, body, status, expected) in cases {
        let resp = room.call("POST", token, &rest, Some(body)).await;
        assert_eq!(
            (resp.status, code(&resp)),
            (status, expected.to_owned()),
            "{}",
            resp.body
        );
    }
    let mut other = bad(0, 1, element["heads"].clone(), "r");
    other["entity"] = json!("ILO");
    let resp = room.call("POST", &room.iom, &rest, Some(other)).await;
    assert_eq!(
        resp.status, 403,
        "a delegate proposes for their own entity: {}",
        resp.body
    );

    // Sponsors: another entity joins; twice, its own, a reviewer: refused.
    let resp = room.act("POST", &room.ilo, id, "sponsor", None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["sponsors"], json!(["IOM", "ILO"]));
    for (token, expected) in [
        (&room.ilo, "already_sponsoring"),
        (&room.iom, "own_amendment"),
    ] {
        let resp = room.act("POST", token, id, "sponsor", None).await;
        assert_eq!(
            (resp.status, code(&resp)),
            (409, expected.to_owned()),
            "{}",
            resp.body
        );
    }
    let resp = room.act("POST", &room.reviewer, id, "sponsor", None).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    // An objection needs a reason and excludes sponsoring.
    let resp = room
        .act(
            "POST",
            &room.undp,
            id,
            "object",
            Some(json!({"reason": ""})),
        )
        .await;
    assert_eq!(code(&resp), "reason_required", "{}", resp.body);
    let resp = room
        .act(
            "POST",
            &room.undp,
            id,
            "object",
            Some(json!({"reason": "Agreed language"})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["objections"][0]["entity"], "UNDP");
    let resp = room.act("POST", &room.undp, id, "sponsor", None).await;
    assert_eq!(code(&resp), "objecting", "{}", resp.body);
    // Only the proposing entity withdraws; only chairs decide.
    let resp = room.act("POST", &room.ilo, id, "withdraw", None).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    let resp = room.act("POST", &room.iom, id, "accept", None).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    assert_eq!(room.amendment(id).await["state"], "open");

    // A concurrent edit inside the passage: the amendment is in conflict and
    // accepting it is refused.
    let doc = room.server.element_doc(0).await;
    let mut typist = Client::connect_with(&room.server, &room.undp).await;
    typist.open(&doc).await;
    let at = char_offset(&typist.text(&doc), &word) + 2;
    let hash = typist.insert(&doc, at, "zz").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    let now = room.amendment(id).await;
    assert_eq!(now["state"], "conflict", "{now}");
    assert_ne!(now["original"], word.as_str());
    let resp = room.act("POST", &room.chair, id, "accept", None).await;
    assert_eq!(
        (resp.status, code(&resp)),
        (409, "conflict".to_owned()),
        "{}",
        resp.body
    );
    // Its proposer re-anchors it on the passage as it reads now.
    let element = room.element(0).await;
    let current = now["original"].as_str().expect("original").to_owned();
    let from = char_offset(element["text"].as_str().expect("text"), &current);
    let body =
        json!({"from": from, "to": from + current.chars().count(), "heads": element["heads"]});
    let resp = room
        .act("POST", &room.ilo, id, "anchor", Some(body.clone()))
        .await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    let resp = room.act("POST", &room.iom, id, "anchor", Some(body)).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["state"], "open");

    // An edit elsewhere does not disturb it; the chair accepts it.
    let hash = typist.insert(&doc, 0, "Now: ").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    // ILO supports the text as it reads before the acceptance.
    let element = room.element(0).await;
    let body = json!({"position": "support", "text_hash": element["text_hash"], "heads": element["heads"]});
    let resp = room
        .call(
            "PUT",
            &room.ilo,
            &format!("/elements/{eid}/positions/ILO"),
            Some(body),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let resp = room.call("GET", &room.reviewer, "/amendments", None).await;
    let before_accepting = resp.json()["server_time"]
        .as_str()
        .expect("time")
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let resp = room.act("POST", &room.chair, id, "accept", None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let accepted = resp.json();
    assert_eq!(accepted["state"], "accepted");
    assert!(accepted["applied_change"].is_string(), "{accepted}");
    typist
        .wait_until(&doc, "the accepted amendment", |d| {
            d.text().contains("REPLACED")
        })
        .await;
    let text = room.element(0).await["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(
        text.starts_with("Now: ") && text.contains("REPLACED") && !text.contains(&current),
        "{text}"
    );
    // Decided: no second decision, no more sponsors.
    let resp = room
        .act(
            "POST",
            &room.chair,
            id,
            "reject",
            Some(json!({"reason": "late"})),
        )
        .await;
    assert_eq!(code(&resp), "not_open", "{}", resp.body);
    let resp = room.act("DELETE", &room.ilo, id, "sponsor", None).await;
    assert_eq!(code(&resp), "not_open", "{}", resp.body);

    // The support was given on the old text: it is stale now.
    let mut went_stale = false;
    for _ in 0..100 {
        let resp = room.call("GET", &room.reviewer, "/consensus", None).await;
        let consensus = resp.json();
        let element = consensus["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .find(|e| e["id"] == eid.as_str())
            .cloned()
            .expect("the element");
        if element["stale"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("ILO")))
        {
            went_stale = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(went_stale, "ILO's support on the old text never went stale");

    // Who wrote what credits the proposer and their entity.
    let resp = room
        .call(
            "GET",
            &room.reviewer,
            &format!("/elements/{eid}/attribution"),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let spans = resp.json()["spans"].as_array().expect("spans").clone();
    let credited = spans
        .iter()
        .find(|s| s["text"].as_str().is_some_and(|t| t.contains("REPLACED")))
        .unwrap_or_else(|| panic!("no span with the amendment: {spans:?}"));
    assert_eq!(credited["entity"], "IOM", "{credited}");
    assert_eq!(credited["user_name"], "Ana Ruiz", "{credited}");

    // Rejection needs a reason; withdrawal is the proposer's.
    let second = room
        .propose(&room.ilo, 1, &some_word(&room, 1).await, "other")
        .await;
    assert_eq!(second.status, 201, "{}", second.body);
    let second = second.json()["id"].as_i64().expect("id");
    let resp = room
        .act(
            "POST",
            &room.chair,
            second,
            "reject",
            Some(json!({"reason": " "})),
        )
        .await;
    assert_eq!(code(&resp), "reason_required", "{}", resp.body);
    let resp = room
        .act(
            "POST",
            &room.chair,
            second,
            "reject",
            Some(json!({"reason": "Out of scope"})),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["decision_reason"], "Out of scope");
    let third = room
        .propose(&room.ilo, 2, &some_word(&room, 2).await, "")
        .await;
    assert_eq!(third.status, 201, "{}", third.body);
    let third = third.json()["id"].as_i64().expect("id");
    let resp = room.act("POST", &room.ilo, third, "withdraw", None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["state"], "withdrawn");

    // Read at a time, it was pending then, where its passage stood.
    let resp = room
        .call(
            "GET",
            &room.reviewer,
            &format!("/amendments?at={before_accepting}"),
            None,
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let then = resp.json()["amendments"]
        .as_array()
        .expect("amendments")
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .expect("proposed by then");
    assert_eq!(then["state"], "open", "{then}");
    assert_eq!(then["original"], current.as_str(), "{then}");
    assert!(
        then["from"].is_u64() && then["decided_at"].is_null(),
        "{then}"
    );

    // Filters, and the timeline tells it all.
    let resp = room
        .call("GET", &room.reviewer, "/amendments?state=accepted", None)
        .await;
    let listed: Vec<i64> = resp.json()["amendments"]
        .as_array()
        .expect("amendments")
        .iter()
        .map(|a| a["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, [id]);
    for kind in [
        "amendment_proposed",
        "amendment_sponsored",
        "amendment_objected",
        "amendment_reanchored",
        "amendment_accepted",
        "amendment_rejected",
        "amendment_withdrawn",
    ] {
        assert!(
            !room.events(kind).await.is_empty(),
            "no {kind} in the timeline"
        );
    }
    let accepted = &room.events("amendment_accepted").await[0];
    assert_eq!(accepted["data"]["amendment"], id);
    assert_eq!(accepted["data"]["entity"], "IOM");
    // The projection carries the open ones only (none left).
    let index = room.server.index_doc().await;
    let mut watcher = Client::connect_with(&room.server, &room.reviewer).await;
    watcher.open(&index).await;
    watcher
        .wait_until(&index, "the amendments projection", |d| {
            key(&d.doc, "amendments")
                .as_object()
                .is_some_and(|m| m.is_empty())
        })
        .await;
}
on_both_backends!(an_amendment_lives_and_is_accepted_for_its_entity, 180);

/// In `amendments` mode a delegate's typing is refused (read-only sync, the
/// `amendments_only` notice) while a chair still types; `open` again lets
/// the delegate type. Pending amendments appear in the index document.
async fn amendments_mode_refuses_delegates_typing(db: Db) {
    let room = Room::open(db).await;
    let element = room.element(1).await;
    let eid = element["id"].as_str().expect("id").to_owned();
    let doc = room.server.element_doc(1).await;
    let mut delegate = Client::connect_with(&room.server, &room.ilo).await;
    delegate.open(&doc).await;
    let mut chair = Client::connect_with(&room.server, &room.chair).await;
    chair.open(&doc).await;

    let mode = |m: &str| json!({"mode": m});
    let resp = room
        .call(
            "PATCH",
            &room.iom,
            &format!("/elements/{eid}"),
            Some(mode("amendments")),
        )
        .await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    let resp = room
        .call(
            "PATCH",
            &room.chair,
            &format!("/elements/{eid}"),
            Some(mode("closed")),
        )
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    let resp = room
        .call(
            "PATCH",
            &room.chair,
            &format!("/elements/{eid}"),
            Some(mode("amendments")),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert_eq!(resp.json()["mode"], "amendments");
    assert_eq!(room.element(1).await["mode"], "amendments");
    delegate
        .wait_for("the amendments_only notice", |c| {
            c.notices.iter().any(|n| n.code == "amendments_only")
        })
        .await;

    // The delegate's typing never reaches the server; the chair's does.
    let before = room.element(1).await["text"]
        .as_str()
        .expect("text")
        .to_owned();
    let notices = delegate.notices.len();
    delegate.append(&doc, " by a delegate").await;
    let hash = chair.append(&doc, " by the chair").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    let text = room.element(1).await["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert_eq!(text, format!("{before} by the chair"));
    assert!(
        delegate.notices[notices..]
            .iter()
            .any(|n| n.code == "amendments_only")
            || delegate.notices.iter().any(|n| n.code == "amendments_only"),
        "{:?}",
        delegate.notices
    );
    // A delegate connecting now is read-only from the start, and told why.
    let mut late = Client::connect_with(&room.server, &room.undp).await;
    late.open(&doc).await;
    late.append(&doc, " late").await;
    late.wait_for("the amendments_only notice", |c| {
        c.notices.iter().any(|n| n.code == "amendments_only")
    })
    .await;
    // They propose instead; the index document shows it with its anchors.
    let resp = room
        .propose(&room.undp, 1, "by the chair", "by the meeting")
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let index = room.server.index_doc().await;
    let mut watcher = Client::connect_with(&room.server, &room.reviewer).await;
    watcher.open(&index).await;
    let eid2 = eid.clone();
    watcher
        .wait_until(&index, "the amendment in the index document", move |d| {
            let amendments = key(&d.doc, "amendments");
            amendments[&eid2][0]["entity"] == "UNDP"
                && amendments[&eid2][0]["start"].is_string()
                && key(&d.doc, "modes")[&eid2] == "amendments"
        })
        .await;

    // Open again: a delegate's edit sticks.
    let resp = room
        .call(
            "PATCH",
            &room.chair,
            &format!("/elements/{eid}"),
            Some(mode("open")),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let mut fresh = Client::connect_with(&room.server, &room.iom).await;
    fresh.open(&doc).await;
    let hash = fresh.append(&doc, " reopened").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    assert!(
        room.element(1).await["text"]
            .as_str()
            .expect("text")
            .ends_with(" reopened")
    );
    assert_eq!(room.events("element_mode").await.len(), 2);
}
on_both_backends!(amendments_mode_refuses_delegates_typing, 180);

/// Threads, anchored comments, replies, mentions, resolving.
async fn comments_thread_mention_and_resolve(db: Db) {
    let room = Room::open(db).await;
    let element = room.element(2).await;
    let eid = element["id"].as_str().expect("id").to_owned();
    let rest = format!("/elements/{eid}/comments");
    let word = some_word(&room, 2).await;
    let from = char_offset(element["text"].as_str().expect("text"), &word);
    let body = json!({
        "text": "@ILO and @bo chen: is this the agreed term? cc @UNDP",
        "from": from,
        "to": from + word.chars().count(),
        "heads": element["heads"],
    });
    let resp = room.call("POST", &room.iom, &rest, Some(body)).await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let first = resp.json();
    assert_eq!(first["original"], word.as_str());
    assert_eq!(first["intact"], true);
    assert_eq!(first["mentions"]["entities"], json!(["ILO", "UNDP"]));
    assert_eq!(first["mentions"]["users"].as_array().map(Vec::len), Some(1));
    let thread = first["id"].as_i64().expect("id");

    // Refusals.
    for (token, body, status) in [
        (&room.reviewer, json!({"text": "hi"}), 403),
        (&room.ilo, json!({"text": "  "}), 400),
        (&room.ilo, json!({"text": "x", "from": 0}), 400),
        (&room.ilo, json!({"text": "x", "reply_to": 999_999}), 404),
    ] {
        let resp = room.call("POST", token, &rest, Some(body)).await;
        assert_eq!(resp.status, status, "{}", resp.body);
    }
    let resp = room
        .call(
            "POST",
            &room.ilo,
            &rest,
            Some(json!({"text": "Yes, it is.", "reply_to": thread})),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let reply = resp.json()["id"].as_i64().expect("id");
    let resp = room
        .call(
            "POST",
            &room.ilo,
            &rest,
            Some(json!({"text": "deeper", "reply_to": reply})),
        )
        .await;
    assert_eq!(
        resp.status, 400,
        "threads are one level deep: {}",
        resp.body
    );

    let resp = room.call("GET", &room.reviewer, &rest, None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let threads = resp.json()["comments"].clone();
    assert_eq!(threads.as_array().map(Vec::len), Some(1), "{threads}");
    assert_eq!(threads[0]["replies"][0]["text"], "Yes, it is.");

    // Resolved by its author or a chair only.
    let resolve = format!("{rest}/{thread}/resolve");
    let resp = room.call("POST", &room.ilo, &resolve, None).await;
    assert_eq!(resp.status, 403, "{}", resp.body);
    let resp = room
        .call("POST", &room.ilo, &format!("{rest}/{reply}/resolve"), None)
        .await;
    assert_eq!(
        code(&resp),
        "reply",
        "resolved with its thread: {}",
        resp.body
    );
    let resp = room.call("POST", &room.iom, &resolve, None).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(resp.json()["comments"][0]["resolved_at"].is_string());
    let resp = room.call("POST", &room.chair, &resolve, None).await;
    assert_eq!(code(&resp), "resolved", "{}", resp.body);
    assert_eq!(room.events("comment_added").await.len(), 2);
    assert_eq!(room.events("comment_resolved").await.len(), 1);
}
on_both_backends!(comments_thread_mention_and_resolve, 120);

/// The index document's map under `name` as JSON (null while absent).
fn key(doc: &impl automerge::ReadDoc, name: &str) -> Value {
    match automerge::ReadDoc::get(doc, automerge::ROOT, name) {
        Ok(Some((_, obj))) => accord_model::to_json(doc, &obj).unwrap_or_default(),
        _ => Value::Null,
    }
}
