//! Positions, silences, adoptions and named versions.

use super::*;

async fn positions_ledger_appends_in_order(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let now = now_ms();
    assert!(store.positions("d1").await.unwrap().is_empty());

    let mut recorded = Vec::new();
    for (i, (el, entity, stance)) in [
        (1, "US", "support"),
        (0, "G77", "object"),
        (1, "US", "reservation"),
        (2, "EU", "abstain"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = position(el, entity, stance, now + i as i64);
        if stance != "support" {
            p.note = Some(format!("note {i}"));
        }
        if stance == "object" {
            p.wording = Some("Replace with [...]".into());
        }
        let (row, broken) = store.record_position(&p, None).await.unwrap();
        assert!(!broken);
        assert_eq!(
            row,
            PositionRow {
                seq: row.seq,
                draft_id: p.draft_id.clone(),
                element_id: p.element_id.clone(),
                entity_code: p.entity_code.clone(),
                stance: p.stance.clone(),
                note: p.note.clone(),
                wording: p.wording.clone(),
                text_hash: p.text_hash.clone(),
                heads: p.heads.clone(),
                user_id: p.user_id.clone(),
                by_silence: false,
                at: p.at,
            }
        );
        recorded.push(row);
    }
    // Another draft's ledger is separate, and shares the seq.
    let other = NewPosition {
        draft_id: "d2".into(),
        element_id: "d2-el-0".into(),
        ..position(0, "US", "support", now)
    };
    let (other_row, _) = store.record_position(&other, None).await.unwrap();
    assert!(other_row.seq > recorded.last().unwrap().seq);
    assert_eq!(store.positions("d2").await.unwrap(), [other_row]);

    let ledger = store.positions("d1").await.unwrap();
    assert_eq!(ledger, recorded);
    assert!(ledger.windows(2).all(|w| w[0].seq < w[1].seq));

    // Nothing is recorded for an element of another draft, or an unknown stance.
    let wrong_draft = NewPosition {
        element_id: "d2-el-0".into(),
        ..position(0, "US", "support", now)
    };
    assert!(matches!(
        store.record_position(&wrong_draft, None).await,
        Err(Error::NotFound(_))
    ));
    store
        .record_position(&position(0, "US", "maybe", now), None)
        .await
        .unwrap_err();
    assert_eq!(store.positions("d1").await.unwrap(), recorded);
}
test_both_dbs!(
    positions_ledger_appends_in_order,
    sqlite_positions_ledger_appends_in_order,
    postgres_positions_ledger_appends_in_order
);

async fn record_position_breaks_silence_once(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let s = start(&store, 0, now, now + HOUR).await;
    assert_eq!(
        store.element_lock("d1-doc-el-0").await.unwrap().as_deref(),
        Some("locked text of el-0")
    );

    let mut objection = position(0, "G77", "object", now + 10);
    objection.note = Some("We said \"no\"\\\n\tand\u{1}mean it".into());
    let (row, broken) = store.record_position(&objection, Some(s.id)).await.unwrap();
    assert!(broken);
    assert_eq!(row.stance, "object");
    let after = silence_by_id(&store, "d1", s.id).await;
    assert_eq!(
        after,
        SilenceRow {
            state: "broken".into(),
            ended_at: Some(now + 10),
            ended_by: Some("u-G77".into()),
            reason: objection.note.clone(),
            ..s.clone()
        }
    );
    let events = events_of(&store, "d1", "silence_broken").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].user_id.as_deref(), Some("u-G77"));
    assert_eq!(events[0].entity_code.as_deref(), Some("G77"));
    assert_eq!(events[0].at, now + 10);
    assert_eq!(
        events[0].data,
        format!(
            r#"{{"silence":{},"reason":"We said \"no\"\\\n\tand\u0001mean it"}}"#,
            s.id
        )
    );
    // The lock lifted; the silence is no longer scheduled.
    assert_eq!(store.element_lock("d1-doc-el-0").await.unwrap(), None);
    assert!(store.active_silences().await.unwrap().is_empty());

    // A second objection is recorded but breaks nothing.
    let mut second = position(0, "US", "object", now + 20);
    second.note = None;
    let (_, broken) = store.record_position(&second, Some(s.id)).await.unwrap();
    assert!(!broken);
    assert_eq!(events_of(&store, "d1", "silence_broken").await.len(), 1);
    assert_eq!(silence_by_id(&store, "d1", s.id).await, after);
    assert_eq!(store.positions("d1").await.unwrap().len(), 2);
}
test_both_dbs!(
    record_position_breaks_silence_once,
    sqlite_record_position_breaks_silence_once,
    postgres_record_position_breaks_silence_once
);

