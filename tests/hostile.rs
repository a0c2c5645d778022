//! Hostile, stuck and careless clients against the real server: clients
//! that stop reading, forged server messages, presence traffic, the order
//! of relayed ephemeral messages, oversized peer ids and frames, and
//! sessions that end while their websocket is open.

use std::time::{Duration, Instant};

use accord_protocol::Message;

use crate::harness::{Client, ClientDoc, Db, TestServer, cbor, join, presence_view, within};

/// The connections the server lists as present in the draft.
async fn present_count(server: &TestServer, draft: &str) -> usize {
    server
        .get_json(&format!("/api/v1/drafts/{draft}/presence"))
        .await["present"]
        .as_array()
        .expect("present")
        .len()
}

/// Sends `data` as ephemeral messages about `doc` from `writer`, at a pace
/// the server relays in full, until `done` holds or `limit` passes.
async fn relay_until<F, Fut>(writer: &mut Client, doc: &str, data: &[u8], limit: Duration, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + limit;
    let mut count = 0;
    while !done().await {
        assert!(Instant::now() < until, "not done after {limit:?}");
        count += 1;
        writer.send_ephemeral(doc, "writer", count, data).await;
        writer.drain_ready().await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Clients that joined an element and then stopped reading: the server
/// gives up on a write that makes no progress, and the connection goes
/// with all its state (presence, the document's peer list).
#[tokio::test]
async fn clients_that_stop_reading_are_freed() {
    within(90, async {
        let server = TestServer::start_with(
            Db::sqlite(),
            &["--write-timeout-secs", "2", "--idle-timeout-secs", "600"],
        )
        .await;
        let draft = server.draft().await["id"].as_str().expect("id").to_owned();
        let doc = server.element_doc(2).await;
        let mut stuck = Vec::new();
        for _ in 0..3 {
            let mut client = Client::connect_small_buffer(&server).await;
            client.open(&doc).await;
            stuck.push(client);
        }
        let mut writer = Client::connect(&server).await;
        writer.open(&doc).await;
        assert_eq!(present_count(&server, &draft).await, 4);

        let data = vec![1u8; 12 * 1024];
        relay_until(
            &mut writer,
            &doc,
            &data,
            Duration::from_secs(40),
            || async { present_count(&server, &draft).await == 1 },
        )
        .await;
        // Their sockets are closed too: past what the kernel still holds,
        // each reads the end of the connection.
        for client in &mut stuck {
            client.expect_closed().await;
        }
        assert!(!writer.is_closed());
        writer.append(&doc, " still editing").await;
        server.wait_element_heads(&doc, &writer.heads(&doc)).await;
    })
    .await;
}

/// A thousand readers that stop reading leave the server's memory where
/// it was once they are gone.
#[tokio::test]
async fn a_thousand_stuck_readers_leave_memory_where_it_started() {
    within(240, async {
        let server = TestServer::start_with(
            Db::sqlite(),
            &[
                "--write-timeout-secs",
                "2",
                "--idle-timeout-secs",
                "600",
                "--outbound-queue-bytes",
                "131072",
            ],
        )
        .await;
        let draft = server.draft().await["id"].as_str().expect("id").to_owned();
        let doc = server.element_doc(4).await;
        let mut writer = Client::connect(&server).await;
        writer.open(&doc).await;
        let data = vec![2u8; 8 * 1024];
        // Warm up: the same traffic with one well-behaved reader.
        let mut reader = Client::connect(&server).await;
        reader.open(&doc).await;
        for i in 0..20 {
            writer.send_ephemeral(&doc, "writer", i + 1, &data).await;
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        reader
            .wait_for("the warm-up traffic", |c| c.ephemerals.len() >= 20)
            .await;
        drop(reader);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = server.rss_kib();

        let mut stuck = Vec::new();
        for _ in 0..1000 {
            let mut client = Client::connect_small_buffer(&server).await;
            client.begin(&doc, automerge::AutoCommit::new()).await;
            client
                .wait_until(&doc, "the document", ClientDoc::caught_up)
                .await;
            stuck.push(client);
        }
        let during = server.rss_kib();
        relay_until(
            &mut writer,
            &doc,
            &data,
            Duration::from_secs(120),
            || async { present_count(&server, &draft).await == 1 },
        )
        .await;
        drop(stuck);
        // Freed memory goes back to the system within seconds (jemalloc's
        // background threads purge what has been unused for a while).
        let bound = before + 32 * 1024;
        let until = Instant::now() + Duration::from_secs(40);
        let mut after = server.rss_kib();
        while after > bound && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(500)).await;
            after = server.rss_kib();
        }
        eprintln!(
            "server RSS: {before} KiB before, {during} KiB with 1000 stuck readers, \
             {after} KiB after"
        );
        assert!(
            after <= bound,
            "the server holds {} KiB more than before the stuck readers ({before} → {after} KiB)",
            after.saturating_sub(before)
        );
        writer.append(&doc, " after them").await;
        server.wait_element_heads(&doc, &writer.heads(&doc)).await;
    })
    .await;
}

/// A client cannot speak as the server: relayed ephemeral messages carry
/// the delivering connection's peer id and a session the server assigns,
/// and no client may claim a server peer id.
#[tokio::test]
async fn clients_cannot_forge_server_messages() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let index = server.index_doc().await;
        let mut evil = Client::connect(&server).await;
        evil.open(&index).await;
        let mut victim = Client::connect(&server).await;
        victim.open(&index).await;

        // A fake presence list: under the server's sender id it is not
        // relayed at all; under the sender's own id (with the server's
        // session id and a huge count, to make clients drop the server's
        // later notices) it is relayed under the server's word for the
        // sender's connection.
        let fake = cbor(&ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("type".into()),
                ciborium::Value::Text("accord-presence".into()),
            ),
            (
                ciborium::Value::Text("present".into()),
                ciborium::Value::Array(vec![]),
            ),
        ]));
        let forged = |sender_id: &str, marker: u8| {
            let mut data = fake.clone();
            data.push(marker);
            Message::Ephemeral(accord_protocol::Ephemeral {
                sender_id: sender_id.to_owned(),
                target_id: victim.peer_id.clone(),
                document_id: index.clone(),
                count: u64::MAX / 2,
                session_id: evil.server_peer_id.clone(),
                data,
            })
        };
        let as_server = forged(&evil.server_peer_id, 1);
        let as_itself = forged(&evil.peer_id, 2);
        assert!(evil.send_message(&as_server).await);
        assert!(evil.send_message(&as_itself).await);
        let marked = |c: &Client, m: u8| {
            c.ephemerals
                .iter()
                .find(|e| e.data.starts_with(&fake) && e.data.last() == Some(&m))
                .cloned()
        };
        victim
            .wait_for("the relayed message", |c| marked(c, 2).is_some())
            .await;
        victim.settle().await;
        assert!(marked(&victim, 1).is_none(), "relayed as the server");
        let relayed = marked(&victim, 2).expect("relayed");
        assert_eq!(relayed.sender_id, evil.peer_id);
        assert_ne!(relayed.session_id, victim.server_peer_id);
        assert!(
            relayed.count < 1000,
            "the count is the server's: {}",
            relayed.count
        );
        // A message passed on under another peer's sender id (the stock
        // client re-forwards what it hears) is not relayed either.
        let echo = cbor(&ciborium::Value::Text("re-forwarded".into()));
        let reforward = Message::Ephemeral(accord_protocol::Ephemeral {
            sender_id: victim.peer_id.clone(),
            target_id: evil.server_peer_id.clone(),
            document_id: index.clone(),
            count: 1,
            session_id: "theirs".into(),
            data: echo.clone(),
        });
        assert!(evil.send_message(&reforward).await);
        victim.settle().await;
        assert!(
            victim.ephemerals.iter().all(|e| e.data != echo),
            "a re-forwarded message was relayed"
        );
        // The victim's view of presence still comes from the server alone.
        let view = presence_view(&victim).expect("the server's presence list");
        assert_eq!(view.len(), 2, "{view:?}");

        // Nobody may join as a server.
        let mut poser = Client::connect_raw(&server).await;
        let id = format!("{}-2", evil.server_peer_id);
        poser.send_message(&join(&id, &["1"])).await;
        let closed = poser.expect_closed().await;
        assert_eq!(closed.code, Some(1008), "{closed:?}");
        assert!(
            poser.errors.iter().any(|e| e.contains("server")),
            "{:?}",
            poser.errors
        );
    })
    .await;
}

