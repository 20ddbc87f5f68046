//! `agora sql`: one statement, or a script of several, run in order in one governed session.
//!
//! A script shares what a session holds across its statements (the opened Delta tables, the
//! reader's grants and policies, cached Parquet metadata), as `psql -f` or `duckdb < file`
//! do; each statement is still planned, checked and audited on its own.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use agora_mesh::{Interface, Mesh, MeshError, SessionOptions};
use agora_model::{Name, Principal};
use agora_query::ScriptStatement;
use clap::Args;

use crate::output::{OutputFormat, write_results};
use crate::stdout_failed;

#[derive(Args)]
pub struct SqlArgs {
    /// The SQL to run; leave out with --file.
    #[arg(required_unless_present = "file")]
    query: Option<String>,
    /// Run the statements of this SQL file (`-` reads standard input).
    #[arg(long, short = 'f', conflicts_with = "query")]
    file: Option<PathBuf>,
    /// Print each statement's elapsed time (planning, audit and output included) to standard
    /// error.
    #[arg(long)]
    timing: bool,
    /// table, csv, json, parquet or arrow (an Arrow IPC stream).
    #[arg(long, default_value = "table")]
    format: String,
    /// Read the tables as of this Delta version (time travel).
    #[arg(long)]
    version: Option<u64>,
    /// A domain whose tables the query may name without `domain.` (like search_path).
    #[arg(long)]
    schema: Option<String>,
    #[command(flatten)]
    limits: crate::limits::LimitArgs,
}

pub async fn run(mesh: &Mesh, me: &Principal, args: SqlArgs) -> Result<(), MeshError> {
    let output = SqlOutput {
        format: OutputFormat::parse(&args.format)?,
        timing: args.timing,
    };
    let options = SessionOptions {
        as_of: args.version,
        default_schema: args
            .schema
            .map(|s| Name::strict("domain", &s))
            .transpose()?,
        pg_catalog: false,
        limits: args.limits.limits(None)?,
        ..Default::default()
    };
    let source = match (args.query, &args.file) {
        (_, Some(path)) => SqlSource::File(path),
        (Some(query), None) => SqlSource::Argument(query),
        (None, None) => {
            return Err(MeshError::BadInput {
                source_name: "agora sql".to_string(),
                message: "give the SQL to run, or --file FILE".to_string(),
            });
        }
    };
    run_sql(mesh, me, source, options, output).await
}

/// Where the SQL comes from.
enum SqlSource<'a> {
    /// Given on the command line.
    Argument(String),
    /// A file, or standard input for `-`.
    File(&'a Path),
}

impl SqlSource<'_> {
    fn name(&self) -> String {
        match self {
            SqlSource::Argument(_) => "query".to_string(),
            SqlSource::File(p) if p.as_os_str() == "-" => "standard input".to_string(),
            SqlSource::File(p) => p.display().to_string(),
        }
    }

    fn read(self) -> Result<String, MeshError> {
        let name = self.name();
        match self {
            SqlSource::Argument(sql) => Ok(sql),
            SqlSource::File(p) => {
                let mut text = String::new();
                let read = if p.as_os_str() == "-" {
                    std::io::stdin().read_to_string(&mut text)
                } else {
                    std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut text))
                };
                read.map_err(|source| MeshError::Io { path: name, source })?;
                Ok(text)
            }
        }
    }
}

/// How `agora sql` prints.
struct SqlOutput {
    pub format: OutputFormat,
    /// Print each statement's elapsed time to standard error, as psql's `\timing` does.
    pub timing: bool,
}

/// Runs every statement of `source` for `reader`, printing each result to standard output.
/// Stops at the first statement that fails, naming it; the ones before it have run.
async fn run_sql(
    mesh: &Mesh,
    reader: &Principal,
    source: SqlSource<'_>,
    options: SessionOptions,
    output: SqlOutput,
) -> Result<(), MeshError> {
    let source_name = source.name();
    let script = source.read()?;
    let bad_input = |message: String| MeshError::BadInput {
        source_name: source_name.clone(),
        message,
    };
    let statements =
        agora_query::split_statements(&script).map_err(|e| bad_input(e.to_string()))?;
    if statements.is_empty() {
        return Err(bad_input("no SQL statement to run".to_string()));
    }
    let streams_one_result = matches!(output.format, OutputFormat::Parquet | OutputFormat::Arrow);
    if streams_one_result && statements.len() > 1 {
        return Err(bad_input(format!(
            "--format parquet and arrow write one result, and there are {} statements: run them one at a time",
            statements.len()
        )));
    }
    let session = mesh.session(reader, Interface::Cli, options).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for (i, statement) in statements.iter().enumerate() {
        let started = Instant::now();
        let ran = async {
            let df = session.sql(&statement.text).await?;
            if i > 0 && output.format == OutputFormat::Table {
                writeln!(out).map_err(stdout_failed)?;
            }
            write_results(df, output.format, &mut out).await?;
            out.flush().map_err(stdout_failed)
        };
        ran.await
            .map_err(|e| in_statement(e, &source_name, i, statement, statements.len()))?;
        if output.timing {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            eprintln!("Time: {ms:.3} ms");
        }
    }
    Ok(())
}

/// Names the failing statement when there are several; a lone statement's error stays as is.
fn in_statement(
    error: MeshError,
    source_name: &str,
    index: usize,
    statement: &ScriptStatement,
    count: usize,
) -> MeshError {
    if count == 1 {
        return error;
    }
    MeshError::At {
        place: format!(
            "statement {} of {count} ({source_name}, line {})",
            index + 1,
            statement.line
        ),
        error: Box::new(error),
    }
}
