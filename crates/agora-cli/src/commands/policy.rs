//! `agora policy`: apply and show governance policies.

use std::path::PathBuf;

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::Subcommand;

use crate::print;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Apply a policy file (the global one, or a domain's), whole or not at all.
    Apply { file: PathBuf },
    /// Print the policies in force.
    Show,
}

pub async fn run(mesh: &Mesh, me: &Principal, command: PolicyCommand) -> Result<(), MeshError> {
    match command {
        PolicyCommand::Apply { file } => {
            let yaml = std::fs::read_to_string(&file).map_err(|source| MeshError::Io {
                path: file.display().to_string(),
                source,
            })?;
            let applied = mesh
                .apply_policy(me, &file.display().to_string(), &yaml)
                .await?;
            print(format!(
                "Applied the {} policy: {} column rules, {} row filters (ledger entry {})",
                applied.scope, applied.column_rules, applied.row_filters, applied.ledger_index
            ))
        }
        PolicyCommand::Show => {
            let policies = mesh.policies().await?;
            if policies.is_empty() {
                return print(
                    "No policy applied: confidential and restricted columns are hashed for readers below their level.",
                );
            }
            for p in policies {
                let scope = p.domain.map_or("global".to_string(), |d| d.to_string());
                print(format!(
                    "# {scope} policy, applied by {} at {}\n{}\n",
                    p.applied_by,
                    p.applied_at,
                    p.document.trim_end()
                ))?;
            }
            Ok(())
        }
    }
}