/// Peer ids are capped: a 1 MiB id is refused at `join`; a long but sane
/// one is accepted.
#[tokio::test]
async fn peer_ids_are_capped() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let mut huge = Client::connect_raw(&server).await;
        huge.send_message(&join(&"p".repeat(1 << 20), &["1"])).await;
        let closed = huge.expect_closed().await;
        assert_eq!(closed.code, Some(1008), "{closed:?}");
        assert!(
            huge.errors.iter().any(|e| e.contains("peer id")),
            "{:?}",
            huge.errors
        );
        assert!(huge.server_peer_id.is_empty(), "no `peer` answer");

        let long = format!("peer-{}", "x".repeat(250));
        let client = Client::connect_as(&server, &long).await;
        assert!(!client.is_closed());
    })
    .await;
}

/// One connection's ephemeral messages about different documents reach
/// the others in the order it sent them (the stock client drops a count
/// lower than one it has seen from a session), and never come back to it.
#[tokio::test]
async fn one_connections_ephemerals_arrive_in_order() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let docs = [
            server.element_doc(0).await,
            server.element_doc(1).await,
            server.element_doc(2).await,
        ];
        let mut sender = Client::connect(&server).await;
        let mut receiver = Client::connect(&server).await;
        for doc in &docs {
            sender.open(doc).await;
            receiver.open(doc).await;
        }
        let n = 60u64;
        for i in 0..n {
            let doc = &docs[(i % 3) as usize];
            let data = cbor(&ciborium::Value::Integer(i.into()));
            sender.send_ephemeral(doc, "mine", 1000 - i, &data).await;
        }
        receiver
            .wait_for("every relayed message", |c| {
                c.ephemerals
                    .iter()
                    .filter(|e| e.sender_id != c.server_peer_id)
                    .count() as u64
                    == n
            })
            .await;
        let relayed: Vec<_> = receiver
            .ephemerals
            .iter()
            .filter(|e| e.sender_id != receiver.server_peer_id)
            .collect();
        let session = &relayed[0].session_id;
        for (i, e) in relayed.iter().enumerate() {
            let value: ciborium::Value = ciborium::from_reader(&e.data[..]).expect("cbor");
            assert_eq!(value, ciborium::Value::Integer((i as u64).into()), "order");
            assert_eq!(&e.session_id, session);
            assert_eq!(e.count, i as u64 + 1, "counts rise in arrival order");
            assert_eq!(e.document_id, docs[i % 3]);
        }
        sender.settle().await;
        assert!(
            sender
                .ephemerals
                .iter()
                .all(|e| e.sender_id == sender.server_peer_id),
            "the sender heard its own messages back"
        );
    })
    .await;
}

