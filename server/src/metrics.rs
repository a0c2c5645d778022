//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Why a connection was closed by the server.
#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct CloseLabel {
    pub reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub documents_loaded: Gauge,
    pub changes_stored: Counter,
    pub changes_refused: Counter,
    pub commit_failures: Counter,
    pub commit_seconds: Histogram,
    pub commit_batch_changes: Histogram,
    pub apply_seconds: Histogram,
    pub outbound_queue_depth: Gauge,
    pub protocol_errors: Counter,
    pub relayed_messages: Counter,
    pub regular_messages: Counter,
    pub closed: Family<CloseLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("accord");
        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open websocket connections",
            connections.clone(),
        );
        let documents_loaded = Gauge::default();
        registry.register(
            "documents_loaded",
            "Documents in memory",
            documents_loaded.clone(),
        );
        let changes_stored = Counter::default();
        registry.register(
            "changes_stored",
            "Automerge changes committed",
            changes_stored.clone(),
        );
        let changes_refused = Counter::default();
        registry.register(
            "changes_refused",
            "Sync messages whose changes were refused",
            changes_refused.clone(),
        );
        let commit_failures = Counter::default();
        registry.register(
            "commit_failures",
            "Failed storage commits",
            commit_failures.clone(),
        );
        let commit_seconds = Histogram::new([
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]);
        registry.register(
            "commit_seconds",
            "Latency of one grouped storage commit",
            commit_seconds.clone(),
        );
        let commit_batch_changes =
            Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]);
        registry.register(
            "commit_batch_changes",
            "Changes per grouped commit",
            commit_batch_changes.clone(),
        );
        let apply_seconds = Histogram::new([
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
        ]);
        registry.register(
            "apply_seconds",
            "Time to apply one round of committed changes and generate replies",
            apply_seconds.clone(),
        );
        let outbound_queue_depth = Gauge::default();
        registry.register(
            "outbound_queue_depth",
            "Frames waiting in outbound queues, all connections",
            outbound_queue_depth.clone(),
        );
        let protocol_errors = Counter::default();
        registry.register(
            "protocol_errors",
            "Protocol violations",
            protocol_errors.clone(),
        );
        let relayed_messages = Counter::default();
        registry.register(
            "relayed_messages",
            "Sync messages relaying committed changes before they are applied",
            relayed_messages.clone(),
        );
        let regular_messages = Counter::default();
        registry.register(
            "regular_messages",
            "Sync messages generated from the applied document",
            regular_messages.clone(),
        );
        let closed = Family::<CloseLabel, Counter>::default();
        registry.register(
            "connections_closed",
            "Connections closed by the server",
            closed.clone(),
        );
        Self {
            registry,
            connections,
            documents_loaded,
            changes_stored,
            changes_refused,
            commit_failures,
            commit_seconds,
            commit_batch_changes,
            apply_seconds,
            outbound_queue_depth,
            protocol_errors,
            relayed_messages,
            regular_messages,
            closed,
        }
    }

    pub fn close(&self, reason: &'static str) {
        self.closed.get_or_create(&CloseLabel { reason }).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
