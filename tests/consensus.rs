//! Consensus tracking through the real API on the reference scenario's 28
//! entities: positions, statuses, staleness, brackets, the silence
//! procedure with a controllable clock, locks enforced by reverting,
//! adoption, and the projection into the index document.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Client, Db, HttpResponse, TestServer, WAIT, on_both_backends, within};

/// A negotiation room: the server, its draft, a chair, one delegate per
/// entity and a reviewer.
struct Room {
    server: TestServer,
    draft: String,
    chair: String,
    reviewer: String,
    delegates: HashMap<String, String>,
    entities: Vec<String>,
}

impl Room {
    async fn open(db: Db, args: &[&str]) -> Room {
        let mut all = vec!["--test-clock"];
        if !args.contains(&"--silence-min-minutes") {
            all.extend(["--silence-min-minutes", "60"]);
        }
        all.extend_from_slice(args);
        let server = TestServer::start_with(db, &all).await;
        let draft = server.draft().await;
        let id = draft["id"].as_str().expect("draft id").to_owned();
        let entities: Vec<String> = draft["entities"]
            .as_array()
            .expect("entities")
            .iter()
            .map(|e| e["code"].as_str().expect("code").to_owned())
            .collect();
        assert_eq!(entities.len(), 28);
        let chair = server.session_for("the-chair", "chair", None).await;
        let reviewer = server.session_for("the-reviewer", "reviewer", None).await;
        let mut delegates = HashMap::new();
        for code in &entities {
            let token = server
                .session_for(&format!("delegate-{code}"), "delegate", Some(code))
                .await;
            delegates.insert(code.clone(), token);
        }
        Room {
            server,
            draft: id,
            chair,
            reviewer,
            delegates,
            entities,
        }
    }

    async fn element(&self, index: usize) -> Value {
        let draft = self.server.draft().await;
        draft["elements"][index].clone()
    }

    async fn element_id(&self, index: usize) -> String {
        self.element(index).await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    /// `entity`'s delegate states a position on the text the API shows now.
    async fn position(&self, entity: &str, index: usize, body: Value) -> HttpResponse {
        let element = self.element(index).await;
        let mut body = body;
        body["text_hash"] = element["text_hash"].clone();
        body["heads"] = element["heads"].clone();
        self.put_position(entity, entity, &element["id"], &body)
            .await
    }

    async fn put_position(
        &self,
        as_entity: &str,
        for_entity: &str,
        element_id: &Value,
        body: &Value,
    ) -> HttpResponse {
        let path = format!(
            "/api/v1/drafts/{}/elements/{}/positions/{for_entity}",
            self.draft,
            element_id.as_str().expect("element id")
        );
        self.server
            .request("PUT", &path, Some(&self.delegates[as_entity]), Some(body))
            .await
    }

    async fn all(&self, index: usize, stance: &str) {
        for entity in &self.entities {
            let resp = self
                .position(entity, index, json!({ "position": stance }))
                .await;
            assert_eq!(resp.status, 201, "{entity}: {}", resp.body);
        }
    }

    async fn consensus(&self) -> Value {
        self.server
            .get_json(&format!("/api/v1/drafts/{}/consensus", self.draft))
            .await
    }

    async fn element_consensus(&self, index: usize) -> Value {
        let id = self.element_id(index).await;
        let consensus = self.consensus().await;
        consensus["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .find(|e| e["id"] == id.as_str())
            .expect("the element")
            .clone()
    }

    async fn status(&self, index: usize) -> String {
        self.element_consensus(index).await["status"]
            .as_str()
            .expect("status")
            .to_owned()
    }

    async fn chair_post(&self, path: &str, body: Option<&Value>) -> HttpResponse {
        self.server
            .request(
                "POST",
                &format!("/api/v1/drafts/{}{path}", self.draft),
                Some(&self.chair),
                body,
            )
            .await
    }

    async fn advance(&self, secs: i64) {
        self.server.advance_clock(&self.chair, secs).await;
    }

    async fn wait_status(&self, index: usize, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.status(index).await;
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "status stayed {got}, wanted {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A UTC deadline `secs` from the server's (test) clock.
    async fn deadline_in(&self, secs: i64) -> String {
        let now = self.consensus().await["server_time"]
            .as_str()
            .expect("server_time")
            .to_owned();
        let now = parse_ms(&now);
        iso(now + secs * 1000)
    }
}

fn parse_ms(iso_time: &str) -> i64 {
    let t = humantime_like(iso_time);
    t.expect("an RFC 3339 time")
}

/// Parses `YYYY-MM-DDTHH:MM:SS(.mmm)Z` to unix ms.
fn humantime_like(s: &str) -> Option<i64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, ms) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    let ms: i64 = format!("{ms:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000 + ms)
}

fn iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60
    )
}

