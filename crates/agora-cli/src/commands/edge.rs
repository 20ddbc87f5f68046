//! `agora edge`: the edge agents of a domain — register one with the public key
//! `agora-edge keygen` printed on the device, and list them.

use agora_mesh::{EdgeAgent, Mesh, MeshError};
use agora_model::Principal;
use clap::Subcommand;

use crate::print;

#[derive(Subcommand)]
pub enum EdgeCommand {
    /// Register an edge agent of a domain with its Ed25519 public key: by the domain's owner
    /// or the administrator. Give it write access with `agora grant NAME write domain.table`.
    Register {
        name: String,
        #[arg(long)]
        domain: String,
        /// The agent's public key, 64 hex digits, as `agora-edge keygen` prints it.
        #[arg(long, value_name = "HEX")]
        public_key: String,
    },
    /// List the registered agents (of the domains you own, or all for the administrator).
    List,
}

fn line(a: &EdgeAgent) -> String {
    format!(
        "{}  domain {}  key {}  (registered by {} at {})",
        a.name, a.domain, a.public_key, a.registered_by, a.registered_at
    )
}

pub async fn run(mesh: &Mesh, me: &Principal, command: EdgeCommand) -> Result<(), MeshError> {
    match command {
        EdgeCommand::Register {
            name,
            domain,
            public_key,
        } => {
            let agent = mesh
                .register_edge_agent(me, &name, &domain, &public_key)
                .await?;
            print(format!(
                "Registered edge agent {} of domain {}; give it write access with `agora grant {} write {}.TABLE`",
                agent.name, agent.domain, agent.name, agent.domain
            ))
        }
        EdgeCommand::List => {
            let agents = mesh.edge_agents(me).await?;
            if agents.is_empty() {
                return print("No edge agents: register one with `agora edge register`");
            }
            print(agents.iter().map(line).collect::<Vec<_>>().join("\n"))
        }
    }
}
