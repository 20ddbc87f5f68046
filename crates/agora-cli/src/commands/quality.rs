//! `agora quality`: data quality. `agora quality TABLE` shows a table's latest rule results,
//! score and incidents; `suggest`, `apply` and `revert` list, make and undo suggested
//! corrections; `detect` replays a `timestamp,value` series through the streaming
//! anomaly detector that scores live events.

use std::io::Write;
use std::path::PathBuf;

use agora_mesh::{CorrectionReport, Mesh, MeshError, QualityReport};
use agora_model::Principal;
use agora_quality::{DetectorConfig, QualityError, ScoredPoint, replay_series};
use agora_query::Interface;

use crate::{print_json, stdout_failed};
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
    /// List the corrections proposed for a table (id, column, original and proposed value,
    /// confidence, rows); `--preview ID` shows the rows one changes, before and after.
    Suggest(SuggestArgs),
    /// Apply suggestions to a table as one new version, recorded in the ledger.
    Apply(ApplyArgs),
    /// Undo an applied suggestion as another new version.
    Revert(RevertArgs),
}

#[derive(Args)]
pub struct SuggestArgs {
    /// `domain.table`.
    table: String,
    /// Show the rows this suggestion changes, before and after.
    #[arg(long, value_name = "ID")]
    preview: Option<String>,
    /// text or json.
    #[arg(long, default_value = "text")]
    format: String,
}

#[derive(Args)]
pub struct ApplyArgs {
    /// `domain.table`.
    table: String,
    /// The suggestions to apply, by id.
    #[arg(required = true)]
    ids: Vec<String>,
    /// text or json.
    #[arg(long, default_value = "text")]
    format: String,
}

