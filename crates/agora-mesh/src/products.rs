//! Data products from data contracts: apply (create, evolve, refuse breaking changes) and show.

use std::sync::Arc;

use agora_catalog::{IngestRecord, ProductRecord};
use agora_model::{Contract, ContractTable, ModelError, Name, Principal, SchemaChange, TableRef};
use agora_storage::{TableKind, VersionInfo};
use arrow::datatypes::{Field, Schema, SchemaRef};

use crate::ledger::Event;
use crate::{Mesh, MeshError};
use sha2::{Digest, Sha256};

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

/// One table of a product, as `product show` reports it.
#[derive(Debug, Clone)]
pub struct TableDetails {
    pub table: TableRef,
    pub columns: Vec<(String, String, bool)>,
    pub version: Option<u64>,
    pub rows: u64,
    pub quarantined_rows: u64,
    pub history: Vec<VersionInfo>,
    /// The classification of each labelled column (classifier, contract or owner).
    pub tags: Vec<crate::ColumnTag>,
    /// A few rows as the reader sees them (masked, filtered), if the reader may read the table
    /// and it has rows.
    pub sample: Option<SampleRows>,
}

/// Rows of a table shown as text.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SampleRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// How many rows `product show` samples per table.
const SAMPLE_ROWS: usize = 5;

/// A product with its contract, tables and recent ingests.
#[derive(Debug, Clone)]
pub struct ProductDetails {
    pub record: ProductRecord,
    pub owner: Name,
    pub tables: Vec<TableDetails>,
    pub ingests: Vec<IngestRecord>,
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

/// The Arrow schema of a contract table: every column nullable (required-ness is checked by
/// validation, so that adding columns to a table with data never fails).
pub(crate) fn table_schema(table: &ContractTable) -> SchemaRef {
    Arc::new(Schema::new(
        table
            .columns
            .iter()
            .map(|c| Field::new(c.sql_name.as_str(), c.column_type.arrow.clone(), true))
            .collect::<Vec<_>>(),
    ))
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

        let existing = self.catalog.product(&domain, &product).await?;
        let mut changes = Vec::new();
        let mut rewrite = Vec::new();
        if let Some(old) = &existing {
            let old_contract = Contract::from_yaml(&old.contract_yaml)?.contract;
            changes = old_contract.schema_changes(&contract);
            let major_bump = contract.semver.major > old_contract.semver.major;
            let mut blocking = Vec::new();
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
                } else if contract.table(&change.table).is_some() && !rewrite.contains(&t) {
                    rewrite.push(t);
                }
            }
            if !blocking.is_empty() {
                return Err(ModelError::BreakingChange {
                    product: format!("{domain}.{product}"),
                    version: old_contract.version.clone(),
                    changes: blocking.join("; "),
                }
                .into());
            }
        }
        self.check_table_names_free(&domain, &product, &tables)
            .await?;

        for table in &tables {
            let t = TableRef {
                domain: domain.clone(),
                table: table.sql_name.clone(),
            };
            if rewrite.contains(&t) {
                self.store.replace(&t, table_schema(table)).await?;
            } else {
                self.store
                    .ensure(&t, TableKind::Product, table_schema(table))
                    .await?;
            }
        }

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
        let record = ProductRecord {
            domain: domain.clone(),
            name: product.clone(),
            contract_id: contract.id.clone(),
            version: contract.version.clone(),
            status: contract.status.clone(),
            description,
            contract_yaml: yaml.to_string(),
            tables: tables.iter().map(|t| t.sql_name.clone()).collect(),
            search_columns: columns_text,
            search_tags: tags_text,
            created_at: existing
                .as_ref()
                .map_or_else(|| now.clone(), |e| e.created_at.clone()),
            updated_at: now,
        };
        self.catalog.put_product(&record).await?;
        let appended = self
            .record(vec![Event::by_domain(
                "contract.applied",
                &domain,
                serde_json::json!({
                    "product": format!("{domain}.{product}"),
                    "contract_id": contract.id,
                    "version": contract.version,
                    "contract_sha256": hex::encode(Sha256::digest(yaml.as_bytes())),
                    "tables": record.tables.iter().map(Name::as_str).collect::<Vec<_>>(),
                    "created": existing.is_none(),
                    "changes": changes.iter().map(|c| serde_json::json!({
                        "table": c.table, "change": c.description, "breaking": c.breaking,
                    })).collect::<Vec<_>>(),
                    "by": actor.name.as_str(),
                }),
            )])
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

    /// Contract, schema, owner, versions, row counts, sample rows and last ingests of a product,
    /// as `reader` may see them: the contract's `examples` of columns masked for the reader are
    /// withheld, and the sample rows are a governed (and audited) query through `interface`.
    pub async fn product_details(
        &self,
        reader: &Principal,
        reference: &str,
        interface: crate::Interface,
    ) -> Result<ProductDetails, MeshError> {
        let mut record = self.product(reference).await?;
        record.contract_yaml = self.contract_for(reader, &record).await?;
        let owner = self.domain(&record.domain).await?.owner;
        let contract = Contract::from_yaml(&record.contract_yaml)?.contract;
        let mut labels = self.labels(std::slice::from_ref(&record)).await?;
        let viewer = self.viewer(reader).await?;
        // One governed session for the sample rows of every table, opened when first needed.
        let mut open_session = None;
        let mut tables = Vec::new();
        for t in contract.tables() {
            let table_ref = TableRef {
                domain: record.domain.clone(),
                table: t.sql_name.clone(),
            };
            let delta = self.store.open(&table_ref, TableKind::Product).await?;
            let rows = match &delta {
                Some(d) => count_rows(d)?,
                None => 0,
            };
            let quarantined_rows = match self.store.open(&table_ref, TableKind::Quarantine).await? {
                Some(q) => count_rows(&q)?,
                None => 0,
            };
            let readable = viewer.may(
                agora_model::Access::Read,
                &record.domain,
                &record.name,
                &table_ref.table,
            );
            let sample = if readable && rows > 0 {
                let session = match open_session.take() {
                    Some(s) => s,
                    None => self.session(reader, Default::default()).await?,
                };
                let sample = self
                    .sample_rows(&session, reader, &table_ref, interface)
                    .await?;
                open_session = Some(session);
                Some(sample)
            } else {
                None
            };
            tables.push(TableDetails {
                columns: t
                    .columns
                    .iter()
                    .map(|c| {
                        (
                            c.sql_name.to_string(),
                            c.column_type.arrow.to_string(),
                            c.required,
                        )
                    })
                    .collect(),
                version: delta.as_ref().and_then(|d| d.version()),
                rows,
                quarantined_rows,
                history: self.store.history(&table_ref, 5).await?,
                tags: labels
                    .remove(&table_ref)
                    .unwrap_or_default()
                    .into_values()
                    .map(|(_, tag)| tag)
                    .collect(),
                sample,
                table: table_ref,
            });
        }
        let ingests = self
            .catalog
            .ingests(&record.domain, &record.name, 5)
            .await?;
        Ok(ProductDetails {
            record,
            owner,
            tables,
            ingests,
        })
    }
}

