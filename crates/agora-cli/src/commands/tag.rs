//! `agora tag`: list column classifications, or override one.

use agora_mesh::{Mesh, MeshError};
use agora_model::{Category, Principal, TableRef};
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
    /// The classification of each labelled column of `domain.table`; the classifier's
    /// suggestions (below 0.9 confidence) are marked for an owner to confirm or reject.
    List { table: String },
    /// Confirm the classifier's category of a column: it becomes an override.
    Confirm {
        /// `domain.table.column`.
        column: String,
        #[arg(long, default_value = "confirmed the classifier's category")]
        reason: String,
    },
    /// Reject the classifier's category of a column: an override of `none` replaces it.
    Reject {
        /// `domain.table.column`.
        column: String,
        /// Why the column holds no such data: kept with the tag and in the ledger.
        #[arg(long)]
        reason: String,
    },
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
        TagCommand::Confirm { column, reason } => {
            let found = classifier_label(mesh, &column).await?;
            let tag = mesh
                .set_tag(
                    me,
                    &column,
                    found.category.as_str(),
                    Some(found.sensitivity.as_str()),
                    &reason,
                )
                .await?;
            print(format!(
                "{column}: {} ({}) confirmed by {}",
                tag.category, tag.sensitivity, me.name
            ))
        }
        TagCommand::Reject { column, reason } => {
            let found = classifier_label(mesh, &column).await?;
            mesh.set_tag(me, &column, "none", None, &reason).await?;
            print(format!(
                "{column}: the classifier's {} rejected by {}: {reason}",
                found.category, me.name
            ))
        }
    }
}

/// The classifier's label of `domain.table.column`, which confirm and reject decide on; an
/// error if the column's label is an owner's or the contract's, or the classifier found
/// nothing.
async fn classifier_label(mesh: &Mesh, target: &str) -> Result<ColumnLabel, MeshError> {
    let refused = |message: String| MeshError::BadInput {
        source_name: target.to_string(),
        message,
    };
    match mesh.column_label(target).await? {
        Some(label) if label.source == "auto" && label.category != Category::None => Ok(label),
        Some(label) => Err(refused(format!(
            "no classifier's category to decide on: the label is {}",
            label_summary(&label)
        ))),
        None => Err(refused(
            "no classifier's category to decide on: the column has no label".into(),
        )),
    }
}

/// `email, confidential, 0.97 by the classifier`.
pub fn label_summary(label: &ColumnLabel) -> String {
    let by = match label.source {
        "override" => format!("override: {}", label.reason),
        "contract" => "from the contract".to_string(),
        _ if label.suggested => format!(
            "{:.2} by the classifier, a suggestion: `agora tag confirm` or `agora tag reject`",
            label.confidence
        ),
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
