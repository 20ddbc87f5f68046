//! Data products from data contracts: apply (create, evolve, refuse breaking changes), look up
//! and search.

use agora_catalog::{Change, ProductRecord, SearchHit};
use agora_model::{Contract, ContractTable, ModelError, Name, Principal, SchemaChange, TableRef};
use agora_storage::TableKind;
use sha2::{Digest, Sha256};

use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// What `product apply` did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    pub domain: Name,
    pub product: Name,
    pub version: String,
    pub created: bool,
    pub tables: Vec<Name>,
    pub changes: Vec<SchemaChange>,
    pub warnings: Vec<String>,
    /// The ledger entry that records the change.
    pub ledger_index: u64,
}

/// The product among `products` that holds `t`, and `t` as its contract defines it.
pub(crate) fn table_in<'a>(
    products: &'a [ProductRecord],
    t: &TableRef,
) -> Result<(&'a ProductRecord, ContractTable), MeshError> {
    let record = products
        .iter()
        .find(|p| p.domain == t.domain && p.tables.contains(&t.table))
        .ok_or_else(|| MeshError::NotFound {
            what: "table",
            name: t.to_string(),
            hint: ": apply a contract that defines it first".into(),
        })?;
    let contract = Contract::from_yaml(&record.contract_yaml)?.contract;
    let table = contract.table(t.table.as_str()).cloned().ok_or_else(|| {
        MeshError::Internal(format!("catalog lists {t} but its contract does not"))
    })?;
    Ok((record, table))
}

impl Mesh {
    /// Creates or updates the product a contract describes. `domain` overrides the contract's
    /// `domain` field (some contracts have none).
    pub async fn apply_contract(
        &self,
        actor: &Principal,
        yaml: &str,
        domain: Option<&str>,
    ) -> Result<ApplyReport, MeshError> {
        let parsed = Contract::from_yaml(yaml)?;
        let contract = parsed.contract;
        let domain_raw = domain
            .map(str::to_string)
            .or_else(|| contract.domain.clone())
            .ok_or_else(|| {
                ModelError::InvalidContract(
                    "the contract has no `domain`: add one or pass --domain".into(),
                )
            })?;
        let domain = Name::normalize("domain", &domain_raw)?;
        self.domain(&domain).await?;
        self.require_owner(actor, &domain, "apply contracts")
            .await?;
        let product = contract.product_name()?;
        // A contract without tables (a Kafka topic described elsewhere, a stub) still makes a
        // discoverable product; it gets tables when a later version defines them.
        let tables = contract.tables();
        // A rule Agora would evaluate differently from what its author meant is refused now,
        // before anything is written, rather than at the first ingest.
        for table in &tables {
            agora_quality::rules_of(table)
                .map_err(|e| MeshError::bad_input("contract", e.to_string()))?;
            let at = TableRef {
                domain: domain.clone(),
                table: table.sql_name.clone(),
            };
            self.check_sql_rules(&at, table).await?;
        }

        let existing = self.catalog.product(&domain, &product).await?;
        let (changes, rewrite) = match &existing {
            Some(old) => self.evolution(&domain, old, &contract).await?,
            None => (Vec::new(), Vec::new()),
        };
        self.check_table_names_free(&domain, &product, &tables)
            .await?;

        let mut rewritten = Vec::new();
        for table in &tables {
            let t = TableRef {
                domain: domain.clone(),
                table: table.sql_name.clone(),
            };
            if rewrite.contains(&t) {
                let replaced = self.store.replace(&t, table.arrow_schema()).await?;
                rewritten.push(serde_json::json!({
                    "table": t.to_string(), "kind": "product", "version": replaced.version(),
                }));
            } else {
                self.store
                    .ensure(&t, TableKind::Product, table.arrow_schema())
                    .await?;
            }
        }

        let record = product_record(&domain, &contract, yaml, existing.as_ref())?;
        let appended = self
            .change(
                vec![Change::PutProduct(record.clone())],
                vec![Event::by_domain(
                    "contract.applied",
                    &domain,
                    serde_json::json!({
                        "product": format!("{domain}.{product}"),
                        "contract_id": contract.id,
                        "version": contract.version,
                        "contract_sha256": hex::encode(Sha256::digest(yaml.as_bytes())),
                        "tables": record.tables.iter().map(Name::as_str).collect::<Vec<_>>(),
                        "created": existing.is_none(),
                        "versions": rewritten,
                        "changes": changes.iter().map(|c| serde_json::json!({
                            "table": c.table, "change": c.description, "breaking": c.breaking,
                        })).collect::<Vec<_>>(),
                        "by": actor.name.as_str(),
                    }),
                )],
            )
            .await?;
        Ok(ApplyReport {
            ledger_index: appended.first_index,
            domain,
            product,
            version: contract.version,
            created: existing.is_none(),
            tables: record.tables,
            changes,
            warnings: parsed.warnings,
        })
    }