impl Mesh {
    /// The first rows of `table` as `reader` sees them, through `reader`'s governed session.
    async fn sample_rows(
        &self,
        session: &agora_query::GovernedSession,
        reader: &Principal,
        table: &TableRef,
        interface: crate::Interface,
    ) -> Result<SampleRows, MeshError> {
        use arrow::util::display::{ArrayFormatter, FormatOptions};
        let sql = format!(
            "select * from \"{}\".\"{}\" limit {SAMPLE_ROWS}",
            table.domain, table.table
        );
        let df = self
            .audited_sql(session, reader, &sql, interface, None)
            .await?;
        let columns = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let batches = df
            .collect()
            .await
            .map_err(agora_query::QueryError::from_datafusion)?;
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| MeshError::Internal(format!("formatting sample rows: {e}")))?;
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .zip(&formatters)
                        .map(|(c, f)| c.is_valid(row).then(|| f.value(row).to_string()))
                        .collect(),
                );
            }
        }
        Ok(SampleRows { columns, rows })
    }
}

/// Rows of a Delta table from the `numRecords` statistics of its files (no data is read).
fn count_rows(table: &agora_storage::deltalake::DeltaTable) -> Result<u64, MeshError> {
    let snapshot = table
        .snapshot()
        .map_err(|e| MeshError::Internal(format!("reading table statistics: {e}")))?;
    Ok(snapshot
        .log_data()
        .iter()
        .map(|f| f.num_records().unwrap_or(0) as u64)
        .sum())
}
