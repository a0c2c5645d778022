//! Revision history through the real API: revisions grouped per user and
//! element with a controlled clock, reading at a named version, a time and
//! heads (with the annex of then), comparing versions with authors, and
//! attributing spans and deletions to users and entities.

use serde_json::{Value, json};

use crate::harness::{Client, Db, TestServer, on_both_backends, within};

struct Setup {
    server: TestServer,
    draft: String,
    chair: String,
    reviewer: String,
}

impl Setup {
    async fn new(db: Db) -> Setup {
        let server = TestServer::start_with(db, &["--test-clock"]).await;
        let draft = server.draft().await["id"].as_str().expect("id").to_owned();
        let chair = server.session_for("chair-h", "chair", None).await;
        let reviewer = server.session_for("reviewer-h", "reviewer", None).await;
        Setup {
            server,
            draft,
            chair,
            reviewer,
        }
    }

    async fn advance(&self, secs: i64) {
        self.server.advance_clock(&self.chair, secs).await;
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self
            .server
            .request("GET", path, Some(&self.reviewer), None)
            .await;
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.body);
        resp.json()
    }

    async fn now(&self) -> String {
        self.get(&format!("/api/v1/drafts/{}/consensus", self.draft))
            .await["server_time"]
            .as_str()
            .expect("server_time")
            .to_owned()
    }
}

