//! Labels: the classification each column of a table is governed by, from three sources in
//! order of precedence.
//!
//! 1. An owner's `override` tag wins whole (category and sensitivity).
//! 2. Otherwise the category is the classifier's (`auto` tag) and the sensitivity is the
//!    contract's `classification` when it names a level, else the classifier's.
//! 3. A column with only a contract level has category `none` and that level.
//!
//! An automatic category below [`SUGGESTION_BELOW`] confidence is a *suggestion*: it governs
//! reads like any other label (a suggested person name is masked as one: fail closed) and is
//! shown as a suggestion until an owner confirms it or rejects it (`agora tag confirm`,
//! `agora tag reject`), which makes it an override.

use std::collections::{BTreeMap, HashMap};

use agora_model::{
    Category, ColumnTag, Contract, ContractTable, Name, Sensitivity, TableRef, TagSource,
};
use serde::Serialize;
use serde_json::json;

/// Automatic categories of less confidence than this are suggestions. Chosen on the real-data
/// development set (`bench/classify/real_eval.py`): 6 of its 8 tags below 0.9 were right, 34 of
/// the 40 above; see docs/benchmarks.md for how far confidence is from calibrated.
pub const SUGGESTION_BELOW: f64 = 0.9;

/// Whether the classifier's `category` at `confidence` is only a suggestion.
pub fn is_suggestion(category: Category, confidence: f64) -> bool {
    category != Category::None && confidence < SUGGESTION_BELOW
}

/// What the catalog knows about a column: its effective classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub category: Category,
    pub sensitivity: Sensitivity,
}

/// A column's effective label and where it came from, as `agora product show` and `agora tag
/// list` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnLabel {
    pub column: String,
    pub category: Category,
    pub sensitivity: Sensitivity,
    pub confidence: f64,
    /// `auto` (the classifier), `contract` or `override` (an owner).
    pub source: &'static str,
    pub evidence: serde_json::Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Whether the category is the classifier's suggestion, for an owner to confirm or reject.
    pub suggested: bool,
}

impl ColumnLabel {
    /// The label policies decide on.
    pub fn label(&self) -> Label {
        Label {
            category: self.category,
            sensitivity: self.sensitivity,
        }
    }
}

impl From<&ColumnTag> for ColumnLabel {
    /// The label a tag gives when no other source outranks it.
    fn from(tag: &ColumnTag) -> Self {
        ColumnLabel {
            column: tag.column.clone(),
            category: tag.category,
            sensitivity: tag.sensitivity,
            confidence: tag.confidence,
            source: tag.source.as_str(),
            evidence: serde_json::from_str(&tag.evidence).unwrap_or(json!([])),
            reason: tag.reason.clone(),
            suggested: tag.source == TagSource::Auto && is_suggestion(tag.category, tag.confidence),
        }
    }
}

/// The labelled columns of one table: column → label.
pub type TableLabels = BTreeMap<String, ColumnLabel>;

/// Every labelled column of a set of tables.
pub type Labels = HashMap<TableRef, TableLabels>;

/// The contract's own levels for the columns of `table` that name one.
fn contract_levels(table: &ContractTable) -> TableLabels {
    table
        .columns
        .iter()
        .filter_map(|c| {
            let raw = c.classification.as_deref()?;
            let level = Sensitivity::from_contract_classification(raw)?;
            let label = ColumnLabel {
                column: c.sql_name.to_string(),
                category: Category::None,
                sensitivity: level,
                confidence: 1.0,
                source: "contract",
                evidence: json!([]),
                reason: format!("contract classification `{raw}`"),
                suggested: false,
            };
            Some((c.sql_name.to_string(), label))
        })
        .collect()
}

/// Applies `tags` over `labels` by the precedence of the module docs: automatic tags refine a
/// contract level (category; sensitivity only where the contract has none), overrides replace.
fn apply_tags<'a>(labels: &mut Labels, tags: impl Iterator<Item = &'a ColumnTag> + Clone) {
    for source in [TagSource::Auto, TagSource::Override] {
        for tag in tags.clone().filter(|t| t.source == source) {
            let table = labels.entry(tag.table.clone()).or_default();
            let shown = ColumnLabel::from(tag);
            match (source, table.get_mut(&tag.column)) {
                (TagSource::Auto, Some(contract)) => {
                    contract.category = shown.category;
                    contract.evidence = shown.evidence;
                    contract.confidence = shown.confidence;
                    contract.suggested = shown.suggested;
                }
                _ => {
                    table.insert(tag.column.clone(), shown);
                }
            }
        }
    }
}

