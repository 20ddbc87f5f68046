//! `agora classify`: classify a file's columns without ingesting it.

use std::path::PathBuf;

use agora_classify::Classification;
use agora_mesh::{InputFormat, MeshError};
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct ClassifyArgs {
    file: PathBuf,
    /// text, or json (one object per column, one per line).
    #[arg(long, default_value = "text")]
    format: String,
    /// csv, json, parquet or arrow; by default the file extension decides.
    #[arg(long)]
    input: Option<String>,
}

pub fn run(args: ClassifyArgs) -> Result<(), MeshError> {
    let input = args.input.as_deref().map(InputFormat::parse).transpose()?;
    let results = agora_mesh::classify_file(&args.file, input)?;
    print_classifications(&results, &args.format)
}

/// A table, or one JSON object per column and line.
fn print_classifications(results: &[Classification], format: &str) -> Result<(), MeshError> {
    match format {
        "json" => {
            for r in results {
                print(
                    serde_json::to_string(r).expect("INVARIANT: a classification is plain JSON"),
                )?;
            }
            Ok(())
        }
        "text" => {
            for r in results {
                let evidence = r
                    .evidence
                    .iter()
                    .map(|e| format!("{} {:.0}%", e.detector, e.share * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ");
                let ruled_out: String = r
                    .ruled_out
                    .iter()
                    .map(|o| format!("; not {}: {}", o.category.as_str(), o.reason))
                    .collect();
                print(format!(
                    "{:<24} {:<15} {:<13} {:>5.2}  {evidence}{ruled_out}",
                    r.column,
                    r.category.as_str(),
                    r.sensitivity.as_str(),
                    r.confidence
                ))?;
            }
            Ok(())
        }
        other => Err(MeshError::BadInput {
            source_name: "--format".into(),
            message: format!("`{other}`: expected text or json"),
        }),
    }
}
