//! The policies in force — the global one and one per domain — and the decisions they make for
//! a reader: what each column shows, which rows each table shows.

use std::collections::BTreeMap;

use agora_model::{ContractTable, Name, Principal, Sensitivity, TableRef};

use crate::document::{Action, Matcher, PolicyDocument};
use crate::{Label, PolicyError, StoredHash, TableGovernance, TableLabels};

/// What a text column shows instead of `hash` tokens to a reader who may write to its domain.
pub const TOKENS_WITHHELD: &str = "[token withheld from writers of this domain]";

/// The applied policies, consistent with each other.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    global: Option<PolicyDocument>,
    domains: BTreeMap<Name, PolicyDocument>,
}

impl PolicySet {
    /// The set made of `documents` (at most one per scope), checked as a whole.
    pub fn new(
        documents: impl IntoIterator<Item = PolicyDocument>,
    ) -> Result<PolicySet, PolicyError> {
        let mut set = PolicySet::default();
        for doc in documents {
            set.put(doc);
        }
        set.check()?;
        Ok(set)
    }

    /// This set with `document` replacing the policy of its scope, checked as a whole: the
    /// caller stores the document only if this succeeds.
    pub fn with(&self, document: PolicyDocument) -> Result<PolicySet, PolicyError> {
        let mut set = self.clone();
        set.put(document);
        set.check()?;
        Ok(set)
    }

    fn put(&mut self, doc: PolicyDocument) {
        match doc.domain.clone() {
            Some(d) => {
                self.domains.insert(d, doc);
            }
            None => self.global = Some(doc),
        }
    }

    /// Every row filter uses only attributes the global policy declares.
    fn check(&self) -> Result<(), PolicyError> {
        let declared = self.attributes();
        for doc in self.documents() {
            for rule in &doc.rows {
                if let Some(unknown) = rule
                    .filter
                    .attributes()
                    .iter()
                    .find(|a| !declared.contains_key(*a))
                {
                    return Err(PolicyError::UnknownAttribute {
                        attribute: unknown.clone(),
                        context: format!("the row filter of {}", rule.table),
                        declared: declared.keys().cloned().collect::<Vec<_>>().join(", "),
                    });
                }
            }
        }
        Ok(())
    }

    /// The categories edge agents writing `domain` redact on their device: the global
    /// policy's and the domain's.
    pub fn edge_redactions(&self, domain: &Name) -> Vec<agora_model::Category> {
        let mut categories: Vec<_> = self
            .global
            .iter()
            .chain(self.domains.get(domain))
            .flat_map(|d| d.edge_redact.iter().copied())
            .collect();
        categories.sort_by_key(|c| c.as_str());
        categories.dedup();
        categories
    }

    pub fn documents(&self) -> impl Iterator<Item = &PolicyDocument> {
        self.global.iter().chain(self.domains.values())
    }

    /// The principal attributes the global policy declares, with their allowed values.
    pub fn attributes(&self) -> BTreeMap<String, Vec<String>> {
        self.global
            .as_ref()
            .map(|g| g.attributes.clone())
            .unwrap_or_default()
    }