/// All support → agreed; one reservation → agreed with the note on record;
/// one ad ref → agreed_ad_ref; one objection → objected with who and why;
/// an edit after support → stale, open again; brackets → bracketed.
async fn statuses_follow_the_rules(db: Db) {
    let room = Room::open(db, &[]).await;
    assert_eq!(room.status(0).await, "open");
    room.all(0, "support").await;
    assert_eq!(room.status(0).await, "agreed");

    let resp = room
        .position(
            "ILO",
            0,
            json!({ "position": "reservation", "note": "on the second clause" }),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let element = room.element_consensus(0).await;
    assert_eq!(element["status"], "agreed");
    assert_eq!(element["reservations"][0]["entity"], "ILO");
    assert_eq!(element["reservations"][0]["note"], "on the second clause");

    let resp = room
        .position("WHO", 0, json!({ "position": "support_ad_ref" }))
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(room.status(0).await, "agreed_ad_ref");

    let resp = room
        .position(
            "UNHCR",
            0,
            json!({ "position": "object", "note": "protection gap", "wording": "…and refugees" }),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let element = room.element_consensus(0).await;
    assert_eq!(element["status"], "objected");
    assert_eq!(element["objections"][0]["entity"], "UNHCR");
    assert_eq!(element["objections"][0]["note"], "protection gap");
    assert_eq!(element["objections"][0]["wording"], "…and refugees");

    // A reservation needs a note, an objection a reason: 400, nothing recorded.
    let resp = room
        .position("IOM", 0, json!({ "position": "reservation" }))
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_eq!(resp.json()["error"], "note_required");
    let resp = room
        .position("IOM", 0, json!({ "position": "object" }))
        .await;
    assert_eq!(resp.json()["error"], "reason_required");

    // Element (b): all support, then someone edits the text: every
    // position is stale and the element is open again.
    room.all(1, "support").await;
    assert_eq!(room.status(1).await, "agreed");
    let doc = room.server.element_doc(1).await;
    let mut client = Client::connect_with(&room.server, &room.delegates["IOM"]).await;
    client.open(&doc).await;
    let hash = client.append(&doc, " Amended.").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    let element = room.element_consensus(1).await;
    assert_eq!(element["status"], "open");
    assert_eq!(element["stale"].as_array().expect("stale").len(), 28);
    assert_eq!(element["not_responded"].as_array().expect("nr").len(), 28);

    // Brackets: all support on (c), then a bracket appears.
    room.all(2, "support").await;
    let doc = room.server.element_doc(2).await;
    client.open(&doc).await;
    let hash = client.insert(&doc, 0, "[Alt: ").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    assert_eq!(room.status(2).await, "bracketed");
    // Everyone confirms on the bracketed text: still bracketed.
    room.all(2, "support").await;
    assert_eq!(room.status(2).await, "bracketed");
}
on_both_backends!(statuses_follow_the_rules, 240);

/// Only a delegate of an entity speaks for it; positions are bound to the
/// text and heads they were given on.
#[tokio::test]
async fn positions_are_bound_to_their_entity_and_text() {
    within(180, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        let element = room.element(3).await;
        let body = json!({
            "position": "support",
            "text_hash": element["text_hash"],
            "heads": element["heads"],
        });
        // An IOM delegate for ILO: 403; chairs and reviewers: 403.
        let resp = room.put_position("IOM", "ILO", &element["id"], &body).await;
        assert_eq!(resp.status, 403, "{}", resp.body);
        let path = format!(
            "/api/v1/drafts/{}/elements/{}/positions/ILO",
            room.draft,
            element["id"].as_str().expect("id")
        );
        for token in [&room.chair, &room.reviewer] {
            let resp = room
                .server
                .request("PUT", &path, Some(token), Some(&body))
                .await;
            assert_eq!(resp.status, 403, "{}", resp.body);
        }

        // Text changed since it was read: 409 text_changed with the hash.
        let doc = room.server.element_doc(3).await;
        let mut client = Client::connect_with(&room.server, &room.delegates["IOM"]).await;
        client.open(&doc).await;
        let hash = client.append(&doc, " (rev)").await;
        room.server.wait_element_heads(&doc, &[hash]).await;
        let resp = room.put_position("ILO", "ILO", &element["id"], &body).await;
        assert_eq!(resp.status, 409, "{}", resp.body);
        assert_eq!(resp.json()["error"], "text_changed");
        let now = room.element(3).await;
        assert_eq!(resp.json()["current_hash"], now["text_hash"]);

        // Heads the server does not have: 409 not_synced.
        let unsynced = client.edit_local(&doc, |d, text| {
            automerge::transaction::Transactable::splice_text(d, text, 0, 0, "x").unwrap();
        });
        let body = json!({
            "position": "support",
            "text_hash": now["text_hash"],
            "heads": [unsynced.to_string()],
        });
        let resp = room.put_position("ILO", "ILO", &element["id"], &body).await;
        assert_eq!(resp.status, 409, "{}", resp.body);
        assert_eq!(resp.json()["error"], "not_synced");

        // Nothing of the refused requests was recorded.
        let element = room.element_consensus(3).await;
        assert!(
            element["matrix"]
                .as_array()
                .expect("matrix")
                .iter()
                .all(|c| c["standing"] == "no_response"),
            "{element}"
        );
        let ledger = room
            .server
            .db()
            .scalar_i64("SELECT COUNT(*) FROM positions")
            .await;
        assert_eq!(ledger, 0);
    })
    .await;
}

/// Silence with no objection: at the deadline the missing and stale
/// positions become support by silence and the element is agreed; the text
/// is locked meanwhile and unlocked after. An edit racing the lock is
/// stored, reverted, and its author told; the text hash is unchanged.
async fn silence_fires_at_the_deadline_and_locks_meanwhile(db: Db) {
    let room = Room::open(db, &[]).await;
    // (d): half the entities support, the rest say nothing.
    for entity in room.entities.iter().take(14) {
        let resp = room
            .position(entity, 3, json!({ "position": "support" }))
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
    }
    let resp = room
        .position("WFP", 3, json!({ "position": "support_ad_ref" }))
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    assert_eq!(room.status(3).await, "open");
    let element_id = room.element_id(3).await;
    let before = room.element(3).await;

    // A deadline closer than the minimum is refused.
    let soon = room.deadline_in(60).await;
    let resp = room
        .chair_post(
            "/silence",
            Some(&json!({ "elements": [element_id], "deadline": soon })),
        )
        .await;
    assert_eq!(resp.status, 409, "{}", resp.body);
    assert!(resp.body.contains("deadline_too_soon"), "{}", resp.body);

    let deadline = room.deadline_in(2 * 3600).await;
    let resp = room
        .chair_post(
            "/silence",
            Some(&json!({ "elements": [element_id], "deadline": deadline })),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let element = room.element_consensus(3).await;
    assert_eq!(element["status"], "under_silence");
    assert_eq!(element["deadline"], deadline.replace('Z', ".000Z"));

    // An edit races the lock: stored, undone, and its author is told.
    let doc = room.server.element_doc(3).await;
    let mut client = Client::connect_with(&room.server, &room.delegates["ILO"]).await;
    client.open(&doc).await;
    let stored = room
        .server
        .db()
        .scalar_i64("SELECT COUNT(*) FROM changes")
        .await;
    client.append(&doc, " sneaky").await;
    client
        .wait_for("a locked notice", |c| {
            c.notices.iter().any(|n| n.code == "locked")
        })
        .await;
    let original = before["text"].as_str().expect("text").to_owned();
    client
        .wait_until(&doc, "the revert", move |d| d.text() == original)
        .await;
    let after = room.element(3).await;
    assert_eq!(after["text_hash"], before["text_hash"]);
    let stored_after = room
        .server
        .db()
        .scalar_i64("SELECT COUNT(*) FROM changes")
        .await;
    assert!(
        stored_after >= stored + 2,
        "the edit and its revert are both stored ({stored} → {stored_after})"
    );

    // The deadline passes: silent support for the other 13, ad ref stands.
    room.advance(2 * 3600 + 1).await;
    room.wait_status(3, "agreed_ad_ref").await;
    let element = room.element_consensus(3).await;
    let silent = element["matrix"]
        .as_array()
        .expect("matrix")
        .iter()
        .filter(|c| c["by_silence"] == true)
        .count();
    assert_eq!(silent, 13);
    assert!(element["not_responded"].as_array().expect("nr").is_empty());

    // Unlocked: an edit now sticks.
    let hash = client.append(&doc, " after").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    let text = room.element(3).await["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(text.ends_with(" after"), "{text}");

    // The deadline fired once.
    let fired = room
        .server
        .db()
        .scalar_i64("SELECT COUNT(*) FROM events WHERE kind = 'silence_fired'")
        .await;
    assert_eq!(fired, 1);
}
on_both_backends!(silence_fires_at_the_deadline_and_locks_meanwhile, 240);

/// Silence would turn a stale objection (given on an earlier text) into
/// support, so the chair must confirm it: without
/// `confirm_stale_objections` the start is refused with 409
/// `stale_objections` naming the entities and elements, and nothing starts
/// (not even the other elements named); with it the silence starts, its
/// `silence_started` event records the objections confirmed, and at the
/// deadline they become support by silence. A stale objection the start
/// did not confirm (a silence recorded before confirmations were kept)
/// stands at the deadline.
async fn stale_objections_need_the_chairs_confirmation(db: Db) {
    let room = Room::open(db, &[]).await;
    let (objectors, edited, other) = (["OHCHR", "UNHCR"], 5, 6);
    for entity in objectors {
        let resp = room
            .position(
                entity,
                edited,
                json!({ "position": "object", "note": format!("{entity}: protection gap") }),
            )
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
    }
    room.position("WFP", edited, json!({ "position": "support" }))
        .await;
    // Someone edits the text: the objections (and WFP's support) go stale.
    let doc = room.server.element_doc(edited).await;
    let mut client = Client::connect_with(&room.server, &room.delegates["IOM"]).await;
    client.open(&doc).await;
    let hash = client.append(&doc, " (as amended)").await;
    room.server.wait_element_heads(&doc, &[hash]).await;
    room.wait_status(edited, "open").await;
    let element = room.element_consensus(edited).await;
    assert_eq!(
        element["stale"],
        json!(["OHCHR", "UNHCR", "WFP"]),
        "{element}"
    );
    let edited_id = room.element_id(edited).await;
    let edited_label = room.element(edited).await["label"].clone();
    let other_id = room.element_id(other).await;
    let silences = || async {
        room.server
            .db()
            .scalar_i64("SELECT COUNT(*) FROM silences")
            .await
    };

    // Not confirmed (absent or false): 409 listing the stale objections,
    // nothing started on either element.
    let deadline = room.deadline_in(2 * 3600).await;
    for confirm in [None, Some(false)] {
        let mut body = json!({ "elements": [other_id, edited_id], "deadline": deadline });
        if let Some(confirm) = confirm {
            body["confirm_stale_objections"] = json!(confirm);
        }
        let resp = room.chair_post("/silence", Some(&body)).await;
        assert_eq!(resp.status, 409, "{}", resp.body);
        let refusal = resp.json();
        assert_eq!(refusal["error"], "stale_objections", "{refusal}");
        let listed: Vec<(&str, &str)> = refusal["stale_objections"]
            .as_array()
            .expect("stale_objections")
            .iter()
            .map(|s| {
                assert_eq!(s["label"], edited_label);
                assert!(
                    s["note"]
                        .as_str()
                        .expect("note")
                        .ends_with("protection gap")
                );
                (
                    s["element"].as_str().expect("element"),
                    s["entity"].as_str().expect("entity"),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [(edited_id.as_str(), "OHCHR"), (edited_id.as_str(), "UNHCR")]
        );
        let message = refusal["message"].as_str().expect("message");
        for needle in ["UNHCR", "OHCHR", edited_label.as_str().expect("label")] {
            assert!(message.contains(needle), "{message}");
        }
        assert_eq!(silences().await, 0);
        assert_eq!(room.status(edited).await, "open");
        assert_eq!(room.status(other).await, "open");
    }
    let started_events = room
        .server
        .db()
        .scalar_i64("SELECT COUNT(*) FROM events WHERE kind = 'silence_started'")
        .await;
    assert_eq!(started_events, 0);

    // Confirmed: started, and the confirmation is on record.
    let resp = room
        .chair_post(
            "/silence",
            Some(&json!({
                "elements": [other_id, edited_id],
                "deadline": deadline,
                "confirm_stale_objections": true,
            })),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let started = resp.json();
    let by_element = |id: &str| {
        started["silences"]
            .as_array()
            .expect("silences")
            .iter()
            .find(|s| s["element"] == id)
            .expect("a silence per element")["confirmed_stale_objections"]
            .clone()
    };
    assert_eq!(by_element(&other_id), json!([]));
    let confirmed = by_element(&edited_id);
    let confirmed: Vec<&str> = confirmed
        .as_array()
        .expect("confirmed")
        .iter()
        .map(|c| c["entity"].as_str().expect("entity"))
        .collect();
    assert_eq!(confirmed, ["OHCHR", "UNHCR"]);
    assert_eq!(room.status(edited).await, "under_silence");
    let history = room
        .server
        .get_json(&format!(
            "/api/v1/drafts/{}/history?element={edited_id}",
            room.draft
        ))
        .await;
    let event = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["type"] == "silence_started")
        .expect("a silence_started event")
        .clone();
    let recorded = event["data"]["confirmed_stale_objections"]
        .as_array()
        .unwrap_or_else(|| panic!("the event records the confirmation: {event}"));
    // Each one names the objection itself: entity, reason, when, on which text.
    let objections: Vec<&Value> = element["matrix"]
        .as_array()
        .expect("matrix")
        .iter()
        .filter(|c| c["position"] == "object")
        .collect();
    assert_eq!(objections.len(), 2);
    for (cell, record) in objections.iter().zip(recorded) {
        assert_eq!(record["entity"], cell["entity"], "{event}");
        assert_eq!(record["note"], cell["note"], "{event}");
        assert_eq!(record["at"], cell["at"], "{event}");
        assert_ne!(record["text_hash"], element["text_hash"], "{event}");
    }
    assert!(recorded.iter().all(|r| r["seq"].is_i64()), "{event}");
    // The other element's event records none.
    assert!(
        history["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["type"] != "silence_started" || i["element"] == edited_id.as_str())
    );

    // Forget OHCHR's confirmation, as for a silence started before
    // confirmations were kept: at the deadline UNHCR's stale objection
    // becomes support by silence, OHCHR's stands.
    let keep = recorded
        .iter()
        .find(|r| r["entity"] == "UNHCR")
        .expect("UNHCR")["seq"]
        .as_i64()
        .expect("seq");
    room.server
        .db()
        .execute(&format!(
            "UPDATE silences SET confirmed_stale = '[{keep}]' WHERE element_id = '{edited_id}'"
        ))
        .await;
    room.advance(2 * 3600 + 1).await;
    room.wait_status(other, "agreed").await;
    room.wait_status(edited, "open").await;
    let after = room.element_consensus(edited).await;
    let cell = |entity: &str| {
        after["matrix"]
            .as_array()
            .expect("matrix")
            .iter()
            .find(|c| c["entity"] == entity)
            .expect("cell")
            .clone()
    };
    assert_eq!(cell("UNHCR")["position"], "support");
    assert_eq!(cell("UNHCR")["by_silence"], true);
    assert_eq!(cell("UNHCR")["standing"], "current");
    assert_eq!(cell("OHCHR")["position"], "object");
    assert_eq!(cell("OHCHR")["standing"], "stale");
    assert_eq!(cell("WFP")["by_silence"], true);
    assert_eq!(after["not_responded"], json!(["OHCHR"]));
}
on_both_backends!(stale_objections_need_the_chairs_confirmation, 240);

/// An objection during silence breaks it (who and why on record) and
/// unlocks the text; silence is refused on objected and bracketed text.
#[tokio::test]
async fn an_objection_breaks_silence_and_silence_is_refused_when_held() {
    within(240, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        room.all(4, "support").await;
        let id = room.element_id(4).await;
        let deadline = room.deadline_in(3 * 3600).await;
        let resp = room
            .chair_post(
                "/silence",
                Some(&json!({ "elements": [id], "deadline": deadline })),
            )
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        assert_eq!(room.status(4).await, "under_silence");

        let resp = room
            .position(
                "OHCHR",
                4,
                json!({ "position": "object", "note": "rights language weakened" }),
            )
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        assert_eq!(resp.json()["silence_broken"], true);
        let element = room.element_consensus(4).await;
        assert_eq!(element["status"], "objected");
        assert!(element["silence"].is_null());
        let last = &element["last_silence"];
        assert_eq!(last["state"], "broken", "{element}");
        assert_eq!(last["entity"], "OHCHR");
        assert_eq!(last["ended_by"], "delegate-OHCHR");
        assert_eq!(last["reason"], "rights language weakened");
        let broken = room
            .server
            .db()
            .scalar_i64("SELECT COUNT(*) FROM events WHERE kind = 'silence_broken'")
            .await;
        assert_eq!(broken, 1);

        // Unlocked: edits stick.
        let doc = room.server.element_doc(4).await;
        let mut client = Client::connect_with(&room.server, &room.delegates["OHCHR"]).await;
        client.open(&doc).await;
        let hash = client.append(&doc, " [and rights]").await;
        room.server.wait_element_heads(&doc, &[hash]).await;

        // The clock passes the old deadline: nothing fires.
        room.advance(4 * 3600).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(room.status(4).await, "bracketed");

        // Objected (a) and bracketed (e) are refused; "all" is refused too.
        room.position("IOM", 0, json!({ "position": "object", "note": "no" }))
            .await;
        let a = room.element_id(0).await;
        let deadline = room.deadline_in(3 * 3600).await;
        for (elements, code) in [
            (json!([a]), "objected"),
            (json!([id]), "bracketed"),
            (json!("all"), "objected"),
        ] {
            let resp = room
                .chair_post(
                    "/silence",
                    Some(&json!({ "elements": elements, "deadline": deadline })),
                )
                .await;
            assert_eq!(resp.status, 409, "{}", resp.body);
            assert_eq!(resp.json()["error"], "silence_refused");
            assert!(resp.body.contains(code), "{}", resp.body);
        }
        // Delegates cannot start silence.
        let resp = room
            .server
            .request(
                "POST",
                &format!("/api/v1/drafts/{}/silence", room.draft),
                Some(&room.delegates["IOM"]),
                Some(&json!({ "elements": "all", "deadline": deadline })),
            )
            .await;
        assert_eq!(resp.status, 403);
    })
    .await;
}

/// Adoption needs agreement; adopt and reopen round-trip; the draft is
/// adopted once every element is, as a named final version.
#[tokio::test]
async fn adoption_needs_agreement_and_the_draft_follows() {
    within(300, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        let id = room.element_id(5).await;
        let resp = room
            .chair_post(&format!("/elements/{id}/adopt"), None)
            .await;
        assert_eq!(resp.status, 409, "{}", resp.body);
        assert_eq!(resp.json()["error"], "not_agreed");
        room.all(5, "support").await;
        let resp = room
            .server
            .request(
                "POST",
                &format!("/api/v1/drafts/{}/elements/{id}/adopt", room.draft),
                Some(&room.delegates["IOM"]),
                None,
            )
            .await;
        assert_eq!(resp.status, 403);
        let resp = room
            .chair_post(&format!("/elements/{id}/adopt"), None)
            .await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(room.status(5).await, "adopted");

        // Locked while adopted.
        let doc = room.server.element_doc(5).await;
        let mut client = Client::connect_with(&room.server, &room.delegates["FAO"]).await;
        client.open(&doc).await;
        client.append(&doc, " late").await;
        client
            .wait_for("a locked notice", |c| {
                c.notices.iter().any(|n| n.code == "locked")
            })
            .await;

        let resp = room
            .chair_post(&format!("/elements/{id}/reopen"), None)
            .await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        assert_eq!(room.status(5).await, "agreed");

        // The draft cannot be adopted before every element is.
        let resp = room.chair_post("/adopt", None).await;
        assert_eq!(resp.status, 409, "{}", resp.body);
        assert_eq!(resp.json()["error"], "not_all_adopted");
        for index in 0..8 {
            room.all(index, "support").await;
            let id = room.element_id(index).await;
            let resp = room
                .chair_post(&format!("/elements/{id}/adopt"), None)
                .await;
            assert_eq!(resp.status, 200, "{}", resp.body);
        }
        let resp = room
            .chair_post("/adopt", Some(&json!({ "name": "Final text" })))
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        assert_eq!(resp.json()["version"]["name"], "Final text");
        let consensus = room.consensus().await;
        assert_eq!(consensus["state"], "adopted");
        let resp = room.chair_post("/adopt", None).await;
        assert_eq!(resp.status, 409);
    })
    .await;
}

/// Everything is projected into the index document: a client syncing it
/// sees positions and statuses change live, without polling the API.
#[tokio::test]
async fn the_index_document_shows_consensus_live() {
    within(180, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        let index = room.server.index_doc().await;
        let id = room.element_id(6).await;
        let mut watcher = Client::connect_with(&room.server, &room.reviewer).await;
        watcher.open(&index).await;

        let resp = room
            .position(
                "UNICEF",
                6,
                json!({ "position": "object", "note": "children omitted" }),
            )
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        let path = id.clone();
        watcher
            .wait_until(&index, "the objection in the index", move |d| {
                let value = projection(&d.doc);
                value["elements"][&path]["status"] == "objected"
                    && value["elements"][&path]["positions"]["UNICEF"]["note"] == "children omitted"
            })
            .await;

        // A text edit makes the objection stale: the index follows.
        let doc = room.server.element_doc(6).await;
        let mut client = Client::connect_with(&room.server, &room.delegates["UNICEF"]).await;
        client.open(&doc).await;
        client.append(&doc, " including children").await;
        let path = id.clone();
        watcher
            .wait_until(&index, "the stale objection in the index", move |d| {
                let value = projection(&d.doc);
                value["elements"][&path]["status"] == "open"
                    && value["elements"][&path]["positions"]["UNICEF"]["standing"] == "stale"
            })
            .await;
    })
    .await;
}

/// The index document's `consensus` map as JSON (null while absent).
fn projection(doc: &impl automerge::ReadDoc) -> Value {
    match automerge::ReadDoc::get(doc, automerge::ROOT, "consensus") {
        Ok(Some((_, obj))) => accord_model::to_json(doc, &obj).unwrap_or_default(),
        _ => Value::Null,
    }
}

/// A deadline survives a restart and fires once after it.
#[tokio::test]
async fn a_silence_deadline_survives_a_restart() {
    within(180, async {
        let mut room = Room::open(Db::sqlite(), &["--silence-min-minutes", "0"]).await;
        room.all(7, "support").await;
        let id = room.element_id(7).await;
        let deadline = room.deadline_in(3).await;
        let resp = room
            .chair_post(
                "/silence",
                Some(&json!({ "elements": [id], "deadline": deadline })),
            )
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        room.server.restart().await;
        assert_eq!(room.status(7).await, "under_silence");
        room.wait_status(7, "agreed").await;
        let fired = room
            .server
            .db()
            .scalar_i64("SELECT COUNT(*) FROM events WHERE kind = 'silence_fired'")
            .await;
        assert_eq!(fired, 1);
    })
    .await;
}

/// `accord status` prints the draft's state as a table: statuses, counts,
/// the matrix, objections and reservations.
#[tokio::test]
async fn the_status_command_prints_the_table() {
    within(180, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        room.all(0, "support").await;
        room.position(
            "ILO",
            0,
            json!({ "position": "reservation", "note": "labour clause" }),
        )
        .await;
        room.position(
            "UNHCR",
            1,
            json!({ "position": "object", "note": "protection gap" }),
        )
        .await;
        let (ok, out, err) = room
            .server
            .cli(&["status", &room.draft, "--color", "never"])
            .await;
        assert!(ok, "{err}");
        let line = |label: &str| {
            out.lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("no line for {label}:\n{out}"))
                .to_owned()
        };
        let a = line("(a) ");
        assert!(a.contains("agreed"), "{a}");
        let counts: Vec<&str> = a.split_whitespace().collect();
        assert_eq!(&counts[2..9], ["27", "0", "1", "0", "0", "0", "0"], "{a}");
        assert!(line("(b) ").contains("objected"), "{out}");
        assert!(out.contains("(b) UNHCR objects: protection gap"), "{out}");
        assert!(out.contains("(a) ILO reservation: labour clause"), "{out}");
        let ilo = line("ILO ");
        let cells: Vec<&str> = ilo.split_whitespace().collect();
        assert_eq!(&cells[1..3], ["R", "."], "{ilo}");
        assert!(!out.contains('\u{1b}'), "no colour with --color never");
        let (_, coloured, _) = room
            .server
            .cli(&["status", &room.draft, "--color", "always"])
            .await;
        assert!(coloured.contains("\u{1b}[1;31m"), "objections in red");
    })
    .await;
}

/// The chair names versions (every document's heads); others may not; a
/// name is used once per draft; everyone lists them.
#[tokio::test]
async fn chairs_name_versions_and_everyone_lists_them() {
    within(120, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        let path = format!("/api/v1/drafts/{}/versions", room.draft);
        let body = json!({ "name": "Rev.1" });
        let resp = room
            .server
            .request("POST", &path, Some(&room.delegates["IOM"]), Some(&body))
            .await;
        assert_eq!(resp.status, 403, "{}", resp.body);
        let resp = room
            .server
            .request("POST", &path, Some(&room.chair), Some(&body))
            .await;
        assert_eq!(resp.status, 201, "{}", resp.body);
        let version = resp.json();
        assert_eq!(version["name"], "Rev.1");
        assert_eq!(version["created_by"], "the-chair");
        let draft = room.server.draft().await;
        let heads = version["heads"].as_object().expect("heads by document");
        assert_eq!(heads.len(), 9, "the index and eight elements");
        let first = crate::harness::doc_id_of(&draft["elements"][0]["doc_url"]);
        assert_eq!(heads[&first], draft["elements"][0]["heads"]);
        let again = room
            .server
            .request("POST", &path, Some(&room.chair), Some(&body))
            .await;
        assert_eq!(again.status, 409);
        assert_eq!(again.json()["error"], "version_exists");
        let listed = room
            .server
            .request("GET", &path, Some(&room.reviewer), None)
            .await;
        assert_eq!(listed.status, 200);
        assert_eq!(listed.json()["versions"][0]["name"], "Rev.1");
    })
    .await;
}