/// Watchers of the index document get the presence list once, then only
/// changes: a client that comes and goes costs each of them the same few
/// bytes however many are present.
#[tokio::test]
async fn presence_sends_changes_not_lists() {
    within(90, async {
        let server = TestServer::start(Db::sqlite()).await;
        let index = server.index_doc().await;
        let element = server.element_doc(1).await;
        let mut watcher = Client::connect(&server).await;
        watcher.open(&index).await;

        // The bytes of server messages the watcher gets while one client
        // opens the index and an element, then leaves.
        async fn one_visit(
            server: &TestServer,
            watcher: &mut Client,
            index: &str,
            element: &str,
        ) -> usize {
            watcher.settle().await;
            let seen = watcher.ephemerals.len();
            let mut visitor = Client::connect(server).await;
            visitor.open(index).await;
            visitor.open(element).await;
            let peer = visitor.peer_id.clone();
            watcher
                .wait_for("the visitor in the presence feed", |c| {
                    presence_view(c).is_some_and(|p| {
                        p.iter()
                            .any(|e| e.peer_id == peer && !e.elements.is_empty())
                    })
                })
                .await;
            drop(visitor);
            watcher
                .wait_for("the visitor gone from the presence feed", |c| {
                    presence_view(c).is_some_and(|p| p.iter().all(|e| e.peer_id != peer))
                })
                .await;
            watcher.ephemerals[seen..]
                .iter()
                .filter(|e| e.sender_id == watcher.server_peer_id)
                .map(|e| e.data.len())
                .sum()
        }

        let alone = one_visit(&server, &mut watcher, &index, &element).await;
        let mut crowd = Vec::new();
        for _ in 0..40 {
            let mut c = Client::connect(&server).await;
            c.open(&index).await;
            crowd.push(c);
        }
        let crowded = one_visit(&server, &mut watcher, &index, &element).await;
        eprintln!("presence bytes a visit costs a watcher: {alone} alone, {crowded} among 40");
        assert!(
            crowded <= alone + 64,
            "a visit cost the watcher {alone} bytes alone and {crowded} bytes among 40"
        );
        let view = presence_view(&watcher).expect("presence");
        assert_eq!(view.len(), 41, "the watcher and the crowd");
        // A newcomer gets the whole list once.
        let mut late = Client::connect(&server).await;
        late.open(&index).await;
        late.wait_for("the whole list", |c| {
            presence_view(c).is_some_and(|p| p.len() == 42)
        })
        .await;
    })
    .await;
}

