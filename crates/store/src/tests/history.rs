//! Revisions, document heads and change authors.

use super::*;
use crate::changes::{DocBatch, InsertedChange, UserRun, batch_history};

#[test]
fn batch_history_groups_by_document_then_user() {
    let changes = vec![
        typing("a", "1", "u-alice", 1, 0),
        NewChange {
            heads_after: Some("early".into()),
            ..typing("a", "2", "u-bob", 2, 1)
        },
        NewChange {
            heads_after: Some("late".into()),
            ..typing("a", "3", "u-alice", 3, 0)
        },
        NewChange {
            heads_after: Some("b-heads".into()),
            ..typing("b", "4", "u-bob", 4, 0)
        },
        NewChange {
            heads_after: Some("c-heads".into()),
            ..typing("c", "5", "u-bob", 1, 0)
        },
    ];
    let row = |seq: i64, doc: &str, user: Option<&str>, ins: Option<i64>| -> InsertedChange {
        InsertedChange {
            seq,
            doc_id: doc.into(),
            user_id: user.map(Into::into),
            entity_code: user.map(|u| entity_of(u).into()),
            inserted: ins,
            deleted: Some(1),
        }
    };
    // In no particular order; "c" was already stored (nothing inserted).
    let inserted = vec![
        row(12, "a", Some("u-alice"), Some(3)),
        row(10, "a", Some("u-alice"), Some(1)),
        row(13, "b", None, None),
        row(11, "a", Some("u-bob"), None),
        row(14, "b", Some("u-bob"), Some(4)),
    ];
    let run = |user: &str, first, last, changes, ins, del| UserRun {
        user_id: user.into(),
        entity_code: Some(entity_of(user).into()),
        first_seq: first,
        last_seq: last,
        changes,
        inserted: ins,
        deleted: del,
    };
    assert_eq!(
        batch_history(&changes, inserted),
        [
            DocBatch {
                doc_id: "a".into(),
                through_seq: 12,
                heads_after: Some("late"),
                runs: vec![
                    run("u-alice", 10, 12, 2, 4, 2),
                    run("u-bob", 11, 11, 1, 0, 1)
                ],
            },
            DocBatch {
                doc_id: "b".into(),
                through_seq: 14,
                heads_after: Some("b-heads"),
                runs: vec![run("u-bob", 14, 14, 1, 4, 1)],
            },
        ]
    );
}

