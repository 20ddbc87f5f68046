//! `agora product`: apply contracts, list and show products.

use std::path::PathBuf;

use agora_mesh::{Interface, Mesh, MeshError, ProductDetails};
use agora_model::{ModelError, Principal};
use clap::Subcommand;

use super::tag::label_summary;
use crate::print;

#[derive(Subcommand)]
pub enum ProductCommand {
    /// Create or update a product from an ODCS v3 contract.
    Apply {
        contract: PathBuf,
        /// The domain, when the contract has no `domain` field.
        #[arg(long)]
        domain: Option<String>,
    },
    List,
    /// Contract, schema, owner, versions, row counts, last ingests.
    Show {
        product: String,
    },
}

pub async fn run(mesh: &Mesh, me: &Principal, command: ProductCommand) -> Result<(), MeshError> {
    match command {
        ProductCommand::Apply { contract, domain } => apply(mesh, me, contract, domain).await,
        ProductCommand::List => {
            for p in mesh.products().await? {
                print(format!(
                    "{}.{:<16} v{:<8} {:<10} {}",
                    p.domain,
                    p.name.as_str(),
                    p.version,
                    p.status,
                    p.description
                ))?;
            }
            Ok(())
        }
        ProductCommand::Show { product } => {
            print_product(&mesh.product_details(me, &product, Interface::Cli).await?)
        }
    }
}

async fn apply(
    mesh: &Mesh,
    me: &Principal,
    contract: PathBuf,
    domain: Option<String>,
) -> Result<(), MeshError> {
    let yaml = std::fs::read_to_string(&contract).map_err(|source| MeshError::Io {
        path: contract.display().to_string(),
        source,
    })?;
    let r = mesh
        .apply_contract(me, &yaml, domain.as_deref())
        .await
        .map_err(|e| match e {
            // Name the file in contract errors; a refused breaking change keeps its kind.
            MeshError::Contract(m) if !matches!(m, ModelError::BreakingChange { .. }) => {
                MeshError::BadInput {
                    source_name: contract.display().to_string(),
                    message: m.to_string(),
                }
            }
            other => other,
        })?;
    for w in &r.warnings {
        eprintln!("warning: {}: {w}", contract.display());
    }
    let verb = if r.created { "Created" } else { "Updated" };
    print(format!(
        "{verb} product {}.{} v{} (tables: {})",
        r.domain,
        r.product,
        r.version,
        r.tables
            .iter()
            .map(|t| format!("{}.{t}", r.domain))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    for c in &r.changes {
        print(format!("  {}", c.description))?;
    }
    Ok(())
}

/// Prints what `product show` reports: header, tables with columns and versions, ingests, contract.
fn print_product(d: &ProductDetails) -> Result<(), MeshError> {
    let r = &d.record;
    print(format!(
        "{}.{}  v{}  ({})  owner: {}",
        r.domain, r.name, r.version, r.status, d.owner
    ))?;
    if !r.description.is_empty() {
        print(format!("  {}", r.description))?;
    }
    for t in &d.tables {
        print(format!(
            "\ntable {}  version {}  rows {}  quarantined {}",
            t.table,
            t.version.map_or("-".to_string(), |v| v.to_string()),
            t.rows.map_or("-".to_string(), |r| r.to_string()),
            t.quarantined_rows
                .map_or("-".to_string(), |r| r.to_string())
        ))?;
        for (name, ty, required) in &t.columns {
            let tag = t
                .tags
                .iter()
                .find(|tag| &tag.column == name)
                .map(|tag| format!("  [{}]", label_summary(tag)))
                .unwrap_or_default();
            print(format!(
                "  {name:<24} {ty:<32}{}{tag}",
                if *required { " required" } else { "" }
            ))?;
        }
        for v in &t.history {
            print(format!(
                "  version {:<4} {}",
                v.version,
                v.operation.as_deref().unwrap_or("")
            ))?;
        }
        if let Some(sample) = &t.sample {
            print("  sample rows, as the reader sees them:")?;
            if !sample.withheld.is_empty() {
                print(format!(
                    "    (withheld, denied by policy: {})",
                    sample.withheld.join(", ")
                ))?;
            }
            print(format!("    {}", sample.columns.join(" | ")))?;
            for row in &sample.rows {
                let cells: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
                print(format!("    {}", cells.join(" | ")))?;
            }
        }
    }
    if !d.ingests.is_empty() {
        print("\nlast ingests:")?;
        for i in &d.ingests {
            print(format!(
                "  {} {} → version {}: {} accepted, {} quarantined, from {} by {}",
                i.at,
                i.table,
                i.table_version,
                i.rows_accepted,
                i.rows_quarantined,
                i.source,
                i.principal
            ))?;
        }
    }
    print(format!("\ncontract:\n{}", r.contract_yaml.trim_end()))
}
