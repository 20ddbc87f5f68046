//! `agora`: the command line of an Agora mesh. Each command parses its flags, calls one
//! `agora_mesh::Mesh` operation and prints the result (one module per command group under
//! `commands/`); errors become one line on stderr and a non-zero exit code (2 bad input,
//! 3 not found, 4 denied, 5 conflict, 1 anything else).

mod commands;
mod demo;
mod limits;
mod output;
mod progress;

/// Query execution allocates and frees large buffers at a high rate (decoded Parquet pages, hash
/// tables); glibc's allocator returns them to the kernel and takes them back page fault by page
/// fault, which cost a third of a short query's time in a fresh process (docs/benchmarks.md).
/// mimalloc keeps and reuses them, as DataFusion's own CLI does. It is built without its
/// transparent-huge-page requests (`no_thp`, see the workspace manifest).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use agora_mesh::{ErrorKind, MeshError};
use clap::Parser;

use crate::commands::Command;

#[derive(Parser)]
#[command(
    name = "agora",
    version,
    about = "Agora: a data mesh of governed data products"
)]
struct Cli {
    /// The mesh directory.
    #[arg(long, global = true, env = "AGORA_DATA", default_value = "agora-data")]
    data: PathBuf,
    /// Act as this principal instead of the mesh administrator.
    #[arg(long = "as", global = true, value_name = "PRINCIPAL")]
    as_principal: Option<String>,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    // Quiet by default: errors reach the user through the one-line message below, and the
    // libraries' own logs are for debugging (AGORA_LOG=debug).
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("agora_server=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Planning recurses on a statement's nesting: the threads that run commands get the stack
    // the query layer's size bound is measured against.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(agora_query::STACK_BYTES)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // On a worker thread, not this one: the main thread's stack is the system's default.
    let command = runtime.spawn(async move {
        commands::run(cli.command, &cli.data, cli.as_principal.as_deref()).await
    });
    let result = runtime.block_on(command).unwrap_or_else(|e| {
        Err(MeshError::Internal(format!(
            "the command stopped unexpectedly: {e}"
        )))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::BadInput => 2,
                ErrorKind::NotFound => 3,
                ErrorKind::Denied | ErrorKind::Unauthenticated => 4,
                ErrorKind::Conflict => 5,
                ErrorKind::Internal => 1,
            })
        }
    }
}

/// Prints a line to standard output.
pub(crate) fn print(text: impl std::fmt::Display) -> Result<(), MeshError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(stdout_failed)
}

/// Prints `value` as pretty JSON (a command's `--format json` / `--output json`).
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<(), MeshError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| MeshError::Internal(format!("the output as JSON: {e}")))?;
    print(text)
}

/// A failed write to standard output (a closed pipe, a full disk), as an error.
pub(crate) fn stdout_failed(e: std::io::Error) -> MeshError {
    MeshError::Internal(format!("writing to stdout: {e}"))
}