async fn revisions_follow_one_users_gaps(store: Store) {
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    // One user typing at t, t+10s, t+25s: one revision.
    commit_at(
        &store,
        T0,
        with_heads(
            vec![
                typing(a, "a1", "u-alice", 3, 0),
                typing(a, "a2", "u-alice", 2, 1),
            ],
            "0a01",
        ),
    )
    .await;
    commit_at(
        &store,
        T0 + 10 * SEC,
        with_heads(vec![typing(a, "a3", "u-alice", 5, 0)], "0a02"),
    )
    .await;
    commit_at(
        &store,
        T0 + 25 * SEC,
        with_heads(vec![typing(a, "a4", "u-alice", 0, 4)], "0a03"),
    )
    .await;
    let seq = seqs(&store, "d1").await;
    let revs = all_revisions(&store, "d1").await;
    let first = RevisionRow {
        id: revs[0].id,
        draft_id: "d1".into(),
        doc_id: a.into(),
        element_id: "d1-el-0".into(),
        user_id: "u-alice".into(),
        user_name: Some("Alice".into()),
        entity_code: Some("US".into()),
        start_at: T0,
        end_at: T0 + 25 * SEC,
        first_seq: seq[&bytes("a1")],
        last_seq: seq[&bytes("a4")],
        changes: 4,
        inserted: 10,
        deleted: 5,
        before_heads: "[]".into(),
        after_heads: Some(heads("0a03")),
    };
    assert_eq!(revs, std::slice::from_ref(&first));

    // 35 s after its end: a second revision, starting from the first's heads.
    commit_at(
        &store,
        T0 + 60 * SEC,
        with_heads(vec![typing(a, "a5", "u-alice", 1, 0)], "0a04"),
    )
    .await;
    // 29.999 s later: the same revision (no heads given: its after heads stay;
    // the server's own change is nobody's revision).
    let second_end = T0 + 60 * SEC + 29_999;
    commit_at(
        &store,
        second_end,
        vec![typing(a, "a6", "u-alice", 1, 0), server_change(a, "s1")],
    )
    .await;
    // Exactly 30 s after its end: a third.
    let third = second_end + REVISION_GAP_MS;
    commit_at(
        &store,
        third,
        with_heads(vec![typing(a, "a7", "u-alice", 0, 2)], "0a07"),
    )
    .await;
    let seq = seqs(&store, "d1").await;
    let revs = all_revisions(&store, "d1").await;
    assert_eq!(revs.len(), 3, "{revs:#?}");
    assert_eq!(revs[0], first);
    assert!(revs[0].id < revs[1].id && revs[1].id < revs[2].id);
    assert_eq!(
        revs[1],
        RevisionRow {
            id: revs[1].id,
            start_at: T0 + 60 * SEC,
            end_at: second_end,
            first_seq: seq[&bytes("a5")],
            last_seq: seq[&bytes("a6")],
            changes: 2,
            inserted: 2,
            deleted: 0,
            before_heads: heads("0a03"),
            after_heads: Some(heads("0a04")),
            ..first.clone()
        }
    );
    assert_eq!(
        revs[2],
        RevisionRow {
            id: revs[2].id,
            start_at: third,
            end_at: third,
            first_seq: seq[&bytes("a7")],
            last_seq: seq[&bytes("a7")],
            changes: 1,
            inserted: 0,
            deleted: 2,
            // The latest heads before its batch (the batch in between gave none).
            before_heads: heads("0a04"),
            after_heads: Some(heads("0a07")),
            ..first
        }
    );
    // Commit order, not time, picks the revision to extend: a batch stamped
    // earlier than the latest revision's end extends it (its end stays).
    commit_at(
        &store,
        third - 5 * SEC,
        vec![typing(a, "a8", "u-alice", 1, 0)],
    )
    .await;
    let revs = all_revisions(&store, "d1").await;
    assert_eq!(revs.len(), 3);
    assert_eq!((revs[2].end_at, revs[2].changes), (third, 2));
}
test_both_dbs!(
    revisions_follow_one_users_gaps,
    sqlite_revisions_follow_one_users_gaps,
    postgres_revisions_follow_one_users_gaps
);

