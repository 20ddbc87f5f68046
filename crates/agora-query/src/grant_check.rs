//! The grant check: a walk over the logical plan, not string matching on SQL.

use std::collections::HashMap;
use std::sync::Arc;

use agora_model::{Access, Name};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::AnalyzerRule;

use crate::{PermissionDenied, Viewer};

/// Refuses the plan if it scans a product table (or its quarantine) `viewer` may not read. Tables that are not
/// products (`information_schema`) are open to everyone. A scan keeps the table name as the
/// SQL wrote it, so a bare name is resolved against the session's `default_schema` here.
pub fn check_grants(
    plan: &LogicalPlan,
    viewer: &Viewer,
    products: &HashMap<(Name, Name), (Name, Name)>,
    default_schema: &str,
) -> Result<()> {
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let schema = scan.table_name.schema().unwrap_or(default_schema);
            let table = scan.table_name.table();
            let (Ok(domain), Ok(table)) =
                (Name::strict("domain", schema), Name::strict("table", table))
            else {
                return Ok(TreeNodeRecursion::Continue);
            };
            // A quarantine is read under its table's grants.
            if let Some((product, granted)) = products.get(&(domain.clone(), table.clone()))
                && !viewer.may(Access::Read, &domain, product, granted)
            {
                return Err(DataFusionError::External(Box::new(PermissionDenied {
                    principal: viewer.principal.name.to_string(),
                    domain: domain.to_string(),
                    product: product.to_string(),
                    table: table.to_string(),
                })));
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

/// [`check_grants`] as a DataFusion analyzer rule, so no plan of the session escapes it.
#[derive(Debug)]
pub(crate) struct GrantCheckRule {
    pub viewer: Arc<Viewer>,
    pub products: Arc<HashMap<(Name, Name), (Name, Name)>>,
    pub default_schema: String,
}

impl AnalyzerRule for GrantCheckRule {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        check_grants(&plan, &self.viewer, &self.products, &self.default_schema)?;
        Ok(plan)
    }

    fn name(&self) -> &str {
        "agora_grant_check"
    }
}