    /// How `new` changes the product `old` of `domain`: its schema changes, and the tables to
    /// rewrite for breaking ones, which only a major version may make to tables with data.
    async fn evolution(
        &self,
        domain: &Name,
        old: &ProductRecord,
        new: &Contract,
    ) -> Result<(Vec<SchemaChange>, Vec<TableRef>), MeshError> {
        let old_contract = Contract::from_yaml(&old.contract_yaml)?.contract;
        let changes = old_contract.schema_changes(new);
        let major_bump = new.semver.major > old_contract.semver.major;
        let mut blocking = Vec::new();
        let mut rewrite = Vec::new();
        for change in changes.iter().filter(|c| c.breaking) {
            let t = TableRef {
                domain: domain.clone(),
                table: Name::strict("table", &change.table)?,
            };
            let has_data = self
                .store
                .open(&t, TableKind::Product)
                .await?
                .is_some_and(|d| d.version().unwrap_or(0) > 0);
            if has_data && !major_bump {
                blocking.push(change.description.clone());
            } else if new.table(&change.table).is_some() && !rewrite.contains(&t) {
                rewrite.push(t);
            }
        }
        if !blocking.is_empty() {
            return Err(ModelError::BreakingChange {
                product: format!("{domain}.{}", old.name),
                version: old_contract.version.clone(),
                changes: blocking.join("; "),
            }
            .into());
        }
        Ok((changes, rewrite))
    }

    /// Refuses a contract whose table names another product of the domain already uses.
    async fn check_table_names_free(
        &self,
        domain: &Name,
        product: &Name,
        tables: &[&ContractTable],
    ) -> Result<(), MeshError> {
        for other in self.catalog.products().await? {
            if &other.domain != domain || &other.name == product {
                continue;
            }
            if let Some(t) = tables.iter().find(|t| other.tables.contains(&t.sql_name)) {
                return Err(MeshError::bad_input(
                    "contract",
                    format!(
                        "table `{domain}.{}` already belongs to product {domain}.{}; rename the schema object",
                        t.sql_name, other.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Looks a product up by `domain.product`.
    pub async fn product(&self, reference: &str) -> Result<ProductRecord, MeshError> {
        let (domain, product) = reference
            .split_once('.')
            .ok_or_else(|| MeshError::bad_input(reference, "expected `domain.product`"))?;
        let domain = Name::strict("domain", domain)?;
        let product = Name::strict("product", product)?;
        self.catalog
            .product(&domain, &product)
            .await?
            .ok_or_else(|| MeshError::NotFound {
                what: "product",
                name: reference.to_string(),
                hint: ": list products with `agora product list`".into(),
            })
    }

    pub async fn products(&self) -> Result<Vec<ProductRecord>, MeshError> {
        Ok(self.catalog.products().await?)
    }

    /// The product a table belongs to.
    pub(crate) async fn product_of_table(
        &self,
        t: &TableRef,
    ) -> Result<(ProductRecord, ContractTable), MeshError> {
        let products = self.catalog.products().await?;
        let (record, table) = table_in(&products, t)?;
        Ok((record.clone(), table))
    }

    /// Products `reader` may read (a table of), ranked by how well they match `query`. The
    /// names of every product stay discoverable (`agora product list`); what search matches —
    /// descriptions, columns, classifications — only for readers.
    pub async fn search(
        &self,
        reader: &Principal,
        query: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>, MeshError> {
        let hits = self.catalog.search(query, limit).await?;
        if reader.is_admin {
            return Ok(hits);
        }
        let viewer = self.viewer(reader).await?;
        let products = self.catalog.products().await?;
        Ok(hits
            .into_iter()
            .filter(|h| {
                products
                    .iter()
                    .find(|p| p.domain == h.domain && p.name == h.product)
                    .is_some_and(|p| {
                        p.tables
                            .iter()
                            .any(|t| viewer.may(agora_model::Access::Read, &p.domain, &p.name, t))
                    })
            })
            .collect())
    }
}

/// The catalog record of `contract` as a product of `domain`, with what search needs.
fn product_record(
    domain: &Name,
    contract: &Contract,
    yaml: &str,
    existing: Option<&ProductRecord>,
) -> Result<ProductRecord, MeshError> {
    let tables = contract.tables();
    let now = crate::now();
    let columns_text = tables
        .iter()
        .flat_map(|t| &t.columns)
        .map(|c| {
            format!(
                "{} {}",
                c.sql_name.as_str().replace('_', " "),
                c.description.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let tags_text = contract
        .tags
        .iter()
        .chain(tables.iter().flat_map(|t| &t.tags))
        .chain(
            tables
                .iter()
                .flat_map(|t| t.columns.iter().flat_map(|c| &c.tags)),
        )
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let description = [
        contract.description.text(),
        tables
            .iter()
            .filter_map(|t| t.description.clone())
            .collect::<Vec<_>>()
            .join(" "),
    ]
    .join(" ")
    .trim()
    .to_string();
    Ok(ProductRecord {
        domain: domain.clone(),
        name: contract.product_name()?,
        contract_id: contract.id.clone(),
        version: contract.version.clone(),
        status: contract.status.clone(),
        description,
        contract_yaml: yaml.to_string(),
        tables: tables.iter().map(|t| t.sql_name.clone()).collect(),
        search_columns: columns_text,
        search_tags: tags_text,
        created_at: existing.map_or_else(|| now.clone(), |e| e.created_at.clone()),
        updated_at: now,
    })
}
