//! A domain as a SQL schema whose tables open lazily from Delta Lake.

use std::collections::BTreeMap;
use std::sync::Arc;

use agora_model::TableRef;
use agora_storage::{TableKind, TableStore};
use async_trait::async_trait;
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result};

#[derive(Debug)]
pub(crate) struct DomainSchema {
    pub store: TableStore,
    /// SQL table name → mesh table.
    pub tables: BTreeMap<String, TableRef>,
    /// Read every table as of this Delta version (time travel), if set.
    pub as_of: Option<u64>,
}

impl DomainSchema {
    async fn open(&self, t: &TableRef) -> Result<Option<Arc<dyn TableProvider>>> {
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
        Ok(Some(table.table_provider().await?))
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
            Some(t) => self.open(t).await,
            None => Ok(None),
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}
