//! `agora search`: products matching words.

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;

use crate::print;

pub async fn run(mesh: &Mesh, me: &Principal, query: &str) -> Result<(), MeshError> {
    for h in mesh.search(me, query, 20).await? {
        print(format!(
            "{}.{:<16} {}",
            h.domain,
            h.product.as_str(),
            h.snippet
        ))?;
    }
    Ok(())
}
