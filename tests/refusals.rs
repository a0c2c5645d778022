//! The two kinds of refusal: protocol violations get `error` and a close;
//! content refusals get a notice and a read-only sync state, and the
//! connection stays.

use accord_protocol::{DocMessage, Message};
use automerge::sync::MessageFlags;
use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};
use ciborium::Value;

use crate::harness::{Client, Db, TestServer, cbor, join, within};

/// Sends `frame` on a fresh connection (joined or not) and expects an
/// `error` message followed by a close.
async fn expect_protocol_error(server: &TestServer, joined: bool, label: &str, frame: Frame) {
    let mut bad = if joined {
        Client::connect(server).await
    } else {
        Client::connect_raw(server).await
    };
    match frame {
        Frame::Binary(bytes) => bad.send_frame(bytes).await,
        Frame::Text(text) => bad.send_text(&text).await,
    };
    let closed = bad.expect_closed().await;
    assert!(
        !bad.errors.is_empty(),
        "{label}: an `error` message before the close; closed {closed:?}"
    );
    assert_eq!(
        closed.code,
        Some(1002),
        "{label}: closed as a protocol error"
    );
}

enum Frame {
    Binary(Vec<u8>),
    Text(String),
}

fn map(entries: &[(&str, Value)]) -> Vec<u8> {
    cbor(&Value::Map(
        entries
            .iter()
            .map(|(k, v)| (Value::Text((*k).into()), v.clone()))
            .collect(),
    ))
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// Malformed frames close only the connection that sent them; clients
/// connected at the same time keep syncing.
#[tokio::test]
async fn malformed_frames_close_only_their_connection() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;
        let mut a = Client::connect(&server).await;
        let mut b = Client::connect(&server).await;
        a.open(&doc).await;
        b.open(&doc).await;

        let garbage_sync = |peer: &str| {
            Message::Sync(DocMessage {
                sender_id: peer.into(),
                target_id: "server".into(),
                document_id: doc.clone(),
                data: b"garbage, not a sync message".to_vec(),
            })
            .encode()
        };
        let frames = vec![
            (
                "random bytes",
                Frame::Binary(vec![0xff, 0x13, 0x9a, 0x00, 0x42, 0xde, 0xad, 0xbe, 0xef]),
            ),
            (
                "a CBOR map of unknown type",
                Frame::Binary(map(&[
                    ("type", text("no-such-type")),
                    ("senderId", text("x")),
                ])),
            ),
            (
                "sync with garbage data",
                Frame::Binary(garbage_sync("bad-peer")),
            ),
            ("a text frame", Frame::Text("{\"type\":\"sync\"}".into())),
        ];
        for (i, (label, frame)) in frames.into_iter().enumerate() {
            expect_protocol_error(&server, true, label, frame).await;

            // The others are unaffected.
            let marker = format!(" <{i}>");
            a.append(&doc, &marker).await;
            b.wait_until(&doc, "A's edit after a malformed frame", |d| {
                d.text().ends_with(&marker)
            })
            .await;
            assert!(!a.is_closed() && !b.is_closed());
        }
        assert!(a.errors.is_empty() && b.errors.is_empty());
    })
    .await;
}

/// Handshake violations: wrong version, a first message that is not
/// `join`, a text frame.
#[tokio::test]
async fn handshake_violations_get_error_and_close() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;

        expect_protocol_error(
            &server,
            false,
            "join offering only version 2",
            Frame::Binary(join("peer-v2", &["2"]).encode()),
        )
        .await;
        let request = Message::Request(DocMessage {
            sender_id: "peer-no-join".into(),
            target_id: "server".into(),
            document_id: doc.clone(),
            data: Vec::new(),
        });
        expect_protocol_error(
            &server,
            false,
            "request before join",
            Frame::Binary(request.encode()),
        )
        .await;
        expect_protocol_error(
            &server,
            false,
            "a text frame first",
            Frame::Text("join".into()),
        )
        .await;
        // `join` twice is a violation too. After the handshake the error and
        // the close go through the connection's queue: try a few times, so
        // a race between them and the socket's teardown shows.
        for _ in 0..5 {
            expect_protocol_error(
                &server,
                true,
                "a second join",
                Frame::Binary(join("again", &["1"]).encode()),
            )
            .await;
        }

        // The server still serves well-behaved clients.
        let mut ok = Client::connect(&server).await;
        ok.open(&doc).await;
        assert!(!ok.text(&doc).is_empty());
    })
    .await;
}

