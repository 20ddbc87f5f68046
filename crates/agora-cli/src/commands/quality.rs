//! `agora quality`: data quality. `agora quality TABLE` shows a table's latest rule results,
//! score and incidents; `detect` replays a `timestamp,value` series through the streaming
//! anomaly detector that scores live events.

use std::io::Write;
use std::path::PathBuf;

use agora_mesh::{Mesh, MeshError, QualityReport};
use agora_model::Principal;
use agora_quality::{DetectorConfig, QualityError, ScoredPoint, replay_series};
use agora_query::Interface;

use crate::stdout_failed;
use clap::{Args, Subcommand};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct QualityArgs {
    #[command(subcommand)]
    pub command: Option<QualityCommand>,
    /// `domain.table`: its rules' latest verdicts, its quality score and its incidents.
    table: Option<String>,
    /// text or json.
    #[arg(long, default_value = "text")]
    format: String,
}

#[derive(Subcommand)]
pub enum QualityCommand {
    /// Score a `timestamp,value` CSV file point by point with the streaming detector (each
    /// decision uses only earlier points) and print `timestamp,value,anomaly_score,is_anomaly`
    /// as each point is judged.
    Detect(DetectArgs),
}

#[derive(Args)]
pub struct DetectArgs {
    /// The series: CSV with a header naming `timestamp` and `value` columns; `-` for stdin.
    #[arg(long)]
    series: PathBuf,
    /// csv, or json (one object per point and line, with the expected range and the reason).
    #[arg(long, default_value = "csv")]
    format: String,
}

pub fn run(command: QualityCommand) -> Result<(), MeshError> {
    match command {
        QualityCommand::Detect(args) => detect(args),
    }
}

/// `agora quality TABLE`.
pub async fn report(mesh: &Mesh, me: &Principal, args: QualityArgs) -> Result<(), MeshError> {
    let Some(table) = args.table else {
        return Err(MeshError::BadInput {
            source_name: "agora quality".into(),
            message: "name a table (`agora quality sales.orders`) or a command (`detect`)".into(),
        });
    };
    let json = match args.format.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(MeshError::BadInput {
                source_name: "--format".into(),
                message: format!("`{other}`: expected text or json"),
            });
        }
    };
    let report = mesh.quality_report(me, &table, Interface::Cli).await?;
    if json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| MeshError::Internal(format!("the report as JSON: {e}")))?;
        return crate::print(text);
    }
    print_report(&report)
}

fn print_report(r: &QualityReport) -> Result<(), MeshError> {
    let Some(score) = r.score else {
        return crate::print(format!(
            "{}: no quality rule has been evaluated yet (its contract's rules are judged at each ingest)",
            r.table
        ));
    };
    let version = r.table_version.map_or("-".to_string(), |v| v.to_string());
    crate::print(format!(
        "{}: quality score {score:.0}% at the latest ingest ({}, version {version})",
        r.table,
        r.checked_at.as_deref().unwrap_or("-"),
    ))?;
    crate::print("rules:")?;
    for rule in &r.rules {
        crate::print(format!(
            "  {:<13} {:<5} {}: {}",
            rule.outcome, rule.severity, rule.rule, rule.explanation
        ))?;
    }
    let open: Vec<_> = r.incidents.iter().filter(|i| i.status == "open").collect();
    crate::print(format!(
        "incidents: {} open, {} closed",
        open.len(),
        r.incidents.len() - open.len()
    ))?;
    for i in &r.incidents {
        let until = match &i.closed_at {
            Some(at) => format!("closed {at}"),
            None => "open".to_string(),
        };
        let blocked = if i.blocked { ", blocked an ingest" } else { "" };
        crate::print(format!(
            "  {} ({}) since {}, {until}: {} failed check(s){blocked}; last: {}",
            i.rule, i.severity, i.opened_at, i.failed_checks, i.explanation
        ))?;
    }
    Ok(())
}

fn detect(args: DetectArgs) -> Result<(), MeshError> {
    let json = match args.format.as_str() {
        "csv" => false,
        "json" => true,
        other => {
            return Err(MeshError::BadInput {
                source_name: "--format".into(),
                message: format!("`{other}`: expected csv or json"),
            });
        }
    };
    let source_name = args.series.display().to_string();
    let input: Box<dyn std::io::Read> = if source_name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.series).map_err(|error| MeshError::Io {
                path: source_name.clone(),
                source: error,
            })?,
        )
    };
    let config = DetectorConfig::default();
    if json {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        replay_series(input, &source_name, config, |point| {
            writeln!(out, "{}", point_json(point))
        })
        .map_err(replay_failed)?;
        out.flush().map_err(stdout_failed)
    } else {
        let mut out = csv::Writer::from_writer(std::io::stdout().lock());
        out.write_record(["timestamp", "value", "anomaly_score", "is_anomaly"])
            .map_err(|e| stdout_failed(e.into()))?;
        replay_series(input, &source_name, config, |point| {
            let v = &point.verdict;
            out.write_record([
                point.timestamp.clone(),
                v.value.to_string(),
                format!("{:.6}", v.score),
                u8::from(v.is_anomaly).to_string(),
            ])
            .map_err(Into::into)
        })
        .map_err(replay_failed)?;
        out.flush().map_err(stdout_failed)
    }
}

/// A series that cannot be read is bad input; output that cannot be written is not.
fn replay_failed(error: QualityError) -> MeshError {
    match error {
        QualityError::Io { error, .. } => stdout_failed(error),
        bad => MeshError::BadInput {
            source_name: "--series".into(),
            message: bad.to_string(),
        },
    }
}

fn point_json(point: &ScoredPoint) -> serde_json::Value {
    let v = &point.verdict;
    serde_json::json!({
        "timestamp": point.timestamp,
        "value": v.value,
        "anomaly_score": v.score,
        "is_anomaly": v.is_anomaly,
        "expected": v.expected.map(|(low, high)| serde_json::json!({"low": low, "high": high})),
        "history": v.history,
        "reason": (!v.reason.is_empty()).then_some(&v.reason),
    })
}
