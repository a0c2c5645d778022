//! Structure edits and their events.

use super::*;

async fn structure_edits(store: Store) {
    setup_draft(&store).await;
    let new_el = NewElement {
        id: "d1-el-new".into(),
        label: "OP4".into(),
        doc: NewDocument {
            id: "d1-doc-el-new".into(),
            kind: DocKind::Element,
            changes: vec![change("new-h1", "new-c1"), change("new-h2", "new-c2")],
        },
    };

    // Add an element (appended) and retitle, with the index change and an event.
    let at = store
        .apply_structure_at(
            &StructureEdit {
                draft_id: "d1".into(),
                index_changes: vec![index_change("ix1")],
                title: Some("New title".into()),
                new_elements: vec![new_el],
                events: vec![event("element_added", Some("d1-el-new"))],
                ..StructureEdit::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    assert!(at > 1_600_000_000_000);
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-new"])
    );
    let added = store.elements("d1").await.unwrap().pop().unwrap();
    assert_eq!(
        (added.label.as_str(), added.doc_id.as_str(), added.archived),
        ("OP4", "d1-doc-el-new", false)
    );
    assert_eq!(
        store.document("d1-doc-el-new").await.unwrap().unwrap(),
        DocumentRow {
            id: "d1-doc-el-new".into(),
            draft_id: "d1".into(),
            kind: DocKind::Element
        }
    );
    let doc = store.load_document("d1-doc-el-new").await.unwrap().unwrap();
    assert_eq!(doc.changes, [bytes("new-c1"), bytes("new-c2")]);
    assert_eq!(
        attribution(&store, "d1-index").await.last().unwrap(),
        &(bytes("ix1"), Some("u-chair".into()), Some(9))
    );
    let draft = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(
        (draft.title.as_str(), draft.preamble.as_str()),
        ("New title", "Recalling...")
    );
    // The server's change does not make the chair own the server's actor.
    assert!(store.actor_owners().await.unwrap().is_empty());
    let events = store.events("d1", 0, 100).await.unwrap();
    assert_eq!(
        events,
        [EventRow {
            seq: events[0].seq,
            draft_id: "d1".into(),
            kind: "element_added".into(),
            element_id: Some("d1-el-new".into()),
            user_id: Some("u-chair".into()),
            entity_code: None,
            data: r#"{"kind":"element_added"}"#.into(),
            at,
        }]
    );

    // Rename and reorder; preamble only.
    store
        .apply_structure_at(
            &StructureEdit {
                draft_id: "d1".into(),
                index_changes: vec![index_change("ix2")],
                preamble: Some("Noting...".into()),
                labels: vec![("d1-el-new".into(), "OP0".into())],
                order: Some(vec![
                    "d1-el-new".into(),
                    "d1-el-0".into(),
                    "d1-el-1".into(),
                    "d1-el-2".into(),
                ]),
                events: vec![
                    event("element_renamed", Some("d1-el-new")),
                    event("elements_reordered", None),
                ],
                ..StructureEdit::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-new", "d1-el-0", "d1-el-1", "d1-el-2"])
    );
    assert_eq!(store.elements("d1").await.unwrap()[0].label, "OP0");
    let draft = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(
        (draft.title.as_str(), draft.preamble.as_str()),
        ("New title", "Noting...")
    );

    // Archive: no longer listed, kept (with its position) by all_elements.
    store
        .apply_structure_at(
            &StructureEdit {
                draft_id: "d1".into(),
                archived: vec![("d1-el-1".into(), true)],
                order: Some(vec!["d1-el-new".into(), "d1-el-0".into(), "d1-el-2".into()]),
                events: vec![event("element_archived", Some("d1-el-1"))],
                ..StructureEdit::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-new", "d1-el-0", "d1-el-2"])
    );
    let all: Vec<(String, i64, bool)> = store
        .all_elements("d1")
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.position, e.archived))
        .collect();
    assert_eq!(
        all,
        [
            ("d1-el-new".into(), 0, false),
            ("d1-el-0".into(), 1, false),
            ("d1-el-2".into(), 2, false),
            ("d1-el-1".into(), 2, true),
        ]
    );
    // Archiving without a new order also hides it from elements().
    store
        .apply_structure_at(
            &StructureEdit {
                draft_id: "d1".into(),
                archived: vec![("d1-el-0".into(), true)],
                ..StructureEdit::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        [("d1-el-new".into(), 0), ("d1-el-2".into(), 2)]
    );

    // Restore both.
    store
        .apply_structure_at(
            &StructureEdit {
                draft_id: "d1".into(),
                archived: vec![("d1-el-1".into(), false), ("d1-el-0".into(), false)],
                order: Some(vec![
                    "d1-el-1".into(),
                    "d1-el-new".into(),
                    "d1-el-0".into(),
                    "d1-el-2".into(),
                ]),
                events: vec![event("element_restored", Some("d1-el-1"))],
                ..StructureEdit::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-1", "d1-el-new", "d1-el-0", "d1-el-2"])
    );
    assert_eq!(store.all_elements("d1").await.unwrap().len(), 4);
    assert_eq!(store.changes_count("d1-index").await.unwrap(), 4);

    // Events in order, paged by seq.
    let events = store.events("d1", 0, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "element_added",
            "element_renamed",
            "elements_reordered",
            "element_archived",
            "element_restored"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(
        store.events("d1", events[1].seq, 2).await.unwrap(),
        events[2..4]
    );
    assert!(
        store
            .events("d1", events[4].seq, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.events("d2", 0, 10).await.unwrap().is_empty());

    // record_event_at outside a structure edit.
    let recorded = store
        .record_event_at("d1", &event("silence_broken", None), now_ms())
        .await
        .unwrap();
    assert!(recorded.seq > events[4].seq);
    assert_eq!(
        store.events("d1", events[4].seq, 10).await.unwrap(),
        [recorded]
    );
}
test_both_dbs!(
    structure_edits,
    sqlite_structure_edits,
    postgres_structure_edits
);

async fn structure_edit_errors_write_nothing(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let edit = |f: &dyn Fn(&mut StructureEdit)| {
        let mut e = StructureEdit {
            draft_id: "d1".into(),
            title: Some("Changed".into()),
            index_changes: vec![index_change("ix-bad")],
            new_elements: vec![NewElement {
                id: "d1-el-x".into(),
                label: "X".into(),
                doc: NewDocument {
                    id: "d1-doc-el-x".into(),
                    kind: DocKind::Element,
                    changes: vec![change("x-h1", "x-c1")],
                },
            }],
            events: vec![event("element_added", Some("d1-el-x"))],
            ..StructureEdit::default()
        };
        f(&mut e);
        e
    };
    let order = |ids: &[&str]| Some(ids.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cases: Vec<(StructureEdit, &str)> = vec![
        (edit(&|e| e.draft_id = "nope".into()), "not found"),
        (
            edit(&|e| e.labels = vec![("d1-el-9".into(), "L".into())]),
            "not found",
        ),
        (
            edit(&|e| e.labels = vec![("d2-el-0".into(), "L".into())]),
            "not found",
        ),
        (
            edit(&|e| e.archived = vec![("nope".into(), true)]),
            "not found",
        ),
        (
            edit(&|e| e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-9"])),
            "not found",
        ),
        (
            edit(&|e| e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2"])),
            "invalid",
        ),
        (
            edit(&|e| e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-x", "d1-el-x"])),
            "invalid",
        ),
        (
            edit(&|e| {
                e.archived = vec![("d1-el-1".into(), true)];
                e.order = order(&["d1-el-0", "d1-el-1", "d1-el-2", "d1-el-x"]);
            }),
            "invalid",
        ),
        (
            edit(&|e| {
                e.index_changes = vec![NewChange {
                    doc_id: "d2-index".into(),
                    ..index_change("ix-d2")
                }]
            }),
            "invalid",
        ),
    ];
    for (i, (bad, expected)) in cases.iter().enumerate() {
        let err = store.apply_structure_at(bad, now_ms()).await.unwrap_err();
        let kind = match err {
            Error::NotFound(_) => "not found",
            Error::Invalid(_) => "invalid",
            _ => "other",
        };
        assert_eq!(kind, *expected, "case {i}: {err:?}");
    }
    // None of it was written.
    assert_eq!(
        store.draft("d1").await.unwrap().unwrap().title,
        "Title of d1"
    );
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-0", "d1-el-1", "d1-el-2"])
    );
    assert_eq!(store.all_elements("d1").await.unwrap().len(), 3);
    assert_eq!(store.document("d1-doc-el-x").await.unwrap(), None);
    assert_eq!(store.changes_count("d1-index").await.unwrap(), 2);
    assert_eq!(store.changes_count("d2-index").await.unwrap(), 2);
    assert!(store.events("d1", 0, 100).await.unwrap().is_empty());

    // The same edit, valid, goes through.
    store
        .apply_structure_at(
            &edit(&|e| e.order = order(&["d1-el-x", "d1-el-0", "d1-el-1", "d1-el-2"])),
            now_ms(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed(&store, "d1").await,
        ids_at(&["d1-el-x", "d1-el-0", "d1-el-1", "d1-el-2"])
    );
    // Element and document ids are unique.
    let again = store
        .apply_structure_at(&edit(&|e| e.title = None), now_ms())
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let other_doc = store
        .apply_structure_at(
            &edit(&|e| e.new_elements[0].doc.id = "d1-doc-el-y".into()),
            now_ms(),
        )
        .await;
    assert!(
        matches!(other_doc, Err(Error::Conflict(_))),
        "{other_doc:?}"
    );

    assert!(matches!(
        store
            .record_event_at("nope", &event("x", None), now_ms())
            .await,
        Err(Error::NotFound(_))
    ));
}
test_both_dbs!(
    structure_edit_errors_write_nothing,
    sqlite_structure_edit_errors_write_nothing,
    postgres_structure_edit_errors_write_nothing
);
