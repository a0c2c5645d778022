//! The test harness: the real `accord` binary as a child process, a fresh
//! database per test (SQLite file or PostgreSQL database), a websocket client
//! that speaks the automerge-repo protocol with real Automerge documents, and
//! HTTP requests to the server.
//!
//! - `db`: a database of its own per test, on either backend, and
//!   `on_both_backends!`;
//! - `server`: the server process (start, restart, `kill -9`, its log and
//!   memory), the administration CLI, users and sessions, and the API reads
//!   tests share;
//! - `http`: requests as [`HttpResponse`]s (status, headers, body);
//! - `client`: the automerge-repo sync client ([`Client`]) and the server's
//!   notices;
//! - `presence`: the server's presence feed as a client saw it.

use std::future::Future;
use std::time::Duration;

mod client;
mod db;
mod http;
mod presence;
mod server;

pub use client::{Client, ClientDoc, cbor, join};
pub use db::{Backend, Db};
pub use http::{HttpResponse, http_get, http_request};
pub use presence::presence_view;
pub use server::{METRICS_TOKEN, TestServer, binary, doc_id_of, free_port, hex_heads, run_cli};

/// How long a client waits for silence before it calls a document settled.
pub const QUIET: Duration = Duration::from_millis(300);
/// The default bound for anything a test waits for.
pub const WAIT: Duration = Duration::from_secs(15);

/// Runs a test body with a hard time limit. Unlike `tokio::time::timeout`,
/// the body is dropped while the panic unwinds, so servers it owns print
/// their logs.
pub async fn within<F: Future>(secs: u64, body: F) -> F::Output {
    let body = std::pin::pin!(body);
    tokio::select! {
        out = body => out,
        () = tokio::time::sleep(Duration::from_secs(secs)) => {
            panic!("test timed out after {secs} s")
        }
    }
}

/// Declares `mod <name> { sqlite, postgres }` running `async fn <name>(Db)`
/// on both backends, each within `$secs` seconds.
macro_rules! on_both_backends {
    ($name:ident, $secs:expr) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::harness::Db::sqlite();
                $crate::harness::within($secs, super::$name(db)).await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = $crate::harness::Db::postgres().await;
                $crate::harness::within($secs, super::$name(db)).await;
            }
        }
    };
}
pub(crate) use on_both_backends;
