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
    pub changes_reverted: Counter,
    pub commit_failures: Counter,
    pub commit_seconds: Histogram,
    pub commit_batch_changes: Histogram,
    pub apply_seconds: Histogram,
    pub outbound_queue_depth: Gauge,
    pub outbound_queue_bytes: Gauge,
    pub ephemerals_dropped: Counter,
    pub protocol_errors: Counter,
    pub relayed_messages: Counter,
    pub regular_messages: Counter,
    pub closed: Family<CloseLabel, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("accord");
        /// Registers a clone (which shares the value) of a metric.
        fn register<M: prometheus_client::registry::Metric + Clone>(
            registry: &mut Registry,
            name: &str,
            help: &str,
            metric: &M,
        ) {
            registry.register(name, help, metric.clone());
        }
        let seconds = [
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ];
        let metrics = Self {
            connections: Gauge::default(),
            documents_loaded: Gauge::default(),
            changes_stored: Counter::default(),
            changes_refused: Counter::default(),
            changes_reverted: Counter::default(),
            commit_failures: Counter::default(),
            commit_seconds: Histogram::new(seconds),
            commit_batch_changes: Histogram::new([
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
            ]),
            apply_seconds: Histogram::new(seconds),
            outbound_queue_depth: Gauge::default(),
            outbound_queue_bytes: Gauge::default(),
            ephemerals_dropped: Counter::default(),
            protocol_errors: Counter::default(),
            relayed_messages: Counter::default(),
            regular_messages: Counter::default(),
            closed: Family::default(),
            registry: Registry::default(),
        };
        register(
            &mut registry,
            "connections",
            "Open websocket connections",
            &metrics.connections,
        );
        register(
            &mut registry,
            "documents_loaded",
            "Documents in memory",
            &metrics.documents_loaded,
        );
        register(
            &mut registry,
            "changes_stored",
            "Automerge changes committed",
            &metrics.changes_stored,
        );
        register(
            &mut registry,
            "changes_refused",
            "Sync messages whose changes were refused",
            &metrics.changes_refused,
        );
        register(
            &mut registry,
            "changes_reverted",
            "Edits of locked elements undone by a server change",
            &metrics.changes_reverted,
        );
        register(
            &mut registry,
            "commit_failures",
            "Failed storage commits",
            &metrics.commit_failures,
        );
        register(
            &mut registry,
            "commit_seconds",
            "Latency of one grouped storage commit",
            &metrics.commit_seconds,
        );
        register(
            &mut registry,
            "commit_batch_changes",
            "Changes per grouped commit",
            &metrics.commit_batch_changes,
        );
        register(
            &mut registry,
            "apply_seconds",
            "Time to apply committed changes in bulk and answer peers outside the relay set",
            &metrics.apply_seconds,
        );
        register(
            &mut registry,
            "outbound_queue_depth",
            "Frames waiting in outbound queues, all connections",
            &metrics.outbound_queue_depth,
        );
        register(
            &mut registry,
            "outbound_queue_bytes",
            "Bytes waiting in outbound queues, all connections",
            &metrics.outbound_queue_bytes,
        );
        register(
            &mut registry,
            "ephemerals_dropped",
            "Ephemeral messages not relayed (too large or too frequent)",
            &metrics.ephemerals_dropped,
        );
        register(
            &mut registry,
            "protocol_errors",
            "Protocol violations",
            &metrics.protocol_errors,
        );
        register(
            &mut registry,
            "relayed_messages",
            "Sync messages relaying committed changes before they are applied",
            &metrics.relayed_messages,
        );
        register(
            &mut registry,
            "regular_messages",
            "Sync messages generated from the applied document",
            &metrics.regular_messages,
        );
        register(
            &mut registry,
            "connections_closed",
            "Connections closed by the server",
            &metrics.closed,
        );
        Self {
            registry,
            ..metrics
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
