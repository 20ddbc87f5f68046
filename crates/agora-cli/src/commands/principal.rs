//! `agora principal`: create principals and show their grants.

use std::collections::BTreeMap;

use agora_mesh::{Mesh, MeshError};
use agora_model::{Principal, Sensitivity};
use clap::Subcommand;

use crate::print;

#[derive(Subcommand)]
pub enum PrincipalCommand {
    /// Create a principal and print its API token (shown only once).
    Create {
        name: String,
        /// The most sensitive data it reads unmasked: public, internal, confidential or
        /// restricted.
        #[arg(long, default_value = "internal")]
        clearance: String,
        /// An attribute row filters compare against, as NAME=VALUE (repeatable); the global
        /// policy must declare NAME.
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
    },
    /// Show a principal's grants.
    Grants { name: String },
}

pub async fn run(mesh: &Mesh, me: &Principal, command: PrincipalCommand) -> Result<(), MeshError> {
    match command {
        PrincipalCommand::Create {
            name,
            clearance,
            attributes,
        } => {
            let clearance: Sensitivity = clearance.parse()?;
            let mut attrs = BTreeMap::new();
            for a in &attributes {
                let (k, v) = a.split_once('=').ok_or_else(|| MeshError::BadInput {
                    source_name: "--attr".into(),
                    message: format!("`{a}` is not NAME=VALUE"),
                })?;
                attrs.insert(k.trim().to_string(), v.trim().to_string());
            }
            let token = mesh.create_principal(me, &name, clearance, attrs).await?;
            print(format!(
                "Created principal {name}\nAPI token (shown once; also the Postgres password): {token}"
            ))
        }
        PrincipalCommand::Grants { name } => {
            for g in mesh.grants_of(&name).await? {
                print(format!("{} {} on {}", g.principal, g.access, g.target))?;
            }
            Ok(())
        }
    }
}
