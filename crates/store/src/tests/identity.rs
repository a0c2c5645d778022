//! Users, invites, sessions and actor ownership.

use super::*;

#[test]
fn role_and_invite_kind_round_trip() {
    for role in [Role::Chair, Role::Delegate, Role::Reviewer] {
        assert_eq!(Role::parse(role.as_str()), Some(role));
    }
    assert_eq!(Role::parse("admin"), None);
    for kind in [InviteKind::Invite, InviteKind::Device] {
        assert_eq!(InviteKind::parse(kind.as_str()), Some(kind));
    }
}

async fn users_add_list_get(store: Store) {
    let bob = setup_bob(&store).await;
    assert_eq!(
        bob,
        UserRow {
            id: "u-bob".into(),
            name: "Bob".into(),
            role: Role::Delegate,
            entity_code: Some("EU".into()),
            disabled: false,
            created_at: bob.created_at,
        }
    );
    assert!(bob.created_at > 1_600_000_000_000, "unix ms");
    let chair = store
        .add_user(&new_user("u-chair", "Chair", Role::Chair, None))
        .await
        .unwrap();
    let ann = store
        .add_user(&new_user("u-ann", "Ann", Role::Reviewer, None))
        .await
        .unwrap();
    assert_eq!(
        store.users().await.unwrap(),
        [ann.clone(), bob.clone(), chair.clone()]
    );
    assert_eq!(store.user("u-bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(store.user_by_name("Chair").await.unwrap(), Some(chair));
    assert_eq!(store.user("Bob").await.unwrap(), None);
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);

    // A taken name or id.
    match store
        .add_user(&new_user("u-bob2", "Bob", Role::Reviewer, None))
        .await
    {
        Err(Error::Conflict(msg)) => assert!(msg.contains("Bob"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    match store
        .add_user(&new_user("u-bob", "Robert", Role::Reviewer, None))
        .await
    {
        Err(Error::Conflict(msg)) => assert!(msg.contains("u-bob"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    // A delegate needs an existing entity.
    match store
        .add_user(&new_user("u-eve", "Eve", Role::Delegate, None))
        .await
    {
        Err(Error::Invalid(msg)) => assert!(msg.contains("entity"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    match store
        .add_user(&new_user("u-eve", "Eve", Role::Delegate, Some("XX")))
        .await
    {
        Err(Error::Invalid(msg)) => assert!(msg.contains("XX"), "{msg}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    // Nothing was written by the failures.
    assert_eq!(store.users().await.unwrap().len(), 3);
    assert_eq!(store.user("u-eve").await.unwrap(), None);
}
test_both_dbs!(
    users_add_list_get,
    sqlite_users_add_list_get,
    postgres_users_add_list_get
);

async fn invites_redeem(store: Store) {
    let bob = setup_bob(&store).await;
    let now = now_ms();

    // Redeemed once; a second redeem is refused and opens no session.
    store
        .create_invite("u-bob", "inv-1", InviteKind::Invite, now + HOUR)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_invite("inv-1", &new_session("s-1", now), now)
            .await
            .unwrap(),
        Redeemed::Ok(bob.clone())
    );
    assert_eq!(
        store
            .redeem_invite("inv-1", &new_session("s-2", now), now + 1)
            .await
            .unwrap(),
        Redeemed::Used
    );
    assert_eq!(store.session("s-1", now).await.unwrap().unwrap().user, bob);
    assert_eq!(store.session("s-2", now).await.unwrap(), None);

    // Expired: expires_at must be after now.
    store
        .create_invite("u-bob", "inv-2", InviteKind::Device, now + 1000)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_invite("inv-2", &new_session("s-3", now), now + 1000)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    assert_eq!(store.session("s-3", now).await.unwrap(), None);

    assert_eq!(
        store
            .redeem_invite("nope", &new_session("s-4", now), now)
            .await
            .unwrap(),
        Redeemed::Unknown
    );

    // Disabling revokes unused invites; invites of a disabled user are refused.
    store
        .create_invite("u-bob", "inv-3", InviteKind::Device, now + HOUR)
        .await
        .unwrap();
    assert!(store.set_user_disabled("Bob", true).await.unwrap());
    assert!(store.user("u-bob").await.unwrap().unwrap().disabled);
    assert_eq!(
        store
            .redeem_invite("inv-3", &new_session("s-5", now), now)
            .await
            .unwrap(),
        Redeemed::Disabled
    );
    store
        .create_invite("u-bob", "inv-4", InviteKind::Device, now + HOUR)
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_invite("inv-4", &new_session("s-6", now), now)
            .await
            .unwrap(),
        Redeemed::Disabled
    );
    // Re-enabled: the invite created while disabled works, the revoked one stays dead.
    assert!(store.set_user_disabled("Bob", false).await.unwrap());
    let later = now_ms() + 1;
    assert_eq!(
        store
            .redeem_invite("inv-3", &new_session("s-7", later), later)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    let bob_enabled = store.user("u-bob").await.unwrap().unwrap();
    assert!(!bob_enabled.disabled);
    assert_eq!(
        store
            .redeem_invite("inv-4", &new_session("s-8", later), later)
            .await
            .unwrap(),
        Redeemed::Ok(bob_enabled)
    );
    assert!(!store.set_user_disabled("nobody", true).await.unwrap());

    // Unknown user, reused token hash.
    assert!(matches!(
        store
            .create_invite("u-nobody", "inv-5", InviteKind::Invite, now + HOUR)
            .await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store
            .create_invite("u-bob", "inv-1", InviteKind::Invite, now + HOUR)
            .await,
        Err(Error::Conflict(_))
    ));
}
test_both_dbs!(
    invites_redeem,
    sqlite_invites_redeem,
    postgres_invites_redeem
);

async fn concurrent_redeem_succeeds_once(store: Store) {
    setup_bob(&store).await;
    let now = now_ms();
    for round in 0..5 {
        let invite = format!("inv-{round}");
        store
            .create_invite("u-bob", &invite, InviteKind::Invite, now + HOUR)
            .await
            .unwrap();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|t| {
                let (store, barrier, invite) = (store.clone(), barrier.clone(), invite.clone());
                tokio::spawn(async move {
                    let session = new_session(&format!("s-{round}-{t}"), now);
                    barrier.wait().await;
                    store.redeem_invite(&invite, &session, now).await.unwrap()
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let ok = outcomes
            .iter()
            .filter(|r| matches!(r, Redeemed::Ok(_)))
            .count();
        assert_eq!(ok, 1, "{outcomes:?}");
        assert!(outcomes.contains(&Redeemed::Used), "{outcomes:?}");
        let mut live = 0;
        for t in 0..2 {
            let session = store.session(&format!("s-{round}-{t}"), now).await;
            live += usize::from(session.unwrap().is_some());
        }
        assert_eq!(live, 1, "exactly one session opened");
    }
}
test_both_dbs!(
    concurrent_redeem_succeeds_once,
    sqlite_concurrent_redeem_succeeds_once,
    postgres_concurrent_redeem_succeeds_once
);

async fn sessions_expire_revoke_and_follow_disabling(store: Store) {
    let bob = setup_bob(&store).await;
    let now = now_ms();
    for (invite, session) in [("inv-1", "s-1"), ("inv-2", "s-2")] {
        store
            .create_invite("u-bob", invite, InviteKind::Device, now + HOUR)
            .await
            .unwrap();
        let redeemed = store
            .redeem_invite(invite, &new_session(session, now), now)
            .await
            .unwrap();
        assert_eq!(redeemed, Redeemed::Ok(bob.clone()));
    }
    assert_eq!(
        store.session("s-1", now).await.unwrap(),
        Some(SessionRow {
            token_hash: "s-1".into(),
            user: bob.clone(),
            created_at: now,
            last_seen: now,
            expires_at: now + HOUR,
            max_expires_at: now + DAY,
        })
    );
    // Expiry: live while expires_at > now.
    assert!(
        store
            .session("s-1", now + HOUR - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.session("s-1", now + HOUR).await.unwrap(), None);
    assert_eq!(store.session("unknown", now).await.unwrap(), None);

    // Touching slides the expiry, never beyond max_expires_at.
    store
        .touch_session("s-1", now + 10, now + 2 * HOUR)
        .await
        .unwrap();
    let touched = store.session("s-1", now + HOUR).await.unwrap().unwrap();
    assert_eq!(
        (touched.created_at, touched.last_seen, touched.expires_at),
        (now, now + 10, now + 2 * HOUR)
    );
    store
        .touch_session("s-1", now + 20, now + 2 * DAY)
        .await
        .unwrap();
    let capped = store.session("s-1", now + 30).await.unwrap().unwrap();
    assert_eq!((capped.last_seen, capped.expires_at), (now + 20, now + DAY));
    assert_eq!(store.session("s-1", now + DAY).await.unwrap(), None);

    // Revocation is final: touching does not revive it.
    store.revoke_session("s-1", now + 40).await.unwrap();
    assert_eq!(store.session("s-1", now + 50).await.unwrap(), None);
    store
        .touch_session("s-1", now + 60, now + 3 * HOUR)
        .await
        .unwrap();
    assert_eq!(store.session("s-1", now + 70).await.unwrap(), None);
    assert!(store.session("s-2", now + 70).await.unwrap().is_some());

    // A disabled user has no live session, even one not (yet) revoked.
    let flag = |on: bool| format!("UPDATE users SET disabled = {on} WHERE id = 'u-bob'");
    exec_raw(&store, &flag(true)).await;
    assert_eq!(store.session("s-2", now).await.unwrap(), None);
    exec_raw(&store, &flag(false)).await;
    assert!(store.session("s-2", now).await.unwrap().is_some());
    // Disabling through the store revokes: re-enabling does not bring it back.
    assert!(store.set_user_disabled("Bob", true).await.unwrap());
    assert_eq!(store.session("s-2", now).await.unwrap(), None);
    assert!(store.set_user_disabled("Bob", false).await.unwrap());
    assert_eq!(store.session("s-2", now).await.unwrap(), None);
}
test_both_dbs!(
    sessions_expire_revoke_and_follow_disabling,
    sqlite_sessions_expire_revoke_and_follow_disabling,
    postgres_sessions_expire_revoke_and_follow_disabling
);

async fn sorted_owners(store: &Store) -> Vec<(Vec<u8>, String)> {
    let mut owners = store.actor_owners().await.unwrap();
    owners.sort();
    owners
}

fn owner(actor: &str, user: &str) -> (Vec<u8>, String) {
    (bytes(actor), user.into())
}

async fn commit_records_actor_owners(store: Store) {
    setup_draft(&store).await;
    let (a, b) = ("d1-doc-el-0", "d1-doc-el-1");
    assert!(store.actor_owners().await.unwrap().is_empty());
    store
        .commit(&[
            delivered(a, "a1", "A1", "alice", 1),
            delivered(b, "b1", "B1", "bob", 2),
            delivered(a, "a2", "A2", "alice", 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        sorted_owners(&store).await,
        [owner("actor-alice", "alice"), owner("actor-bob", "bob")]
    );

    // Later changes of alice's actor delivered by someone else: still alice's.
    let by_mallory = NewChange {
        user_id: Some("mallory".into()),
        ..delivered(a, "a3", "A3", "alice", 3)
    };
    assert_eq!(store.commit(&[by_mallory]).await.unwrap().stored, 1);
    // Within one batch, the first user to deliver from a new actor owns it;
    // a change without a user (the server's own) claims nothing.
    let shared = |hash: &str, user: &str| NewChange {
        actor: bytes("actor-shared"),
        ..delivered(b, hash, "S", user, 4)
    };
    let server_own = NewChange {
        actor: bytes("actor-server"),
        user_id: None,
        ..delivered(b, "srv", "SRV", "server", 5)
    };
    store
        .commit(&[shared("s1", "carol"), shared("s2", "dave"), server_own])
        .await
        .unwrap();
    assert_eq!(
        sorted_owners(&store).await,
        [
            owner("actor-alice", "alice"),
            owner("actor-bob", "bob"),
            owner("actor-shared", "carol"),
        ]
    );

    // claim_actor returns the first owner.
    assert_eq!(
        store.claim_actor(b"actor-alice", "zed").await.unwrap(),
        "alice"
    );
    assert_eq!(
        store.claim_actor(b"actor-server", "server").await.unwrap(),
        "server"
    );
    assert_eq!(
        store.claim_actor(b"actor-server", "bob").await.unwrap(),
        "server"
    );
    // ...and commit does not take a claimed actor over.
    let as_server = NewChange {
        actor: bytes("actor-server"),
        ..delivered(b, "srv2", "SRV2", "bob", 2)
    };
    store.commit(&[as_server]).await.unwrap();
    assert_eq!(
        sorted_owners(&store).await,
        [
            owner("actor-alice", "alice"),
            owner("actor-bob", "bob"),
            owner("actor-server", "server"),
            owner("actor-shared", "carol"),
        ]
    );
}
test_both_dbs!(
    commit_records_actor_owners,
    sqlite_commit_records_actor_owners,
    postgres_commit_records_actor_owners
);

async fn commit_and_actor_claims_are_one_transaction(store: Store) {
    setup_draft(&store).await;
    let a = "d1-doc-el-0";
    let batch = [delivered(a, "a1", "A1", "alice", 1)];
    // Recording the owner fails: the changes are not stored either.
    let (create, drop_trigger) = match store {
        Store::Sqlite(_) => (
            "CREATE TRIGGER fail_actors BEFORE INSERT ON actors \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            "DROP TRIGGER fail_actors;",
        ),
        Store::Postgres(_) => (
            "CREATE FUNCTION fail_actors() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
             CREATE TRIGGER fail_actors BEFORE INSERT ON actors \
             FOR EACH ROW EXECUTE FUNCTION fail_actors();",
            "DROP TRIGGER fail_actors ON actors; DROP FUNCTION fail_actors();",
        ),
    };
    exec_raw(&store, create).await;
    let err = store.commit(&batch).await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(store.changes_count(a).await.unwrap(), 2);
    exec_raw(&store, drop_trigger).await;
    assert!(store.actor_owners().await.unwrap().is_empty());

    // A batch failing on its changes claims no actor.
    let bad = [
        delivered(a, "a1", "A1", "alice", 1),
        delivered("no-such-doc", "x1", "X1", "bob", 2),
    ];
    store.commit(&bad).await.unwrap_err();
    assert!(store.actor_owners().await.unwrap().is_empty());
    assert_eq!(store.changes_count(a).await.unwrap(), 2);

    assert_eq!(store.commit(&batch).await.unwrap().stored, 1);
    assert_eq!(
        store.actor_owners().await.unwrap(),
        [owner("actor-alice", "alice")]
    );
}
test_both_dbs!(
    commit_and_actor_claims_are_one_transaction,
    sqlite_commit_and_actor_claims_are_one_transaction,
    postgres_commit_and_actor_claims_are_one_transaction
);

async fn a_fresh_invite_expires_the_unused_ones(store: Store) {
    let user = store
        .add_user(&NewUser {
            id: "u-fresh".into(),
            name: "fresh".into(),
            role: Role::Chair,
            entity_code: None,
        })
        .await
        .unwrap();
    let far = now_ms() + 3_600_000;
    store
        .create_invite(&user.id, "old", InviteKind::Invite, far)
        .await
        .unwrap();
    store
        .create_invite(&user.id, "device", InviteKind::Device, far)
        .await
        .unwrap();
    assert_eq!(
        store
            .expire_invites(&user.id, InviteKind::Invite)
            .await
            .unwrap(),
        1
    );
    let session = |hash: &str| NewSession {
        token_hash: hash.into(),
        expires_at: far,
        max_expires_at: far,
    };
    let now = now_ms() + 1;
    assert_eq!(
        store
            .redeem_invite("old", &session("s1"), now)
            .await
            .unwrap(),
        Redeemed::Expired
    );
    assert!(matches!(
        store
            .redeem_invite("device", &session("s2"), now)
            .await
            .unwrap(),
        Redeemed::Ok(_)
    ));
}
test_both_dbs!(
    a_fresh_invite_expires_the_unused_ones,
    fresh_invite_expires_unused_sqlite,
    fresh_invite_expires_unused_postgres
);
