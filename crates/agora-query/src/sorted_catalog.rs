//! The mesh's SQL catalog, listing its schemas in name order.
//!
//! DataFusion's `MemoryCatalogProvider` lists schemas in hash order, which differs between
//! sessions; `pg_catalog` numbers relations in listing order, and a Postgres connection gets a
//! new session for every statement. psql's `\d table` looks a table's oid up in one statement
//! and its columns in the next, so with hash order it showed another relation's columns. In
//! name order the same tables get the same oids in every session.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::error::Result;

#[derive(Debug, Default)]
pub(crate) struct SortedCatalog {
    schemas: RwLock<BTreeMap<String, Arc<dyn SchemaProvider>>>,
}

impl SortedCatalog {
    fn schemas(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<dyn SchemaProvider>>> {
        // A panic while registering leaves the map whole: insertions are single calls.
        self.schemas
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CatalogProvider for SortedCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.schemas().keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.schemas().get(name).cloned()
    }

    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> Result<Option<Arc<dyn SchemaProvider>>> {
        let mut schemas = self
            .schemas
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(schemas.insert(name.to_string(), schema))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::catalog::MemorySchemaProvider;

    #[test]
    fn schemas_list_in_name_order() {
        let catalog = SortedCatalog::default();
        for name in ["sales", "crm", "pg_catalog", "logistics"] {
            catalog
                .register_schema(name, Arc::new(MemorySchemaProvider::new()))
                .unwrap();
        }
        assert_eq!(
            catalog.schema_names(),
            ["crm", "logistics", "pg_catalog", "sales"]
        );
        assert!(catalog.schema("crm").is_some() && catalog.schema("hr").is_none());
    }
}
