//! Websocket hygiene: a silent peer is closed after the idle timeout, a peer
//! that answers pings stays, and a peer that cannot keep up is closed
//! without holding back the others.

use std::time::Duration;

use crate::harness::{Client, Db, METRICS_TOKEN, TestServer, within};

async fn metric(server: &TestServer, name: &str) -> f64 {
    let body = server.metrics().await.body;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_silent_peer_is_closed_and_a_live_one_stays() {
    within(60, async {
        let server = TestServer::start_with(
            Db::sqlite(),
            &["--idle-timeout-secs", "2", "--ping-secs", "1"],
        )
        .await;
        let doc = server.element_doc(0).await;
        let mut silent = Client::connect(&server).await;
        let mut live = Client::connect(&server).await;
        live.open(&doc).await;
        // `live` reads (and so answers pings) for twice the idle timeout;
        // `silent` reads nothing and sends nothing, not even a pong.
        let until = tokio::time::Instant::now() + Duration::from_secs(4);
        while tokio::time::Instant::now() < until {
            live.settle().await;
        }
        assert!(!live.is_closed(), "a peer that answers pings stays");
        // The server sent close 1001 and dropped the socket; the client sees
        // that frame, or (as it first tries to answer the queued pings) a
        // broken pipe.
        let closed = silent.expect_closed().await;
        assert!(
            closed.code == Some(1001) || closed.reason.contains("Broken pipe"),
            "{closed:?}"
        );
        live.append(&doc, " still here").await;
        server.wait_element_heads(&doc, &live.heads(&doc)).await;
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_cannot_keep_up_is_closed_and_the_others_go_on() {
    within(120, async {
        let server = TestServer::start_with(
            Db::sqlite(),
            &[
                "--outbound-queue",
                "16",
                "--outbound-queue-bytes",
                "65536",
                "--metrics-token",
                METRICS_TOKEN,
            ],
        )
        .await;
        let doc = server.element_doc(5).await;
        let mut slow = Client::connect_small_buffer(&server).await;
        slow.open(&doc).await;
        let mut fast = Client::connect(&server).await;
        fast.open(&doc).await;
        let mut writer = Client::connect(&server).await;
        writer.open(&doc).await;

        // `slow` stops reading. Ephemeral messages relayed to every peer of
        // the document (as large and as frequent as the server relays) fill
        // its socket, then its outbound queue.
        let data = vec![7u8; 12 * 1024];
        let mut sent = 0;
        while metric(
            &server,
            "accord_connections_closed_total{reason=\"slow_consumer\"}",
        )
        .await
            < 1.0
        {
            assert!(sent < 2000, "the slow peer was never closed");
            sent += 1;
            writer.send_ephemeral(&doc, "session", sent, &data).await;
            fast.wait_for("the relayed message", |c| c.ephemerals.len() as u64 == sent)
                .await;
            writer.drain_ready().await;
            tokio::time::sleep(Duration::from_millis(35)).await;
        }
        slow.expect_closed().await;

        // The others were not held back: every relayed message reached
        // `fast`, and editing goes on.
        fast.wait_for("every ephemeral message", |c| {
            c.ephemerals.len() as u64 == sent
        })
        .await;
        writer.append(&doc, " after the slow peer left").await;
        let heads = writer.heads(&doc);
        fast.wait_until(&doc, "the writer's edit", |d| d.heads() == heads)
            .await;
        assert!(!fast.is_closed() && !writer.is_closed());
    })
    .await;
}