/// Disabling a user (with the CLI, another process) closes their open
/// websocket within seconds; nothing they send after that is stored.
#[tokio::test]
async fn disabling_a_user_closes_their_socket_within_seconds() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let doc = server.element_doc(3).await;
        let token = server.session_for("leaver", "delegate", Some("IOM")).await;
        let mut client = Client::connect_with(&server, &token).await;
        client.open(&doc).await;
        client.append(&doc, " before").await;
        server.wait_element_heads(&doc, &client.heads(&doc)).await;

        let (ok, _, stderr) = server.cli(&["user", "disable", "leaver"]).await;
        assert!(ok, "{stderr}");
        let disabled_at = Instant::now();
        let closed = client.expect_closed().await;
        let took = disabled_at.elapsed();
        assert_eq!(closed.code, Some(4001), "{closed:?}");
        assert!(took < Duration::from_secs(6), "closed after {took:?}");
        let (text, _) = server.element_state(&doc).await;
        assert!(text.ends_with(" before"), "{text}");
        // The token no longer opens a websocket.
        let refused = tokio_tungstenite::connect_async(server.ws_url_with(Some(&token))).await;
        assert!(refused.is_err(), "a disabled user's token still connects");
    })
    .await;
}

/// A frame over the limit closes the connection with 1009 and a reason.
#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    within(60, async {
        let server = TestServer::start_with(Db::sqlite(), &["--max-change-bytes", "1024"]).await;
        let doc = server.element_doc(0).await;
        // The server refuses the frame from its header and closes without
        // reading the rest. A client still writing the rest when the close
        // arrives gets a reset, which can cost it the close frame (TCP, not
        // the server): such a try proves nothing about the code, so it is
        // tried again, and one that wrote its whole frame must read 1009.
        let mut tries = 0;
        let closed = loop {
            tries += 1;
            let mut client = Client::connect(&server).await;
            client.open(&doc).await;
            // The frame limit is twice the change limit plus 1 MiB.
            if client.send_frame(vec![0u8; (1 << 20) + 4096]).await {
                break client.expect_closed().await;
            }
            assert!(
                tries < 5,
                "every try was reset before its frame was written"
            );
        };
        assert_eq!(closed.code, Some(1009), "{closed:?}");
        assert!(closed.reason.contains("limit"), "{closed:?}");
        let other = Client::connect(&server).await;
        assert!(!other.is_closed());
    })
    .await;
}

/// The server's own messages keep counting up across a client's
/// connections: the stock client keeps the highest count it saw from the
/// server's session and drops lower ones, also after it reconnects (a lock
/// notice right after reconnecting was lost that way).
#[tokio::test]
async fn server_message_counts_rise_across_reconnects() {
    within(60, async {
        let server = TestServer::start(Db::sqlite()).await;
        let index = server.index_doc().await;
        let mut first = Client::connect_as(&server, "returning-peer").await;
        first.open(&index).await;
        let mut others = Vec::new();
        for _ in 0..5 {
            let mut other = Client::connect(&server).await;
            other.open(&index).await;
            others.push(other);
        }
        first
            .wait_for("the others in the presence feed", |c| {
                presence_view(c).is_some_and(|p| p.len() == 6)
            })
            .await;
        let counts = |c: &Client| -> Vec<u64> {
            c.ephemerals
                .iter()
                .filter(|e| e.sender_id == c.server_peer_id)
                .map(|e| e.count)
                .collect()
        };
        let last = counts(&first).into_iter().max().expect("server messages");
        drop(first);
        let mut again = Client::connect_as(&server, "returning-peer").await;
        again.open(&index).await;
        let next = counts(&again).into_iter().min().expect("server messages");
        assert!(
            next > last,
            "the new connection's first server message counts {next}, the old one's last {last}"
        );
    })
    .await;
}
