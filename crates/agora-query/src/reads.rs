//! What a query reads: the mesh tables its plan scans and, after projection push-down, the
//! columns it takes from each — what the ledger's query audit records.

use std::collections::BTreeMap;

use agora_model::{Name, TableRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::logical_expr::LogicalPlan;

/// One table a query reads and the columns it takes from it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableRead {
    pub table: String,
    pub columns: Vec<String>,
}

/// The mesh tables scanned by an optimised `plan` (bare names resolved against
/// `default_schema`); scans of other tables (`information_schema`, `pg_catalog`) are left out.
pub fn tables_read(
    plan: &LogicalPlan,
    default_schema: &str,
    is_mesh_table: impl Fn(&TableRef) -> bool,
) -> Result<Vec<TableRead>> {
    let mut reads: BTreeMap<String, Vec<String>> = BTreeMap::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let schema = scan.table_name.schema().unwrap_or(default_schema);
            let (Ok(domain), Ok(table)) = (
                Name::strict("domain", schema),
                Name::strict("table", scan.table_name.table()),
            ) else {
                return Ok(TreeNodeRecursion::Continue);
            };
            let table = TableRef { domain, table };
            if !is_mesh_table(&table) {
                return Ok(TreeNodeRecursion::Continue);
            }
            let source = scan.source.schema();
            let columns: Vec<String> = match &scan.projection {
                Some(indices) => indices
                    .iter()
                    .map(|i| source.field(*i).name().clone())
                    .collect(),
                None => source.fields().iter().map(|f| f.name().clone()).collect(),
            };
            let entry = reads.entry(table.to_string()).or_default();
            for c in columns {
                // A stored hash is read for its column: the audit names the column.
                let c = agora_policy::StoredHash::parse(&c).map_or(c, |h| h.column);
                if !entry.contains(&c) {
                    entry.push(c);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(reads
        .into_iter()
        .map(|(table, columns)| TableRead { table, columns })
        .collect())
}
