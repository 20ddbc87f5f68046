//! `agora delete`, `agora erase` and `agora optimize`: changes to a table's rows and files
//! other than ingests, each one ledger entry.

use agora_mesh::{Erasure, ErasureTarget, Mesh, MeshError, TableChangeReport};
use agora_model::{Category, Principal};
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct DeleteArgs {
    /// `domain.table`.
    table: String,
    /// The rows to delete: a SQL condition on the table's columns.
    #[arg(long = "where")]
    predicate: String,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["predicate", "column_category"])))]
pub struct EraseArgs {
    /// The data subject's rows: a SQL condition, applied to every product table that has the
    /// columns it names (and to its quarantine table).
    #[arg(long = "where")]
    predicate: Option<String>,
    /// The data subject's rows: those holding --value in a column classified as this category
    /// (email, person_name, national_id, …), in every product table.
    #[arg(long, requires = "value")]
    column_category: Option<String>,
    /// The value to erase (with --column-category); compared without case or surrounding spaces.
    #[arg(long, requires = "column_category")]
    value: Option<String>,
    /// Also delete the files and log entries of earlier versions, so that time travel cannot
    /// bring the rows back (it ends at the erasure for the tables erased from).
    #[arg(long)]
    purge: bool,
    /// Keep the product tables' rows and empty their personal values (every column classified
    /// with a category, or confidential and above) instead of deleting the rows: for records a
    /// business must keep, such as invoices. Quarantined rows still go whole.
    #[arg(long)]
    keep_rows: bool,
}

#[derive(Args)]
pub struct OptimizeArgs {
    /// `domain.table`.
    table: String,
}

pub async fn delete(mesh: &Mesh, me: &Principal, args: DeleteArgs) -> Result<(), MeshError> {
    let report = mesh.delete_rows(me, &args.table, &args.predicate).await?;
    for t in &report.tables {
        print(format!(
            "Deleted {} row(s) from {}{}",
            t.removed,
            t.table,
            version(t.version)
        ))?;
    }
    print(format!("(ledger entry {})", report.ledger_index))
}

pub async fn erase(mesh: &Mesh, me: &Principal, args: EraseArgs) -> Result<(), MeshError> {
    let target = match (args.predicate, args.column_category, args.value) {
        (Some(predicate), _, _) => ErasureTarget::Where(predicate),
        (None, Some(category), Some(value)) => ErasureTarget::Category {
            category: category.parse::<Category>()?,
            value,
        },
        _ => {
            return Err(MeshError::BadInput {
                source_name: "agora erase".into(),
                message: "name the data subject with --where, or --column-category and --value"
                    .into(),
            });
        }
    };
    let erasure = Erasure {
        keep_rows: args.keep_rows,
        purge: args.purge,
    };
    let report = mesh.erase(me, target, erasure).await?;
    for t in &report.tables {
        let purged = t
            .purged_files
            .map(|n| format!("; {n} file(s) of earlier versions purged"))
            .unwrap_or_default();
        let erased = match t.rows_kept {
            true => format!("Emptied the personal values of {} row(s) of", t.removed),
            false => format!("Erased {} row(s) from", t.removed),
        };
        print(format!(
            "{erased} {}{}{purged}",
            t.table,
            version(t.version)
        ))?;
    }
    print_entry(&report)
}

pub async fn optimize(mesh: &Mesh, me: &Principal, args: OptimizeArgs) -> Result<(), MeshError> {
    let report = mesh.optimize(me, &args.table).await?;
    for t in &report.tables {
        print(format!(
            "Optimized {}: {} file(s) compacted into {}{}",
            t.table,
            t.removed,
            t.added,
            version(t.version)
        ))?;
    }
    print(format!("(ledger entry {})", report.ledger_index))
}

fn version(v: Option<u64>) -> String {
    v.map(|v| format!(" → version {v}"))
        .unwrap_or_else(|| " (no new version)".into())
}

fn print_entry(report: &TableChangeReport) -> Result<(), MeshError> {
    match &report.value_hmac {
        Some(h) => print(format!(
            "(ledger entry {}; the value is recorded only as its keyed hash {h})",
            report.ledger_index
        )),
        None => print(format!("(ledger entry {})", report.ledger_index)),
    }
}
