//! `agora domain`: create and list domains.

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::Subcommand;

use crate::print;

#[derive(Subcommand)]
pub enum DomainCommand {
    Create {
        name: String,
        #[arg(long)]
        owner: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
}

pub async fn run(mesh: &Mesh, me: &Principal, command: DomainCommand) -> Result<(), MeshError> {
    match command {
        DomainCommand::Create {
            name,
            owner,
            description,
        } => {
            let d = mesh.create_domain(me, &name, &owner, &description).await?;
            print(format!("Created domain {} (owner {})", d.name, d.owner))
        }
        DomainCommand::List => {
            for d in mesh.domains().await? {
                print(format!(
                    "{:<16} owner {:<12} {}",
                    d.name.as_str(),
                    d.owner.as_str(),
                    d.description
                ))?;
            }
            Ok(())
        }
    }
}
