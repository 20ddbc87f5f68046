//! A domain as a SQL schema whose tables open lazily from Delta Lake.

use std::collections::BTreeMap;
use std::sync::Arc;

use agora_model::TableRef;
use agora_policy::{Masks, TableGovernance, governed_provider};
use agora_storage::{TableKind, TableStore, VisibleStatistics, delta_table_provider};
use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;

#[derive(Debug)]
pub(crate) struct DomainSchema {
    pub store: TableStore,
    /// SQL table name → mesh table, and what of it the reader may see.
    pub tables: BTreeMap<String, (TableRef, Arc<TableGovernance>)>,
    /// Read every table as of this Delta version (time travel), if set.
    pub as_of: Option<u64>,
    pub masks: Masks,
    /// The SQL catalog name, which qualifies the scans of governed views.
    pub catalog: &'static str,
    /// The session whose Parquet options the Delta scans follow.
    pub scan_options: Arc<SessionState>,
}

impl DomainSchema {
    async fn open(
        &self,
        t: &TableRef,
        governance: &TableGovernance,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let table = match self.as_of {
            Some(v) => Some(self.store.open_at(t, v).await.map_err(external)?),
            None => self
                .store
                .open(t, TableKind::Product)
                .await
                .map_err(external)?,
        };
        let Some(table) = table else {
            return Ok(None);
        };
        // Statistics of masked columns would print their raw bounds in `EXPLAIN VERBOSE`.
        let visible = if governance.masked.is_empty() {
            VisibleStatistics::All
        } else {
            VisibleStatistics::Except(governance.masked.keys().cloned().collect())
        };
        let raw = delta_table_provider(&table, self.scan_options.clone(), visible).await?;
        let name = TableReference::full(self.catalog, t.domain.as_str(), t.table.as_str());
        Ok(Some(governed_provider(name, raw, governance, &self.masks)?))
    }
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
            Some((t, governance)) => self.open(t, governance).await,
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}
