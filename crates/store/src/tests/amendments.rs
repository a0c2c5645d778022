//! Amendments (sponsors, objections, decisions), comments and editing modes.

use super::*;

fn anchor(original: &str) -> Anchor {
    Anchor {
        original: original.into(),
        start_cursor: "2@aa".into(),
        end_cursor: "5@aa".into(),
        heads: heads("h1"),
    }
}

fn proposal(entity: &str, user: &str) -> NewAmendment {
    NewAmendment {
        draft_id: "d1".into(),
        element_id: "d1-el-0".into(),
        entity_code: entity.into(),
        user_id: user.into(),
        anchor: anchor("choice"),
        text: "informed choice".into(),
        reason: "Clearer".into(),
    }
}

fn stand(entity: &str, reason: Option<&str>, at: i64) -> AmendmentStand {
    AmendmentStand {
        amendment_id: 0,
        entity_code: entity.into(),
        user_id: format!("u-{entity}"),
        reason: reason.map(Into::into),
        at,
    }
}

async fn amendment_life(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let proposed = store
        .propose_amendment(
            &proposal("US", "u-US"),
            &event("amendment_proposed", None),
            now,
        )
        .await
        .unwrap();
    assert_eq!(proposed.state, "open");
    assert_eq!((proposed.created_at, proposed.anchored_at), (now, now));
    assert_eq!(proposed.original, "choice");
    let id = proposed.id;
    // The event names the amendment.
    let events = events_of(&store, "d1", "amendment_proposed").await;
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .data
            .starts_with(&format!(r#"{{"amendment":{id},"#)),
        "{}",
        events[0].data
    );

    // The proposer sponsors from the start; another entity joins, twice is refused.
    let sponsor = |e: &str, at| stand(e, None, at);
    store
        .set_sponsorship(
            "d1",
            id,
            &sponsor("EU", now + 1),
            true,
            &event("amendment_sponsored", None),
        )
        .await
        .unwrap();
    let again = store
        .set_sponsorship(
            "d1",
            id,
            &sponsor("EU", now + 2),
            true,
            &event("amendment_sponsored", None),
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    // An objector must not sponsor; a sponsor must withdraw before objecting.
    let objecting = store
        .set_objection(
            "d1",
            id,
            &stand("EU", Some("no"), now + 3),
            &event("amendment_objected", None),
        )
        .await;
    assert!(
        matches!(objecting, Err(Error::Conflict(_))),
        "{objecting:?}"
    );
    store
        .set_objection(
            "d1",
            id,
            &stand("G77", Some("Too broad"), now + 3),
            &event("amendment_objected", None),
        )
        .await
        .unwrap();
    let (sponsors, objections) = store.amendment_stands("d1").await.unwrap();
    let codes: Vec<&str> = sponsors.iter().map(|s| s.entity_code.as_str()).collect();
    assert_eq!(codes, ["US", "EU"]);
    assert_eq!(objections.len(), 1);
    assert_eq!(objections[0].reason.as_deref(), Some("Too broad"));
    store
        .set_sponsorship(
            "d1",
            id,
            &sponsor("EU", now + 4),
            false,
            &event("amendment_unsponsored", None),
        )
        .await
        .unwrap();
    let not = store
        .set_sponsorship(
            "d1",
            id,
            &sponsor("EU", now + 5),
            false,
            &event("amendment_unsponsored", None),
        )
        .await;
    assert!(matches!(not, Err(Error::Conflict(_))), "{not:?}");

    // Re-anchoring moves the passage and keeps the amendment open.
    let mut moved = anchor("genuine choice");
    moved.start_cursor = "1@bb".into();
    store
        .reanchor_amendment(
            "d1",
            id,
            &moved,
            Some("genuine and informed choice"),
            &event("amendment_reanchored", None),
            now + 6,
        )
        .await
        .unwrap();
    let row = store.amendment("d1", id).await.unwrap().unwrap();
    assert_eq!(
        (row.original.as_str(), row.start_cursor.as_str()),
        ("genuine choice", "1@bb")
    );
    assert_eq!(row.text, "genuine and informed choice");
    assert_eq!(row.anchored_at, now + 6);

    // Acceptance stores the change (attributed, its actor claimed) with the decision.
    let change = NewChange {
        actor: bytes("actor-amendment-1"),
        peer_id: None,
        conn_id: None,
        heads_after: Some(heads("acc")),
        ..typing("d1-doc-el-0", "acc", "u-US", 27, 14)
    };
    let accept = Decision {
        draft_id: "d1".into(),
        amendment_id: id,
        state: "accepted".into(),
        by: "u-chair".into(),
        reason: None,
        change: Some(change),
        event: event("amendment_accepted", Some("d1-el-0")),
    };
    store.decide_amendment_at(&accept, now + 7).await.unwrap();
    let row = store.amendment("d1", id).await.unwrap().unwrap();
    assert_eq!(row.state, "accepted");
    assert_eq!(row.decided_by.as_deref(), Some("u-chair"));
    assert_eq!(row.applied_change.as_deref(), Some(hex(b"acc").as_str()));
    let stored = attribution(&store, "d1-doc-el-0").await;
    assert_eq!(
        stored.last().unwrap(),
        &(bytes("acc"), Some("u-US".into()), None)
    );
    let owners = store.actor_owners().await.unwrap();
    assert!(owners.contains(&(bytes("actor-amendment-1"), "u-US".into())));
    let revisions = store
        .revisions("d1", &HistoryFilter::default(), None, 10)
        .await
        .unwrap();
    assert!(
        revisions
            .iter()
            .any(|r| r.user_id == "u-US" && r.inserted == 27),
        "{revisions:?}"
    );

    // A decided amendment takes no second decision, nor sponsors; nothing is written.
    let reject = Decision {
        state: "rejected".into(),
        change: None,
        reason: Some("late".into()),
        event: event("amendment_rejected", None),
        ..accept.clone()
    };
    let twice = store.decide_amendment_at(&reject, now + 8).await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    let late = store
        .set_sponsorship(
            "d1",
            id,
            &sponsor("G77", now + 9),
            true,
            &event("amendment_sponsored", None),
        )
        .await;
    assert!(matches!(late, Err(Error::Conflict(_))), "{late:?}");
    assert!(
        events_of(&store, "d1", "amendment_rejected")
            .await
            .is_empty()
    );
    assert_eq!(
        store.amendment("d1", id).await.unwrap().unwrap().state,
        "accepted"
    );

    // Another is withdrawn; a change that does not store leaves it open.
    let second = store
        .propose_amendment(
            &proposal("G77", "u-G77"),
            &event("amendment_proposed", None),
            now + 10,
        )
        .await
        .unwrap();
    let clash = Decision {
        amendment_id: second.id,
        change: Some(NewChange {
            doc_id: "no-such-doc".into(),
            ..typing("d1-doc-el-0", "bad", "u-G77", 1, 0)
        }),
        ..accept.clone()
    };
    assert!(store.decide_amendment_at(&clash, now + 11).await.is_err());
    assert_eq!(
        store
            .amendment("d1", second.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        "open"
    );
    let withdraw = Decision {
        amendment_id: second.id,
        state: "withdrawn".into(),
        by: "u-G77".into(),
        change: None,
        event: event("amendment_withdrawn", None),
        ..accept.clone()
    };
    store
        .decide_amendment_at(&withdraw, now + 12)
        .await
        .unwrap();
    let all = store.amendments("d1").await.unwrap();
    let states: Vec<&str> = all.iter().map(|a| a.state.as_str()).collect();
    assert_eq!(states, ["accepted", "withdrawn"]);

    // Unknown amendments and elements.
    let unknown = store
        .decide_amendment_at(
            &Decision {
                amendment_id: 999,
                ..withdraw
            },
            now,
        )
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    let mut elsewhere = proposal("US", "u-US");
    elsewhere.element_id = "nope".into();
    let missing = store
        .propose_amendment(&elsewhere, &event("amendment_proposed", None), now)
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

test_both_dbs!(
    amendment_life,
    amendment_life_sqlite,
    amendment_life_postgres
);

async fn comments_and_modes(store: Store) {
    setup_draft(&store).await;
    let now = now_ms();
    let comment = |text: &str, reply_to: Option<i64>| NewComment {
        draft_id: "d1".into(),
        element_id: "d1-el-1".into(),
        user_id: "u-EU".into(),
        entity_code: Some("EU".into()),
        text: text.into(),
        reply_to,
        anchor: reply_to.is_none().then(|| anchor("choice")),
        mentions: r#"{"entities":["G77"],"users":[]}"#.into(),
    };
    let first = store
        .add_comment(
            &comment("@G77 why?", None),
            &event("comment_added", None),
            now,
        )
        .await
        .unwrap();
    assert_eq!(first.original.as_deref(), Some("choice"));
    let reply = store
        .add_comment(
            &comment("Because.", Some(first.id)),
            &event("comment_added", None),
            now + 1,
        )
        .await
        .unwrap();
    assert_eq!(reply.reply_to, Some(first.id));
    // Threads are one level deep and stay on their element.
    let deeper = store
        .add_comment(
            &comment("And?", Some(reply.id)),
            &event("comment_added", None),
            now + 2,
        )
        .await;
    assert!(matches!(deeper, Err(Error::Invalid(_))), "{deeper:?}");
    let mut other = comment("Here?", Some(first.id));
    other.element_id = "d1-el-2".into();
    let across = store
        .add_comment(&other, &event("comment_added", None), now + 2)
        .await;
    assert!(matches!(across, Err(Error::Invalid(_))), "{across:?}");
    assert_eq!(store.comments("d1").await.unwrap().len(), 2);

    let resolve_reply = store
        .resolve_comment(
            "d1",
            reply.id,
            "u-chair",
            &event("comment_resolved", None),
            now + 3,
        )
        .await;
    assert!(
        matches!(resolve_reply, Err(Error::Conflict(_))),
        "{resolve_reply:?}"
    );
    store
        .resolve_comment(
            "d1",
            first.id,
            "u-chair",
            &event("comment_resolved", None),
            now + 3,
        )
        .await
        .unwrap();
    let again = store
        .resolve_comment(
            "d1",
            first.id,
            "u-chair",
            &event("comment_resolved", None),
            now + 4,
        )
        .await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let resolved = store.comment("d1", first.id).await.unwrap().unwrap();
    assert_eq!(resolved.resolved_at, Some(now + 3));
    assert_eq!(events_of(&store, "d1", "comment_resolved").await.len(), 1);

    // Editing modes: set once (an event), unchanged the second time, checked.
    let mode_event = event("element_mode", None);
    let mode = |m: &'static str| store.set_element_mode("d1", "d1-el-0", m, &mode_event, now);
    assert!(mode("amendments").await.unwrap());
    assert!(!mode("amendments").await.unwrap());
    assert!(matches!(mode("closed").await, Err(Error::Invalid(_))));
    assert_eq!(
        store.element_mode("d1-doc-el-0").await.unwrap().as_deref(),
        Some("amendments")
    );
    assert_eq!(store.elements("d1").await.unwrap()[0].mode, "amendments");
    assert_eq!(store.element_mode("d1-index").await.unwrap(), None);
    assert_eq!(events_of(&store, "d1", "element_mode").await.len(), 1);
}

test_both_dbs!(
    comments_and_modes,
    comments_and_modes_sqlite,
    comments_and_modes_postgres
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
