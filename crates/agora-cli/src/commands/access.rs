//! `agora grant` and `agora revoke`.

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct GrantArgs {
    principal: String,
    /// read or write.
    access: String,
    /// `domain.product` or `domain.table`.
    target: String,
}

pub async fn run(
    mesh: &Mesh,
    me: &Principal,
    args: GrantArgs,
    revoke: bool,
) -> Result<(), MeshError> {
    let g = mesh
        .set_grant(me, &args.principal, &args.access, &args.target, revoke)
        .await?;
    let verb = if revoke { "Revoked" } else { "Granted" };
    print(format!(
        "{verb} {} {} on {}",
        g.principal, g.access, g.target
    ))
}
