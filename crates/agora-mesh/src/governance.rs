//! Governance of the mesh: the policies in force, column classifications (the classifier's,
//! the contract's and the owners'), and what each reader sees of each table.
//!
//! A column's effective label: an owner's override wins whole (category and sensitivity);
//! otherwise the category is the classifier's and the sensitivity is the contract's
//! `classification` when it names a level, else the classifier's.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use agora_catalog::{ColumnTagRecord, PolicyRecord, ProductRecord, TagSource};
use agora_model::{Category, Contract, Name, Principal, Sensitivity, TableRef};
use agora_policy::{Label, MaskKey, Masks, PolicyDocument, PolicySet, TableGovernance};
use rand::RngCore;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ledger::Event;
use crate::{Mesh, MeshError};

/// The per-mesh secret of the `hash` masking action, in the mesh's `keys/` directory.
const MASK_KEY_FILE: &str = "keys/mask.key";

/// Reads the mesh's masking secret, making it the first time (0600, like the signing keys).
pub(crate) fn load_masks(mesh_dir: &Path) -> Result<Masks, MeshError> {
    let path = mesh_dir.join(MASK_KEY_FILE);
    let io = |source| MeshError::Io {
        path: path.display().to_string(),
        source,
    };
    if !path.exists() {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        f.write_all(format!("{}\n", hex::encode(secret)).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(io)?;
    }
    let text = std::fs::read_to_string(&path).map_err(io)?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            MeshError::Internal(format!(
                "{}: expected 64 hex digits (the masking secret)",
                path.display()
            ))
        })?;
    Ok(Masks::new(MaskKey::new(bytes)))
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

/// A column's classification as `agora product show` and `agora tag` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnTag {
    pub column: String,
    pub category: Category,
    pub sensitivity: Sensitivity,
    pub confidence: f64,
    /// `auto` (the classifier), `contract` or `override` (an owner).
    pub source: &'static str,
    pub evidence: serde_json::Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Every labelled column of the mesh: table → column → label.
pub(crate) type Labels = HashMap<TableRef, BTreeMap<String, (Label, ColumnTag)>>;

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
            None => crate::auth::require_admin(actor, "apply the global policy")?,
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
            let schema = crate::products::table_schema(&table);
            agora_policy::check_row_filter(&rule.filter, &schema).map_err(|e| {
                MeshError::bad_input(source, format!("row filter of {}: {e}", rule.table))
            })?;
        }
        self.catalog
            .put_policy(&PolicyRecord {
                domain: doc.domain.clone(),
                document: yaml.to_string(),
                applied_by: actor.name.clone(),
                applied_at: crate::now(),
            })
            .await?;
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
            .record(vec![Event::by_admin("policy.applied", body)])
            .await?;
        Ok(PolicyApplied {
            scope,
            column_rules: doc.columns.len(),
            row_filters: doc.rows.len(),
            ledger_index: appended.first_index,
        })
    }

    /// The effective label of every classified column.
    pub(crate) async fn labels(&self, products: &[ProductRecord]) -> Result<Labels, MeshError> {
        Mesh::labels_from(products, &self.catalog.column_tags().await?)
    }

    /// The effective label of every classified column of `products`, given the column `tags`.
    pub(crate) fn labels_from(
        products: &[ProductRecord],
        tags: &[ColumnTagRecord],
    ) -> Result<Labels, MeshError> {
        let mut labels: Labels = HashMap::new();
        for p in products {
            let contract = Contract::from_yaml(&p.contract_yaml)?.contract;
            for t in contract.tables() {
                let table = TableRef {
                    domain: p.domain.clone(),
                    table: t.sql_name.clone(),
                };
                for c in &t.columns {
                    let Some(level) = c
                        .classification
                        .as_deref()
                        .and_then(Sensitivity::from_contract_classification)
                    else {
                        continue;
                    };
                    labels.entry(table.clone()).or_default().insert(
                        c.sql_name.to_string(),
                        (
                            Label {
                                category: Category::None,
                                sensitivity: level,
                            },
                            ColumnTag {
                                column: c.sql_name.to_string(),
                                category: Category::None,
                                sensitivity: level,
                                confidence: 1.0,
                                source: "contract",
                                evidence: json!([]),
                                reason: format!(
                                    "contract classification `{}`",
                                    c.classification.as_deref().unwrap_or_default()
                                ),
                            },
                        ),
                    );
                }
            }
        }
        // Auto tags refine the contract's (category; sensitivity only where the contract has
        // none), overrides replace both.
        for source in [TagSource::Auto, TagSource::Override] {
            for tag in tags.iter().filter(|t| t.source == source) {
                let entry = labels.entry(tag.table.clone()).or_default();
                let shown = column_tag(tag);
                match (source, entry.get_mut(&tag.column)) {
                    (TagSource::Auto, Some((label, contract_tag))) => {
                        label.category = tag.category;
                        contract_tag.category = tag.category;
                        contract_tag.evidence = shown.evidence;
                        contract_tag.confidence = shown.confidence;
                    }
                    _ => {
                        entry.insert(
                            tag.column.clone(),
                            (
                                Label {
                                    category: tag.category,
                                    sensitivity: tag.sensitivity,
                                },
                                shown,
                            ),
                        );
                    }
                }
            }
        }
        Ok(labels)
    }

    /// What `reader` sees of `table`, given the policies and labels.
    pub(crate) fn governance_for(
        reader: &Principal,
        table: &TableRef,
        policies: &PolicySet,
        labels: &Labels,
    ) -> TableGovernance {
        let masked = labels
            .get(table)
            .into_iter()
            .flatten()
            .filter_map(|(column, (label, _))| {
                policies
                    .column_action(reader, table, column, *label)
                    .map(|action| (column.clone(), (label.category, action)))
            })
            .collect();
        TableGovernance {
            masked,
            row_filter: policies.row_filter(reader, table),
        }
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
    ) -> Result<ColumnTag, MeshError> {
        let (table, column) = target
            .rsplit_once('.')
            .ok_or_else(|| MeshError::bad_input(target, "expected `domain.table.column`"))?;
        let table = TableRef::parse(table)?;
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
        let record = ColumnTagRecord {
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
        self.catalog.put_column_tag(&record).await?;
        self.record(vec![Event::by_domain(
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
        )])
        .await?;
        Ok(column_tag(&record))
    }

    /// The effective classification of each labelled column of `table`.
    pub async fn column_tags(&self, table: &TableRef) -> Result<Vec<ColumnTag>, MeshError> {
        let (product, _) = self.product_of_table(table).await?;
        let mut labels = self.labels(std::slice::from_ref(&product)).await?;
        Ok(labels
            .remove(table)
            .unwrap_or_default()
            .into_values()
            .map(|(_, tag)| tag)
            .collect())
    }
}

