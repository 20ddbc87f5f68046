//! `agora init`: an empty mesh.

use std::path::Path;

use agora_mesh::{Mesh, MeshError};

use crate::print;

pub async fn run(data: &Path) -> Result<(), MeshError> {
    let (_, token) = Mesh::init(data).await?;
    print(format!("Created an empty mesh in {}", data.display()))?;
    print(format!("Administrator API token (shown once): {token}"))
}