async fn position_on_inactive_silence_breaks_nothing(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let cancelled = start(&store, 0, now, now + HOUR).await;
    assert!(
        store
            .cancel_silence(cancelled.id, "u-chair", now + 1)
            .await
            .unwrap()
    );
    let other = start(&store, 1, now, now + HOUR).await;

    // On a cancelled silence, on another element's silence, on no silence.
    for (el, id) in [(0, cancelled.id), (0, other.id), (0, 9_999)] {
        let (_, broken) = store
            .record_position(&position(el, "US", "object", now + 5), Some(id))
            .await
            .unwrap();
        assert!(!broken);
    }
    assert_eq!(
        silence_by_id(&store, "d1", cancelled.id).await.state,
        "cancelled"
    );
    assert_eq!(
        store.active_silences().await.unwrap(),
        std::slice::from_ref(&other)
    );
    assert!(events_of(&store, "d1", "silence_broken").await.is_empty());
    assert_eq!(store.positions("d1").await.unwrap().len(), 3);
}
test_both_dbs!(
    position_on_inactive_silence_breaks_nothing,
    sqlite_position_on_inactive_silence_breaks_nothing,
    postgres_position_on_inactive_silence_breaks_nothing
);

async fn start_silence_once_per_element(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let s0 = start(&store, 0, now, now + 2 * HOUR).await;
    assert_eq!(
        s0,
        SilenceRow {
            id: s0.id,
            draft_id: "d1".into(),
            element_id: "d1-el-0".into(),
            deadline: now + 2 * HOUR,
            locked_text: "locked text of el-0".into(),
            locked_text_hash: HASH_A.into(),
            locked_heads: r#"["0a1b"]"#.into(),
            started_by: "u-chair".into(),
            started_at: now,
            state: "active".into(),
            ended_at: None,
            ended_by: None,
            reason: None,
            confirmed_stale: "[]".into(),
        }
    );
    let started = events_of(&store, "d1", "silence_started").await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(started[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(started[0].at, now);
    assert_eq!(
        started[0].data,
        format!(r#"{{"silence":{},"deadline":{}}}"#, s0.id, now + 2 * HOUR)
    );

    // A second active silence on the element: Conflict, nothing written.
    let again = store
        .start_silence(&silence(0, now, now + HOUR), &silence_started())
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(events_of(&store, "d1", "silence_started").await.len(), 1);

    // Another element is fine; extra event data is kept after ours.
    let extra = NewEvent {
        data: r#" { "text_hash": "aa" } "#.into(),
        ..silence_started()
    };
    let s1 = store
        .start_silence(&silence(1, now, now + HOUR), &extra)
        .await
        .unwrap();
    assert_eq!(
        events_of(&store, "d1", "silence_started").await[1].data,
        format!(
            r#"{{"silence":{},"deadline":{},"text_hash": "aa"}}"#,
            s1.id,
            now + HOUR
        )
    );
    // By deadline for the scheduler; newest first for the draft.
    assert_eq!(
        store.active_silences().await.unwrap(),
        [s1.clone(), s0.clone()]
    );
    assert_eq!(store.silences("d1").await.unwrap(), [s1, s0.clone()]);

    // Once the first has ended, the element may go under silence again.
    assert!(store.cancel_silence(s0.id, "u-chair", now).await.unwrap());
    let s2 = start(&store, 0, now + 1, now + HOUR).await;
    assert!(s2.id > s0.id);
    assert_eq!(store.silences("d1").await.unwrap().len(), 3);

    // An element that is not the draft's.
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let foreign = NewSilence {
        element_id: "d2-el-0".into(),
        ..silence(0, now, now + HOUR)
    };
    let result = store.start_silence(&foreign, &silence_started()).await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    assert!(store.silences("d2").await.unwrap().is_empty());
}
test_both_dbs!(
    start_silence_once_per_element,
    sqlite_start_silence_once_per_element,
    postgres_start_silence_once_per_element
);

async fn fire_silence_at_deadline_once(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let deadline = now + HOUR;
    let s = start(&store, 0, now, deadline).await;
    let entries = [
        by_silence(0, "US", deadline),
        by_silence(0, "G77", deadline),
    ];

    // Before the deadline: nothing.
    assert!(
        !store
            .fire_silence(s.id, deadline - 1, &entries)
            .await
            .unwrap()
    );
    assert_eq!(silence_by_id(&store, "d1", s.id).await, s);
    assert!(store.positions("d1").await.unwrap().is_empty());
    assert!(events_of(&store, "d1", "silence_fired").await.is_empty());

    // At the deadline: fired, entries appended, event.
    assert!(store.fire_silence(s.id, deadline, &entries).await.unwrap());
    let fired = silence_by_id(&store, "d1", s.id).await;
    assert_eq!(fired.state, "fired");
    assert_eq!(fired.ended_at, Some(deadline));
    assert_eq!(fired.ended_by, None);
    let ledger = store.positions("d1").await.unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(ledger.iter().all(|p| p.by_silence && p.user_id.is_none()));
    assert_eq!(
        ledger
            .iter()
            .map(|p| p.entity_code.as_str())
            .collect::<Vec<_>>(),
        ["US", "G77"]
    );
    let events = events_of(&store, "d1", "silence_fired").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].user_id, None);
    assert_eq!(events[0].at, deadline);
    assert_eq!(
        events[0].data,
        format!(r#"{{"silence":{},"recorded":2}}"#, s.id)
    );
    assert_eq!(store.element_lock("d1-doc-el-0").await.unwrap(), None);

    // Once only, even later.
    assert!(
        !store
            .fire_silence(s.id, deadline + HOUR, &entries)
            .await
            .unwrap()
    );
    assert_eq!(store.positions("d1").await.unwrap().len(), 2);
    assert_eq!(events_of(&store, "d1", "silence_fired").await.len(), 1);

    // After the deadline, without entries.
    let s1 = start(&store, 1, now, deadline).await;
    assert!(store.fire_silence(s1.id, deadline + 5, &[]).await.unwrap());
    assert_eq!(
        silence_by_id(&store, "d1", s1.id).await.ended_at,
        Some(deadline + 5)
    );

    // An entry for another element: Invalid, nothing written.
    let s2 = start(&store, 2, now, deadline).await;
    let result = store
        .fire_silence(
            s2.id,
            deadline,
            &[by_silence(2, "US", deadline), by_silence(1, "US", deadline)],
        )
        .await;
    assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
    assert_eq!(silence_by_id(&store, "d1", s2.id).await, s2);
    assert_eq!(store.positions("d1").await.unwrap().len(), 2);
    assert!(
        store
            .fire_silence(s2.id, deadline, &[by_silence(2, "US", deadline)])
            .await
            .unwrap()
    );
    assert_eq!(store.positions("d1").await.unwrap().len(), 3);
}
test_both_dbs!(
    fire_silence_at_deadline_once,
    sqlite_fire_silence_at_deadline_once,
    postgres_fire_silence_at_deadline_once
);

async fn concurrent_fires_fire_once(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    for round in 0..5_usize {
        let s = start(&store, 0, now, now + 1).await;
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    let entries = [by_silence(0, "US", now + 1), by_silence(0, "G77", now + 1)];
                    barrier.wait().await;
                    store.fire_silence(s.id, now + 1, &entries).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|fired| **fired).count(),
            1,
            "{outcomes:?}"
        );
        assert_eq!(store.positions("d1").await.unwrap().len(), 2 * (round + 1));
        assert_eq!(
            events_of(&store, "d1", "silence_fired").await.len(),
            round + 1
        );
        assert_eq!(silence_by_id(&store, "d1", s.id).await.state, "fired");
    }
}
test_both_dbs!(
    concurrent_fires_fire_once,
    sqlite_concurrent_fires_fire_once,
    postgres_concurrent_fires_fire_once
);