fn revisions(history: &Value) -> Vec<&Value> {
    history["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "revision")
        .collect()
}

/// Revisions: one user's run on one element, whatever others typed in
/// between; a gap of 30 s or more starts a new one. Reading at a name, a
/// time and heads gives the text of then, with the annex of then; a compare
/// and the attribution name the right users and entities.
async fn history_reads_compares_and_attributes(db: Db) {
    let s = Setup::new(db).await;
    let element = s.server.draft().await["elements"][0].clone();
    let element_id = element["id"].as_str().expect("id").to_owned();
    let doc = crate::harness::doc_id_of(&element["doc_url"]);
    let original = element["text"].as_str().expect("text").to_owned();
    let alice_token = s.server.session_for("alice", "delegate", Some("IOM")).await;
    let bob_token = s.server.session_for("bob", "delegate", Some("ILO")).await;
    let carol_token = s
        .server
        .session_for("carol", "delegate", Some("UNHCR"))
        .await;
    let mut alice = Client::connect_with(&s.server, &alice_token).await;
    let mut bob = Client::connect_with(&s.server, &bob_token).await;
    let mut carol = Client::connect_with(&s.server, &carol_token).await;
    alice.open(&doc).await;
    bob.open(&doc).await;
    carol.open(&doc).await;

    // Alice and Bob type at the same time, keystroke by keystroke.
    for (a, b) in " safe".chars().zip(" BOB!".chars()) {
        alice.append(&doc, &a.to_string()).await;
        bob.insert(&doc, 0, &b.to_string()).await;
    }
    s.advance(10).await;
    let last = alice.append(&doc, " now").await;
    s.server.wait_element_heads(&doc, &alice.heads(&doc)).await;
    let _ = last;
    bob.settle().await;
    carol.settle().await;

    let history = s
        .get(&format!(
            "/api/v1/drafts/{}/history?element={element_id}",
            s.draft
        ))
        .await;
    let revs = revisions(&history);
    assert_eq!(revs.len(), 2, "one revision each: {history}");
    let by = |name: &str| {
        *revs
            .iter()
            .find(|r| r["user_name"] == name)
            .unwrap_or_else(|| panic!("no revision by {name}: {history}"))
    };
    assert_eq!(by("alice")["entity"], "IOM");
    assert_eq!(by("alice")["inserted"], 9, "' safe' and ' now'");
    assert_eq!(by("alice")["changes"], 6);
    assert_eq!(by("bob")["entity"], "ILO");
    assert_eq!(by("bob")["inserted"], 5);

    // Rev.1, then a pause, then Alice again and Carol deletes a word.
    let resp = s
        .server
        .request(
            "POST",
            &format!("/api/v1/drafts/{}/versions", s.draft),
            Some(&s.chair),
            Some(&json!({ "name": "Rev.1" })),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let rev1_text = s.server.element_state(&doc).await.0;
    let before_pause = s.now().await;
    s.advance(60).await;
    let resp = s
        .server
        .request(
            "PUT",
            &format!(
                "/api/v1/drafts/{}/elements/{element_id}/positions/IOM",
                s.draft
            ),
            Some(&alice_token),
            Some(&{
                let e = s.server.draft().await["elements"][0].clone();
                json!({ "position": "support", "text_hash": e["text_hash"], "heads": e["heads"] })
            }),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    alice.settle().await;
    alice.append(&doc, " later").await;
    carol.settle().await;
    let current = carol.text(&doc);
    let at = current.find("safe").expect("'safe' is there");
    carol
        .edit(&doc, |d, text| {
            automerge::transaction::Transactable::splice_text(d, text, at, 4, "").unwrap();
        })
        .await;
    s.server.wait_element_heads(&doc, &carol.heads(&doc)).await;
    let now_text = s.server.element_state(&doc).await.0;

    let history = s
        .get(&format!(
            "/api/v1/drafts/{}/history?element={element_id}",
            s.draft
        ))
        .await;
    let revs = revisions(&history);
    assert_eq!(
        revs.len(),
        4,
        "alice twice (a pause of 60 s), bob, carol: {history}"
    );
    let all = s.get(&format!("/api/v1/drafts/{}/history", s.draft)).await;
    let kinds: Vec<&str> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind"))
        .collect();
    assert!(kinds.contains(&"position"), "positions are in the timeline");
    assert!(
        kinds.contains(&"event"),
        "named versions are in the timeline"
    );

    // Reading at Rev.1, at the time before the pause, and now.
    let read = |q: String| {
        let s = &s;
        async move { s.get(&format!("/api/v1/drafts/{}/read?{q}", s.draft)).await }
    };
    let at_rev1 = read("version=Rev.1".into()).await;
    assert_eq!(at_rev1["elements"][0]["text"], rev1_text);
    let at_time = read(format!("at={before_pause}")).await;
    assert_eq!(at_time["elements"][0]["text"], rev1_text);
    // The annex of then: IOM had not supported yet.
    let iom = |read: &Value| {
        read["annex"]["elements"][0]["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .find(|p| p["entity"] == "IOM")
            .expect("IOM")
            .clone()
    };
    assert_eq!(iom(&at_rev1)["standing"], "no_response");
    let now_read = read(String::new()).await;
    assert_eq!(now_read["elements"][0]["text"], now_text);
    assert_eq!(iom(&now_read)["position"], "support");
    let heads = now_read["elements"][0]["heads"].clone();
    let heads_q = json!({ doc.clone(): heads }).to_string();
    let by_heads = read(format!("heads={}", urlencode(&heads_q))).await;
    assert_eq!(by_heads["elements"][0]["text"], now_text);
    assert!(original.len() < now_text.len());

    // Compare Rev.1 with now: Alice's " later" and Carol's deletion of "safe".
    let compare = s
        .get(&format!(
            "/api/v1/drafts/{}/compare?from=Rev.1&to=now",
            s.draft
        ))
        .await;
    let diff = compare["elements"][0]["diff"].as_array().expect("diff");
    assert!(
        diff.iter().any(|p| p["op"] == "insert"
            && p["text"].as_str().is_some_and(|t| t.contains("later"))
            && p["user_name"] == "alice"
            && p["entity"] == "IOM"),
        "{compare}"
    );
    assert!(
        diff.iter().any(|p| p["op"] == "delete"
            && p["text"] == "safe"
            && p["user_name"] == "carol"
            && p["entity"] == "UNHCR"),
        "{compare}"
    );
    let unchanged = compare["elements"][1]["changed"].clone();
    assert_eq!(unchanged, false, "other elements did not change");

    // The same by word: whole words change, each side reads as its text.
    let by_word = s
        .get(&format!(
            "/api/v1/drafts/{}/compare?from=name:Rev.1&granularity=word",
            s.draft
        ))
        .await;
    let pieces = by_word["elements"][0]["diff"].as_array().expect("diff");
    let side = |skip: &str| -> String {
        pieces
            .iter()
            .filter(|p| p["op"] != skip)
            .map(|p| p["text"].as_str().unwrap_or(""))
            .collect()
    };
    assert_eq!(side("insert"), rev1_text, "{by_word}");
    assert_eq!(side("delete"), now_text, "{by_word}");
    // Every change starts and ends at a word boundary of its own side.
    let (old_text, new_text) = (side("insert"), side("delete"));
    let (mut old_at, mut new_at) = (0, 0);
    let boundary = |text: &str, at: usize| {
        let before = text[..at].chars().next_back();
        let after = text[at..].chars().next();
        !(before.is_some_and(char::is_alphanumeric) && after.is_some_and(char::is_alphanumeric))
    };
    for p in pieces {
        let len = p["text"].as_str().unwrap_or("").len();
        let (text, at) = match p["op"].as_str() {
            Some("delete") => (&old_text, &mut old_at),
            Some("insert") => (&new_text, &mut new_at),
            _ => {
                old_at += len;
                new_at += len;
                continue;
            }
        };
        assert!(p["entity"].is_string(), "{p}");
        assert!(
            boundary(text, *at) && boundary(text, *at + len),
            "{p} in {by_word}"
        );
        *at += len;
    }
    assert!(
        pieces
            .iter()
            .any(|p| p["op"] == "delete" && p["text"] == "safe" && p["entity"] == "UNHCR"),
        "{by_word}"
    );
    let resp = s
        .server
        .request(
            "GET",
            &format!(
                "/api/v1/drafts/{}/compare?from=now&granularity=line",
                s.draft
            ),
            Some(&s.reviewer),
            None,
        )
        .await;
    assert_eq!(resp.status, 400, "{}", resp.body);

    // Everyone in the history, for the timeline's filter.
    let people = s
        .get(&format!("/api/v1/drafts/{}/history/people", s.draft))
        .await;
    let people: Vec<(String, Value)> = people["people"]
        .as_array()
        .expect("people")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("").to_owned(),
                p["entity"].clone(),
            )
        })
        .collect();
    for (name, entity) in [("alice", "IOM"), ("bob", "ILO"), ("carol", "UNHCR")] {
        assert!(
            people.contains(&(name.to_owned(), json!(entity))),
            "{people:?}"
        );
    }

    // Attribution: spans by entity, Carol's deletion on record.
    let attribution = s
        .get(&format!(
            "/api/v1/drafts/{}/elements/{element_id}/attribution",
            s.draft
        ))
        .await;
    assert_eq!(attribution["text"], now_text);
    let spans = attribution["spans"].as_array().expect("spans");
    let joined: String = spans
        .iter()
        .map(|s| s["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(joined, now_text);
    assert!(
        spans
            .iter()
            .any(|s| s["entity"] == "ILO" && s["text"] == "!BOB "),
        "{attribution}"
    );
    assert!(
        spans.iter().any(
            |s| s["entity"] == "IOM" && s["text"].as_str().is_some_and(|t| t.contains("later"))
        )
    );
    let deletions = attribution["deletions"].as_array().expect("deletions");
    assert!(
        deletions
            .iter()
            .any(|d| d["user_name"] == "carol" && d["text"] == "safe"),
        "{attribution}"
    );
    // At Rev.1: the text of then, without Carol's later deletion; at the
    // current heads given explicitly, the same as now.
    let at_rev1 = s
        .get(&format!(
            "/api/v1/drafts/{}/elements/{element_id}/attribution?version=Rev.1",
            s.draft
        ))
        .await;
    assert_eq!(at_rev1["text"], rev1_text);
    let joined: String = at_rev1["spans"]
        .as_array()
        .expect("spans")
        .iter()
        .map(|s| s["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(joined, rev1_text);
    assert!(
        !at_rev1["deletions"]
            .as_array()
            .expect("deletions")
            .iter()
            .any(|d| d["user_name"] == "carol"),
        "{at_rev1}"
    );
    let by_heads = s
        .get(&format!(
            "/api/v1/drafts/{}/elements/{element_id}/attribution?heads={}",
            s.draft,
            urlencode(&heads_q)
        ))
        .await;
    for key in ["text", "spans", "deletions"] {
        assert_eq!(by_heads[key], attribution[key], "{key}");
    }

    // Chairs' structure edits follow the server's clock too: a rename an
    // hour on (on the test clock) comes after everything before it.
    s.advance(3600).await;
    let hour_on = s.now().await;
    let resp = s
        .server
        .request(
            "PATCH",
            &format!("/api/v1/drafts/{}/elements/{element_id}", s.draft),
            Some(&s.chair),
            Some(&json!({ "label": "(a) renamed" })),
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let later = s
        .get(&format!(
            "/api/v1/drafts/{}/history?from={hour_on}",
            s.draft
        ))
        .await;
    let kinds: Vec<&Value> = later["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["type"])
        .collect();
    assert_eq!(kinds, [&json!("element_renamed")], "{later}");

    // Readable by reviewers (above), refused without a session.
    let resp = s
        .server
        .request(
            "GET",
            &format!("/api/v1/drafts/{}/history", s.draft),
            None,
            None,
        )
        .await;
    assert_eq!(resp.status, 401);
}
on_both_backends!(history_reads_compares_and_attributes, 180);

/// States `entity`'s position on the element at index `i` of the
/// reference draft, on its current text.
async fn state_position(s: &Setup, i: usize, entity: &str, token: &str, stance: &str) {
    let e = s.server.draft().await["elements"][i].clone();
    let resp = s
        .server
        .request(
            "PUT",
            &format!(
                "/api/v1/drafts/{}/elements/{}/positions/{entity}",
                s.draft,
                e["id"].as_str().expect("id")
            ),
            Some(token),
            Some(&json!({ "position": stance, "note": "On record.", "text_hash": e["text_hash"], "heads": e["heads"] })),
        )
        .await;
    assert_eq!(resp.status, 201, "{entity} {stance}: {}", resp.body);
}

/// The `positions_stale` events of an element, oldest first, once there
/// are `n` of them.
async fn stale_events(s: &Setup, element_id: &str, n: usize) -> Vec<Value> {
    loop {
        let history = s
            .get(&format!(
                "/api/v1/drafts/{}/history?element={element_id}",
                s.draft
            ))
            .await;
        let events: Vec<Value> = history["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|i| i["kind"] == "event" && i["type"] == "positions_stale")
            .cloned()
            .collect();
        assert!(events.len() <= n, "more stale events than {n}: {events:#?}");
        if events.len() == n {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn stale_of(event: &Value) -> Vec<&str> {
    event["data"]["stale"]
        .as_array()
        .expect("stale")
        .iter()
        .map(|e| e.as_str().expect("code"))
        .collect()
}

/// A named version closes every open run of edits: an edit seconds after
/// it (well within the 30 s of a run) is a revision of its own, listed
/// after the version. An edit that makes current positions stale is a
/// `positions_stale` event naming those entities (in the draft's order)
/// and the edit's author — also for the first edit the server sees after
/// a restart — and only positions that were current count.
async fn versions_close_runs_and_stale_positions_are_told(db: Db) {
    let mut s = Setup::new(db).await;
    let draft = s.server.draft().await;
    let a_id = draft["elements"][0]["id"].as_str().expect("id").to_owned();
    let a_doc = crate::harness::doc_id_of(&draft["elements"][0]["doc_url"]);
    let b_id = draft["elements"][1]["id"].as_str().expect("id").to_owned();
    let b_doc = crate::harness::doc_id_of(&draft["elements"][1]["doc_url"]);
    let alice_token = s.server.session_for("alice", "delegate", Some("IOM")).await;
    let bob_token = s.server.session_for("bob", "delegate", Some("ILO")).await;
    let carol_token = s
        .server
        .session_for("carol", "delegate", Some("UNHCR"))
        .await;
    let mut alice = Client::connect_with(&s.server, &alice_token).await;
    let mut bob = Client::connect_with(&s.server, &bob_token).await;
    alice.open(&a_doc).await;
    alice.open(&b_doc).await;
    bob.open(&b_doc).await;

    // --- A run of edits, Rev.A, the same user again at once.
    alice.append(&a_doc, " one").await;
    s.server
        .wait_element_heads(&a_doc, &alice.heads(&a_doc))
        .await;
    let resp = s
        .server
        .request(
            "POST",
            &format!("/api/v1/drafts/{}/versions", s.draft),
            Some(&s.chair),
            Some(&json!({ "name": "Rev.A" })),
        )
        .await;
    assert_eq!(resp.status, 201, "{}", resp.body);
    let named_at = resp.json()["created_at"]
        .as_str()
        .expect("created_at")
        .to_owned();
    alice.append(&a_doc, " two").await;
    s.server
        .wait_element_heads(&a_doc, &alice.heads(&a_doc))
        .await;
    let all = s.get(&format!("/api/v1/drafts/{}/history", s.draft)).await;
    let items = all["items"].as_array().expect("items");
    let alices: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| i["kind"] == "revision" && i["user_name"] == "alice")
        .map(|(n, _)| n)
        .collect();
    assert_eq!(alices.len(), 2, "two revisions, split by Rev.A: {all:#}");
    let version = items
        .iter()
        .position(|i| i["type"] == "version_named" && i["data"]["name"] == "Rev.A")
        .expect("Rev.A is in the timeline");
    assert!(
        alices[0] < version && version < alices[1],
        "revision, Rev.A, revision: {all:#}"
    );
    let (first, second) = (&items[alices[0]], &items[alices[1]]);
    assert!(first["end"].as_str() <= Some(named_at.as_str()), "{first}");
    assert!(
        second["start"].as_str() >= Some(named_at.as_str()),
        "{second}"
    );
    assert_eq!(
        (first["inserted"].as_i64(), second["inserted"].as_i64()),
        (Some(4), Some(4))
    );
    assert_eq!(second["element"], a_id.as_str());
    // Without a version in between, a run goes on as before.
    alice.append(&a_doc, " three").await;
    s.server
        .wait_element_heads(&a_doc, &alice.heads(&a_doc))
        .await;
    let history = s
        .get(&format!(
            "/api/v1/drafts/{}/history?element={a_id}&user={}",
            s.draft,
            first["user"].as_str().expect("user")
        ))
        .await;
    let revs = revisions(&history);
    assert_eq!(revs.len(), 2, "{history:#}");
    assert_eq!(revs[1]["inserted"], 10, "' two' and ' three'");

    // --- UNHCR supports (b); Bob (ILO) edits it, the first edit of (b)
    // the server sees: UNHCR's position went stale.
    state_position(&s, 1, "UNHCR", &carol_token, "support").await;
    bob.settle().await;
    bob.append(&b_doc, " Bob.").await;
    s.server
        .wait_element_heads(&b_doc, &bob.heads(&b_doc))
        .await;
    let events = stale_events(&s, &b_id, 1).await;
    assert_eq!(stale_of(&events[0]), ["UNHCR"]);
    assert_eq!(events[0]["user_name"], "bob");
    assert_eq!(events[0]["entity"], "ILO");
    assert_eq!(events[0]["element"], b_id.as_str());
    let bobs = s
        .get(&format!(
            "/api/v1/drafts/{}/history?element={b_id}&entity=ILO",
            s.draft
        ))
        .await;
    let bob_rev = revisions(&bobs)[0]["id"].clone();
    assert_eq!(events[0]["data"]["revision"], bob_rev, "{bobs:#}");

    // IOM supports and ILO reserves on the new text; Alice's edit makes
    // both stale (UNHCR's was stale already), her next one nothing more.
    state_position(&s, 1, "IOM", &alice_token, "support").await;
    state_position(&s, 1, "ILO", &bob_token, "reservation").await;
    alice.settle().await;
    alice.append(&b_doc, " Alice.").await;
    s.server
        .wait_element_heads(&b_doc, &alice.heads(&b_doc))
        .await;
    let events = stale_events(&s, &b_id, 2).await;
    assert_eq!(stale_of(&events[1]), ["IOM", "ILO"], "in the draft's order");
    assert_eq!(events[1]["user_name"], "alice");
    assert_eq!(events[1]["entity"], "IOM");
    assert_ne!(
        events[1]["data"]["text_hash"],
        events[1]["data"]["previous_text_hash"]
    );
    alice.append(&b_doc, " Again.").await;
    s.server
        .wait_element_heads(&b_doc, &alice.heads(&b_doc))
        .await;

    // The stale notice is listed after the edit that caused it, and the
    // filters find it by element and by the editor.
    let by_alice = s
        .get(&format!(
            "/api/v1/drafts/{}/history?user={}",
            s.draft,
            events[1]["user"].as_str().expect("user")
        ))
        .await;
    assert!(
        by_alice["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["type"] == "positions_stale"),
        "{by_alice:#}"
    );

    // --- IOM supports the text again; after a restart, the first edit the
    // server sees makes it stale.
    state_position(&s, 1, "IOM", &alice_token, "support").await;
    drop(alice);
    drop(bob);
    s.server.restart().await;
    let mut alice = Client::connect_with(&s.server, &alice_token).await;
    alice.open(&b_doc).await;
    alice.append(&b_doc, " After.").await;
    s.server
        .wait_element_heads(&b_doc, &alice.heads(&b_doc))
        .await;
    let events = stale_events(&s, &b_id, 3).await;
    assert_eq!(stale_of(&events[2]), ["IOM"]);
    assert_eq!(events[2]["user_name"], "alice");

    // Another restart: that position's going stale was told already, so
    // the first edit after it tells nothing; a position stated since goes
    // stale on the next edit.
    drop(alice);
    s.server.restart().await;
    let mut alice = Client::connect_with(&s.server, &alice_token).await;
    alice.open(&b_doc).await;
    alice.append(&b_doc, " Restarted.").await;
    s.server
        .wait_element_heads(&b_doc, &alice.heads(&b_doc))
        .await;
    state_position(&s, 1, "ILO", &bob_token, "support_ad_ref").await;
    alice.settle().await;
    alice.append(&b_doc, " Last.").await;
    s.server
        .wait_element_heads(&b_doc, &alice.heads(&b_doc))
        .await;
    let events = stale_events(&s, &b_id, 4).await;
    assert_eq!(stale_of(&events[3]), ["ILO"]);
    // Nothing more comes.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(stale_events(&s, &b_id, 4).await.len(), 4);
}
on_both_backends!(versions_close_runs_and_stale_positions_are_told, 180);

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Exports of the current text and of a named version: Markdown escapes
/// brackets, HTML is a page with the annex, Akoma Ntoso validates against
/// the OASIS schema; the CLI writes the same files.
#[tokio::test]
async fn exports_render_the_text_and_annex_at_a_version() {
    within(180, async {
        let s = Setup::new(Db::sqlite()).await;
        let element = s.server.draft().await["elements"][0].clone();
        let element_id = element["id"].as_str().expect("id").to_owned();
        let doc = crate::harness::doc_id_of(&element["doc_url"]);
        let iom = s.server.session_for("ana", "delegate", Some("IOM")).await;
        let ilo = s.server.session_for("ilo-d", "delegate", Some("ILO")).await;
        let mut client = Client::connect_with(&s.server, &iom).await;
        client.open(&doc).await;
        let hash = client.append(&doc, " [option A]").await;
        s.server.wait_element_heads(&doc, &[hash]).await;
        let e = s.server.draft().await["elements"][0].clone();
        for (token, entity, body) in [
            (&iom, "IOM", json!({ "position": "support" })),
            (
                &ilo,
                "ILO",
                json!({ "position": "reservation", "note": "labour <rights> & more" }),
            ),
        ] {
            let mut body = body;
            body["text_hash"] = e["text_hash"].clone();
            body["heads"] = e["heads"].clone();
            let resp = s
                .server
                .request(
                    "PUT",
                    &format!(
                        "/api/v1/drafts/{}/elements/{element_id}/positions/{entity}",
                        s.draft
                    ),
                    Some(token),
                    Some(&body),
                )
                .await;
            assert_eq!(resp.status, 201, "{}", resp.body);
        }
        let resp = s
            .server
            .request(
                "POST",
                &format!("/api/v1/drafts/{}/versions", s.draft),
                Some(&s.chair),
                Some(&json!({ "name": "Rev.1" })),
            )
            .await;
        assert_eq!(resp.status, 201);
        client.append(&doc, " after Rev.1").await;

        let get = |q: &str| {
            let path = format!("/api/v1/drafts/{}/export?{q}", s.draft);
            let s = &s;
            async move {
                s.server
                    .request("GET", &path, Some(&s.reviewer), None)
                    .await
            }
        };
        let md = get("format=md").await;
        assert_eq!(md.status, 200, "{}", md.body);
        assert!(
            md.header("content-type")
                .unwrap_or_default()
                .starts_with("text/markdown")
        );
        assert!(
            md.body.contains("\\[option A\\]"),
            "brackets escaped:\n{}",
            md.body
        );
        assert!(md.body.contains("after Rev.1"));
        let md_rev1 = get("format=md&version=Rev.1").await;
        assert!(!md_rev1.body.contains("after Rev.1"), "{}", md_rev1.body);
        assert!(md_rev1.body.contains("\\[option A\\]"));

        let html = get("format=html&version=Rev.1").await;
        assert_eq!(html.status, 200);
        assert!(
            html.body.starts_with("<!doctype html>") || html.body.starts_with("<!DOCTYPE html>")
        );
        assert!(
            html.body.contains("labour &lt;rights&gt; &amp; more"),
            "the note, escaped"
        );
        assert!(!html.body.contains("<script"));

        let akn = get("format=akn&version=Rev.1").await;
        assert_eq!(akn.status, 200);
        assert!(
            akn.body.contains("authorialNote"),
            "the reservation is an authorial note"
        );
        assert!(akn.body.contains("TLCOrganization"));
        let dir = tempfile::tempdir().expect("a temp dir");
        let file = dir.path().join("export.xml");
        std::fs::write(&file, &akn.body).expect("writing the export");
        let schema = std::env::var("ACCORD_AKN_XSD").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../crates/export/tests/data/akn/akomantoso30.xsd"
            )
            .into()
        });
        let check = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", &schema])
            .arg(&file)
            .output()
            .expect("xmllint (Debian's libxml2-utils) must be installed");
        assert!(
            check.status.success(),
            "the Akoma Ntoso export does not validate: {}",
            String::from_utf8_lossy(&check.stderr)
        );

        let bad = get("format=pdf").await;
        assert_eq!(bad.status, 400);

        // The CLI writes the same Markdown for the named version.
        let out = dir.path().join("rev1.md");
        let (ok, stdout, stderr) = s
            .server
            .cli(&[
                "export",
                &s.draft,
                "--format",
                "md",
                "--version",
                "Rev.1",
                "--out",
                out.to_str().expect("path"),
            ])
            .await;
        assert!(ok, "{stdout}{stderr}");
        let written = std::fs::read_to_string(&out).expect("the export file");
        assert_eq!(written, md_rev1.body);
    })
    .await;
}
