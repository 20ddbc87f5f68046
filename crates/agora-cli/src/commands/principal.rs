//! `agora principal`: principals over their life — create, rotate the token, change, disable,
//! enable, delete, list — and their grants.

use std::collections::BTreeMap;

use agora_mesh::{Mesh, MeshError, parse_lifetime};
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
        /// The token stops working after this long: 90d, 12h, 30m (default: never).
        #[arg(long, value_name = "LIFETIME")]
        expires: Option<String>,
    },
    /// Give a principal a new API token (printed once); the old one stops working at once.
    RotateToken {
        name: String,
        /// The new token stops working after this long: 90d, 12h, 30m (default: never).
        #[arg(long, value_name = "LIFETIME")]
        expires: Option<String>,
    },
    /// Change a principal's clearance or attributes (`--attr NAME=` removes one).
    Set {
        name: String,
        #[arg(long)]
        clearance: Option<String>,
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
    },
    /// Stop a principal from acting (its token, `--as`, open Postgres connections), keeping
    /// its grants.
    Disable { name: String },
    /// Let a disabled principal act again.
    Enable { name: String },
    /// Delete a principal and its grants (the ledger keeps their history).
    Delete { name: String },
    /// List principals: clearance, attributes, whether disabled, when the token expires.
    List,
    /// Show a principal's grants.
    Grants { name: String },
}

pub(super) fn attributes(given: &[String]) -> Result<BTreeMap<String, String>, MeshError> {
    let mut attrs = BTreeMap::new();
    for a in given {
        let (k, v) = a.split_once('=').ok_or_else(|| MeshError::BadInput {
            source_name: "--attr".into(),
            message: format!("`{a}` is not NAME=VALUE"),
        })?;
        attrs.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(attrs)
}

fn lifetime(expires: Option<&str>) -> Result<Option<chrono::Duration>, MeshError> {
    expires.map(|e| parse_lifetime("--expires", e)).transpose()
}

pub async fn run(mesh: &Mesh, me: &Principal, command: PrincipalCommand) -> Result<(), MeshError> {
    match command {
        PrincipalCommand::Create {
            name,
            clearance,
            attributes: given,
            expires,
        } => {
            let clearance: Sensitivity = clearance.parse()?;
            let attrs = attributes(&given)?;
            let lifetime = lifetime(expires.as_deref())?;
            let token = mesh
                .create_principal(me, &name, clearance, attrs, lifetime)
                .await?;
            print(format!(
                "Created principal {name}\nAPI token (shown once; also the Postgres password): {token}"
            ))
        }
        PrincipalCommand::RotateToken { name, expires } => {
            let token = mesh
                .rotate_token(me, &name, lifetime(expires.as_deref())?)
                .await?;
            print(format!(
                "New token for {name}; the old one no longer works\nAPI token (shown once; also the Postgres password): {token}"
            ))
        }
        PrincipalCommand::Set {
            name,
            clearance,
            attributes: given,
        } => {
            let clearance = clearance.map(|c| c.parse::<Sensitivity>()).transpose()?;
            mesh.update_principal(me, &name, clearance, attributes(&given)?)
                .await?;
            print(format!("Updated principal {name}"))
        }
        PrincipalCommand::Disable { name } => {
            mesh.set_principal_enabled(me, &name, false).await?;
            print(format!("Disabled principal {name}"))
        }
        PrincipalCommand::Enable { name } => {
            mesh.set_principal_enabled(me, &name, true).await?;
            print(format!("Enabled principal {name}"))
        }
        PrincipalCommand::Delete { name } => {
            mesh.delete_principal(me, &name).await?;
            print(format!("Deleted principal {name} and its grants"))
        }
        PrincipalCommand::List => {
            for p in mesh.list_principals(me).await? {
                let attrs: Vec<String> = p
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                let mut notes = Vec::new();
                if p.is_admin {
                    notes.push("administrator".to_string());
                }
                if p.disabled {
                    notes.push("disabled".to_string());
                }
                if let Some(at) = &p.token_expires_at {
                    notes.push(format!("token expires {at}"));
                }
                print(format!(
                    "{:<16} {:<13} {:<24} {}",
                    p.name,
                    p.clearance.as_str(),
                    if attrs.is_empty() {
                        "-".to_string()
                    } else {
                        attrs.join(",")
                    },
                    notes.join(", ")
                ))?;
            }
            Ok(())
        }
        PrincipalCommand::Grants { name } => {
            for g in mesh.grants_of(&name).await? {
                print(format!("{} {} on {}", g.principal, g.access, g.target))?;
            }
            Ok(())
        }
    }
}
