//! What `agora product show` reports: a product's contract, tables, versions, row counts,
//! classifications, sample rows and last ingests, as one reader may see them.

use agora_catalog::{IngestRecord, ProductRecord};
use agora_model::{Contract, Name, Principal, TableRef};
use agora_policy::ColumnLabel;
use agora_query::{GovernedSession, Interface};
use agora_storage::{TableKind, VersionInfo};

use crate::{Mesh, MeshError};

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
        let viewer = self.viewer(reader).await?;
        // One governed session for the sample rows of every table, opened when first needed.
        let mut session = None;
        let mut tables = Vec::new();
        for t in contract.tables() {
            let table = TableRef {
                domain: record.domain.clone(),
                table: t.sql_name.clone(),
            };
            let mut details = self.table_details(table, t).await?;
            details.tags = labels
                .remove(&details.table)
                .unwrap_or_default()
                .into_values()
                .collect();
            let readable = viewer.may(
                agora_model::Access::Read,
                &record.domain,
                &record.name,
                &details.table.table,
            );
            if readable && details.rows > 0 {
                if session.is_none() {
                    session = Some(self.session(reader, interface, Default::default()).await?);
                }
                let session = session.as_ref().expect("INVARIANT: opened just above");
                details.sample = Some(sample_rows(session, &details.table).await?);
            }
            tables.push(details);
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

    /// What the Delta tables say of `table`: its columns, version, rows and history.
    async fn table_details(
        &self,
        table: TableRef,
        contract: &agora_model::ContractTable,
    ) -> Result<TableDetails, MeshError> {
        let delta = self.store.open(&table, TableKind::Product).await?;
        let rows = match &delta {
            Some(d) => count_rows(d)?,
            None => 0,
        };
        let quarantined_rows = match self.store.open(&table, TableKind::Quarantine).await? {
            Some(q) => count_rows(&q)?,
            None => 0,
        };
        Ok(TableDetails {
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
            version: delta.as_ref().and_then(|d| d.version()),
            rows,
            quarantined_rows,
            history: self.store.history(&table, 5).await?,
            tags: Vec::new(),
            sample: None,
            table,
        })
    }
}

/// The first rows of `table` as the session's reader sees them.
async fn sample_rows(session: &GovernedSession, table: &TableRef) -> Result<SampleRows, MeshError> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let sql = format!(
        "select * from \"{}\".\"{}\" limit {SAMPLE_ROWS}",
        table.domain, table.table
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
    Ok(SampleRows { columns, rows })
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