#[derive(Args)]
pub struct RevertArgs {
    /// The applied suggestion's id.
    id: String,
    /// text or json.
    #[arg(long, default_value = "text")]
    format: String,
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

/// The commands that need a mesh.
pub async fn run_on_mesh(
    mesh: &Mesh,
    me: &Principal,
    command: QualityCommand,
) -> Result<(), MeshError> {
    match command {
        QualityCommand::Detect(args) => detect(args),
        QualityCommand::Suggest(args) => suggest(mesh, me, args).await,
        QualityCommand::Apply(args) => {
            let json = json_format(&args.format)?;
            let report = mesh
                .apply_corrections(me, &args.table, &args.ids, Interface::Cli)
                .await?;
            print_correction(&report, json, "applied")
        }
        QualityCommand::Revert(args) => {
            let json = json_format(&args.format)?;
            let report = mesh.revert_correction(me, &args.id).await?;
            print_correction(&report, json, "reverted")
        }
    }
}

/// Whether `--format` asks for JSON (`text` or `json`).
fn json_format(format: &str) -> Result<bool, MeshError> {
    match format {
        "text" => Ok(false),
        "json" => Ok(true),
        other => Err(MeshError::BadInput {
            source_name: "--format".into(),
            message: format!("`{other}`: expected text or json"),
        }),
    }
}

async fn suggest(mesh: &Mesh, me: &Principal, args: SuggestArgs) -> Result<(), MeshError> {
    let json = json_format(&args.format)?;
    if let Some(id) = &args.preview {
        let preview = mesh
            .preview_correction(me, &args.table, id, Interface::Cli)
            .await?;
        if json {
            return print_json(&preview.to_json()?);
        }
        let s = &preview.suggestion;
        crate::print(format!(
            "{} ({}, confidence {:.2}): `{}` {} → {}; {} row(s)",
            s.id,
            s.kind.as_str(),
            s.confidence,
            s.column,
            s.original,
            s.proposed,
            s.rows
        ))?;
        let shown: usize = preview.before.iter().map(|b| b.num_rows()).sum();
        for (title, batches) in [("before:", &preview.before), ("after:", &preview.after)] {
            crate::print(title)?;
            let table = arrow::util::pretty::pretty_format_batches(batches)
                .map_err(|e| MeshError::Internal(format!("a preview: {e}")))?;
            crate::print(table)?;
        }
        if (shown as u64) < s.rows {
            crate::print(format!("({shown} of {} rows shown)", s.rows))?;
        }
        return Ok(());
    }
    let list = mesh
        .suggest_corrections(me, &args.table, Interface::Cli)
        .await?;
    if json {
        return print_json(&list);
    }
    if list.suggestions.is_empty() && list.quarantine.is_empty() {
        return crate::print(format!("{}: no corrections to suggest", list.table));
    }
    if !list.suggestions.is_empty() {
        print_suggestions(&list.suggestions)?;
    }
    if !list.quarantine.is_empty() {
        if !list.suggestions.is_empty() {
            crate::print("")?;
        }
        crate::print(format!(
            "for quarantined rows ({}__quarantine; applying one re-admits the rows it corrects):",
            list.table
        ))?;
        print_suggestions(&list.quarantine)?;
    }
    Ok(())
}

fn print_suggestions(list: &[agora_mesh::SuggestionView]) -> Result<(), MeshError> {
    crate::print(format!(
        "{:<22} {:<13} {:<16} {:<24} {:<24} {:>10} {:>6}",
        "id", "kind", "column", "original", "proposed", "confidence", "rows"
    ))?;
    for s in list {
        let more = if s.values > 1 {
            format!(" (+{})", s.values - 1)
        } else {
            String::new()
        };
        crate::print(format!(
            "{:<22} {:<13} {:<16} {:<24} {:<24} {:>10.2} {:>6}",
            s.id,
            s.kind.as_str(),
            s.column,
            format!("{}{more}", shown(&s.original)),
            shown(&s.proposed),
            s.confidence,
            s.rows
        ))?;
    }
    Ok(())
}

/// A value as a listing shows it: quoted when spaces around it would not show.
fn shown(value: &str) -> String {
    if value.trim() == value && !value.is_empty() {
        value.to_string()
    } else {
        format!("{value:?}")
    }
}

fn print_correction(r: &CorrectionReport, json: bool, what: &str) -> Result<(), MeshError> {
    if json {
        return print_json(r);
    }
    let version = r.version.map_or("-".to_string(), |v| v.to_string());
    if let (Some(admitted), Some(refused)) = (r.readmitted, r.still_quarantined) {
        crate::print(format!(
            "{what} {} on {}: {} quarantined row(s) corrected, {admitted} re-admitted (version {version}), ledger entry {}",
            r.suggestions.join(", "),
            r.table,
            r.rows,
            r.ledger_index
        ))?;
        if refused > 0 {
            crate::print(format!(
                "{refused} corrected row(s) still break the contract: back in {}__quarantine with their new reason",
                r.table
            ))?;
        }
        return Ok(());
    }
    crate::print(format!(
        "{what} {} on {}: {} row(s) changed, version {version}, ledger entry {}",
        r.suggestions.join(", "),
        r.table,
        r.rows,
        r.ledger_index
    ))?;
    if let Some(n) = r.changed_since.filter(|n| *n > 0) {
        crate::print(format!(
            "{n} corrected row(s) changed since and keep their newer values"
        ))?;
    }
    Ok(())
}

/// `agora quality TABLE`.
pub async fn report(mesh: &Mesh, me: &Principal, args: QualityArgs) -> Result<(), MeshError> {
    let Some(table) = args.table else {
        return Err(MeshError::BadInput {
            source_name: "agora quality".into(),
            message: "name a table (`agora quality sales.orders`) or a command (`detect`)".into(),
        });
    };
    let json = json_format(&args.format)?;
    let report = mesh.quality_report(me, &table, Interface::Cli).await?;
    if json {
        return print_json(&report);
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
    if !r.predicted.is_empty() {
        crate::print("predicted breaches:")?;
    }
    for p in &r.predicted {
        crate::print(format!("  {}: {}", p.rule, p.message))?;
    }
    Ok(())
}

pub fn detect(args: DetectArgs) -> Result<(), MeshError> {
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
