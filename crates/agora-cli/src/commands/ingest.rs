//! `agora ingest`: a file or standard input into a product table, with a progress bar.

use std::path::PathBuf;

use agora_mesh::{IngestMode, IngestOptions, InputFormat, Mesh, MeshError, Source};
use agora_model::Principal;
use clap::Args;

use crate::{print, progress};

#[derive(Args)]
pub struct IngestArgs {
    /// `domain.table`.
    table: String,
    /// The file, or `-` for standard input.
    file: String,
    /// csv, json, parquet or arrow; by default the file extension decides.
    #[arg(long)]
    format: Option<String>,
    /// append (add rows; a row whose primary key the table has is quarantined), merge (upsert
    /// by the contract's primary key) or overwrite (replace every row).
    #[arg(long, default_value = "append")]
    mode: String,
    /// Ingest even if the same input (same SHA-256) was ingested into the table before.
    #[arg(long)]
    allow_duplicate: bool,
    /// text, or json (the whole ingest report, as the HTTP API answers it).
    #[arg(long, default_value = "text")]
    output: String,
}

pub async fn run(mesh: &Mesh, me: &Principal, args: IngestArgs) -> Result<(), MeshError> {
    let format = args.format.as_deref().map(InputFormat::parse).transpose()?;
    let json = match args.output.as_str() {
        "text" => false,
        "json" => true,
        other => {
            return Err(MeshError::BadInput {
                source_name: "--output".into(),
                message: format!("`{other}`: expected text or json"),
            });
        }
    };
    let source = if args.file == "-" {
        Source::Stdin
    } else {
        Source::File(PathBuf::from(&args.file))
    };
    let bar = progress::for_file(&args.file);
    let options = IngestOptions {
        format,
        progress: bar.as_ref().map(progress::callback),
        allow_duplicate: args.allow_duplicate,
        idempotency_key: None,
        mode: IngestMode::parse(&args.mode)?,
    };
    let report = mesh.ingest(me, &args.table, source, options).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let r = report?;
    if json {
        return crate::print_json(&r);
    }
    print(format!(
        "Ingested {} into {}: {} rows read, {} accepted, {} quarantined → version {} (ledger entry {})",
        r.source,
        r.table,
        r.rows_read,
        r.rows_accepted,
        r.rows_quarantined,
        r.version.map_or("-".to_string(), |v| v.to_string()),
        r.ledger_index
    ))?;
    if let (Some(inserted), Some(updated)) = (r.rows_inserted, r.rows_updated) {
        print(format!(
            "  merged by primary key: {inserted} inserted, {updated} updated"
        ))?;
    }
    if r.blocked.is_some() {
        print(format!(
            "  blocked: a blocking quality rule failed, so the rows validation accepted went to quarantine too and {} stays at its previous version",
            r.table
        ))?;
    }
    for (reason, n) in &r.quarantine_reasons {
        print(format!("  quarantined {n} × {reason}"))?;
    }
    for rule in r.rules.iter().filter(|v| v.outcome != "passed") {
        print(format!(
            "  quality {} ({}): {} — {}",
            rule.outcome, rule.severity, rule.rule, rule.message
        ))?;
    }
    for c in &r.classified {
        let was = c.previous.map(|p| format!(", was {p}")).unwrap_or_default();
        let suggestion = if agora_policy::is_suggestion(c.category, c.confidence) {
            format!(
                " — a suggestion: `agora tag confirm {0}.{1}` or `agora tag reject {0}.{1} --reason …`",
                r.table, c.column
            )
        } else {
            String::new()
        };
        print(format!(
            "  classified {}: {} ({}, confidence {:.2}{was}){suggestion}",
            c.column, c.category, c.sensitivity, c.confidence
        ))?;
    }
    for c in &r.kept {
        let label = c.previous.map(|p| p.to_string()).unwrap_or_default();
        print(format!(
            "  kept {}: {label} — this ingest's values look like {} ({:.2}); an owner may change it with `agora tag set`",
            c.column, c.category, c.confidence
        ))?;
    }
    Ok(())
}
