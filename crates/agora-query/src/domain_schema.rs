//! A domain as a SQL schema whose tables open lazily from Delta Lake.

use std::collections::BTreeMap;
use std::sync::Arc;

use agora_model::TableRef;
use agora_policy::{Masks, TableGovernance, governed_provider};
use agora_storage::{
    QUARANTINE_INGEST, QUARANTINE_REASON, QUARANTINE_ROW, QUARANTINE_SOURCE, TableKind, TableStore,
    VisibleStatistics, delta_table_provider,
};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::SchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;

use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;

/// The rows a batch table reads: those of an ingest being staged, or none yet.
#[derive(Debug, Clone)]
pub enum BatchRows {
    /// The rows of a staging Delta table.
    Staged(agora_storage::deltalake::DeltaTable),
    /// No rows, in this schema (a contract's table before any ingest).
    Empty(SchemaRef),
}

/// A table of the schema: which Delta table it reads and what of it the reader may see.
#[derive(Debug)]
pub(crate) struct SchemaTable {
    pub table: TableRef,
    pub kind: TableKind,
    pub governance: Arc<TableGovernance>,
    /// The rows to read instead of the table's ([`crate::SessionOptions::batch`]).
    pub batch: Option<BatchRows>,
}

#[derive(Debug)]
pub(crate) struct DomainSchema {
    pub store: TableStore,
    /// SQL table name → the table.
    pub tables: BTreeMap<String, SchemaTable>,
    /// Read every table as of this Delta version (time travel), if set.
    pub as_of: Option<u64>,
    /// Read product tables as the row changes of this commit version, if set.
    pub changes_of: Option<u64>,
    pub masks: Masks,
    /// The SQL catalog name, which qualifies the scans of governed views.
    pub catalog: &'static str,
    /// The session whose Parquet options the Delta scans follow.
    pub scan_options: Arc<SessionState>,
}

impl DomainSchema {
    async fn open(
        &self,
        sql_name: &str,
        entry: &SchemaTable,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let (t, governance) = (&entry.table, entry.governance.as_ref());
        match &entry.batch {
            Some(BatchRows::Empty(schema)) => {
                return Ok(Some(Arc::new(MemTable::try_new(
                    schema.clone(),
                    vec![Vec::new()],
                )?)));
            }
            Some(BatchRows::Staged(staged)) => {
                let provider =
                    delta_table_provider(staged, self.scan_options.clone(), VisibleStatistics::All)
                        .await?;
                // Through the governed view all the same, which leaves the stored hashes out.
                let name = TableReference::full(self.catalog, t.domain.as_str(), sql_name);
                return Ok(Some(governed_provider(
                    name,
                    provider,
                    governance,
                    &self.masks,
                )?));
            }
            None => {}
        }
        if let (Some(v), TableKind::Product) = (self.changes_of, entry.kind) {
            let table = self.store.open_at(t, v).await.map_err(external)?;
            let changes = agora_storage::change_feed_provider(&table, v).map_err(external)?;
            let name = TableReference::full(self.catalog, t.domain.as_str(), sql_name);
            return Ok(Some(governed_provider(
                name,
                changes,
                governance,
                &self.masks,
            )?));
        }
        let table = match (self.as_of, entry.kind) {
            (Some(v), TableKind::Product) => {
                Some(self.store.open_at(t, v).await.map_err(external)?)
            }
            (_, kind) => self.store.open(t, kind).await.map_err(external)?,
        };
        let name = TableReference::full(self.catalog, t.domain.as_str(), sql_name);
        let Some(table) = table else {
            // A quarantine nothing was sent to yet, or results no rule has given yet, read as
            // empty once the product table exists.
            let Some(product) = self
                .store
                .open(t, TableKind::Product)
                .await
                .map_err(external)?
            else {
                return Ok(None);
            };
            let schema = match entry.kind {
                TableKind::Product => return Ok(None),
                TableKind::Quality => agora_storage::quality_results_schema(),
                TableKind::Metrics => agora_storage::metrics_schema(),
                TableKind::Events => agora_storage::events_schema(),
                TableKind::Quarantine => quarantine_schema(&product).map_err(external)?,
            };
            let empty = Arc::new(MemTable::try_new(schema, vec![Vec::new()])?);
            return Ok(Some(governed_provider(
                name,
                empty,
                governance,
                &self.masks,
            )?));
        };
        // Statistics of masked columns would print their raw bounds in `EXPLAIN VERBOSE`.
        let visible = if governance.masked.is_empty() {
            VisibleStatistics::All
        } else {
            VisibleStatistics::Except(governance.masked.keys().cloned().collect())
        };
        let raw = delta_table_provider(&table, self.scan_options.clone(), visible).await?;
        Ok(Some(governed_provider(name, raw, governance, &self.masks)?))
    }
}

/// The columns a quarantine of `product` has: where each row came from and why it is there,
/// then every column of the product as text (stored hash columns aside).
fn quarantine_schema(
    product: &agora_storage::deltalake::DeltaTable,
) -> std::result::Result<SchemaRef, agora_storage::StorageError> {
    let columns = agora_storage::arrow_schema_of(product)?;
    let mut fields = vec![
        Field::new(QUARANTINE_INGEST, DataType::Utf8, true),
        Field::new(QUARANTINE_SOURCE, DataType::Utf8, true),
        Field::new(QUARANTINE_ROW, DataType::Int64, true),
        Field::new(QUARANTINE_REASON, DataType::Utf8, true),
    ];
    fields.extend(
        columns
            .fields()
            .iter()
            .filter(|f| agora_policy::StoredHash::parse(f.name()).is_none())
            .map(|f| Field::new(f.name(), DataType::Utf8, true)),
    );
    Ok(Arc::new(Schema::new(fields)))
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

#[async_trait]
impl SchemaProvider for DomainSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        match self.tables.get(name) {
            Some(entry) => self.open(name, entry).await,
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}
