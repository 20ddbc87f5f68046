//! The agent's Prometheus metrics, served at `/metrics` in the text exposition format. Every
//! figure is labelled with the product table it is about (`table="iot.readings"`): the events'
//! table, and each window's table.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabel {
    table: String,
}

type Counters = Family<TableLabel, Counter>;

fn delivery_histogram() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric, for every table: one registry.
struct Families {
    registry: Registry,
    accepted: Counters,
    redacted: Counters,
    flagged: Counters,
    unscored: Counters,
    duplicates: Counters,
    sent: Counters,
    dropped: Counters,
    quarantined: Counters,
    send_failures: Counters,
    late: Counters,
    skipped: Counters,
    windows_open: Family<TableLabel, Gauge>,
    buffered: Family<TableLabel, Gauge>,
    buffered_bytes: Family<TableLabel, Gauge>,
    lag_seconds: Family<TableLabel, Gauge<f64, AtomicU64>>,
    delivery_seconds: Family<TableLabel, Histogram, fn() -> Histogram>,
}

impl Families {
    fn new() -> Families {
        let mut registry = Registry::with_prefix("agora_edge");
        let mut counter = |name: &str, help: &str| {
            let family = Counters::default();
            registry.register(name, help, family.clone());
            family
        };
        let accepted = counter("accepted", "Events checked and buffered");
        let duplicates = counter("duplicates", "Redelivered events the buffer already held");
        let sent = counter("sent", "Events committed by the node");
        let flagged = counter("flagged", "Events flagged as anomalies");
        let unscored = counter("unscored", "Events of series past anomaly.max_series");
        let redacted = counter("redacted", "Values redacted on the device");
        let dropped = counter("dropped", "Events dropped by the overflow policy");
        let quarantined = counter("quarantined", "Events sent to the agent's quarantine");
        let send_failures = counter("send_failures", "Failed attempts to send a batch");
        let late = counter(
            "window_late",
            "Events that arrived after a window they belong to had closed (once per window)",
        );
        let skipped = counter(
            "window_skipped",
            "Events not aggregated: too far ahead of the agent's clock, or past window.max_open",
        );
        let mut gauge = |name: &str, help: &str| {
            let family = Family::<TableLabel, Gauge>::default();
            registry.register(name, help, family.clone());
            family
        };
        let windows_open = gauge("windows_open", "Windows open now (per window table)");
        let buffered = gauge("buffered", "Events in the buffer");
        let buffered_bytes = gauge("buffered_bytes", "Bytes of events in the buffer");
        let lag_seconds = Family::<TableLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "lag_seconds",
            "Age of the oldest buffered event",
            lag_seconds.clone(),
        );
        let delivery_seconds =
            Family::<TableLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                delivery_histogram,
            );
        registry.register(
            "delivery_seconds",
            "From an event's arrival to the node's commit of its batch",
            delivery_seconds.clone(),
        );
        Families {
            registry,
            accepted,
            redacted,
            flagged,
            unscored,
            duplicates,
            sent,
            dropped,
            quarantined,
            send_failures,
            late,
            skipped,
            windows_open,
            buffered,
            buffered_bytes,
            lag_seconds,
            delivery_seconds,
        }
    }
}

/// The figures of one table; cloned handles share their values, and [`Metrics::for_table`]
/// gives another table's figures in the same registry.
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
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
    /// Events whose window had closed (once per window they belong to).
    pub late: Counter,
    /// Events not aggregated into a window (ahead of the clock, or past `max_open`).
    pub skipped: Counter,
    /// Window tables: windows open now.
    pub windows_open: Gauge,
    /// Events in the buffer now.
    pub buffered: Gauge,
    pub buffered_bytes: Gauge,
    /// Age of the oldest buffered event, in seconds.
    pub lag_seconds: Gauge<f64, AtomicU64>,
    /// Per event, from its arrival at the agent to the node's commit of its batch.
    pub delivery_seconds: Histogram,
}

impl Metrics {
    /// A new registry, with the figures of `table`.
    pub fn new(table: &str) -> Metrics {
        Self::of(Arc::new(Families::new()), table)
    }

    /// The figures of `table`, in this registry.
    pub fn for_table(&self, table: &str) -> Metrics {
        Self::of(Arc::clone(&self.families), table)
    }

    fn of(families: Arc<Families>, table: &str) -> Metrics {
        let label = TableLabel {
            table: table.to_string(),
        };
        let c = |f: &Counters| f.get_or_create(&label).clone();
        let windows_open = families.windows_open.get_or_create(&label).clone();
        let buffered = families.buffered.get_or_create(&label).clone();
        let buffered_bytes = families.buffered_bytes.get_or_create(&label).clone();
        let lag_seconds = families.lag_seconds.get_or_create(&label).clone();
        let delivery_seconds = families.delivery_seconds.get_or_create(&label).clone();
        Metrics {
            accepted: c(&families.accepted),
            redacted: c(&families.redacted),
            flagged: c(&families.flagged),
            unscored: c(&families.unscored),
            duplicates: c(&families.duplicates),
            sent: c(&families.sent),
            dropped: c(&families.dropped),
            quarantined: c(&families.quarantined),
            send_failures: c(&families.send_failures),
            late: c(&families.late),
            skipped: c(&families.skipped),
            windows_open,
            buffered,
            buffered_bytes,
            lag_seconds,
            delivery_seconds,
            families,
        }
    }

    /// The text exposition of every metric of every table.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.families.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_table_has_its_own_labelled_figures_in_one_exposition() {
        let events = Metrics::new("iot.readings");
        let window = events.for_table("iot.readings_1m");
        events.accepted.inc_by(3);
        window.accepted.inc();
        window.late.inc_by(2);
        let text = events.render();
        assert!(
            text.contains("agora_edge_accepted_total{table=\"iot.readings\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("agora_edge_accepted_total{table=\"iot.readings_1m\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("agora_edge_window_late_total{table=\"iot.readings_1m\"} 2"),
            "{text}"
        );
        assert_eq!(text.matches("# HELP agora_edge_accepted ").count(), 1);
    }
}
