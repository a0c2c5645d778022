//! Documents are snapshotted, leave memory when idle, and come back from
//! their snapshot on demand.

use crate::harness::{Client, Db, METRICS_TOKEN, TestServer, on_both_backends};

async fn metric(server: &TestServer, name: &str) -> Option<f64> {
    let body = server.metrics().await.body;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn idle_documents_are_snapshotted_evicted_and_reloaded(db: Db) {
    let server = TestServer::start_with(
        db,
        &[
            "--evict-secs",
            "1",
            "--snapshot-every",
            "10",
            "--metrics-token",
            METRICS_TOKEN,
        ],
    )
    .await;
    let doc = server.element_doc(4).await;
    let mut a = Client::connect(&server).await;
    a.open(&doc).await;
    for i in 0..25 {
        a.append(&doc, &format!(" {i}")).await;
    }
    server.wait_element_heads(&doc, &a.heads(&doc)).await;
    let text = a.text(&doc);
    let snapshots = format!("SELECT COUNT(*) FROM snapshots WHERE doc_id = '{doc}'");
    assert!(
        server.db().scalar_i64(&snapshots).await >= 1,
        "a snapshot is written every 10 changes while the document is open"
    );

    drop(a);
    // Every document (the API read loaded all eight) leaves memory.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while metric(&server, "accord_documents_loaded").await != Some(0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "documents were not evicted: {:?}",
            metric(&server, "accord_documents_loaded").await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The snapshot taken on eviction covers every stored change.
    let through = server
        .db()
        .scalar_i64(&format!(
            "SELECT through_seq FROM snapshots WHERE doc_id = '{doc}'"
        ))
        .await;
    let max_seq = server
        .db()
        .scalar_i64(&format!(
            "SELECT MAX(seq) FROM changes WHERE doc_id = '{doc}'"
        ))
        .await;
    assert_eq!(through, max_seq);

    // Loaded again on demand, from the snapshot.
    let mut b = Client::connect(&server).await;
    b.open(&doc).await;
    assert_eq!(b.text(&doc), text);
    assert!(metric(&server, "accord_documents_loaded").await >= Some(1.0));
    b.append(&doc, " [after reload]").await;
    server.wait_element_heads(&doc, &b.heads(&doc)).await;
}
on_both_backends!(idle_documents_are_snapshotted_evicted_and_reloaded, 90);