async fn revisions_per_user_whatever_others_type(store: Store) {
    setup_history(&store).await;
    let b = "d1-doc-el-1";
    // Carol (unknown to the users table) typed long before.
    commit_at(
        &store,
        T0 - 100 * SEC,
        with_heads(vec![typing(b, "c0", "u-carol", 4, 0)], "0c00"),
    )
    .await;
    // Alice alone, then Bob and Alice interleaved in one batch (with a
    // change of the server's), then each of them alone, every second.
    commit_at(
        &store,
        T0,
        with_heads(
            vec![
                typing(b, "x1", "u-alice", 1, 0),
                typing(b, "x2", "u-alice", 1, 0),
            ],
            "0b01",
        ),
    )
    .await;
    commit_at(
        &store,
        T0 + SEC,
        with_heads(
            vec![
                typing(b, "y1", "u-bob", 2, 0),
                typing(b, "x3", "u-alice", 0, 1),
                server_change(b, "s1"),
                typing(b, "y2", "u-bob", 3, 1),
            ],
            "0b02",
        ),
    )
    .await;
    for i in 3..=10_i64 {
        let user = if i % 2 == 0 { "u-alice" } else { "u-bob" };
        commit_at(
            &store,
            T0 + (i - 1) * SEC,
            with_heads(
                vec![typing(b, &format!("z{i}"), user, 1, 0)],
                &format!("0b{i:02}"),
            ),
        )
        .await;
    }
    let seq = seqs(&store, "d1").await;
    let revs = all_revisions(&store, "d1").await;
    let carol = RevisionRow {
        id: revs[0].id,
        draft_id: "d1".into(),
        doc_id: b.into(),
        element_id: "d1-el-1".into(),
        user_id: "u-carol".into(),
        user_name: None,
        entity_code: Some("G77".into()),
        start_at: T0 - 100 * SEC,
        end_at: T0 - 100 * SEC,
        first_seq: seq[&bytes("c0")],
        last_seq: seq[&bytes("c0")],
        changes: 1,
        inserted: 4,
        deleted: 0,
        before_heads: "[]".into(),
        after_heads: Some(heads("0c00")),
    };
    let alice = RevisionRow {
        id: revs[1].id,
        user_id: "u-alice".into(),
        user_name: Some("Alice".into()),
        entity_code: Some("US".into()),
        start_at: T0,
        end_at: T0 + 9 * SEC,
        first_seq: seq[&bytes("x1")],
        last_seq: seq[&bytes("z10")],
        changes: 7,
        inserted: 6,
        deleted: 1,
        before_heads: heads("0c00"),
        after_heads: Some(heads("0b10")),
        ..carol.clone()
    };
    let bob = RevisionRow {
        id: revs[2].id,
        user_id: "u-bob".into(),
        user_name: Some("Bob".into()),
        entity_code: Some("EU".into()),
        start_at: T0 + SEC,
        end_at: T0 + 8 * SEC,
        first_seq: seq[&bytes("y1")],
        last_seq: seq[&bytes("z9")],
        changes: 6,
        inserted: 9,
        deleted: 1,
        before_heads: heads("0b01"),
        after_heads: Some(heads("0b09")),
        ..carol.clone()
    };
    assert_eq!(revs, [carol, alice, bob]);
}
test_both_dbs!(
    revisions_per_user_whatever_others_type,
    sqlite_revisions_per_user_whatever_others_type,
    postgres_revisions_per_user_whatever_others_type
);

/// `(doc_id, through_seq, committed_at, heads)` of every doc_heads row, by id.
async fn doc_heads_rows(store: &Store) -> Vec<(String, i64, i64, String)> {
    const SQL: &str =
        "SELECT doc_id, through_seq, committed_at, heads FROM doc_heads ORDER BY doc_id, id";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
        Store::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await,
    }
    .unwrap()
}

