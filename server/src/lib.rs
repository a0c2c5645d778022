//! The Accord server: wires the document model, the sync protocol and the
//! store to HTTP and websockets.
//!
//! `run` serves `/sync` (automerge-repo websocket protocol), `/api/v1`,
//! `/healthz`, `/readyz`, `/metrics` and the web UI until the shutdown token
//! is cancelled, then flushes everything.

mod amendments;
mod auth;
mod cli;
mod clock;
pub mod config;
mod consensus;
mod documents;
mod drafts;
mod error;
mod export;
mod history;
mod http;
#[cfg(test)]
mod layers;
mod metrics;
mod peer;
mod sync;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use accord_store::{InstanceLock, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::SignInThrottle;
use crate::config::ServeConfig;
use crate::documents::commit::Committer;
use crate::documents::{ActorOwners, DocSettings, Docs};
use crate::drafts::access::Directory;
use crate::metrics::Metrics;
use crate::sync::presence::{Presence, Subscribers};

pub use cli::admin::run_admin;
pub use cli::first_start::REFERENCE_SCENARIO;
#[doc(hidden)]
pub use http::fuzzing;

/// What every request handler and connection shares.
#[derive(Clone)]
pub struct AppState {
    config: Arc<ServeConfig>,
    store: Store,
    docs: Docs,
    metrics: Arc<Metrics>,
    /// The server's peer id in the sync protocol.
    server_peer_id: Arc<str>,
    /// The id of the server's durable storage, announced to clients.
    storage_id: Arc<str>,
    /// Connected peers by claimed peer id, to replace a reconnecting peer's
    /// old connection.
    peers: Arc<peer::PeerTable>,
    next_conn: Arc<AtomicU64>,
    /// False from a failed commit until the next successful one.
    storage_ok: Arc<AtomicBool>,
    shutdown: CancellationToken,
    /// The actor the server writes with.
    server_actor: automerge::ActorId,
    directory: Arc<Directory>,
    presence: Arc<Presence>,
    /// Who syncs each document, for relaying ephemeral messages.
    subscribers: Arc<Subscribers>,
    throttle: Arc<SignInThrottle>,
    /// Serialises structure and consensus commands per draft.
    draft_locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    consensus: Arc<consensus::Consensus>,
}

impl AppState {
    fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The lock that serialises a draft's structure and consensus commands.
    async fn draft_lock(&self, draft_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.draft_locks.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(draft_id.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

/// Runs Accord on `listener` until `shutdown` is cancelled, holding `lock`
/// (this database's instance lock) until it returns.
pub async fn run(
    config: ServeConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
    lock: InstanceLock,
) -> anyhow::Result<()> {
    http::scrape::check(&config)?;
    tracing::info!(lock = lock.description(), "holding the instance lock");
    // Another server took the lock (PostgreSQL, after a lost connection):
    // stop at once, as after kill -9. Every acknowledged change is
    // committed; a snapshot now could cover changes this process never saw.
    let lost = lock.lost();
    tokio::spawn(async move {
        tracing::error!("{}", lost.await);
        std::process::exit(1);
    });
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let actor = documents::owners::server_actor(&store).await?;
    // Nobody else may ever write with the server's actor.
    store
        .claim_actor(actor.to_bytes(), documents::owners::SERVER_USER)
        .await?;
    let owners = store
        .actor_owners()
        .await?
        .into_iter()
        .map(|(actor, user)| (automerge::ActorId::from(actor), user));
    let actors = Arc::new(ActorOwners::new(owners));
    let scenario = match &config.scenario {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read scenario {}: {e}", path.display()))?,
        None => REFERENCE_SCENARIO.to_owned(),
    };
    if cli::first_start::load_scenario_once(&store, &actor, &scenario).await? {
        tracing::info!("loaded the scenario into a new database");
    }
    if let Some(invite) = cli::first_start::first_chair(&store, &config).await? {
        // Shown once on the console, not logged: the invite is a secret
        // until it is used (a fresh one: `accord user invite chair`).
        println!(
            "\nNo users yet: created the chair \"{}\". Sign in once, within 14 days, at\n\n    {}\n",
            cli::first_start::FIRST_CHAIR,
            config::invite_link(&config.public_url, &invite)
        );
    }

    let metrics = Arc::new(Metrics::new());
    let storage_ok = Arc::new(AtomicBool::new(true));
    let tracker = TaskTracker::new();
    let clock = Arc::new(clock::Clock::new(config.test_clock));
    let committer = Committer::spawn(
        store.clone(),
        metrics.clone(),
        storage_ok.clone(),
        clock.clone(),
        &tracker,
    );
    let docs_shutdown = CancellationToken::new();
    let docs = Docs::new(
        store.clone(),
        committer,
        metrics.clone(),
        DocSettings {
            server_actor: actor.clone(),
            max_text_chars: config.max_text_chars,
            max_change_bytes: config.max_change_bytes,
            evict_after: config.evict_after(),
            snapshot_every: config.snapshot_every,
        },
        docs_shutdown.clone(),
        tracker.clone(),
        actors,
    );
    let consensus_service = consensus::Consensus::new(clock.clone());
    let throttle = Arc::new(SignInThrottle::new(
        config.signin_failures,
        std::time::Duration::from_secs(config.signin_window_secs),
    ));
    let state = AppState {
        config: Arc::new(config),
        store: store.clone(),
        docs,
        metrics,
        server_peer_id: format!("accord-server-{}", uuid::Uuid::new_v4().simple()).into(),
        storage_id: documents::owners::storage_id(&store).await?.into(),
        peers: Arc::new(peer::PeerTable::default()),
        next_conn: Arc::new(AtomicU64::new(0)),
        storage_ok,
        shutdown: shutdown.clone(),
        server_actor: actor,
        directory: Arc::new(Directory::default()),
        presence: Arc::new(Presence::default()),
        subscribers: Arc::new(Subscribers::default()),
        throttle,
        draft_locks: Arc::default(),
        consensus: consensus_service,
    };
    consensus::spawn(&state, &tracker);
    tracker.spawn(auth::watch_revocations(state.clone()));
    // Every index document carries its consensus and amendments projections
    // before anyone
    // connects (a new database, or one written by an older version).
    for draft in state.store.drafts().await? {
        if let Err(e) = consensus::reproject(&state, &draft.id).await {
            tracing::warn!(draft = %draft.id, error = e.message, "projecting consensus failed");
        }
        if let Err(e) = amendments::project(&state, &draft.id).await {
            tracing::warn!(draft = %draft.id, error = e.message, "projecting amendments failed");
        }
    }

    let metrics_server = http::scrape::start(&state, shutdown.clone()).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = store.backend_name(), "Accord is listening");
    http::serve(state.clone(), listener).await?;
    if let Some(metrics_server) = metrics_server {
        metrics_server.await??;
    }

    // Every acknowledged change is already committed; let the document
    // actors finish their round and write snapshots, then stop.
    drop(state);
    docs_shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    store.close().await;
    lock.release().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Cancels `token` on SIGINT or SIGTERM.
pub async fn shutdown_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    token.cancel();
}
