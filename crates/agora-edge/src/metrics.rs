//! The agent's Prometheus metrics, served at `/metrics` in the text exposition format.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Every figure the agent exposes; cloned handles share their values.
#[derive(Clone)]
pub struct Metrics {
    /// Events checked and kept in the buffer.
    pub accepted: Counter,
    /// Values redacted on the device, as the node's policies say.
    pub redacted: Counter,
    /// Events the anomaly detector flagged.
    pub flagged: Counter,
    /// Events of series past `anomaly.max_series`, not scored.
    pub unscored: Counter,
    /// Events the broker delivered again and the buffer already held.
    pub duplicates: Counter,
    /// Events sent to the node and committed there.
    pub sent: Counter,
    /// Events dropped because the buffer was full (`overflow = "drop_oldest"`).
    pub dropped: Counter,
    /// Events sent to the agent's quarantine, by the contract check or by the node.
    pub quarantined: Counter,
    /// Failed attempts to send a batch (retried with back-off).
    pub send_failures: Counter,
    /// Events in the buffer now.
    pub buffered: Gauge,
    pub buffered_bytes: Gauge,
    /// Age of the oldest buffered event, in seconds.
    pub lag_seconds: Gauge<f64, AtomicU64>,
    /// Per event, from its arrival at the agent to the node's commit of its batch.
    pub delivery_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            accepted: Counter::default(),
            duplicates: Counter::default(),
            redacted: Counter::default(),
            flagged: Counter::default(),
            unscored: Counter::default(),
            sent: Counter::default(),
            dropped: Counter::default(),
            quarantined: Counter::default(),
            send_failures: Counter::default(),
            buffered: Gauge::default(),
            buffered_bytes: Gauge::default(),
            lag_seconds: Gauge::default(),
            // 1 ms to about 65 s.
            delivery_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
        }
    }
}

impl Metrics {
    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut registry = Registry::with_prefix("agora_edge");
        registry.register(
            "accepted",
            "Events checked and buffered",
            self.accepted.clone(),
        );
        registry.register(
            "duplicates",
            "Redelivered events the buffer already held",
            self.duplicates.clone(),
        );
        registry.register("sent", "Events committed by the node", self.sent.clone());
        registry.register(
            "flagged",
            "Events flagged as anomalies",
            self.flagged.clone(),
        );
        registry.register(
            "unscored",
            "Events of series past anomaly.max_series",
            self.unscored.clone(),
        );
        registry.register(
            "redacted",
            "Values redacted on the device",
            self.redacted.clone(),
        );
        registry.register(
            "dropped",
            "Events dropped by the overflow policy",
            self.dropped.clone(),
        );
        registry.register(
            "quarantined",
            "Events sent to the agent's quarantine",
            self.quarantined.clone(),
        );
        registry.register(
            "send_failures",
            "Failed attempts to send a batch",
            self.send_failures.clone(),
        );
        registry.register("buffered", "Events in the buffer", self.buffered.clone());
        registry.register(
            "buffered_bytes",
            "Bytes of events in the buffer",
            self.buffered_bytes.clone(),
        );
        registry.register(
            "lag_seconds",
            "Age of the oldest buffered event",
            self.lag_seconds.clone(),
        );
        registry.register(
            "delivery_seconds",
            "From an event's arrival to the node's commit of its batch",
            self.delivery_seconds.clone(),
        );
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}