async fn doc_heads_per_batch_and_by_time(store: Store) {
    setup_history(&store).await;
    let (a, b, ix) = ("d1-doc-el-0", "d1-doc-el-1", "d1-index");
    assert_eq!(store.doc_heads_at(a, i64::MAX).await.unwrap(), None);
    assert!(
        store
            .draft_heads_at("d1", i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );

    // One batch of two documents: a row each, through its last new seq.
    commit_at(
        &store,
        T0,
        vec![
            typing(a, "a1", "u-alice", 1, 0),
            typing(b, "b1", "u-bob", 1, 0),
            NewChange {
                heads_after: Some(heads("0a02")),
                ..typing(a, "a2", "u-alice", 1, 0)
            },
            NewChange {
                heads_after: Some(heads("0b02")),
                ..typing(b, "b2", "u-bob", 1, 0)
            },
        ],
    )
    .await;
    let (a_t0, b_t0) = (
        store.max_seq(a).await.unwrap(),
        store.max_seq(b).await.unwrap(),
    );
    assert_eq!(
        doc_heads_rows(&store).await,
        [
            (a.to_owned(), a_t0, T0, heads("0a02")),
            (b.to_owned(), b_t0, T0, heads("0b02")),
        ]
    );
    // Of several heads given for a document, the last wins.
    commit_at(
        &store,
        T0 + 10 * SEC,
        vec![
            NewChange {
                heads_after: Some(heads("0a0f")),
                ..typing(a, "a3", "u-alice", 1, 0)
            },
            NewChange {
                heads_after: Some(heads("0a04")),
                ..typing(a, "a4", "u-alice", 1, 0)
            },
        ],
    )
    .await;
    let a_t10 = store.max_seq(a).await.unwrap();
    // No heads given: no row. Nothing new stored: no row either.
    commit_at(
        &store,
        T0 + 20 * SEC,
        vec![typing(a, "a5", "u-alice", 1, 0)],
    )
    .await;
    let again = commit_at(
        &store,
        T0 + 30 * SEC,
        with_heads(vec![typing(a, "a4", "u-alice", 1, 0)], "0aff"),
    )
    .await;
    assert_eq!(again.stored, 0);
    assert_eq!(
        doc_heads_rows(&store).await,
        [
            (a.to_owned(), a_t0, T0, heads("0a02")),
            (a.to_owned(), a_t10, T0 + 10 * SEC, heads("0a04")),
            (b.to_owned(), b_t0, T0, heads("0b02")),
        ]
    );
    for (at, expected) in [
        (T0 - 1, None),
        (T0, Some("0a02")),
        (T0 + 10 * SEC - 1, Some("0a02")),
        (T0 + 10 * SEC, Some("0a04")),
        (T0 + 35 * SEC, Some("0a04")),
        (i64::MAX, Some("0a04")),
    ] {
        assert_eq!(
            store.doc_heads_at(a, at).await.unwrap(),
            expected.map(heads),
            "at {at}"
        );
    }
    // Two batches at the same time: the later one is the state at that time.
    for (hash, h) in [("a6", "0a06"), ("a7", "0a07")] {
        commit_at(
            &store,
            T0 + 40 * SEC,
            with_heads(vec![typing(a, hash, "u-alice", 1, 0)], h),
        )
        .await;
    }
    assert_eq!(
        store.doc_heads_at(a, T0 + 40 * SEC).await.unwrap(),
        Some(heads("0a07"))
    );
    assert_eq!(
        store.doc_heads_at(b, T0 + 40 * SEC).await.unwrap(),
        Some(heads("0b02"))
    );
    assert_eq!(store.doc_heads_at("nope", i64::MAX).await.unwrap(), None);

    // A structure edit records the index document's heads (and archives el-0:
    // archived elements stay part of the draft's versions).
    let edited = store
        .apply_structure_at(
            &StructureEdit {
                draft_id: "d1".into(),
                index_changes: vec![NewChange {
                    heads_after: Some(heads("1d01")),
                    ..index_change("ix1")
                }],
                archived: vec![("d1-el-0".into(), true)],
                ..StructureEdit::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    assert!(edited > T0 + 40 * SEC);
    assert_eq!(
        store.doc_heads_at(ix, edited).await.unwrap(),
        Some(heads("1d01"))
    );
    assert_eq!(store.doc_heads_at(ix, edited - 1).await.unwrap(), None);
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(d, h)| (d.to_string(), heads(h)))
            .collect()
    };
    assert!(store.draft_heads_at("d1", T0 - 1).await.unwrap().is_empty());
    // Elements in their current order (archived last); el-2 has none, nor
    // had the index then.
    assert_eq!(
        store.draft_heads_at("d1", T0 + 15 * SEC).await.unwrap(),
        pairs(&[(b, "0b02"), (a, "0a04")])
    );
    // The index first.
    assert_eq!(
        store.draft_heads_at("d1", edited).await.unwrap(),
        pairs(&[(ix, "1d01"), (b, "0b02"), (a, "0a07")])
    );
    assert!(
        store
            .draft_heads_at("nope", i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
    // The chair's index change makes no revision: revisions are of elements.
    let revs = all_revisions(&store, "d1").await;
    assert!(revs.iter().all(|r| r.doc_id != ix), "{revs:#?}");
}
test_both_dbs!(
    doc_heads_per_batch_and_by_time,
    sqlite_doc_heads_per_batch_and_by_time,
    postgres_doc_heads_per_batch_and_by_time
);

/// `(hash, inserted, deleted)` of a document's changes in seq order.
async fn counts(store: &Store, doc: &str) -> Vec<(Vec<u8>, Option<i64>, Option<i64>)> {
    const SQL: &str = "SELECT hash, inserted, deleted FROM changes WHERE doc_id = $1 ORDER BY seq";
    match store {
        Store::Sqlite(pool) => sqlx::query_as(SQL).bind(doc).fetch_all(pool).await,
        Store::Postgres(pool) => sqlx::query_as(SQL).bind(doc).fetch_all(pool).await,
    }
    .unwrap()
}

async fn change_authors_in_seq_order(store: Store) {
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    let created = store.draft("d1").await.unwrap().unwrap().created_at;
    commit_at(
        &store,
        T0,
        vec![
            typing(a, "a1", "u-bob", 1, 0),
            server_change(a, "s1"),
            typing(a, "a2", "u-alice", 0, 2),
        ],
    )
    .await;
    // An earlier clock does not reorder: seq order is commit order.
    commit_at(&store, T0 - 5 * SEC, vec![typing(a, "a3", "u-carol", 7, 3)]).await;
    let author = |hash: &str, user: Option<&str>, at: i64| {
        (
            bytes(hash),
            user.map(Into::into),
            user.map(|u| entity_of(u).to_owned()),
            at,
        )
    };
    assert_eq!(
        store.change_authors(a).await.unwrap(),
        [
            author("d1-doc-el-0-h1", None, created),
            author("d1-doc-el-0-h2", None, created),
            author("a1", Some("u-bob"), T0),
            author("s1", None, T0),
            author("a2", Some("u-alice"), T0),
            author("a3", Some("u-carol"), T0 - 5 * SEC),
        ]
    );
    assert!(store.change_authors("nope").await.unwrap().is_empty());
    // The character counts are stored with each change (none for the
    // initial changes nor where the caller gave none).
    assert_eq!(
        counts(&store, a).await,
        [
            (bytes("d1-doc-el-0-h1"), None, None),
            (bytes("d1-doc-el-0-h2"), None, None),
            (bytes("a1"), Some(1), Some(0)),
            (bytes("s1"), None, None),
            (bytes("a2"), Some(0), Some(2)),
            (bytes("a3"), Some(7), Some(3)),
        ]
    );
}
test_both_dbs!(
    change_authors_in_seq_order,
    sqlite_change_authors_in_seq_order,
    postgres_change_authors_in_seq_order
);

async fn history_is_part_of_the_commit(store: Store) {
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    let batch = with_heads(vec![typing(a, "a1", "u-alice", 1, 0)], "0a01");
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_revisions BEFORE INSERT ON revisions \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_revisions;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_revisions() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_revisions BEFORE INSERT ON revisions \
             FOR EACH ROW EXECUTE FUNCTION fail_revisions();",
            "DROP TRIGGER fail_revisions ON revisions; DROP FUNCTION fail_revisions();",
        ),
    };
    exec_raw(&store, create).await;
    let err = store.commit_at(&batch, T0).await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.changes_count(a).await.unwrap(), 2);
    assert!(doc_heads_rows(&store).await.is_empty());
    assert!(store.actor_owners().await.unwrap().is_empty());
    exec_raw(&store, drop_trigger).await;

    assert_eq!(commit_at(&store, T0, batch).await.stored, 1);
    assert_eq!(doc_heads_rows(&store).await.len(), 1);
    assert_eq!(all_revisions(&store, "d1").await.len(), 1);
    // `commit` is `commit_at` on the server's clock.
    let receipt = store
        .commit(&[typing(a, "a2", "u-alice", 1, 0)])
        .await
        .unwrap();
    assert!(receipt.committed_at > T0);
    let revs = all_revisions(&store, "d1").await;
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[1].start_at, receipt.committed_at);
}
test_both_dbs!(
    history_is_part_of_the_commit,
    sqlite_history_is_part_of_the_commit,
    postgres_history_is_part_of_the_commit
);
