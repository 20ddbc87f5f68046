//! `agora quality`: data quality checks. `detect` replays a `timestamp,value` series through
//! the streaming anomaly detector that scores live events.

use std::io::Write;
use std::path::PathBuf;

use agora_mesh::MeshError;
use agora_quality::{DetectorConfig, QualityError, ScoredPoint, replay_series};

use crate::stdout_failed;
use clap::{Args, Subcommand};

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
