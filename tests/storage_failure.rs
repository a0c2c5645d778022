//! A real storage failure in the middle of a session: the commit fails, the
//! delivering connection is closed, nothing uncommitted leaks, and the client
//! re-offers its change once storage works again.

use crate::harness::{Backend, Client, Db, TestServer, hex_heads, on_both_backends};

const FAIL_SQLITE: &str = "CREATE TRIGGER fail_changes BEFORE INSERT ON changes \
     BEGIN SELECT RAISE(ABORT, 'injected storage failure'); END;";
const HEAL_SQLITE: &str = "DROP TRIGGER fail_changes;";
const FAIL_POSTGRES: &str = "CREATE FUNCTION fail_changes() RETURNS trigger LANGUAGE plpgsql AS \
     $$ BEGIN RAISE EXCEPTION 'injected storage failure'; END $$; \
     CREATE TRIGGER fail_changes BEFORE INSERT ON changes \
     FOR EACH ROW EXECUTE FUNCTION fail_changes();";
const HEAL_POSTGRES: &str = "DROP TRIGGER fail_changes ON changes; DROP FUNCTION fail_changes();";

async fn storage_failure_mid_stream(db: Db) {
    let (fail, heal) = match db.backend {
        Backend::Sqlite => (FAIL_SQLITE, HEAL_SQLITE),
        Backend::Postgres => (FAIL_POSTGRES, HEAL_POSTGRES),
    };
    let mut server = TestServer::start(db).await;
    let doc = server.element_doc(2).await;
    let mut writer = Client::connect(&server).await;
    let mut reader = Client::connect(&server).await;
    writer.open(&doc).await;
    reader.open(&doc).await;

    writer.append(&doc, " [before]").await;
    reader
        .wait_until(&doc, "the edit before the failure", |d| {
            d.text().ends_with(" [before]")
        })
        .await;
    server.wait_element_heads(&doc, &writer.heads(&doc)).await;
    assert_eq!(server.readyz().await, 200);

    server.db().execute(fail).await;
    let failed = writer.append(&doc, " [FAILED ONCE]").await;
    let closed = writer.expect_closed().await;
    assert_eq!(
        closed.code,
        Some(1011),
        "the delivering connection is closed as a server error: {closed:?}"
    );
    assert!(
        !writer.doc(&doc).server_heads().contains(&failed),
        "the server never acknowledged the failed change"
    );
    assert_eq!(
        server.readyz().await,
        503,
        "/readyz fails after a failed commit"
    );

    // Memory and disk agree: nobody sees the failed edit.
    let (text, _) = server.element_state(&doc).await;
    assert!(text.ends_with(" [before]"), "API text: {text:?}");
    assert!(!text.contains("FAILED"));
    reader.settle().await;
    assert!(!reader.is_closed(), "the other client stays connected");
    assert!(!reader.text(&doc).contains("FAILED"));

    // Storage heals; the writer reconnects with its local document and a
    // fresh sync state, and offers the change again.
    server.db().execute(heal).await;
    let local = writer.take_doc(&doc);
    let mut writer = Client::connect(&server).await;
    writer.open_with(&doc, local).await;
    server.wait_element_heads(&doc, &writer.heads(&doc)).await;
    reader
        .wait_until(&doc, "the re-offered edit", |d| {
            d.text().ends_with(" [FAILED ONCE]")
        })
        .await;
    let writer_heads = writer.heads(&doc);
    reader
        .wait_until(&doc, "convergence", |d| d.heads() == writer_heads)
        .await;
    assert_eq!(
        server.readyz().await,
        200,
        "/readyz recovers after a commit"
    );

    let text = writer.text(&doc);
    let heads = hex_heads(&writer.heads(&doc));
    assert_eq!(reader.text(&doc), text);
    assert_eq!(hex_heads(&reader.heads(&doc)), heads);
    assert_eq!(
        server.element_state(&doc).await,
        (text.clone(), heads.clone())
    );

    server.restart().await;
    assert_eq!(server.element_state(&doc).await, (text.clone(), heads));
    let mut fresh = Client::connect(&server).await;
    fresh.open(&doc).await;
    assert_eq!(fresh.text(&doc), text);
}
on_both_backends!(storage_failure_mid_stream, 90);