async fn cancelled_silence_does_not_fire(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let s = start(&store, 0, now, now + 10).await;
    assert!(
        store
            .cancel_silence(s.id, "u-chair", now + 1)
            .await
            .unwrap()
    );
    let cancelled = silence_by_id(&store, "d1", s.id).await;
    assert_eq!(cancelled.state, "cancelled");
    assert_eq!(cancelled.ended_at, Some(now + 1));
    assert_eq!(cancelled.ended_by.as_deref(), Some("u-chair"));
    let events = events_of(&store, "d1", "silence_cancelled").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].data, format!(r#"{{"silence":{}}}"#, s.id));

    assert!(
        !store
            .cancel_silence(s.id, "u-chair", now + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .cancel_silence(9_999, "u-chair", now + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .fire_silence(s.id, now + 10, &[by_silence(0, "US", now + 10)])
            .await
            .unwrap()
    );
    assert_eq!(silence_by_id(&store, "d1", s.id).await, cancelled);
    assert!(store.positions("d1").await.unwrap().is_empty());
    assert_eq!(events_of(&store, "d1", "silence_cancelled").await.len(), 1);
    assert!(events_of(&store, "d1", "silence_fired").await.is_empty());
}
test_both_dbs!(
    cancelled_silence_does_not_fire,
    sqlite_cancelled_silence_does_not_fire,
    postgres_cancelled_silence_does_not_fire
);

async fn adopt_reopen_adopt(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let adopted = store
        .adopt_element(
            "d1",
            "d1-el-0",
            "The text.",
            HASH_A,
            r#"["0a"]"#,
            "u-chair",
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        adopted,
        AdoptionRow {
            id: adopted.id,
            draft_id: "d1".into(),
            element_id: "d1-el-0".into(),
            text: "The text.".into(),
            text_hash: HASH_A.into(),
            heads: r#"["0a"]"#.into(),
            adopted_by: "u-chair".into(),
            adopted_at: now,
            reopened_by: None,
            reopened_at: None,
        }
    );
    assert_eq!(
        store.adoptions("d1").await.unwrap(),
        std::slice::from_ref(&adopted)
    );
    let events = events_of(&store, "d1", "element_adopted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].element_id.as_deref(), Some("d1-el-0"));
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(
        events[0].data,
        format!(r#"{{"adoption":{},"text_hash":"{HASH_A}"}}"#, adopted.id)
    );

    // Twice: Conflict, nothing written.
    let twice = store
        .adopt_element("d1", "d1-el-0", "Other.", HASH_A, "[]", "u-chair", now + 1)
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(events_of(&store, "d1", "element_adopted").await.len(), 1);

    // Reopen once.
    assert!(
        store
            .reopen_element("d1", "d1-el-0", "u-chair", now + 2)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reopen_element("d1", "d1-el-0", "u-chair", now + 3)
            .await
            .unwrap()
    );
    assert!(
        !store
            .reopen_element("d1", "d1-el-1", "u-chair", now + 3)
            .await
            .unwrap()
    );
    assert!(store.adoptions("d1").await.unwrap().is_empty());
    let reopened = events_of(&store, "d1", "element_reopened").await;
    assert_eq!(reopened.len(), 1);
    assert_eq!(
        reopened[0].data,
        format!(r#"{{"adoption":{}}}"#, adopted.id)
    );

    // Adopted again, with a new row.
    let again = store
        .adopt_element(
            "d1",
            "d1-el-0",
            "New text.",
            HASH_A,
            "[]",
            "u-chair",
            now + 4,
        )
        .await
        .unwrap();
    assert!(again.id > adopted.id);
    let other = store
        .adopt_element("d1", "d1-el-2", "Third.", HASH_A, "[]", "u-chair", now + 5)
        .await
        .unwrap();
    assert_eq!(store.adoptions("d1").await.unwrap(), [again, other]);
    assert_eq!(events_of(&store, "d1", "element_adopted").await.len(), 3);

    // Not an element of the draft.
    let result = store
        .adopt_element("d1", "nope", "x", HASH_A, "[]", "u-chair", now)
        .await;
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
}
test_both_dbs!(
    adopt_reopen_adopt,
    sqlite_adopt_reopen_adopt,
    postgres_adopt_reopen_adopt
);

async fn element_lock_follows_silence_and_adoption(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let lock = |doc: &'static str| {
        let store = store.clone();
        async move { store.element_lock(doc).await.unwrap() }
    };
    assert_eq!(lock("d1-doc-el-0").await, None);
    assert_eq!(lock("nope").await, None);

    let s = start(&store, 0, now, now + HOUR).await;
    assert_eq!(
        lock("d1-doc-el-0").await.as_deref(),
        Some("locked text of el-0")
    );
    assert_eq!(lock("d1-doc-el-1").await, None);

    // Adoption wins over the silence.
    store
        .adopt_element("d1", "d1-el-0", "Adopted.", HASH_A, "[]", "u-chair", now)
        .await
        .unwrap();
    assert_eq!(lock("d1-doc-el-0").await.as_deref(), Some("Adopted."));
    assert!(
        store
            .reopen_element("d1", "d1-el-0", "u-chair", now)
            .await
            .unwrap()
    );
    assert_eq!(
        lock("d1-doc-el-0").await.as_deref(),
        Some("locked text of el-0")
    );
    assert!(store.cancel_silence(s.id, "u-chair", now).await.unwrap());
    assert_eq!(lock("d1-doc-el-0").await, None);

    store
        .adopt_element(
            "d1",
            "d1-el-0",
            "Adopted again.",
            HASH_A,
            "[]",
            "u-chair",
            now,
        )
        .await
        .unwrap();
    assert_eq!(lock("d1-doc-el-0").await.as_deref(), Some("Adopted again."));
    assert!(
        store
            .reopen_element("d1", "d1-el-0", "u-chair", now)
            .await
            .unwrap()
    );
    assert_eq!(lock("d1-doc-el-0").await, None);
}
test_both_dbs!(
    element_lock_follows_silence_and_adoption,
    sqlite_element_lock_follows_silence_and_adoption,
    postgres_element_lock_follows_silence_and_adoption
);

async fn versions_are_unique_per_draft(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let now = now_ms();
    let heads = r#"{"d1-index":["0a"],"d1-doc-el-0":["0b","0c"]}"#;
    let v1 = store
        .create_version("d1", "Rev. 1", heads, Some("u-chair"), false, now)
        .await
        .unwrap();
    assert_eq!(
        v1,
        VersionRow {
            id: v1.id,
            draft_id: "d1".into(),
            name: "Rev. 1".into(),
            heads: heads.into(),
            created_by: Some("u-chair".into()),
            created_at: now,
            final_version: false,
        }
    );
    let dup = store
        .create_version("d1", "Rev. 1", "{}", None, false, now + 1)
        .await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    // The same name in another draft; a version named by the server.
    let other = store
        .create_version("d2", "Rev. 1", "{}", None, false, now + 1)
        .await
        .unwrap();
    let v2 = store
        .create_version("d1", "Rev. \"2\"", "{}", None, false, now + 2)
        .await
        .unwrap();
    assert_eq!(
        store.versions("d1").await.unwrap(),
        [v1.clone(), v2.clone()]
    );
    assert_eq!(store.versions("d2").await.unwrap(), [other]);

    let events = events_of(&store, "d1", "version_named").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(
        events[0].data,
        format!(r#"{{"version":{},"name":"Rev. 1"}}"#, v1.id)
    );
    assert_eq!(events[1].user_id, None);
    assert_eq!(
        events[1].data,
        format!(r#"{{"version":{},"name":"Rev. \"2\""}}"#, v2.id)
    );

    let missing = store
        .create_version("nope", "Rev. 1", "{}", None, false, now)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
test_both_dbs!(
    versions_are_unique_per_draft,
    sqlite_versions_are_unique_per_draft,
    postgres_versions_are_unique_per_draft
);

async fn adopt_draft_once_with_final_version(store: Store) {
    setup_draft(&store).await;
    store.create_draft(&new_draft("d2", 1)).await.unwrap();
    let now = now_ms();
    let d1 = store.draft("d1").await.unwrap().unwrap();
    assert_eq!((d1.adopted_at, d1.adopted_by), (None, None));

    let heads = r#"{"d1-index":["0a"]}"#;
    let version = store
        .adopt_draft("d1", "u-chair", "Final", heads, now)
        .await
        .unwrap();
    assert_eq!(
        version,
        VersionRow {
            id: version.id,
            draft_id: "d1".into(),
            name: "Final".into(),
            heads: heads.into(),
            created_by: Some("u-chair".into()),
            created_at: now,
            final_version: true,
        }
    );
    assert_eq!(
        store.versions("d1").await.unwrap(),
        std::slice::from_ref(&version)
    );
    let d1 = store.draft("d1").await.unwrap().unwrap();
    assert_eq!(d1.adopted_at, Some(now));
    assert_eq!(d1.adopted_by.as_deref(), Some("u-chair"));
    assert_eq!(store.drafts().await.unwrap()[0], d1);
    let events = events_of(&store, "d1", "draft_adopted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id.as_deref(), Some("u-chair"));
    assert_eq!(
        events[0].data,
        format!(r#"{{"version":{},"name":"Final"}}"#, version.id)
    );

    // Twice: Conflict, nothing written.
    let twice = store
        .adopt_draft("d1", "u-other", "Final 2", "{}", now + 1)
        .await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(store.draft("d1").await.unwrap().unwrap(), d1);
    assert_eq!(store.versions("d1").await.unwrap(), [version]);
    assert_eq!(events_of(&store, "d1", "draft_adopted").await.len(), 1);

    // A taken version name: Conflict, and the draft stays unadopted.
    store
        .create_version("d2", "Final", "{}", None, false, now)
        .await
        .unwrap();
    let taken = store.adopt_draft("d2", "u-chair", "Final", "{}", now).await;
    assert!(matches!(taken, Err(Error::Conflict(_))), "{taken:?}");
    assert_eq!(store.draft("d2").await.unwrap().unwrap().adopted_at, None);
    assert!(events_of(&store, "d2", "draft_adopted").await.is_empty());

    let missing = store
        .adopt_draft("nope", "u-chair", "Final", "{}", now)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
test_both_dbs!(
    adopt_draft_once_with_final_version,
    sqlite_adopt_draft_once_with_final_version,
    postgres_adopt_draft_once_with_final_version
);
