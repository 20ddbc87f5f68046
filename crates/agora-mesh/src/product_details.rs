//! What `agora product show` reports: a product's contract, tables, versions, row counts,
//! classifications, sample rows and last ingests, as one reader may see them.

use agora_catalog::{IngestRecord, ProductRecord};
use agora_model::{Access, Contract, Name, Principal, TableRef};
use agora_policy::{Action, ColumnLabel};
use agora_query::{GovernedSession, Interface};
use agora_storage::{TableKind, VersionInfo};

use crate::{Mesh, MeshError};

/// One table of a product, as `product show` reports it.
#[derive(Debug, Clone)]
pub struct TableDetails {
    pub table: TableRef,
    pub columns: Vec<(String, String, bool)>,
    /// The table's version, rows, quarantined rows and history: only for a reader who may
    /// read the table (names, contract and labels are discoverable, contents and counts not).
    pub version: Option<u64>,
    pub rows: Option<u64>,
    pub quarantined_rows: Option<u64>,
    pub history: Vec<VersionInfo>,
    /// The classification of each labelled column (classifier, contract or owner).
    pub tags: Vec<ColumnLabel>,
    /// A few rows as the reader sees them (masked, filtered), if the reader may read the table
    /// and it has rows.
    pub sample: Option<SampleRows>,
}

/// Rows of a table shown as text.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SampleRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Columns left out because a policy denies them to the reader.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
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

impl Mesh {
    /// Contract, schema, owner, versions, row counts, sample rows and last ingests of a product,
    /// as `reader` may see them: the contract's `examples` of columns masked for the reader are
    /// withheld, and the sample rows are a governed (and audited) query through `interface`.
    pub async fn product_details(
        &self,
        reader: &Principal,
        reference: &str,
        interface: Interface,
    ) -> Result<ProductDetails, MeshError> {
        let mut record = self.product(reference).await?;
        record.contract_yaml = self.contract_for(reader, &record).await?;
        let owner = self.domain(&record.domain).await?.owner;
        let contract = Contract::from_yaml(&record.contract_yaml)?.contract;
        let mut labels = self.labels(std::slice::from_ref(&record)).await?;
        let policies = self.policy_set().await?;
        let viewer = self.viewer(reader).await?;
        // One governed session for the sample rows of every table, opened when first needed.
        let mut session = None;
        let mut tables = Vec::new();
        let mut readable_tables = Vec::new();
        for t in contract.tables() {
            let table = TableRef {
                domain: record.domain.clone(),
                table: t.sql_name.clone(),
            };
            let readable = viewer.may(Access::Read, &record.domain, &record.name, &table.table);
            let table_labels = labels.remove(&table).unwrap_or_default();
            let denied: Vec<String> = policies
                .table_governance(reader, &table, Some(&table_labels), true)
                .masked
                .into_iter()
                .filter(|(_, (_, action))| *action == Action::Deny)
                .map(|(column, _)| column)
                .collect();
            let mut details = self.table_details(table, t, readable).await?;
            details.tags = table_labels.into_values().collect();
            if readable && details.rows.is_some_and(|r| r > 0) {
                if session.is_none() {
                    session = Some(self.session(reader, interface, Default::default()).await?);
                }
                let session = session.as_ref().expect("INVARIANT: opened just above");
                details.sample = Some(sample_rows(session, &details.table, t, denied).await?);
            }
            if readable {
                readable_tables.push(details.table.table.clone());
            }
            tables.push(details);
        }
        let ingests = self
            .catalog
            .ingests(&record.domain, &record.name, 5)
            .await?
            .into_iter()
            .filter(|i| readable_tables.contains(&i.table))
            .collect();
        Ok(ProductDetails {
            record,
            owner,
            tables,
            ingests,
        })
    }

    /// What the Delta tables say of `table`: its columns, and for a reader who may read it,
    /// its version, rows and history.
    async fn table_details(
        &self,
        table: TableRef,
        contract: &agora_model::ContractTable,
        readable: bool,
    ) -> Result<TableDetails, MeshError> {
        let mut details = TableDetails {
            columns: contract
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
            version: None,
            rows: None,
            quarantined_rows: None,
            history: Vec::new(),
            tags: Vec::new(),
            sample: None,
            table,
        };
        if !readable {
            return Ok(details);
        }
        let delta = self.store.open(&details.table, TableKind::Product).await?;
        details.rows = Some(match &delta {
            Some(d) => count_rows(d)?,
            None => 0,
        });
        details.quarantined_rows = Some(
            match self
                .store
                .open(&details.table, TableKind::Quarantine)
                .await?
            {
                Some(q) => count_rows(&q)?,
                None => 0,
            },
        );
        details.version = delta.as_ref().and_then(|d| d.version());
        details.history = self.store.history(&details.table, Some(5)).await?;
        Ok(details)
    }
}

/// The first rows of `table` as the session's reader sees them, but for the `denied` columns.
async fn sample_rows(
    session: &GovernedSession,
    table: &TableRef,
    contract: &agora_model::ContractTable,
    denied: Vec<String>,
) -> Result<SampleRows, MeshError> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let shown: Vec<String> = contract
        .columns
        .iter()
        .map(|c| c.sql_name.to_string())
        .filter(|c| !denied.contains(c))
        .map(|c| format!("\"{c}\""))
        .collect();
    if shown.is_empty() {
        return Ok(SampleRows {
            columns: Vec::new(),
            rows: Vec::new(),
            withheld: denied,
        });
    }
    let sql = format!(
        "select {} from \"{}\".\"{}\" limit {SAMPLE_ROWS}",
        shown.join(", "),
        table.domain,
        table.table
    );
    let df = session.sql(&sql).await?;
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
    Ok(SampleRows {
        columns,
        rows,
        withheld: denied,
    })
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
