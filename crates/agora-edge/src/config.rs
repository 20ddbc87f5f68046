//! The agent's TOML configuration (`agora-edge run --config edge.toml`); `examples/edge/`
//! holds a commented one. Unknown keys are errors, so a misspelt key fails at start with its
//! line instead of being silently ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::EdgeError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub agent: AgentSection,
    pub node: NodeSection,
    /// Sources: at least one of them.
    pub mqtt: Option<MqttSection>,
    pub http: Option<HttpSection>,
    /// Files tailed (`[[file]]`, one table per file).
    #[serde(default)]
    pub file: Vec<FileSection>,
    /// Events flagged by the streaming anomaly detector before they leave.
    pub anomaly: Option<AnomalySection>,
    /// Window aggregations (`[[window]]`), each sent as rows of its own product table.
    #[serde(default)]
    pub window: Vec<WindowSection>,
    #[serde(default)]
    pub buffer: BufferSection,
    #[serde(default)]
    pub delivery: DeliverySection,
    #[serde(default)]
    pub metrics: Option<MetricsSection>,
    /// Where the config file is: relative paths in it are relative to its directory.
    #[serde(skip)]
    pub base: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// The name the node registered the agent under (`agora edge register NAME`).
    pub name: String,
    /// The agent's Ed25519 secret key, as `agora-edge keygen` wrote it.
    pub key: PathBuf,
    /// The durable buffer, the cached contract and the quarantine.
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The node's HTTP API, e.g. `http://127.0.0.1:8765`.
    pub url: String,
    /// The product table events go to, `domain.table`.
    pub table: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSection {
    #[serde(default = "default_mqtt_host")]
    pub host: String,
    #[serde(default = "default_mqtt_port")]
    pub port: u16,
    /// Topic filters to subscribe to; each message is one JSON object.
    pub topics: Vec<String>,
    /// 1 (at least once) or 2 (exactly once between broker and agent).
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// The MQTT client id: the broker keeps its session (subscriptions, unacknowledged
    /// messages) while the agent is away. Default: the agent's name.
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Where `POST /events` (JSON lines) is served, e.g. `127.0.0.1:9465`.
    pub listen: String,
    /// The largest request body taken.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySection {
    /// Numeric columns, each scored value by value.
    pub columns: Vec<String>,
    /// A column whose value tells one series from another (a device id): each gets its own
    /// detector.
    pub by: Option<String>,
    /// The text column that receives the detector's reason for a flagged event.
    pub flag: String,
    /// The most series scored at once; events of further series are not scored (counted).
    #[serde(default = "default_max_series")]
    pub max_series: usize,
}

/// One window aggregation (see `window`): a row per closed window and group, with the group
/// columns, `window_start`, `window_end` and the aggregates, sent to `table`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSection {
    /// The product table the rows go to, `domain.table`, registered like the events' table.
    pub table: String,
    /// How long each window is: `10s`, `1m`, `1h`.
    pub size: String,
    /// Sliding windows: a new one starts every `slide` (it divides `size`). Default: tumbling.
    pub slide: Option<String>,
    /// A timestamp column of the events: windows over event time. Default: arrival time.
    pub time: Option<String>,
    /// How long after its end a window still takes events. Default: 0s.
    pub lateness: Option<String>,
    /// Group columns: each combination of their values has its own windows.
    #[serde(default)]
    pub by: Vec<String>,
    /// `count`, `count(c)`, `sum(c)`, `min(c)`, `max(c)`, `mean(c)`, `pNN(c)`, each optionally
    /// `… as name`.
    pub aggregates: Vec<String>,
    /// The most windows open at once; events that would open more are not aggregated
    /// (counted in `agora_edge_window_skipped_total`).
    #[serde(default = "default_max_open")]
    pub max_open: u64,
}