    /// Refuses attributes the global policy does not declare, or values it does not allow.
    pub fn check_principal_attributes(
        &self,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), PolicyError> {
        let declared = self.attributes();
        for (name, value) in attributes {
            match declared.get(name) {
                None => {
                    return Err(PolicyError::UnknownAttribute {
                        attribute: name.clone(),
                        context: "the principal".into(),
                        declared: declared.keys().cloned().collect::<Vec<_>>().join(", "),
                    });
                }
                Some(allowed) if !allowed.is_empty() && !allowed.contains(value) => {
                    return Err(PolicyError::Invalid {
                        at: format!("attribute {name}"),
                        reason: format!(
                            "value `{value}` is not one the global policy allows ({})",
                            allowed.join(", ")
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// What `reader` sees of `column` of `table`: `None` for the values themselves. A column is
    /// masked only when its sensitivity is above the reader's clearance; then the first
    /// matching rule of the table's domain policy, else of the global policy, decides, and
    /// without one the default is `hash` for confidential and restricted data.
    pub fn column_action(
        &self,
        reader: &Principal,
        table: &TableRef,
        column: &str,
        label: Label,
    ) -> Option<Action> {
        if reader.is_admin {
            return None;
        }
        self.action_for_clearance(reader.clearance, table, column, label)
    }

    /// Whether some reader (of some clearance) sees `column` hashed: the write path stores the
    /// hashes of such columns beside them.
    pub fn may_hash(&self, table: &TableRef, column: &str, label: Label) -> bool {
        Sensitivity::ALL.into_iter().any(|clearance| {
            self.action_for_clearance(clearance, table, column, label) == Some(Action::Hash)
        })
    }

    fn action_for_clearance(
        &self,
        clearance: Sensitivity,
        table: &TableRef,
        column: &str,
        label: Label,
    ) -> Option<Action> {
        if label.sensitivity <= clearance {
            return None;
        }
        let rules = self
            .domains
            .get(&table.domain)
            .into_iter()
            .chain(self.global.as_ref())
            .flat_map(|doc| doc.columns.iter());
        for rule in rules {
            let hit = match &rule.matcher {
                Matcher::Category(c) => *c == label.category,
                Matcher::Sensitivity(s) => *s == label.sensitivity,
                Matcher::Column {
                    table: t,
                    column: c,
                } => t == table && c == column,
            };
            if hit {
                return Some(rule.action.clone());
            }
        }
        (label.sensitivity >= Sensitivity::Confidential).then_some(Action::Hash)
    }

    /// What `reader` sees of `table`, whose labelled columns are `labels`: the action on each
    /// column masked for the reader, and the row filter. Without `tokens` (the reader can
    /// write to the table's domain, so could ingest guessed values and match their tokens),
    /// what would be hashed is redacted instead.
    pub fn table_governance(
        &self,
        reader: &Principal,
        table: &TableRef,
        labels: Option<&TableLabels>,
        tokens: bool,
    ) -> TableGovernance {
        let masked = labels
            .into_iter()
            .flatten()
            .filter_map(|(column, label)| {
                let action = match self.column_action(reader, table, column, label.label())? {
                    Action::Hash if !tokens => Action::Redact {
                        marker: Some(TOKENS_WITHHELD.to_string()),
                    },
                    action => action,
                };
                Some((column.clone(), (label.category, action)))
            })
            .collect();
        TableGovernance {
            masked,
            row_filter: self.row_filter(reader, table),
        }
    }

    /// The SQL condition rows of `table` must meet for `reader` (all applicable filters, ANDed),
    /// or `None` when every row shows.
    pub fn row_filter(&self, reader: &Principal, table: &TableRef) -> Option<String> {
        if reader.is_admin {
            return None;
        }
        let filters: Vec<String> = self
            .documents()
            .flat_map(|doc| doc.rows.iter())
            .filter(|rule| &rule.table == table)
            .filter(|rule| rule.exempt.is_none_or(|level| reader.clearance < level))
            .map(|rule| format!("({})", rule.filter.render(&reader.attributes)))
            .collect();
        (!filters.is_empty()).then(|| filters.join(" AND "))
    }

    /// The stored hash columns a write to `table` fills, in contract column order: those the
    /// table has already (`table_columns` are its current columns), and new ones for the
    /// columns some reader would see hashed under `labels` — complete if the table has no rows
    /// yet, else partial. A column keeps its stored hash even if its label drops, so that every
    /// file of the table has the table's columns and a complete one stays complete.
    pub fn stored_hashes(
        &self,
        table: &TableRef,
        contract: &ContractTable,
        labels: &TableLabels,
        table_columns: &[String],
        table_has_rows: bool,
    ) -> Vec<StoredHash> {
        let mut columns = Vec::new();
        for c in &contract.columns {
            let name = c.sql_name.as_str();
            let stored_before = table_columns
                .iter()
                .filter_map(|t| StoredHash::parse(t))
                .find(|h| h.column == name);
            match stored_before {
                Some(stored) => columns.push(stored),
                None if labels
                    .get(name)
                    .is_some_and(|l| self.may_hash(table, name, l.label())) =>
                {
                    columns.push(StoredHash {
                        column: name.to_string(),
                        complete: !table_has_rows,
                    })
                }
                None => {}
            }
        }
        columns
    }
}

#[cfg(test)]
mod tests {
    use agora_model::Category;

    use super::*;

    fn principal(clearance: Sensitivity, attrs: &[(&str, &str)]) -> Principal {
        Principal {
            name: Name::strict("principal", "bob").unwrap(),
            is_admin: false,
            clearance,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn doc(yaml: &str) -> PolicyDocument {
        PolicyDocument::from_yaml("test.yaml", yaml).unwrap()
    }

    fn orders() -> TableRef {
        TableRef::parse("sales.orders").unwrap()
    }

    const GLOBAL: &str = "kind: AgoraPolicy\nattributes:\n  region: [EU, US]\ncolumns:\n  - category: email\n    action: mask\n";

    #[test]
    fn domain_rules_come_first_then_global_then_the_default_hash() {
        let sales = doc(
            "kind: AgoraPolicy\ndomain: sales\ncolumns:\n  - column: sales.orders.email\n    action: deny\n",
        );
        let set = PolicySet::new([doc(GLOBAL), sales]).unwrap();
        let email = Label {
            category: Category::Email,
            sensitivity: Sensitivity::Confidential,
        };
        let bob = principal(Sensitivity::Internal, &[]);
        assert_eq!(
            set.column_action(&bob, &orders(), "email", email),
            Some(Action::Deny)
        );
        let customers = TableRef::parse("sales.customers").unwrap();
        assert_eq!(
            set.column_action(&bob, &customers, "email", email),
            Some(Action::Mask)
        );
        let card = Label {
            category: Category::PaymentCard,
            sensitivity: Sensitivity::Restricted,
        };
        assert_eq!(
            set.column_action(&bob, &customers, "card", card),
            Some(Action::Hash)
        );
        let cleared = principal(Sensitivity::Restricted, &[]);
        assert_eq!(set.column_action(&cleared, &customers, "card", card), None);
        assert_eq!(
            set.column_action(&Principal::admin(), &orders(), "email", email),
            None
        );
        // What the write path stores hashes for: columns some reader sees hashed.
        assert!(set.may_hash(&customers, "card", card));
        assert!(!set.may_hash(&customers, "email", email));
        let internal_name = Label {
            category: Category::PersonName,
            sensitivity: Sensitivity::Internal,
        };
        assert!(!set.may_hash(&customers, "name", internal_name));
    }

    #[test]
    fn row_filters_render_per_reader_and_respect_exemptions() {
        let sales = doc(
            "kind: AgoraPolicy\ndomain: sales\nrows:\n  - table: sales.orders\n    filter: region = principal.region\n    exempt: restricted\n",
        );
        let set = PolicySet::new([doc(GLOBAL), sales]).unwrap();
        let eu = principal(Sensitivity::Internal, &[("region", "EU")]);
        assert_eq!(
            set.row_filter(&eu, &orders()).as_deref(),
            Some("(region = 'EU')")
        );
        let nobody = principal(Sensitivity::Internal, &[]);
        assert_eq!(
            set.row_filter(&nobody, &orders()).as_deref(),
            Some("(region = NULL)")
        );
        assert_eq!(
            set.row_filter(&principal(Sensitivity::Restricted, &[]), &orders()),
            None
        );
    }

    #[test]
    fn filters_may_only_use_declared_attributes_and_principals_only_declared_values() {
        let sales = doc(
            "kind: AgoraPolicy\ndomain: sales\nrows:\n  - table: sales.orders\n    filter: team = principal.team\n",
        );
        let err = PolicySet::new([doc(GLOBAL), sales])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown principal attribute `team`"), "{err}");
        let set = PolicySet::new([doc(GLOBAL)]).unwrap();
        let mut attrs = BTreeMap::new();
        attrs.insert("region".to_string(), "APAC".to_string());
        let err = set
            .check_principal_attributes(&attrs)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`APAC` is not one the global policy allows"),
            "{err}"
        );
    }
}