/// The labels of every table of the `contracts` (each with its domain), given every column tag
/// of the mesh; tags of tables no contract defines are labels too.
pub fn labels<'a>(
    contracts: impl IntoIterator<Item = (&'a Name, &'a Contract)>,
    tags: &[ColumnTag],
) -> Labels {
    let mut labels = Labels::new();
    for (domain, contract) in contracts {
        for t in contract.tables() {
            let table = TableRef {
                domain: domain.clone(),
                table: t.sql_name.clone(),
            };
            let levels = contract_levels(t);
            if !levels.is_empty() {
                labels.insert(table, levels);
            }
        }
    }
    apply_tags(&mut labels, tags.iter());
    labels
}

/// The labels a read of old versions gets: for each column, the most sensitive label it has
/// had — in `current`, in any contract version of `contracts` (each with its domain), or from
/// any tag ever stored (`tag_history`). A column a later decision lowered is masked in the
/// versions written while it was labelled higher (and, since one label covers a column of every
/// version, in all of them).
pub fn labels_protecting_most<'a>(
    current: &Labels,
    contracts: impl IntoIterator<Item = (&'a Name, &'a Contract)>,
    tag_history: &[ColumnTag],
) -> Labels {
    let mut labels = current.clone();
    let mut raise = |table: &TableRef, candidate: ColumnLabel| {
        let columns = labels.entry(table.clone()).or_default();
        match columns.get(&candidate.column) {
            Some(held) if held.sensitivity >= candidate.sensitivity => {}
            _ => {
                columns.insert(candidate.column.clone(), candidate);
            }
        }
    };
    for (domain, contract) in contracts {
        for t in contract.tables() {
            let table = TableRef {
                domain: domain.clone(),
                table: t.sql_name.clone(),
            };
            for label in contract_levels(t).into_values() {
                raise(&table, label);
            }
        }
    }
    for tag in tag_history {
        raise(&tag.table, ColumnLabel::from(tag));
    }
    labels
}

/// The labels of one table, given its contract and tags (tags of other tables are ignored).
pub fn table_labels(table: &TableRef, contract: &ContractTable, tags: &[ColumnTag]) -> TableLabels {
    let mut labels = Labels::from([(table.clone(), contract_levels(contract))]);
    apply_tags(&mut labels, tags.iter().filter(|t| &t.table == table));
    labels.remove(table).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(column: &str, source: TagSource, category: Category) -> ColumnTag {
        ColumnTag {
            table: TableRef::parse("crm.customers").unwrap(),
            column: column.into(),
            source,
            category,
            sensitivity: category.default_sensitivity(),
            confidence: 0.9,
            evidence: "[]".into(),
            reason: String::new(),
            set_by: Name::strict("principal", "alice").unwrap(),
            updated_at: String::new(),
        }
    }

    const CONTRACT: &str = "apiVersion: v3.0.2\nkind: DataContract\nid: c\nname: customers\nversion: 1.0.0\nstatus: active\ndomain: crm\nschema:\n  - name: customers\n    properties:\n      - name: email\n        logicalType: string\n        classification: restricted\n      - name: note\n        logicalType: string\n      - name: phone\n        logicalType: string\n";

    #[test]
    fn overrides_win_whole_and_the_contract_level_outranks_the_classifier() {
        let contract = Contract::from_yaml(CONTRACT).unwrap().contract;
        let table = TableRef::parse("crm.customers").unwrap();
        let tags = vec![
            tag("email", TagSource::Auto, Category::Email),
            tag("note", TagSource::Auto, Category::PersonName),
            tag("phone", TagSource::Auto, Category::PhoneNumber),
            tag("phone", TagSource::Override, Category::None),
        ];
        let labels = table_labels(&table, contract.table("customers").unwrap(), &tags);
        let email = &labels["email"];
        assert_eq!(
            (email.category, email.sensitivity, email.source),
            (Category::Email, Sensitivity::Restricted, "contract")
        );
        let note = &labels["note"];
        assert_eq!(
            (note.category, note.sensitivity, note.source),
            (Category::PersonName, Sensitivity::Confidential, "auto")
        );
        let phone = &labels["phone"];
        assert_eq!(
            (phone.category, phone.sensitivity, phone.source),
            (Category::None, Sensitivity::Public, "override")
        );
        let domain = Name::strict("domain", "crm").unwrap();
        let all = super::labels([(&domain, &contract)], &tags);
        assert_eq!(all[&table]["phone"].source, "override");
        // Reading old versions: the phone column had the classifier's confidential label
        // before the override lowered it.
        let history = labels_protecting_most(&all, [(&domain, &contract)], &tags);
        assert_eq!(
            history[&table]["phone"].sensitivity,
            Sensitivity::Confidential
        );
    }
}
