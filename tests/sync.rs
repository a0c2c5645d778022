//! Live sync between clients through the server.

use accord_protocol::DocumentId;

use crate::harness::{Client, Db, TestServer, cbor, hex_heads, on_both_backends, within};

/// Two clients on one element see each other's edits, and the server's API
/// reports exactly the text and heads they converged on.
async fn two_clients_converge(db: Db) {
    let server = TestServer::start(db).await;
    let doc = server.element_doc(0).await;
    let (original, _) = server.element_state(&doc).await;

    let mut a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    a.open(&doc).await;
    b.open(&doc).await;
    assert_eq!(a.text(&doc), original);
    assert_eq!(b.text(&doc), original);

    a.insert(&doc, 0, "Alice: ").await;
    b.wait_until(&doc, "Alice's edit", |d| d.text().starts_with("Alice: "))
        .await;
    b.append(&doc, " (Bob)").await;
    a.wait_until(&doc, "Bob's edit", |d| d.text().ends_with(" (Bob)"))
        .await;
    server.wait_element_heads(&doc, &a.heads(&doc)).await;

    let expected = format!("Alice: {original} (Bob)");
    assert_eq!(a.text(&doc), expected);
    assert_eq!(b.text(&doc), expected);
    assert_eq!(a.heads(&doc), b.heads(&doc));

    let (text, heads) = server.element_state(&doc).await;
    assert_eq!(text, expected, "the API's text");
    assert_eq!(heads, hex_heads(&a.heads(&doc)), "the API's heads");
}
on_both_backends!(two_clients_converge, 60);

/// A client that joins after edits gets the full state.
#[tokio::test]
async fn late_joiner_gets_full_state() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(1).await;
        let mut a = Client::connect(&server).await;
        a.open(&doc).await;
        for word in ["one ", "two ", "three "] {
            a.insert(&doc, 0, word).await;
        }
        server.wait_element_heads(&doc, &a.heads(&doc)).await;

        let mut c = Client::connect(&server).await;
        c.open(&doc).await;
        assert!(a.text(&doc).starts_with("three two one "));
        assert_eq!(c.text(&doc), a.text(&doc));
        assert_eq!(c.heads(&doc), a.heads(&doc));
    })
    .await;
}

/// Documents the server did not create are unavailable, and asking for one
/// does not harm the connection.
#[tokio::test]
async fn unknown_documents_are_unavailable() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let mut client = Client::connect(&server).await;

        let never_created = DocumentId::random().to_string();
        client.expect_unavailable(&never_created).await;
        client.expect_unavailable("this-is-not-a-document-id").await;
        assert!(client.errors.is_empty(), "errors: {:?}", client.errors);
        assert!(!client.is_closed());

        let doc = server.element_doc(2).await;
        client.open(&doc).await;
        let (text, heads) = server.element_state(&doc).await;
        assert_eq!(client.text(&doc), text);
        assert_eq!(hex_heads(&client.heads(&doc)), heads);
    })
    .await;
}

/// `ephemeral` messages reach the other peers of that document unchanged
/// (but for the target), and nobody else.
#[tokio::test]
async fn ephemeral_messages_are_relayed_to_the_document_peers() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;
        let other = server.element_doc(1).await;
        let mut a = Client::connect(&server).await;
        let mut b = Client::connect(&server).await;
        let mut c = Client::connect(&server).await;
        a.open(&doc).await;
        b.open(&doc).await;
        c.open(&other).await;

        let data = cbor(&ciborium::Value::Map(vec![(
            ciborium::Value::Text("cursor".into()),
            ciborium::Value::Integer(42.into()),
        )]));
        a.send_ephemeral(&doc, "session-a", 7, &data).await;
        b.wait_for("the relayed ephemeral message", |c| {
            !c.ephemerals.is_empty()
        })
        .await;
        let got = &b.ephemerals[0];
        assert_eq!(got.sender_id, a.peer_id);
        assert_eq!(got.target_id, b.peer_id);
        assert_eq!(got.document_id, doc);
        // Session and count are the server's for A's connection, not what
        // A claimed.
        assert_ne!(got.session_id, "session-a");
        assert_eq!(got.count, 1);
        assert_eq!(got.data, data);

        // Nobody else hears it (a negative can only be bounded by silence).
        c.settle().await;
        a.settle().await;
        assert!(c.ephemerals.is_empty(), "C got {:?}", c.ephemerals);
        assert!(a.ephemerals.is_empty(), "A got its own: {:?}", a.ephemerals);
    })
    .await;
}

/// A second connection with the same peer id replaces the first.
#[tokio::test]
async fn same_peer_id_replaces_the_old_connection() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(0).await;
        let peer = format!("tab-{}", uuid::Uuid::new_v4().simple());
        let mut first = Client::connect_as(&server, &peer).await;
        first.open(&doc).await;

        let mut second = Client::connect_as(&server, &peer).await;
        let closed = first.expect_closed().await;
        assert!(
            closed.code.is_some(),
            "closed with a close frame: {closed:?}"
        );

        second.open(&doc).await;
        second.append(&doc, " (second tab)").await;
        let mut watcher = Client::connect(&server).await;
        watcher.open(&doc).await;
        watcher
            .wait_until(&doc, "the second tab's edit", |d| {
                d.text().ends_with(" (second tab)")
            })
            .await;
    })
    .await;
}

/// The server tells a client that it has stored the client's change: its
/// next sync message for the document carries heads that include it (the
/// stock client's sync state, and any "saved" indicator, rely on that).
#[tokio::test]
async fn server_acknowledges_a_clients_change() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(5).await;
        let mut a = Client::connect(&server).await;
        a.open(&doc).await;
        let hash = a.append(&doc, " (acknowledged?)").await;
        server.wait_element_heads(&doc, &a.heads(&doc)).await;
        a.wait_until(&doc, "a sync message whose heads include the change", |d| {
            d.server_heads().contains(&hash)
        })
        .await;
        assert!(a.doc(&doc).in_sync_with_server());
    })
    .await;
}