/// A change that writes outside the text is refused with a notice, the
/// connection turns read-only for that document only, and nothing is stored.
#[tokio::test]
async fn invalid_change_is_refused_and_the_connection_stays() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc_a = server.element_doc(0).await;
        let doc_b = server.element_doc(1).await;
        let (text_a, heads_a) = server.element_state(&doc_a).await;

        let mut evil = Client::connect(&server).await;
        let mut other = Client::connect(&server).await;
        evil.open(&doc_a).await;
        evil.open(&doc_b).await;
        other.open(&doc_b).await;
        assert!(
            evil.doc(&doc_a)
                .from_server
                .iter()
                .all(|m| m.flags & MessageFlags::READ_ONLY == 0),
            "element documents are writable at first"
        );

        let seen = evil.doc(&doc_a).from_server.len();
        let evil_hash = evil
            .edit(&doc_a, |doc, _| {
                doc.put(ROOT, "evil", 1).expect("put");
            })
            .await;
        evil.wait_for("the refusal notice", |c| !c.notices.is_empty())
            .await;
        let notice = evil.notices[0].clone();
        assert_eq!(notice.document_id, doc_a);
        assert_eq!(notice.code, "invalid_change");
        assert!(!notice.message.is_empty());
        let notice_message = evil
            .ephemerals
            .iter()
            .find(|e| e.sender_id == evil.server_peer_id)
            .expect("the notice is an ephemeral message from the server");
        assert_eq!(notice_message.target_id, evil.peer_id);

        evil.wait_until(&doc_a, "a READ_ONLY sync message", |d| {
            d.from_server[seen..]
                .iter()
                .any(|m| m.flags & MessageFlags::READ_ONLY != 0)
        })
        .await;
        evil.settle().await;
        assert!(!evil.is_closed(), "a content refusal keeps the connection");
        assert!(evil.errors.is_empty(), "errors: {:?}", evil.errors);
        assert!(
            !evil.doc(&doc_a).server_heads().contains(&evil_hash),
            "the server never reports the refused change"
        );

        // Nothing was stored.
        assert_eq!(
            server.element_state(&doc_a).await,
            (text_a.clone(), heads_a)
        );
        let mut fresh = Client::connect(&server).await;
        fresh.open(&doc_a).await;
        assert_eq!(fresh.text(&doc_a), text_a);
        assert!(
            fresh
                .doc(&doc_a)
                .doc
                .get(ROOT, "evil")
                .expect("get")
                .is_none(),
            "a fresh client does not see the refused change"
        );

        // The same connection keeps syncing another element, both ways.
        evil.append(&doc_b, " [from the refused connection]").await;
        other
            .wait_until(&doc_b, "the edit on (b)", |d| {
                d.text().ends_with(" [from the refused connection]")
            })
            .await;
        other.insert(&doc_b, 0, "[other] ").await;
        evil.wait_until(&doc_b, "the other client's edit on (b)", |d| {
            d.text().starts_with("[other] ")
        })
        .await;
        assert!(!evil.is_closed());
    })
    .await;
}

/// Text beyond `--max-text-chars` is refused as `too_large`.
#[tokio::test]
async fn oversize_text_is_refused_as_too_large() {
    within(60, async {
        let server = TestServer::start_with(Db::sqlite(), &["--max-text-chars", "1000"]).await;
        let doc = server.element_doc(0).await;
        let (original, heads) = server.element_state(&doc).await;
        assert!(original.chars().count() < 1000);

        let mut client = Client::connect(&server).await;
        client.open(&doc).await;
        // Within the limit: accepted.
        client.append(&doc, " ok").await;
        server
            .wait_element_text(&doc, "the accepted edit", |t| t.ends_with(" ok"))
            .await;
        let (accepted, accepted_heads) = server.element_state(&doc).await;
        assert_ne!(accepted_heads, heads);

        let big = "x".repeat(1001 - accepted.chars().count());
        client.append(&doc, &big).await;
        client
            .wait_for("the too_large notice", |c| !c.notices.is_empty())
            .await;
        assert_eq!(client.notices[0].code, "too_large");
        assert_eq!(client.notices[0].document_id, doc);
        client.settle().await;
        assert!(!client.is_closed());
        assert_eq!(
            server.element_state(&doc).await,
            (accepted, accepted_heads),
            "the oversize change is not stored"
        );
    })
    .await;
}

/// The index document is written only by the server: it is served
/// read-only and any change to it is refused with `read_only`.
#[tokio::test]
async fn index_document_changes_are_refused() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let index = server.index_doc().await;
        let title = server.draft().await["title"]
            .as_str()
            .expect("title")
            .to_owned();

        let mut client = Client::connect(&server).await;
        client.open(&index).await;
        {
            let d = client.doc(&index);
            let (_, title_obj) = d.doc.get(ROOT, "title").expect("get").expect("a title");
            assert_eq!(d.doc.text(title_obj).expect("text"), title);
            assert!(
                d.from_server
                    .iter()
                    .any(|m| m.flags & MessageFlags::READ_ONLY != 0),
                "the server syncs the index read-only"
            );
        }

        let hash = client.edit_local(&index, |doc, _| {
            doc.put(ROOT, "hacked", true).expect("put");
        });
        // The sync state obeys READ_ONLY and would not send it: push it by hand.
        let change = client
            .doc_mut(&index)
            .doc
            .get_change_by_hash(&hash)
            .expect("the local change")
            .raw_bytes()
            .to_vec();
        client.push_changes(&index, vec![change]).await;
        client
            .wait_for("the read_only notice", |c| !c.notices.is_empty())
            .await;
        assert_eq!(client.notices[0].code, "read_only");
        assert_eq!(client.notices[0].document_id, index);
        client.settle().await;
        assert!(!client.is_closed());

        let mut fresh = Client::connect(&server).await;
        fresh.open(&index).await;
        let d = fresh.doc_mut(&index);
        assert!(d.doc.get(ROOT, "hacked").expect("get").is_none());
        assert!(d.doc.get_change_by_hash(&hash).is_none());
    })
    .await;
}
