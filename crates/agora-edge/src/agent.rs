//! One running agent: its key, buffer and contract, the MQTT source, the sender and the
//! metrics endpoint, started from a checked configuration.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::sync::Notify;

use crate::EdgeError;
use crate::anomaly::Flagger;
use crate::buffer::Buffer;
use crate::config::Config;
use crate::contract::{self, ContractSource, Validator};
use crate::file_source::FileSource;
use crate::http_source::HttpSource;
use crate::intake::Intake;
use crate::keys::AgentKey;
use crate::metrics::Metrics;
use crate::mqtt::MqttSource;
use crate::redact::Redactor;
use crate::sender::Sender;

/// What `check-config` and `run` have before anything starts.
pub struct Prepared {
    pub config: Config,
    pub key: Arc<AgentKey>,
    pub buffer: Arc<Buffer>,
    pub validator: Arc<Validator>,
    pub redactor: Arc<Redactor>,
    pub flagger: Option<Arc<std::sync::Mutex<Flagger>>>,
    pub contract_from: ContractSource,
    pub http: reqwest::Client,
}

/// Loads the key, opens the buffer and gets the contract: every check that can fail at start
/// (an unknown product or column, a key the node does not know) fails here, with the name.
pub async fn prepare(config: Config) -> Result<Prepared, EdgeError> {
    let key = Arc::new(AgentKey::load(&config.path(&config.agent.key))?);
    let data_dir = config.path(&config.agent.data_dir);
    let buffer = Arc::new(Buffer::open(
        &data_dir,
        config.buffer.max_bytes,
        config.buffer.overflow,
        config.buffer.dedup_window,
    )?);
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| EdgeError::Node(format!("an HTTP client: {e}")))?;
    let (answer, contract_from) = contract::fetch(
        &http,
        &config.node.url,
        &config.agent.name,
        &key,
        &config.node.table,
        &data_dir,
    )
    .await?;
    let validator = Arc::new(Validator::new(
        &answer.contract,
        &config.node.table,
        config.buffer.dedup_key.as_deref(),
    )?);
    let redactor =
        Arc::new(Redactor::new(&answer.redact, &answer.redact_columns).map_err(EdgeError::Node)?);
    let flagger = config
        .anomaly
        .clone()
        .map(|section| {
            Flagger::new(section, &validator).map_err(|message| EdgeError::Setting {
                key: "anomaly",
                message,
            })
        })
        .transpose()?
        .map(|f| Arc::new(std::sync::Mutex::new(f)));
    Ok(Prepared {
        config,
        key,
        buffer,
        validator,
        redactor,
        flagger,
        contract_from,
        http,
    })
}

/// Runs the agent until it is stopped (SIGINT, SIGTERM) or its buffer fails.
pub async fn run(p: Prepared) -> Result<(), EdgeError> {
    let metrics = Metrics::default();
    let wake = Arc::new(Notify::new());
    let held = p.buffer.held()?;
    let mut sources = Vec::new();
    if let Some(m) = &p.config.mqtt {
        sources.push(format!("mqtt {}", m.topics.join(", ")));
    }
    if let Some(h) = &p.config.http {
        sources.push(format!("http {}", h.listen));
    }
    for f in &p.config.file {
        sources.push(format!("file {}", f.path.display()));
    }
    println!(
        "agora-edge {}: {} -> {} ({}), contract from the {}; {} events buffered",
        p.config.agent.name,
        sources.join(" + "),
        p.config.node.table,
        p.config.node.url,
        match p.contract_from {
            ContractSource::Node => "node",
            ContractSource::Cache => "cache (the node did not answer)",
        },
        held.events
    );
    if let Some(m) = &p.config.metrics {
        let listener = tokio::net::TcpListener::bind(&m.listen)
            .await
            .map_err(|e| EdgeError::Setting {
                key: "metrics.listen",
                message: format!("cannot listen on {}: {e}", m.listen),
            })?;
        let addr = listener.local_addr().map_err(|e| EdgeError::Io {
            path: m.listen.clone(),
            message: e.to_string(),
        })?;
        println!("metrics at http://{addr}/metrics");
        let metrics = metrics.clone();
        let buffer = Arc::clone(&p.buffer);
        let app = Router::new()
            .route(
                "/metrics",
                get(move || {
                    let metrics = metrics.clone();
                    async move {
                        (
                            [("content-type", "text/plain; version=0.0.4")],
                            metrics.render(),
                        )
                    }
                }),
            )
            // The quarantine of the running agent, one JSON object per line, as
            // `agora-edge quarantine` prints it for a stopped one.
            .route(
                "/quarantine",
                get(move || {
                    let buffer = Arc::clone(&buffer);
                    async move { quarantine_lines(&buffer) }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let sender = Sender {
        http: p.http.clone(),
        node: p.config.node.url.clone(),
        agent: p.config.agent.name.clone(),
        table: p.config.node.table.clone(),
        key: Arc::clone(&p.key),
        buffer: Arc::clone(&p.buffer),
        validator: Arc::clone(&p.validator),
        delivery: p.config.delivery.clone(),
        metrics: metrics.clone(),
        wake: Arc::clone(&wake),
    };
    let intake = Intake {
        validator: Arc::clone(&p.validator),
        redactor: Arc::clone(&p.redactor),
        flagger: p.flagger.clone(),
        buffer: Arc::clone(&p.buffer),
        metrics,
        wake,
    };
    let mqtt = p.config.mqtt.clone().map(|section| MqttSource {
        section,
        client_id: p.config.client_id(),
        intake: intake.clone(),
    });
    let http = p.config.http.clone().map(|section| HttpSource {
        section,
        intake: intake.clone(),
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| EdgeError::Io {
        path: "SIGTERM".into(),
        message: e.to_string(),
    })?;
    let files = futures_of_files(&p.config, &intake);
    // A source that is not configured never finishes.
    let mqtt = async move {
        match mqtt {
            Some(m) => m.run().await,
            None => std::future::pending().await,
        }
    };
    let http = async move {
        match http {
            Some(h) => h.run().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = sender.run() => r,
        r = mqtt => r,
        r = http => r,
        r = files => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate.recv() => Ok(()),
    }
}

/// Every tailed file, as one future that ends when the first of them fails.
fn futures_of_files(
    config: &Config,
    intake: &Intake,
) -> impl std::future::Future<Output = Result<(), EdgeError>> + use<> {
    let mut set = tokio::task::JoinSet::new();
    for section in config.file.clone() {
        let source = FileSource {
            section,
            intake: intake.clone(),
        };
        set.spawn(source.run());
    }
    async move {
        match set.join_next().await {
            Some(r) => r.map_err(|e| EdgeError::Buffer(format!("a file source failed: {e}")))?,
            None => std::future::pending().await,
        }
    }
}

/// The quarantine as JSON lines, or the buffer's error as a 500 naming it.
fn quarantine_lines(buffer: &Buffer) -> axum::response::Response {
    use axum::response::IntoResponse;
    match buffer.quarantined() {
        Ok(events) => {
            let text: String = events
                .iter()
                .map(|q| serde_json::to_string(q).unwrap_or_default() + "\n")
                .collect();
            ([("content-type", "application/x-ndjson")], text).into_response()
        }
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
