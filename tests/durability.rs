//! What the server acknowledged survives a graceful restart and `kill -9`.

use crate::harness::{Client, Db, TestServer, hex_heads, on_both_backends, within};

/// Edits, SIGTERM, start again: the edits are there, and the scenario is
/// not loaded a second time.
async fn graceful_restart_keeps_everything(db: Db) {
    let mut server = TestServer::start(db).await;
    let draft_before = server.draft().await;
    let doc = server.element_doc(3).await;

    let mut a = Client::connect(&server).await;
    a.open(&doc).await;
    a.insert(&doc, 0, "Kept across restarts. ").await;
    a.append(&doc, " [end]").await;
    server.wait_element_heads(&doc, &a.heads(&doc)).await;
    let text = a.text(&doc);
    let heads = hex_heads(&a.heads(&doc));

    server.restart().await;
    // The old connection was closed by the shutdown.
    a.expect_closed().await;

    let mut fresh = Client::connect(&server).await;
    fresh.open(&doc).await;
    assert_eq!(fresh.text(&doc), text);
    assert_eq!(hex_heads(&fresh.heads(&doc)), heads);
    assert_eq!(server.element_state(&doc).await, (text, heads));

    let drafts = server.get_json("/api/v1/drafts").await;
    let drafts = drafts.as_array().expect("a list of drafts");
    assert_eq!(drafts.len(), 1, "the scenario was loaded once: {drafts:?}");
    assert_eq!(drafts[0]["id"], draft_before["id"]);
    assert_eq!(drafts[0]["index_url"], draft_before["index_url"]);
    assert_eq!(drafts[0]["elements"].as_array().map(Vec::len), Some(8));
    let entities = server.get_json("/api/v1/entities").await;
    assert_eq!(entities.as_array().map(Vec::len), Some(28));
}
on_both_backends!(graceful_restart_keeps_everything, 90);

/// How the typist learns that the server has its last keystroke.
#[derive(Clone, Copy, Debug)]
enum Confirmation {
    /// The heads of the server's sync messages include the last change.
    SyncHeads,
    /// The API reports the typist's heads (independent of sync replies).
    Api,
}

/// Typing, then SIGKILL right after the server confirmed the last
/// keystroke: nothing confirmed is lost, and the typist's client, syncing
/// again with the same local document, converges without duplicates.
async fn kill_9_loses_nothing_confirmed(confirmation: Confirmation) {
    let mut server = TestServer::start(Db::sqlite()).await;
    let doc = server.element_doc(4).await;
    let (original, _) = server.element_state(&doc).await;

    let mut typist = Client::connect(&server).await;
    typist.open(&doc).await;
    let mut typed = String::new();
    let mut last = None;
    for i in 0..200u8 {
        let ch = char::from(b'a' + i % 26);
        typed.push(ch);
        last = Some(typist.append(&doc, &ch.to_string()).await);
        typist.drain_ready().await;
    }
    let last = last.expect("typed something");
    match confirmation {
        Confirmation::SyncHeads => {
            typist
                .wait_until(
                    &doc,
                    "the server's heads to include the last keystroke",
                    |d| d.server_heads().contains(&last),
                )
                .await;
        }
        Confirmation::Api => server.wait_element_heads(&doc, &typist.heads(&doc)).await,
    }
    server.kill9().await;

    let expected = format!("{original}{typed}");
    assert_eq!(typist.text(&doc), expected);
    server.start_again().await;

    let mut fresh = Client::connect(&server).await;
    fresh.open(&doc).await;
    assert_eq!(
        fresh.text(&doc),
        expected,
        "a fresh client sees every keystroke"
    );
    assert_eq!(fresh.heads(&doc), typist.heads(&doc));

    // The typist reconnects with its local document and a fresh sync state.
    let local = typist.take_doc(&doc);
    let mut again = Client::connect(&server).await;
    again.open_with(&doc, local).await;
    assert_eq!(again.text(&doc), expected, "no duplicated text");
    server.wait_element_heads(&doc, &again.heads(&doc)).await;
    assert_eq!(server.element_state(&doc).await.0, expected);
}

#[tokio::test]
async fn kill_9_after_sync_ack_loses_nothing() {
    within(120, kill_9_loses_nothing_confirmed(Confirmation::SyncHeads)).await;
}

#[tokio::test]
async fn kill_9_after_api_confirms_loses_nothing() {
    within(120, kill_9_loses_nothing_confirmed(Confirmation::Api)).await;
}
