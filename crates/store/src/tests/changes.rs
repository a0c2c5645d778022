//! Committing changes, loading documents, snapshots and the change listing.

use super::*;

async fn load_document_returns_initial_changes(store: Store) {
    setup_draft(&store).await;
    let doc = store.load_document("d1-doc-el-1").await.unwrap().unwrap();
    assert_eq!(doc.snapshot, None);
    assert_eq!(doc.snapshot_through, 0);
    assert_eq!(
        doc.changes,
        [bytes("d1-doc-el-1-c1"), bytes("d1-doc-el-1-c2")]
    );
    assert!(doc.last_seq > 0);
    assert_eq!(store.max_seq("d1-doc-el-1").await.unwrap(), doc.last_seq);
    assert_eq!(store.max_seq("nope").await.unwrap(), 0);
    // The server's own changes carry no attribution.
    assert_eq!(
        attribution(&store, "d1-doc-el-1").await,
        [
            (bytes("d1-doc-el-1-h1"), None, None),
            (bytes("d1-doc-el-1-h2"), None, None)
        ]
    );
    assert_eq!(store.load_document("nope").await.unwrap(), None);
}
test_both_dbs!(
    load_document_returns_initial_changes,
    sqlite_load_document_returns_initial_changes,
    postgres_load_document_returns_initial_changes
);

async fn commit_is_idempotent_and_keeps_first_attribution(store: Store) {
    setup_draft(&store).await;
    let (a, b) = ("d1-doc-el-0", "d1-index");
    let batch = vec![
        delivered(a, "a1", "A1", "alice", 1),
        delivered(b, "b1", "B1", "alice", 1),
        delivered(a, "a2", "A2", "bob", 2),
        delivered(a, "a1", "A1", "bob", 2), // the same change twice in one batch
    ];
    let receipt = store.commit(&batch).await.unwrap();
    assert_eq!(receipt.stored, 3);
    assert!(receipt.committed_at > 1_600_000_000_000);
    assert_eq!(store.changes_count(a).await.unwrap(), 4);
    assert_eq!(store.changes_count(b).await.unwrap(), 3);

    // Another peer offers the same changes again: nothing is stored twice.
    let again: Vec<NewChange> = batch
        .iter()
        .map(|c| NewChange {
            user_id: Some("carol".into()),
            conn_id: Some(3),
            ..c.clone()
        })
        .collect();
    assert_eq!(store.commit(&again).await.unwrap().stored, 0);
    assert_eq!(store.changes_count(a).await.unwrap(), 4);
    assert_eq!(store.changes_count(b).await.unwrap(), 3);
    let attributed = attribution(&store, a).await;
    assert_eq!(
        attributed[2..],
        [
            (bytes("a1"), Some("alice".into()), Some(1)),
            (bytes("a2"), Some("bob".into()), Some(2)),
        ]
    );

    // Loading returns the changes in commit order.
    let doc = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(
        doc.changes,
        [
            bytes("d1-doc-el-0-c1"),
            bytes("d1-doc-el-0-c2"),
            bytes("A1"),
            bytes("A2")
        ]
    );
    // An empty batch is fine.
    assert_eq!(store.commit(&[]).await.unwrap().stored, 0);
}
test_both_dbs!(
    commit_is_idempotent_and_keeps_first_attribution,
    sqlite_commit_is_idempotent_and_keeps_first_attribution,
    postgres_commit_is_idempotent_and_keeps_first_attribution
);

async fn commit_large_batch(store: Store) {
    setup_draft(&store).await;
    // More rows than one multi-row INSERT holds.
    let batch: Vec<NewChange> = (0..CHANGES_PER_INSERT * 2 + 7)
        .map(|i| {
            let doc = if i % 2 == 0 {
                "d1-doc-el-0"
            } else {
                "d1-doc-el-1"
            };
            delivered(doc, &format!("h{i}"), &format!("c{i}"), "alice", 1)
        })
        .collect();
    let receipt = store.commit(&batch).await.unwrap();
    assert_eq!(receipt.stored, batch.len());
    let doc = store.load_document("d1-doc-el-1").await.unwrap().unwrap();
    let expected: Vec<Vec<u8>> = ["d1-doc-el-1-c1".to_string(), "d1-doc-el-1-c2".to_string()]
        .into_iter()
        .chain(
            (0..batch.len())
                .filter(|i| i % 2 == 1)
                .map(|i| format!("c{i}")),
        )
        .map(|s| s.into_bytes())
        .collect();
    assert_eq!(doc.changes, expected);
}
test_both_dbs!(
    commit_large_batch,
    sqlite_commit_large_batch,
    postgres_commit_large_batch
);

async fn snapshot_then_later_changes(store: Store) {
    setup_draft(&store).await;
    let a = "d1-doc-el-0";
    store
        .commit(&[delivered(a, "a1", "A1", "alice", 1)])
        .await
        .unwrap();
    let before = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(before.changes.len(), 3);
    store
        .save_snapshot(a, b"SNAPSHOT-1", before.last_seq)
        .await
        .unwrap();
    store
        .commit(&[
            delivered(a, "a2", "A2", "bob", 2),
            delivered(a, "a3", "A3", "bob", 2),
        ])
        .await
        .unwrap();

    let doc = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(doc.snapshot.as_deref(), Some(&b"SNAPSHOT-1"[..]));
    assert_eq!(doc.snapshot_through, before.last_seq);
    assert_eq!(doc.changes, [bytes("A2"), bytes("A3")]);
    assert!(doc.last_seq > before.last_seq);

    // A newer snapshot replaces it; an older one never moves it back.
    store
        .save_snapshot(a, b"SNAPSHOT-2", doc.last_seq)
        .await
        .unwrap();
    store
        .save_snapshot(a, b"STALE", before.last_seq)
        .await
        .unwrap();
    let doc2 = store.load_document(a).await.unwrap().unwrap();
    assert_eq!(doc2.snapshot.as_deref(), Some(&b"SNAPSHOT-2"[..]));
    assert_eq!(doc2.snapshot_through, doc.last_seq);
    assert!(doc2.changes.is_empty());
    assert_eq!(doc2.last_seq, doc.last_seq);
    // Changes are never deleted.
    assert_eq!(store.changes_count(a).await.unwrap(), 5);
}
test_both_dbs!(
    snapshot_then_later_changes,
    sqlite_snapshot_then_later_changes,
    postgres_snapshot_then_later_changes
);

