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
use crate::window::{Spec, Windows, output_key};
use crate::window_emitter::Emitter;

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
    /// The window aggregations the events are folded into, if any.
    pub windows: Option<Arc<Windows>>,
    /// Each window's table, in the order of `windows.specs`.
    pub window_outputs: Vec<WindowOutput>,
}

/// A window's table: its own buffer, contract and redaction, sent by its own sender.
pub struct WindowOutput {
    pub table: String,
    pub buffer: Arc<Buffer>,
    pub validator: Arc<Validator>,
    pub redactor: Arc<Redactor>,
}

/// Loads the key, opens the buffer and gets the contract: every check that can fail at start
/// (an unknown product or column, a key the node does not know) fails here, with the name.
pub async fn prepare(config: Config) -> Result<Prepared, EdgeError> {
    let key = Arc::new(AgentKey::load(&config.path(&config.agent.key))?);
    let data_dir = config.path(&config.agent.data_dir);
    let open_buffer = |dir: &std::path::Path| {
        Buffer::open(
            dir,
            config.buffer.max_bytes,
            config.buffer.overflow,
            config.buffer.dedup_window,
        )
    };
    let mut buffer = open_buffer(&data_dir)?;
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
    let mut specs = Vec::new();
    let mut window_outputs = Vec::new();
    for section in &config.window {
        // Each window table keeps its own buffer and cached contract beside the events' one.
        let dir = data_dir.join("windows").join(&section.table);
        // Opened first: it makes the directory the contract is cached in.
        let window_buffer = open_buffer(&dir)?;
        let (out, _) = contract::fetch(
            &http,
            &config.node.url,
            &config.agent.name,
            &key,
            &section.table,
            &dir,
        )
        .await?;
        let columns_only = Validator::new(&out.contract, &section.table, Some(&[]))?;
        specs.push(Spec::new(section, &validator, &columns_only)?);
        let keyed = Validator::new(&out.contract, &section.table, Some(&output_key(section)))?;
        window_outputs.push(WindowOutput {
            table: section.table.clone(),
            buffer: Arc::new(window_buffer),
            validator: Arc::new(keyed),
            redactor: Arc::new(
                Redactor::new(&out.redact, &out.redact_columns).map_err(EdgeError::Node)?,
            ),
        });
    }
    let windows = (!specs.is_empty()).then(|| Arc::new(Windows { specs }));
    if let Some(w) = &windows {
        buffer.fold_into(Arc::clone(w));
    }
    Ok(Prepared {
        config,
        key,
        buffer: Arc::new(buffer),
        validator,
        redactor,
        flagger,
        contract_from,
        http,
        windows,
        window_outputs,
    })
}

/// Runs the agent until it is stopped (SIGINT, SIGTERM) or its buffer fails.
pub async fn run(p: Prepared) -> Result<(), EdgeError> {
    let metrics = Metrics::new(&p.config.node.table);
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
    let mut targets = vec![p.config.node.table.clone()];
    targets.extend(
        p.window_outputs
            .iter()
            .map(|w| format!("{} (windows)", w.table)),
    );
    println!(
        "agora-edge {}: {} -> {} ({}), contract from the {}; {} events buffered",
        p.config.agent.name,
        sources.join(" + "),
        targets.join(" + "),
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
        let mut buffers = vec![Arc::clone(&p.buffer)];
        buffers.extend(p.window_outputs.iter().map(|w| Arc::clone(&w.buffer)));
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
                    let buffers = buffers.clone();
                    async move { quarantine_lines(&buffers) }
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
    let windows = window_tasks(&p, &metrics);
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
        r = windows => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = terminate.recv() => Ok(()),
    }
}

/// The window emitter and each window table's sender, as one future that ends when the first
/// of them fails.
fn window_tasks(
    p: &Prepared,
    metrics: &Metrics,
) -> impl std::future::Future<Output = Result<(), EdgeError>> + use<> {
    let mut set = tokio::task::JoinSet::new();
    if let Some(windows) = &p.windows {
        let mut outputs = Vec::new();
        for w in &p.window_outputs {
            let wake = Arc::new(Notify::new());
            let metrics = metrics.for_table(&w.table);
            let sender = Sender {
                http: p.http.clone(),
                node: p.config.node.url.clone(),
                agent: p.config.agent.name.clone(),
                table: w.table.clone(),
                key: Arc::clone(&p.key),
                buffer: Arc::clone(&w.buffer),
                validator: Arc::clone(&w.validator),
                delivery: p.config.delivery.clone(),
                metrics: metrics.clone(),
                wake: Arc::clone(&wake),
            };
            set.spawn(sender.run());
            outputs.push(Intake {
                validator: Arc::clone(&w.validator),
                redactor: Arc::clone(&w.redactor),
                flagger: None,
                buffer: Arc::clone(&w.buffer),
                metrics,
                wake,
            });
        }
        let emitter = Emitter {
            events: Arc::clone(&p.buffer),
            windows: Arc::clone(windows),
            outputs,
            tick: windows.tick(),
        };
        set.spawn(emitter.run());
    }
    first_to_end(set, "a window task")
}

/// The tasks of `set` as one future that ends when the first of them does (they run for as
/// long as the agent, so that is a failure); never, for an empty set.
async fn first_to_end(
    mut set: tokio::task::JoinSet<Result<(), EdgeError>>,
    what: &'static str,
) -> Result<(), EdgeError> {
    match set.join_next().await {
        Some(r) => r.map_err(|e| EdgeError::Buffer(format!("{what} failed: {e}")))?,
        None => std::future::pending().await,
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
    first_to_end(set, "a file source")
}

/// The quarantines (the events', then each window table's) as JSON lines, or a buffer's error
/// as a 500 naming it.
fn quarantine_lines(buffers: &[Arc<Buffer>]) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut text = String::new();
    for buffer in buffers {
        match buffer.quarantined() {
            Ok(events) => {
                for q in events {
                    text += &(serde_json::to_string(&q).unwrap_or_default() + "\n");
                }
            }
            Err(e) => {
                return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                    .into_response();
            }
        }
    }
    ([("content-type", "application/x-ndjson")], text).into_response()
}
