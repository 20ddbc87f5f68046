//! `agora grant`, `agora grant list` and `agora revoke`.

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::{Args, Subcommand};

use crate::print;

#[derive(Args)]
pub struct GrantArgs {
    principal: String,
    /// read or write.
    access: String,
    /// `domain.product` or `domain.table`.
    target: String,
}

/// `agora grant PRINCIPAL ACCESS TARGET`, or `agora grant list`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GrantCommand {
    #[command(subcommand)]
    list: Option<GrantList>,
    #[command(flatten)]
    grant: Option<GrantArgs>,
}

#[derive(Subcommand)]
enum GrantList {
    /// List grants: all of them for the administrator; for anyone else, its own and those on
    /// the domains it owns.
    List {
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        /// Only those on this product (`domain.product`).
        #[arg(long)]
        product: Option<String>,
    },
}

pub async fn run_grant(
    mesh: &Mesh,
    me: &Principal,
    command: GrantCommand,
) -> Result<(), MeshError> {
    match (command.list, command.grant) {
        (Some(GrantList::List { principal, product }), _) => {
            for g in mesh
                .list_grants(me, principal.as_deref(), product.as_deref())
                .await?
            {
                print(format!("{} {} on {}", g.principal, g.access, g.target))?;
            }
            Ok(())
        }
        (None, Some(args)) => run(mesh, me, args, false).await,
        (None, None) => Err(MeshError::BadInput {
            source_name: "agora grant".into(),
            message: "give PRINCIPAL ACCESS TARGET, or `list`".into(),
        }),
    }
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
