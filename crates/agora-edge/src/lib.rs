//! The Agora edge agent: takes events from devices over MQTT or HTTP, or from files it tails,
//! checks each against its target product's contract (fetched from the node and cached, so
//! the agent starts while the node is away), aggregates them in windows if asked, keeps
//! every accepted event in a durable on-disk buffer before the device gets its
//! acknowledgement, and sends the buffer to the node in signed Arrow IPC batches that the node
//! commits exactly once, however often a crash, a network cut or a node restart makes the agent
//! send them.
//!
//! - [`config`]: the TOML configuration and its checks.
//! - [`keys`]: the agent's Ed25519 key.
//! - [`contract`]: fetching the contract, and checking events against it.
//! - [`anomaly`]: events flagged by the streaming anomaly detector before they leave.
//! - [`redact`]: what the node's policies say never leaves the device, redacted.
//! - [`buffer`]: the redb store-and-forward buffer, deduplication and quarantine.
//! - [`intake`]: what every source does with a payload and a group of them.
//! - [`mqtt`]: the MQTT source, acknowledging only what the buffer holds.
//! - [`http_source`]: `POST /events`, answering only once the buffer holds the events.
//! - [`file_source`]: files tailed as JSON lines or CSV, through rotation, exactly once.
//! - [`window`]: tumbling and sliding window aggregations, their state crash-safe in the
//!   buffer.
//! - [`window_emitter`]: closed windows' rows to each window table's buffer.
//! - [`sender`]: batches to the node, with back-off.
//! - [`metrics`]: Prometheus metrics.
//! - [`agent`]: all of it started together.
//!
//! DataFusion and Delta Lake are not in its dependency tree: the agent stays small.

pub mod agent;
pub mod anomaly;
pub mod buffer;
pub mod config;
pub mod contract;
pub mod file_source;
pub mod http_source;
pub mod intake;
pub mod keys;
pub mod metrics;
pub mod mqtt;
pub mod redact;
pub mod sender;
pub mod window;
pub mod window_emitter;

/// Everything that can stop the agent or one of its commands.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("config {file}: {message}")]
    Config { file: String, message: String },
    /// A setting of a config that parsed, refused once the agent starts using it.
    #[error("config setting `{key}`: {message}")]
    Setting { key: &'static str, message: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{0}")]
    Node(String),
    #[error("the buffer: {0}")]
    Buffer(String),
    /// The buffer holds its maximum and the overflow policy is to block.
    #[error("the buffer is full")]
    Full,
    #[error("MQTT: {0}")]
    Mqtt(String),
}