/// How a tailed file's lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// One JSON object per line.
    #[default]
    Jsonl,
    /// A header line with the column names, then one row per line.
    Csv,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSection {
    pub path: PathBuf,
    #[serde(default)]
    pub format: FileFormat,
    /// How often the file is looked at when nothing new was read.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

/// What the buffer does when it holds `max_bytes` of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Stop taking events: the broker holds them (unacknowledged) until there is room.
    #[default]
    Block,
    /// Drop the oldest events not being sent, counting them (`agora_edge_dropped_total`).
    DropOldest,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferSection {
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    #[serde(default)]
    pub overflow: Overflow,
    /// The columns that identify an event, to drop a redelivered one: default the contract's
    /// primary key. Without either, a message the broker redelivers after a crash is kept
    /// twice.
    pub dedup_key: Option<Vec<String>>,
    /// How many recent event keys the agent remembers for that.
    #[serde(default = "default_dedup_window")]
    pub dedup_window: u64,
}

impl Default for BufferSection {
    fn default() -> Self {
        BufferSection {
            max_bytes: default_max_bytes(),
            overflow: Overflow::default(),
            dedup_key: None,
            dedup_window: default_dedup_window(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySection {
    /// The most events in one batch to the node.
    #[serde(default = "default_batch_events")]
    pub batch_events: usize,
    /// How long a batch waits to fill before it is sent anyway.
    #[serde(default = "default_linger_ms")]
    pub linger_ms: u64,
    /// The first retry's delay; each failure doubles it, with jitter, up to `max_backoff_ms`.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
}

impl Default for DeliverySection {
    fn default() -> Self {
        DeliverySection {
            batch_events: default_batch_events(),
            linger_ms: default_linger_ms(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

impl DeliverySection {
    pub fn linger(&self) -> Duration {
        Duration::from_millis(self.linger_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Where `/metrics` (Prometheus text format) is served, e.g. `127.0.0.1:9464`.
    pub listen: String,
}

fn default_mqtt_host() -> String {
    "127.0.0.1".into()
}
fn default_mqtt_port() -> u16 {
    1883
}
fn default_qos() -> u8 {
    1
}
fn default_max_series() -> usize {
    1000
}
fn default_max_open() -> u64 {
    10_000
}
fn default_poll_ms() -> u64 {
    200
}
fn default_max_body_bytes() -> usize {
    16 << 20
}
fn default_max_bytes() -> u64 {
    256 << 20
}
fn default_dedup_window() -> u64 {
    1_000_000
}
fn default_batch_events() -> usize {
    1000
}
fn default_linger_ms() -> u64 {
    200
}
fn default_initial_backoff_ms() -> u64 {
    100
}
fn default_max_backoff_ms() -> u64 {
    10_000
}

impl Config {
    /// Reads and checks `path`: TOML errors name the line and column, other errors the key.
    pub fn load(path: &Path) -> Result<Config, EdgeError> {
        let text = std::fs::read_to_string(path).map_err(|e| EdgeError::Config {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, EdgeError> {
        let bad = |message: String| EdgeError::Config {
            file: path.display().to_string(),
            message,
        };
        let mut config: Config = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        config.base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let key = |k: &str, why: &str| bad(format!("`{k}`: {why}"));
        agora_model::Name::strict("agent", &config.agent.name)
            .map_err(|e| key("agent.name", &e.to_string()))?;
        agora_model::TableRef::parse(&config.node.table)
            .map_err(|e| key("node.table", &e.to_string()))?;
        let url = config.node.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(key("node.url", "expected an http:// or https:// URL"));
        }
        config.node.url = url.to_string();
        if config.mqtt.is_none() && config.http.is_none() && config.file.is_empty() {
            return Err(bad(
                "no source: configure [mqtt] (topics to subscribe to), [http] (where POST /events listens) or [[file]] (a file to tail)".into(),
            ));
        }
        for f in &mut config.file {
            if f.poll_ms == 0 {
                return Err(key("file.poll_ms", "at least 1"));
            }
            if f.path.is_relative() {
                f.path = config.base.join(&f.path);
            }
        }
        if let Some(m) = &config.mqtt {
            if m.topics.is_empty() {
                return Err(key("mqtt.topics", "subscribe to at least one topic"));
            }
            if !matches!(m.qos, 1 | 2) {
                return Err(key(
                    "mqtt.qos",
                    "1 or 2: QoS 0 can lose messages before they reach the buffer",
                ));
            }
        }
        let mut window_tables = std::collections::BTreeSet::new();
        for w in &config.window {
            agora_model::TableRef::parse(&w.table)
                .map_err(|e| key("window.table", &e.to_string()))?;
            if w.table == config.node.table || !window_tables.insert(w.table.clone()) {
                return Err(key(
                    "window.table",
                    &format!("`{}`: each window has a table of its own", w.table),
                ));
            }
            if w.max_open == 0 {
                return Err(key("window.max_open", "at least 1"));
            }
        }
        if config.buffer.max_bytes < 1 << 16 {
            return Err(key("buffer.max_bytes", "at least 65536"));
        }
        if config.delivery.batch_events == 0 {
            return Err(key("delivery.batch_events", "at least 1"));
        }
        if config.delivery.initial_backoff_ms == 0
            || config.delivery.max_backoff_ms < config.delivery.initial_backoff_ms
        {
            return Err(key(
                "delivery.max_backoff_ms",
                "positive delays with initial_backoff_ms <= max_backoff_ms",
            ));
        }
        Ok(config)
    }

    /// A path of the config, resolved against the config file's directory.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub fn client_id(&self) -> String {
        self.mqtt
            .as_ref()
            .and_then(|m| m.client_id.clone())
            .unwrap_or_else(|| format!("agora-edge-{}", self.agent.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[agent]
name = "gw1"
key = "gw1.key"
data_dir = "data"

[node]
url = "http://127.0.0.1:8765/"
table = "iot.readings"

[mqtt]
topics = ["sensors/#"]
"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/agora/edge.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_minimal_config_takes_the_defaults_and_resolves_paths_beside_it() {
        let c = parse(MINIMAL).unwrap();
        assert_eq!(c.node.url, "http://127.0.0.1:8765");
        assert_eq!(c.mqtt.as_ref().unwrap().qos, 1);
        assert_eq!(c.buffer.overflow, Overflow::Block);
        assert_eq!(c.path(&c.agent.data_dir), Path::new("/etc/agora/data"));
        assert_eq!(c.client_id(), "agora-edge-gw1");
    }

    #[test]
    fn a_misspelt_key_is_named_with_its_line() {
        let text = MINIMAL.replace("topics =", "topic =");
        let e = parse(&text).unwrap_err();
        assert!(e.contains("topic") && e.contains("line 12"), "{e}");
    }

    #[test]
    fn a_config_without_a_source_says_which_to_add() {
        let text = MINIMAL.replace("[mqtt]\ntopics = [\"sensors/#\"]\n", "");
        let e = parse(&text).unwrap_err();
        assert!(e.contains("[mqtt]") && e.contains("[http]"), "{e}");
        let http = format!("{text}\n[http]\nlisten = \"127.0.0.1:0\"\n");
        assert_eq!(parse(&http).unwrap().http.unwrap().max_body_bytes, 16 << 20);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (from, to, key) in [
            (
                "topics = [\"sensors/#\"]",
                "topics = [\"sensors/#\"]\nqos = 0",
                "mqtt.qos",
            ),
            ("iot.readings", "readings", "node.table"),
            ("http://127.0.0.1:8765/", "127.0.0.1:8765", "node.url"),
            ("name = \"gw1\"", "name = \"gw 1\"", "agent.name"),
        ] {
            let e = parse(&MINIMAL.replace(from, to)).unwrap_err();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn the_commented_example_parses_with_its_window() {
        let text = include_str!("../../../examples/edge/edge.toml");
        let c = parse(text).unwrap();
        assert_eq!(c.window.len(), 1);
        assert_eq!(c.window[0].table, "logistics.truck_temperature_1m");
        let twice = format!(
            "{text}\n[[window]]\ntable = \"logistics.truck_temperature_1m\"\nsize = \"1m\"\naggregates = [\"count\"]\n"
        );
        assert!(parse(&twice).unwrap_err().contains("window.table"));
    }
}