/// `accord backup` copies the live store; `accord restore` brings it into a
/// new database with the same drafts, history and ledger.
#[tokio::test]
async fn backup_then_restore_gives_the_same_store() {
    within(180, async {
        let room = Room::open(Db::sqlite(), &[]).await;
        room.position("IOM", 0, json!({ "position": "support" }))
            .await;
        room.position(
            "ILO",
            0,
            json!({ "position": "reservation", "note": "kept" }),
        )
        .await;
        let doc = room.server.element_doc(0).await;
        let mut client = Client::connect_with(&room.server, &room.delegates["WHO"]).await;
        client.open(&doc).await;
        let hash = client.append(&doc, " (before the backup)").await;
        room.server.wait_element_heads(&doc, &[hash]).await;

        // Let the consensus projection of the edit land first.
        let mut last = -1;
        loop {
            let now = room
                .server
                .db()
                .scalar_i64("SELECT COUNT(*) FROM changes")
                .await;
            if now == last {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(700)).await;
        }

        let dir = tempfile::tempdir().expect("a temp dir");
        let backup = dir.path().join("backup.db");
        let backup = backup.to_str().expect("a path");
        let (ok, out, err) = room.server.cli(&["backup", backup]).await;
        assert!(ok, "{out}{err}");
        // A second backup to the same file is refused.
        let (ok, _, _) = room.server.cli(&["backup", backup]).await;
        assert!(!ok);

        let restored = dir.path().join("restored.db");
        let url = format!("sqlite://{}", restored.display());
        let (ok, out, err) = room.server.cli_on(&url, &["restore", backup]).await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("Restored 1 drafts"), "{out}");
        // Restoring over an existing database is refused.
        let (ok, _, err) = room.server.cli_on(&url, &["restore", backup]).await;
        assert!(!ok && err.contains("exists"), "{err}");
        let second = TestServer::start_with(Db::sqlite_at(restored.clone()), &[]).await;
        let original = room.server.draft().await;
        let copy = second.draft().await;
        assert_eq!(copy["id"], original["id"]);
        assert_eq!(copy["elements"][0]["text"], original["elements"][0]["text"]);
        assert_eq!(
            copy["elements"][0]["heads"],
            original["elements"][0]["heads"]
        );
        for table in ["changes", "positions", "users", "events"] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let want = room.server.db().scalar_i64(&sql).await;
            let got = second.db().scalar_i64(&sql).await;
            // The second server added its own default user.
            let extra = i64::from(table == "users");
            assert_eq!(got, want + extra, "{table}");
        }
    })
    .await;
}