impl Mesh {
    /// The contract of `product` as `reader` may see it: the `examples` of every column masked
    /// for the reader are replaced by a marker, since examples are values too. The document is
    /// returned exactly as applied when nothing is withheld.
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
        let mut doc: serde_norway::Value = serde_norway::from_str(&product.contract_yaml)
            .map_err(|e| MeshError::Internal(format!("a stored contract no longer parses: {e}")))?;
        let mut withheld = false;
        let schema = doc
            .get_mut("schema")
            .and_then(serde_norway::Value::as_sequence_mut);
        for object in schema.into_iter().flatten() {
            let Some(table) = object
                .get("name")
                .and_then(serde_norway::Value::as_str)
                .and_then(|n| Name::normalize("table", n).ok())
            else {
                continue;
            };
            let table = TableRef {
                domain: product.domain.clone(),
                table,
            };
            let masked = Mesh::governance_for(reader, &table, &policies, &labels).masked;
            let properties = object
                .get_mut("properties")
                .and_then(serde_norway::Value::as_sequence_mut);
            for property in properties.into_iter().flatten() {
                let column = property
                    .get("name")
                    .and_then(serde_norway::Value::as_str)
                    .and_then(|n| Name::normalize("column", n).ok());
                let hidden = column.is_some_and(|c| masked.contains_key(c.as_str()));
                if let (true, Some(map)) = (hidden, property.as_mapping_mut())
                    && map.contains_key("examples")
                {
                    map.insert(
                        "examples".into(),
                        serde_norway::Value::Sequence(vec!["[withheld by policy]".into()]),
                    );
                    withheld = true;
                }
            }
        }
        if !withheld {
            return Ok(product.contract_yaml.clone());
        }
        serde_norway::to_string(&doc)
            .map_err(|e| MeshError::Internal(format!("writing a contract back: {e}")))
    }
}

fn column_tag(t: &ColumnTagRecord) -> ColumnTag {
    ColumnTag {
        column: t.column.clone(),
        category: t.category,
        sensitivity: t.sensitivity,
        confidence: t.confidence,
        source: t.source.as_str(),
        evidence: serde_json::from_str(&t.evidence).unwrap_or(json!([])),
        reason: t.reason.clone(),
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
