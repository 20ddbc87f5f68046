//! `agora-edge`: the edge agent's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use agora_edge::EdgeError;
use agora_edge::agent;
use agora_edge::buffer::Buffer;
use agora_edge::config::Config;
use agora_edge::keys::AgentKey;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "agora-edge",
    version,
    about = "The Agora edge agent: MQTT in, contract checks, durable store-and-forward, exactly-once delivery to the node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent.
    Run {
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration: its keys and values, the key file, and the contract (from the
    /// node, or the cached copy) with every column the configuration names.
    CheckConfig { config: PathBuf },
    /// Create the agent's key; prints the public key for `agora edge register --public-key`.
    Keygen {
        #[arg(long)]
        key: PathBuf,
    },
    /// List the events in the agent's quarantine, with the reason (while the agent is stopped).
    Quarantine {
        #[arg(long)]
        config: PathBuf,
    },
}

async fn run(cli: Cli) -> Result<(), EdgeError> {
    match cli.command {
        Command::Run { config } => agent::run(agent::prepare(Config::load(&config)?).await?).await,
        Command::CheckConfig { config } => {
            let p = agent::prepare(Config::load(&config)?).await?;
            let windows: Vec<&str> = p.window_outputs.iter().map(|w| w.table.as_str()).collect();
            println!(
                "{}: OK — agent {} sends {}{} to {}",
                config.display(),
                p.config.agent.name,
                p.config.node.table,
                if windows.is_empty() {
                    String::new()
                } else {
                    format!(" and windows to {}", windows.join(", "))
                },
                p.config.node.url
            );
            Ok(())
        }
        Command::Keygen { key } => {
            let k = AgentKey::generate(&key)?;
            println!("{}", k.public_hex());
            Ok(())
        }
        Command::Quarantine { config } => {
            let c = Config::load(&config)?;
            let data_dir = c.path(&c.agent.data_dir);
            // The events' quarantine, then each window table's.
            let mut dirs = vec![data_dir.clone()];
            dirs.extend(
                c.window
                    .iter()
                    .map(|w| data_dir.join("windows").join(&w.table)),
            );
            for dir in dirs {
                let b = Buffer::open(
                    &dir,
                    c.buffer.max_bytes,
                    c.buffer.overflow,
                    c.buffer.dedup_window,
                )?;
                for q in b.quarantined()? {
                    println!("{}", serde_json::to_string(&q).unwrap_or_default());
                }
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AGORA_EDGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
