//! `agora vacuum`: removes the data files of ingests that never committed; with a table, also
//! the files its versions older than `--retain` need.

use agora_mesh::{Mesh, MeshError, parse_lifetime};
use agora_model::Principal;
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct VacuumArgs {
    /// `domain.table`: also delete the files that the table's latest version no longer
    /// references and that were replaced longer than --retain ago (time travel to versions
    /// older than that ends). Without it: only the files of failed ingests, in every table.
    table: Option<String>,
    /// How long replaced files are kept for time travel (with a table): 7d, 12h, 30m, or 0 to
    /// keep none.
    #[arg(long, default_value = "7d", requires = "table")]
    retain: String,
}

pub async fn run(mesh: &Mesh, me: &Principal, args: VacuumArgs) -> Result<(), MeshError> {
    if let Some(table) = &args.table {
        // Zero keeps no replaced file: every earlier version stops being readable.
        let retain = match args.retain.trim() {
            "0" | "0d" | "0h" | "0m" => chrono::Duration::zero(),
            text => parse_lifetime("--retain", text)?,
        };
        let report = mesh.vacuum_table(me, table, retain).await?;
        for t in &report.tables {
            print(format!("{}: removed {} file(s)", t.table, t.removed))?;
        }
        return print(format!("(ledger entry {})", report.ledger_index));
    }
    let report = mesh.vacuum(me).await?;
    if report.removed.is_empty() {
        return print("No orphaned files");
    }
    for (table, files) in &report.removed {
        print(format!("{table}: removed {} orphaned file(s)", files.len()))?;
        for file in files {
            print(format!("  {file}"))?;
        }
    }
    Ok(())
}