async fn failed_commit_stores_nothing(store: Store) {
    setup_draft(&store).await;
    let (a, b) = ("d1-doc-el-0", "d1-doc-el-1");
    let batch = vec![
        delivered(a, "a1", "A1", "alice", 1),
        delivered(b, "b1", "B1", "bob", 2),
    ];
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_changes BEFORE INSERT ON changes \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_changes;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_changes() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_changes BEFORE INSERT ON changes \
             FOR EACH ROW EXECUTE FUNCTION fail_changes();",
            "DROP TRIGGER fail_changes ON changes; DROP FUNCTION fail_changes();",
        ),
    };
    exec_raw(&store, create).await;

    let err = store.commit(&batch).await.unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err:?}");
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.changes_count(a).await.unwrap(), 2);
    assert_eq!(store.changes_count(b).await.unwrap(), 2);
    assert_eq!(
        store.load_document(a).await.unwrap().unwrap().changes.len(),
        2
    );
    // Health still works: only inserts into `changes` fail.
    store.check_health().await.unwrap();

    exec_raw(&store, drop_trigger).await;
    assert_eq!(store.commit(&batch).await.unwrap().stored, 2);
    assert_eq!(store.changes_count(a).await.unwrap(), 3);
    assert_eq!(store.changes_count(b).await.unwrap(), 3);
    assert_eq!(
        attribution(&store, b).await[2],
        (bytes("b1"), Some("bob".into()), Some(2))
    );
}
test_both_dbs!(
    failed_commit_stores_nothing,
    sqlite_failed_commit_stores_nothing,
    postgres_failed_commit_stores_nothing
);

async fn concurrent_commits(store: Store) {
    setup_draft(&store).await;
    // Many writers at once: SQLite's single writer queues them (BEGIN
    // IMMEDIATE + busy timeout) instead of failing with SQLITE_BUSY.
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let doc = format!("d1-doc-el-{}", t % 3);
                    let c = delivered(&doc, &format!("t{t}-{i}"), "x", "alice", t);
                    assert_eq!(store.commit(&[c]).await.unwrap().stored, 1);
                    store.load_document(&doc).await.unwrap().unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut sum = 0;
    for i in 0..3 {
        sum += store
            .changes_count(&format!("d1-doc-el-{i}"))
            .await
            .unwrap();
    }
    assert_eq!(sum, 3 * 2 + 8 * 20);
}
test_both_dbs!(
    concurrent_commits,
    sqlite_concurrent_commits,
    postgres_concurrent_commits
);

async fn draft_changes_join_and_page(store: Store) {
    setup_bob(&store).await;
    store.create_draft(&new_draft("d1", 3)).await.unwrap();
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let receipt = store
        .commit(&[
            delivered("d1-doc-el-1", "x1", "X1", "u-bob", 1),
            delivered("d1-index", "x2", "X2", "u-ghost", 2),
            delivered("d2-doc-el-0", "y1", "Y1", "u-bob", 1),
        ])
        .await
        .unwrap();

    let all = store.draft_changes("d1", 0, 1000).await.unwrap();
    // 2 initial changes for the index and each of 3 elements, then 2 delivered.
    assert_eq!(all.len(), 2 * 4 + 2);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(all.iter().all(|c| c.doc_id.starts_with("d1-")));
    let initial = all
        .iter()
        .find(|c| c.hash == bytes("d1-doc-el-2-h1"))
        .unwrap();
    assert_eq!(
        (
            initial.element_id.as_deref(),
            initial.user_id.as_deref(),
            initial.user_name.as_deref()
        ),
        (Some("d1-el-2"), None, None)
    );
    let index_initial = all.iter().find(|c| c.hash == bytes("d1-index-h2")).unwrap();
    assert_eq!(index_initial.element_id, None);
    assert_eq!(
        all[8],
        ChangeInfo {
            seq: all[8].seq,
            hash: bytes("x1"),
            doc_id: "d1-doc-el-1".into(),
            element_id: Some("d1-el-1".into()),
            user_id: Some("u-bob".into()),
            user_name: Some("Bob".into()),
            entity_code: Some("EU".into()),
            committed_at: receipt.committed_at,
        }
    );
    assert_eq!(
        all[9],
        ChangeInfo {
            seq: all[9].seq,
            hash: bytes("x2"),
            doc_id: "d1-index".into(),
            element_id: None,
            user_id: Some("u-ghost".into()),
            user_name: None,
            entity_code: Some("EU".into()),
            committed_at: receipt.committed_at,
        }
    );

    // Pages by after_seq.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = store.draft_changes("d1", after, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(
        store.draft_changes("d2", 0, 1000).await.unwrap().len(),
        2 * 2 + 1
    );
    assert!(store.draft_changes("nope", 0, 10).await.unwrap().is_empty());
}
test_both_dbs!(
    draft_changes_join_and_page,
    sqlite_draft_changes_join_and_page,
    postgres_draft_changes_join_and_page
);
