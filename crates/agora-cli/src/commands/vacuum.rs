//! `agora vacuum`: removes the data files of ingests that never committed.

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;

use crate::print;

pub async fn run(mesh: &Mesh, me: &Principal) -> Result<(), MeshError> {
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
