//! Governance of the mesh as the catalog holds it: the policies in force, column tags (the
//! classifier's and the owners'), and what each reader sees. The decisions themselves — label
//! precedence, actions, row filters, the per-reader view — are `agora-policy`'s.

use agora_catalog::{Change, PolicyRecord, ProductRecord};
use agora_model::{Category, ColumnTag, Contract, Name, Principal, TableRef, TagSource};
use agora_policy::{ColumnLabel, Labels, PolicyDocument, PolicySet};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// What a principal sees of a table's columns, and which rows ([`Mesh::column_view`]): what a
/// writer may select rows by, what a forecast may aggregate.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnView {
    pub masked: std::collections::BTreeSet<String>,
    pub row_filter: Option<String>,
}

impl ColumnView {
    /// Whether the writer sees `column` masked; stored hashes count as masked, being hidden.
    pub(crate) fn is_masked(&self, column: &str) -> bool {
        self.masked.contains(column) || agora_policy::StoredHash::parse(column).is_some()
    }
}

/// The outcome of `agora policy apply`.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyApplied {
    /// `global`, or the domain.
    pub scope: String,
    pub column_rules: usize,
    pub row_filters: usize,
    pub ledger_index: u64,
}

impl Mesh {
    /// The policies in force.
    pub async fn policy_set(&self) -> Result<PolicySet, MeshError> {
        let docs = self
            .catalog
            .policies()
            .await?
            .into_iter()
            .map(|p| {
                let scope = p
                    .domain
                    .as_ref()
                    .map_or("global policy".to_string(), |d| format!("policy of {d}"));
                PolicyDocument::from_yaml(&scope, &p.document)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| MeshError::Internal(format!("a stored policy no longer parses: {e}")))?;
        PolicySet::new(docs)
            .map_err(|e| MeshError::Internal(format!("the stored policies disagree: {e}")))
    }

    /// The stored policy documents, global first.
    pub async fn policies(&self) -> Result<Vec<PolicyRecord>, MeshError> {
        Ok(self.catalog.policies().await?)
    }

    /// Applies a policy file whole or not at all: it must parse, agree with the other policies
    /// (row filters use declared attributes) and name only tables and columns that exist. The
    /// global policy is the administrator's; a domain's policy is also its owner's.
    pub async fn apply_policy(
        &self,
        actor: &Principal,
        source: &str,
        yaml: &str,
    ) -> Result<PolicyApplied, MeshError> {
        let doc = PolicyDocument::from_yaml(source, yaml)?;
        match &doc.domain {
            None => crate::principals::require_admin(actor, "apply the global policy")?,
            Some(d) => {
                let owner = self.domain(d).await?.owner;
                if !actor.is_admin && owner != actor.name {
                    return Err(MeshError::Denied {
                        principal: actor.name.to_string(),
                        action: format!("apply the policy of domain {d} (its owner is {owner})"),
                    });
                }
            }
        }
        self.policy_set()
            .await?
            .with(doc.clone())
            .map_err(|e| MeshError::bad_input(source, e.to_string()))?;
        let products = self.catalog.products().await?;
        for rule in &doc.columns {
            if let agora_policy::Matcher::Column { table, column } = &rule.matcher {
                contract_table(&products, table, source)?
                    .column(column)
                    .ok_or_else(|| {
                        MeshError::bad_input(
                            source,
                            format!("table {table} has no column `{column}`"),
                        )
                    })?;
            }
        }
        for rule in &doc.rows {
            let table = contract_table(&products, &rule.table, source)?;
            let schema = table.arrow_schema();
            agora_policy::check_row_filter(&rule.filter, &schema).map_err(|e| {
                MeshError::bad_input(source, format!("row filter of {}: {e}", rule.table))
            })?;
        }
        let record = PolicyRecord {
            domain: doc.domain.clone(),
            document: yaml.to_string(),
            applied_by: actor.name.clone(),
            applied_at: crate::now(),
        };
        let scope = doc
            .domain
            .as_ref()
            .map_or("global".to_string(), Name::to_string);
        let body = json!({
            "scope": scope,
            "document_sha256": hex::encode(Sha256::digest(yaml.as_bytes())),
            "column_rules": doc.columns.len(),
            "row_filters": doc.rows.iter().map(|r| json!({"table": r.table.to_string(), "filter": r.filter.text()})).collect::<Vec<_>>(),
            "applied_by": actor.name.as_str(),
        });
        let appended = self
            .change(
                vec![Change::PutPolicy(record)],
                vec![Event::by_admin("policy.applied", body)],
            )
            .await?;
        Ok(PolicyApplied {
            scope,
            column_rules: doc.columns.len(),
            row_filters: doc.rows.len(),
            ledger_index: appended.first_index,
        })
    }

    /// The labels of every column of `products` (see `agora_policy::labels`).
    pub(crate) async fn labels(&self, products: &[ProductRecord]) -> Result<Labels, MeshError> {
        let contracts = products
            .iter()
            .map(|p| Ok((&p.domain, Contract::from_yaml(&p.contract_yaml)?.contract)))
            .collect::<Result<Vec<_>, MeshError>>()?;
        let tags = self.catalog.column_tags().await?;
        Ok(agora_policy::labels(
            contracts.iter().map(|(d, c)| (*d, c)),
            &tags,
        ))
    }

    /// What `actor` sees of `table`: the columns masked for it (a writer may neither select
    /// rows by them nor be shown their values; a forecast may not aggregate them) and its row
    /// filter (a writer changes only the rows it may read).
    pub(crate) async fn column_view(
        &self,
        actor: &Principal,
        table: &TableRef,
        product: &ProductRecord,
    ) -> Result<ColumnView, MeshError> {
        let policies = self.policy_set().await?;
        let labels = self
            .labels(std::slice::from_ref(product))
            .await?
            .remove(table)
            .unwrap_or_default();
        let masked = labels
            .iter()
            .filter(|(column, label)| {
                policies
                    .column_action(actor, table, column, label.label())
                    .is_some()
            })
            .map(|(column, _)| column.clone())
            .collect();
        Ok(ColumnView {
            masked,
            row_filter: policies.row_filter(actor, table),
        })
    }

    /// An owner's (or the administrator's) decision about a column's classification, which no
    /// later automatic run undoes. `target` is `domain.table.column`.
    pub async fn set_tag(
        &self,
        actor: &Principal,
        target: &str,
        category: &str,
        sensitivity: Option<&str>,
        reason: &str,
    ) -> Result<ColumnLabel, MeshError> {
        let (table, column) = column_target(target)?;
        let category: Category = category.parse()?;
        let sensitivity = match sensitivity {
            Some(s) => s.parse()?,
            None => category.default_sensitivity(),
        };
        if reason.trim().is_empty() {
            return Err(MeshError::bad_input(
                target,
                "say why with --reason: an override is a governance decision others will read",
            ));
        }
        let (_, contract_table) = self.product_of_table(&table).await?;
        if contract_table.column(column).is_none() {
            return Err(MeshError::NotFound {
                what: "column",
                name: target.to_string(),
                hint: format!(
                    ": {table} has {}",
                    contract_table
                        .columns
                        .iter()
                        .map(|c| c.sql_name.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let owner = self.domain(&table.domain).await?.owner;
        if !actor.is_admin && owner != actor.name {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: format!(
                    "tag columns of domain {} (its owner is {owner})",
                    table.domain
                ),
            });
        }
        let record = ColumnTag {
            table: table.clone(),
            column: column.to_string(),
            source: TagSource::Override,
            category,
            sensitivity,
            confidence: 1.0,
            evidence: "[]".into(),
            reason: reason.to_string(),
            set_by: actor.name.clone(),
            updated_at: crate::now(),
        };
        let label = ColumnLabel::from(&record);
        self.change(
            vec![Change::PutColumnTag(record)],
            vec![Event::by_domain(
                "classification.overridden",
                &table.domain,
                json!({
                    "table": table.to_string(),
                    "column": column,
                    "category": category.as_str(),
                    "sensitivity": sensitivity.as_str(),
                    "reason": reason,
                    "by": actor.name.as_str(),
                }),
            )],
        )
        .await?;
        Ok(label)
    }

    /// `current` raised, column by column, to the most sensitive label each column has had in
    /// any contract version or tag ever stored (`agora_policy::labels_protecting_most`).
    pub(crate) async fn labels_of_every_version(
        &self,
        current: Labels,
    ) -> Result<Labels, MeshError> {
        let versions = self.catalog.contract_history().await?;
        let contracts = versions
            .iter()
            .map(|p| Ok((&p.domain, Contract::from_yaml(&p.contract_yaml)?.contract)))
            .collect::<Result<Vec<_>, MeshError>>()?;
        let history = self.catalog.tag_history().await?;
        Ok(agora_policy::labels_protecting_most(
            &current,
            contracts.iter().map(|(d, c)| (*d, c)),
            &history,
        ))
    }

    /// The effective classification of each labelled column of `table`.
    /// The label of `domain.table.column`, if the column has one.
    pub async fn column_label(&self, target: &str) -> Result<Option<ColumnLabel>, MeshError> {
        let (table, column) = column_target(target)?;
        let labels = self.column_labels(&table).await?;
        Ok(labels.into_iter().find(|l| l.column == column))
    }

    pub async fn column_labels(&self, table: &TableRef) -> Result<Vec<ColumnLabel>, MeshError> {
        let (product, _) = self.product_of_table(table).await?;
        let mut labels = self.labels(std::slice::from_ref(&product)).await?;
        Ok(labels
            .remove(table)
            .unwrap_or_default()
            .into_values()
            .collect())
    }
}

impl Mesh {
    /// The contract of `product` as `reader` may see it (`agora_policy::withhold_examples`):
    /// exactly as applied when nothing is withheld.
    pub(crate) async fn contract_for(
        &self,
        reader: &Principal,
        product: &ProductRecord,
    ) -> Result<String, MeshError> {
        if reader.is_admin {
            return Ok(product.contract_yaml.clone());
        }
        let policies = self.policy_set().await?;
        let labels = self.labels(std::slice::from_ref(product)).await?;
        let masked = |table: &TableRef, column: &str| {
            policies
                .table_governance(reader, table, labels.get(table), true)
                .masked
                .contains_key(column)
        };
        let shown =
            agora_policy::withhold_examples(&product.contract_yaml, &product.domain, masked)
                .map_err(|e| {
                    MeshError::Internal(format!("a stored contract no longer parses: {e}"))
                })?;
        Ok(shown.unwrap_or_else(|| product.contract_yaml.clone()))
    }
}

/// A table a policy names, as its contract defines it; a table that does not exist is an error
/// in the policy file `source`.
fn contract_table(
    products: &[ProductRecord],
    t: &TableRef,
    source: &str,
) -> Result<agora_model::ContractTable, MeshError> {
    match crate::products::table_in(products, t) {
        Ok((_, table)) => Ok(table),
        Err(MeshError::NotFound { .. }) => Err(MeshError::bad_input(
            source,
            format!("unknown table {t}: apply its contract first"),
        )),
        Err(e) => Err(e),
    }
}

/// `domain.table.column` as its table and the column's name.
fn column_target(target: &str) -> Result<(TableRef, &str), MeshError> {
    let (table, column) = target
        .rsplit_once('.')
        .ok_or_else(|| MeshError::bad_input(target, "expected `domain.table.column`"))?;
    Ok((TableRef::parse(table)?, column))
}
