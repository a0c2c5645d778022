//! Entities and drafts.

use super::*;

async fn entities_upsert_keeps_order(store: Store) {
    store.upsert_entities(&entities()).await.unwrap();
    assert_eq!(store.entities().await.unwrap(), entities());
    // Re-upsert in another order, with a renamed entity: the new order wins.
    let mut reordered = entities();
    reordered.reverse();
    reordered[0].name = "G-77 and China".into();
    store.upsert_entities(&reordered).await.unwrap();
    assert_eq!(store.entities().await.unwrap(), reordered);
}
test_both_dbs!(
    entities_upsert_keeps_order,
    sqlite_entities_upsert_keeps_order,
    postgres_entities_upsert_keeps_order
);

async fn create_draft_reads_back(store: Store) {
    let draft = setup_draft(&store).await;
    let second = new_draft("d2", 1);
    store.create_draft(&second).await.unwrap();

    let drafts = store.drafts().await.unwrap();
    assert_eq!(
        drafts.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    let d1 = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(d1.title, "Title of d1");
    assert_eq!(d1.preamble, "Recalling...");
    assert_eq!(d1.index_doc, "d1-index");
    assert!(d1.created_at > 1_600_000_000_000, "unix ms");
    assert_eq!(store.draft("nope").await.unwrap(), None);

    let elements = store.elements("d1").await.unwrap();
    assert_eq!(elements.len(), 3);
    for (i, el) in elements.iter().enumerate() {
        assert_eq!(
            el,
            &ElementRow {
                id: format!("d1-el-{i}"),
                draft_id: "d1".into(),
                position: i as i64,
                label: format!("OP{}", i + 1),
                doc_id: draft.elements[i].doc.id.clone(),
                archived: false,
                mode: "open".into(),
            }
        );
    }
    // Participants come back in entity (scenario) order, not insertion order.
    let participants = store.draft_entities("d1").await.unwrap();
    assert_eq!(
        participants
            .iter()
            .map(|e| e.code.as_str())
            .collect::<Vec<_>>(),
        ["US", "G77"]
    );

    assert_eq!(
        store.document("d1-index").await.unwrap(),
        Some(DocumentRow {
            id: "d1-index".into(),
            draft_id: "d1".into(),
            kind: DocKind::Index
        })
    );
    assert_eq!(
        store.document("d1-doc-el-2").await.unwrap().unwrap().kind,
        DocKind::Element
    );
    assert_eq!(store.document("nope").await.unwrap(), None);
}
test_both_dbs!(
    create_draft_reads_back,
    sqlite_create_draft_reads_back,
    postgres_create_draft_reads_back
);

async fn create_draft_is_atomic(store: Store) {
    store.upsert_entities(&entities()).await.unwrap();
    let mut bad = new_draft("d1", 2);
    bad.entity_codes.push("UNKNOWN".into()); // foreign key violation
    store.create_draft(&bad).await.unwrap_err();
    assert_eq!(store.draft("d1").await.unwrap(), None);
    assert_eq!(store.document("d1-index").await.unwrap(), None);
    assert_eq!(store.changes_count("d1-index").await.unwrap(), 0);
    // The same draft without the bad participant is created.
    bad.entity_codes.pop();
    store.create_draft(&bad).await.unwrap();
    assert_eq!(store.elements("d1").await.unwrap().len(), 2);
}
test_both_dbs!(
    create_draft_is_atomic,
    sqlite_create_draft_is_atomic,
    postgres_create_draft_is_atomic
);
