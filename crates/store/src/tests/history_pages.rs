//! History by filter and cursor, and at scale.

use super::*;

/// continues after the cursor `key(last row)` of the one before.
/// Every page of `fetch(after)` (pages of `limit`), concatenated; each page
async fn all_pages<T, F, Fut>(limit: usize, key: impl Fn(&T) -> (i64, i64), fetch: F) -> Vec<T>
where
    F: Fn(Option<(i64, i64)>) -> Fut,
    Fut: Future<Output = Vec<T>>,
{
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(after).await;
        assert!(page.len() <= limit);
        let Some(last) = page.last() else { break };
        after = Some(key(last));
        let full = page.len() == limit;
        all.extend(page);
        if !full {
            break;
        }
    }
    all
}

async fn history_filters_and_cursors(store: Store) {
    setup_history(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let el = |i: usize| format!("d1-doc-el-{i}");

    // --- Revisions.
    commit_at(
        &store,
        T0,
        vec![
            typing(&el(0), "r1", "u-alice", 1, 0),
            typing(&el(1), "r2", "u-bob", 1, 0),
        ],
    )
    .await;
    commit_at(
        &store,
        T0 + 100 * SEC,
        vec![typing(&el(0), "r3", "u-bob", 1, 0)],
    )
    .await;
    commit_at(
        &store,
        T0 + 150 * SEC,
        vec![typing("d2-doc-el-0", "o1", "u-alice", 1, 0)],
    )
    .await;
    commit_at(
        &store,
        T0 + 200 * SEC,
        vec![
            typing(&el(2), "r4", "u-alice", 1, 0),
            typing(&el(2), "r5", "u-carol", 1, 0),
        ],
    )
    .await;
    commit_at(
        &store,
        T0 + 300 * SEC,
        vec![typing(&el(0), "r6", "u-alice", 1, 0)],
    )
    .await;
    let revs = all_revisions(&store, "d1").await;
    assert!(
        revs.windows(2)
            .all(|w| (w[0].start_at, w[0].id) < (w[1].start_at, w[1].id))
    );
    let mut listed: Vec<(i64, String, String)> = revs
        .iter()
        .map(|r| (r.start_at - T0, r.element_id.clone(), r.user_id.clone()))
        .collect();
    listed.sort();
    let secs = |list: &[(i64, &str, &str)]| -> Vec<(i64, String, String)> {
        list.iter()
            .map(|(s, e, u)| (s * SEC, e.to_string(), u.to_string()))
            .collect()
    };
    assert_eq!(
        listed,
        secs(&[
            (0, "d1-el-0", "u-alice"),
            (0, "d1-el-1", "u-bob"),
            (100, "d1-el-0", "u-bob"),
            (200, "d1-el-2", "u-alice"),
            (200, "d1-el-2", "u-carol"),
            (300, "d1-el-0", "u-alice"),
        ])
    );
    let revisions = |filter: HistoryFilter| {
        let store = store.clone();
        async move {
            let rows = store.revisions("d1", &filter, None, 100).await.unwrap();
            rows.into_iter()
                .map(|r| (r.start_at - T0, r.element_id, r.user_id))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        revisions(HistoryFilter {
            element_id: Some("d1-el-0".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[
            (0, "d1-el-0", "u-alice"),
            (100, "d1-el-0", "u-bob"),
            (300, "d1-el-0", "u-alice")
        ])
    );
    assert_eq!(
        revisions(HistoryFilter {
            entity_code: Some("US".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[
            (0, "d1-el-0", "u-alice"),
            (200, "d1-el-2", "u-alice"),
            (300, "d1-el-0", "u-alice")
        ])
    );
    assert_eq!(
        revisions(HistoryFilter {
            user_id: Some("u-bob".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(0, "d1-el-1", "u-bob"), (100, "d1-el-0", "u-bob")])
    );
    let mut ranged = revisions(HistoryFilter {
        from: Some(T0 + 100 * SEC),
        to: Some(T0 + 300 * SEC),
        ..HistoryFilter::default()
    })
    .await;
    ranged.sort();
    assert_eq!(
        ranged,
        secs(&[
            (100, "d1-el-0", "u-bob"),
            (200, "d1-el-2", "u-alice"),
            (200, "d1-el-2", "u-carol")
        ])
    );
    assert_eq!(
        revisions(HistoryFilter {
            element_id: Some("d1-el-0".into()),
            user_id: Some("u-alice".into()),
            from: Some(T0 + 1),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(300, "d1-el-0", "u-alice")])
    );
    // Cursor paging gives every revision once, in order, also within one start time.
    let paged = all_pages(
        2,
        |r: &RevisionRow| (r.start_at, r.id),
        |after| {
            let store = store.clone();
            async move {
                store
                    .revisions("d1", &HistoryFilter::default(), after, 2)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(paged, revs);
    let one_by_one = all_pages(
        1,
        |r: &RevisionRow| (r.start_at, r.id),
        |after| {
            let store = store.clone();
            async move {
                store
                    .revisions("d1", &HistoryFilter::default(), after, 1)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(one_by_one, revs);
    let d2 = all_revisions(&store, "d2").await;
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0].element_id, "d2-el-0");
    assert!(all_revisions(&store, "nope").await.is_empty());

    // --- Events (the timeline).
    store
        .create_version("d1", "V1", "{}", Some("u-chair"), false, T0)
        .await
        .unwrap();
    store
        .create_version("d2", "Other", "{}", Some("u-chair"), false, T0 + SEC)
        .await
        .unwrap();
    store
        .adopt_element("d1", "d1-el-0", "text", HASH_A, "[]", "u-chair", T0 + SEC)
        .await
        .unwrap();
    let silence = start(&store, 1, T0 + 2 * SEC, T0 + DAY).await;
    let (_, broken) = store
        .record_position(
            &position(1, "G77", "object", T0 + 3 * SEC),
            Some(silence.id),
        )
        .await
        .unwrap();
    assert!(broken);
    store
        .create_version("d1", "V2", "{}", Some("u-chair"), false, T0 + 3 * SEC)
        .await
        .unwrap();
    let late = store
        .record_event_at("d1", &event("note", None), now_ms())
        .await
        .unwrap();
    assert!(late.at > T0 + DAY);

    let events = |filter: HistoryFilter, after: Option<(i64, i64)>| {
        let store = store.clone();
        async move {
            store
                .events_between("d1", &filter, after, 100)
                .await
                .unwrap()
        }
    };
    let kinds =
        |rows: &[EventRow]| -> Vec<String> { rows.iter().map(|e| e.kind.clone()).collect() };
    let all = events(HistoryFilter::default(), None).await;
    assert_eq!(
        kinds(&all),
        [
            "version_named",
            "element_adopted",
            "silence_started",
            "silence_broken",
            "version_named",
            "note"
        ]
    );
    assert_eq!(all, store.events("d1", 0, 100).await.unwrap());
    let filtered = |f: HistoryFilter| {
        let events = &events;
        async move { kinds(&events(f, None).await) }
    };
    assert_eq!(
        filtered(HistoryFilter {
            element_id: Some("d1-el-1".into()),
            ..HistoryFilter::default()
        })
        .await,
        ["silence_started", "silence_broken"]
    );
    assert_eq!(
        filtered(HistoryFilter {
            entity_code: Some("G77".into()),
            ..HistoryFilter::default()
        })
        .await,
        ["silence_broken"]
    );
    assert_eq!(
        filtered(HistoryFilter {
            user_id: Some("u-chair".into()),
            ..HistoryFilter::default()
        })
        .await,
        [
            "version_named",
            "element_adopted",
            "silence_started",
            "version_named",
            "note"
        ]
    );
    assert_eq!(
        filtered(HistoryFilter {
            from: Some(T0 + SEC),
            to: Some(T0 + 3 * SEC),
            ..HistoryFilter::default()
        })
        .await,
        ["element_adopted", "silence_started"]
    );
    let at_broken = all[3].clone();
    assert_eq!(
        kinds(
            &events(
                HistoryFilter::default(),
                Some((at_broken.at, at_broken.seq))
            )
            .await
        ),
        ["version_named", "note"]
    );
    let paged = all_pages(
        1,
        |e: &EventRow| (e.at, e.seq),
        |after| {
            let store = store.clone();
            async move {
                store
                    .events_between("d1", &HistoryFilter::default(), after, 1)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(paged, all);

    // --- Positions (the ledger), out of time order.
    for p in [
        position(0, "US", "support", T0 + 5 * SEC),
        position(2, "US", "abstain", T0 + 4 * SEC),
        position(0, "G77", "support", T0 + 5 * SEC),
        by_silence(2, "G77", T0 + 6 * SEC),
    ] {
        store.record_position(&p, None).await.unwrap();
    }
    let ledger = |filter: HistoryFilter| {
        let store = store.clone();
        async move {
            store
                .positions_between("d1", &filter, None, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|p| (p.at - T0, p.element_id, p.entity_code))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ledger(HistoryFilter::default()).await,
        secs(&[
            (3, "d1-el-1", "G77"),
            (4, "d1-el-2", "US"),
            (5, "d1-el-0", "US"),
            (5, "d1-el-0", "G77"),
            (6, "d1-el-2", "G77"),
        ])
    );
    assert_eq!(
        ledger(HistoryFilter {
            entity_code: Some("US".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(4, "d1-el-2", "US"), (5, "d1-el-0", "US")])
    );
    assert_eq!(
        ledger(HistoryFilter {
            user_id: Some("u-G77".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(3, "d1-el-1", "G77"), (5, "d1-el-0", "G77")])
    );
    assert_eq!(
        ledger(HistoryFilter {
            element_id: Some("d1-el-2".into()),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[(4, "d1-el-2", "US"), (6, "d1-el-2", "G77")])
    );
    assert_eq!(
        ledger(HistoryFilter {
            from: Some(T0 + 4 * SEC),
            to: Some(T0 + 6 * SEC),
            ..HistoryFilter::default()
        })
        .await,
        secs(&[
            (4, "d1-el-2", "US"),
            (5, "d1-el-0", "US"),
            (5, "d1-el-0", "G77")
        ])
    );
    let all_positions = store
        .positions_between("d1", &HistoryFilter::default(), None, 100)
        .await
        .unwrap();
    let paged = all_pages(
        2,
        |p: &PositionRow| (p.at, p.seq),
        |after| {
            let store = store.clone();
            async move {
                store
                    .positions_between("d1", &HistoryFilter::default(), after, 2)
                    .await
                    .unwrap()
            }
        },
    )
    .await;
    assert_eq!(paged, all_positions);
    assert!(
        store
            .positions_between("d2", &HistoryFilter::default(), None, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Everyone who appears, once per (user, entity), by name.
    let people = store.history_people("d1").await.unwrap();
    let who = |list: &[(&str, Option<&str>, Option<&str>)]| -> Vec<(String, Option<String>, Option<String>)> {
        list.iter()
            .map(|(u, n, e)| (u.to_string(), n.map(str::to_owned), e.map(str::to_owned)))
            .collect()
    };
    assert_eq!(
        people,
        who(&[
            ("u-alice", Some("Alice"), Some("US")),
            ("u-bob", Some("Bob"), Some("EU")),
            ("u-G77", None, Some("G77")),
            ("u-US", None, Some("US")),
            ("u-carol", None, Some("G77")),
            ("u-chair", None, None),
        ])
    );
    assert_eq!(
        store.history_people("d2").await.unwrap(),
        who(&[
            ("u-alice", Some("Alice"), Some("US")),
            ("u-chair", None, None)
        ])
    );
}
test_both_dbs!(
    history_filters_and_cursors,
    sqlite_history_filters_and_cursors,
    postgres_history_filters_and_cursors
);

/// 100,000 changes on one element document, in 1,000 batches of 100 (Alice
/// and Bob interleaved, every 10 s, with a 60 s pause every 10 batches):
/// history queries read the kept history, never the change log. Timings are
/// printed (the benchmark proper is elsewhere).
async fn history_of_100k_changes(store: Store) {
    use std::time::Instant;
    const BATCHES: i64 = 1_000;
    const PER_BATCH: i64 = 100;
    setup_history(&store).await;
    let a = "d1-doc-el-0";
    let time = |b: i64| T0 + b * 10 * SEC + (b / 10) * 60 * SEC;
    let hash = |b: i64| format!("{b:064x}");
    let started = Instant::now();
    for b in 0..BATCHES {
        let batch: Vec<NewChange> = (0..PER_BATCH)
            .map(|i| {
                let user = if i % 2 == 0 { "u-alice" } else { "u-bob" };
                let deleted = i64::from(i % 10 == 0);
                typing(a, &format!("c{b}-{i}"), user, 1, deleted)
            })
            .collect();
        let receipt = commit_at(&store, time(b), with_heads(batch, &hash(b))).await;
        assert_eq!(receipt.stored, PER_BATCH as usize);
    }
    eprintln!(
        "[{}] committed {} changes in {BATCHES} batches: {:?}",
        store.backend_name(),
        BATCHES * PER_BATCH,
        started.elapsed()
    );
    assert_eq!(
        store.changes_count(a).await.unwrap(),
        BATCHES * PER_BATCH + 2
    );

    // Revisions: one per user per 10-batch block, paged 50 at a time.
    let t = Instant::now();
    let first_page = store
        .revisions("d1", &HistoryFilter::default(), None, 50)
        .await
        .unwrap();
    let first_page_time = t.elapsed();
    assert_eq!(first_page.len(), 50);
    let mut revs = first_page.clone();
    let mut page_times = Vec::new();
    loop {
        let last = revs.last().unwrap();
        let t = Instant::now();
        let page = store
            .revisions(
                "d1",
                &HistoryFilter::default(),
                Some((last.start_at, last.id)),
                50,
            )
            .await
            .unwrap();
        page_times.push(t.elapsed());
        if page.is_empty() {
            break;
        }
        revs.extend(page);
    }
    eprintln!(
        "[{}] revisions: first page {first_page_time:?}, next pages {page_times:?}",
        store.backend_name()
    );
    assert_eq!(revs.len(), 200);
    for (k, pair) in (0_i64..).zip(revs.chunks(2)) {
        let before = if k == 0 {
            "[]".to_owned()
        } else {
            heads(&hash(10 * k - 1))
        };
        let mut users = Vec::new();
        for r in pair {
            assert_eq!(
                (r.start_at, r.end_at, r.changes, r.inserted),
                (time(10 * k), time(10 * k + 9), 500, 500),
                "block {k}"
            );
            assert_eq!(r.deleted, if r.user_id == "u-alice" { 100 } else { 0 });
            assert_eq!(r.before_heads, before);
            assert_eq!(r.after_heads, Some(heads(&hash(10 * k + 9))));
            users.push(r.user_id.as_str());
        }
        users.sort_unstable();
        assert_eq!(users, ["u-alice", "u-bob"]);
    }
    let t = Instant::now();
    let bobs = store
        .revisions(
            "d1",
            &HistoryFilter {
                user_id: Some("u-bob".into()),
                from: Some(time(500)),
                ..HistoryFilter::default()
            },
            None,
            20,
        )
        .await
        .unwrap();
    eprintln!(
        "[{}] revisions by user from a time: {:?}",
        store.backend_name(),
        t.elapsed()
    );
    assert_eq!(bobs.len(), 20);
    assert!(bobs.iter().all(|r| r.user_id == "u-bob"));
    assert_eq!(bobs[0].start_at, time(500));

    // The document and the draft at a time.
    let t = Instant::now();
    assert_eq!(store.doc_heads_at(a, time(0) - 1).await.unwrap(), None);
    for b in [0, 1, 499, 500, 998, 999] {
        for at in [time(b), time(b) + 5 * SEC] {
            assert_eq!(
                store.doc_heads_at(a, at).await.unwrap(),
                Some(heads(&hash(b))),
                "batch {b}"
            );
        }
    }
    eprintln!(
        "[{}] 13 doc_heads_at: {:?}",
        store.backend_name(),
        t.elapsed()
    );
    let t = Instant::now();
    assert_eq!(
        store.draft_heads_at("d1", time(500)).await.unwrap(),
        [(a.to_owned(), heads(&hash(500)))]
    );
    eprintln!(
        "[{}] draft_heads_at: {:?}",
        store.backend_name(),
        t.elapsed()
    );
    let t = Instant::now();
    let authors = store.change_authors(a).await.unwrap();
    eprintln!(
        "[{}] change_authors ({} rows): {:?}",
        store.backend_name(),
        authors.len(),
        t.elapsed()
    );
    assert_eq!(authors.len() as i64, BATCHES * PER_BATCH + 2);
    assert_eq!(authors[2].0, bytes("c0-0"));
    assert_eq!(authors.last().unwrap().3, time(BATCHES - 1));
}
test_both_dbs!(
    history_of_100k_changes,
    sqlite_history_of_100k_changes,
    postgres_history_of_100k_changes
);
