//! `agora tag`: list column classifications, or override one.

use agora_mesh::{Mesh, MeshError};
use agora_model::{Principal, TableRef};
use agora_policy::ColumnLabel;
use clap::Subcommand;

use crate::print;

#[derive(Subcommand)]
pub enum TagCommand {
    /// Set a column's classification; no automatic run changes it afterwards.
    Set {
        /// `domain.table.column`.
        column: String,
        /// One of email, phone_number, payment_card, iban, national_id, ip_address,
        /// person_name, postal_address, date_of_birth, geolocation, credential, none.
        category: String,
        /// By default the category's own (see `agora classify --help`).
        #[arg(long)]
        sensitivity: Option<String>,
        /// Why: kept with the tag and in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// The classification of each labelled column of `domain.table`.
    List { table: String },
}

pub async fn run(mesh: &Mesh, me: &Principal, command: TagCommand) -> Result<(), MeshError> {
    match command {
        TagCommand::Set {
            column,
            category,
            sensitivity,
            reason,
        } => {
            let tag = mesh
                .set_tag(me, &column, &category, sensitivity.as_deref(), &reason)
                .await?;
            print(format!(
                "{column}: {} ({}), set by {}: {}",
                tag.category, tag.sensitivity, me.name, tag.reason
            ))
        }
        TagCommand::List { table } => {
            let table = TableRef::parse(&table)?;
            for label in mesh.column_labels(&table).await? {
                print(format_label(&label))?;
            }
            Ok(())
        }
    }
}

/// `email, confidential, 0.97 by the classifier`.
pub fn label_summary(label: &ColumnLabel) -> String {
    let by = match label.source {
        "override" => format!("override: {}", label.reason),
        "contract" => "from the contract".to_string(),
        _ => format!("{:.2} by the classifier", label.confidence),
    };
    format!("{}, {}, {by}", label.category, label.sensitivity)
}

/// A column's label with its evidence, as `agora tag list` prints it.
fn format_label(label: &ColumnLabel) -> String {
    let evidence = label
        .evidence
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    Some(format!(
                        "{} {:.0}%",
                        e.get("detector")?.as_str()?,
                        e.get("share")?.as_f64()? * 100.0
                    ))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let evidence = if evidence.is_empty() {
        String::new()
    } else {
        format!("  evidence: {evidence}")
    };
    format!("{:<24} {}{evidence}", label.column, label_summary(label))
}
