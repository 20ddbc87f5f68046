//! The plan rewrite: a table a reader may not see whole becomes, for that reader, a view —
//! `Projection(masked columns) ← TableScan(rows through the row filter)`. DataFusion inlines a
//! view where the query names the table, under the table's own name, so every operator above it
//! (`SELECT *`, aliases, joins, subqueries, CTEs, `WHERE`, aggregates) only ever sees the
//! masked values and the filtered rows: there is no path to the raw column left in the plan.
//! The row filter is a barrier (`row_barrier`): nothing of the query runs on the rows it hides.

use std::collections::BTreeMap;
use std::sync::Arc;

use agora_model::Category;
use datafusion::catalog::view::ViewTable;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result, ScalarValue, TableReference};
use datafusion::datasource::TableType;
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;

use crate::masks::DENIED_FUNCTION;
use crate::row_barrier::FilteredTable;
use crate::{Action, Masks, StoredHash};

/// How one table shows to one reader.
#[derive(Debug, Clone, Default)]
pub struct TableGovernance {
    /// Column (SQL name) → its category and the action applied to it.
    pub masked: BTreeMap<String, (Category, Action)>,
    /// A SQL condition over the table's columns, already rendered for the reader.
    pub row_filter: Option<String>,
}

impl TableGovernance {
    /// Whether the reader sees the table as it is.
    pub fn is_open(&self) -> bool {
        self.masked.is_empty() && self.row_filter.is_none()
    }
}

/// `raw` as `governance` lets its reader see it: `raw` itself when nothing is hidden. The
/// stored hash columns of `raw` are left out for every reader, administrators included.
pub fn governed_provider(
    name: TableReference,
    raw: Arc<dyn TableProvider>,
    governance: &TableGovernance,
    masks: &Masks,
) -> Result<Arc<dyn TableProvider>> {
    let raw_schema = raw.schema();
    let stored: Vec<(StoredHash, &str)> = raw_schema
        .fields()
        .iter()
        .filter_map(|f| StoredHash::parse(f.name()).map(|h| (h, f.name().as_str())))
        .collect();
    if governance.is_open() && stored.is_empty() {
        return Ok(raw);
    }
    let source = match &governance.row_filter {
        Some(filter) => {
            // Only the parser and the function registry are needed to turn the text into an
            // expression over this table's columns.
            let state = SessionStateBuilder::new().with_default_features().build();
            let columns = DFSchema::try_from(raw_schema.as_ref().clone())?;
            let predicate = state.create_logical_expr(filter, &columns)?;
            Arc::new(FilteredTable::new(raw, predicate, filter.clone()))
        }
        None => raw,
    };
    let builder = LogicalPlanBuilder::scan(name.clone(), provider_as_source(source), None)?;
    let schema = builder.schema().clone();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (qualifier, field) in schema.iter() {
        if stored
            .iter()
            .any(|(_, stored_name)| *stored_name == field.name().as_str())
        {
            continue;
        }
        let value = Expr::Column(Column::from((qualifier, field)));
        columns.push(match governance.masked.get(field.name()) {
            None => value,
            Some((category, action)) => {
                let stored_hash = stored.iter().find(|(h, _)| h.column == *field.name()).map(
                    |(h, stored_name)| {
                        (
                            h,
                            Expr::Column(Column::new(Some(name.clone()), *stored_name)),
                        )
                    },
                );
                masks
                    .apply(
                        action,
                        *category,
                        value,
                        field.data_type(),
                        &format!("{}.{}", short_name(&name), field.name()),
                        stored_hash,
                    )?
                    .alias(field.name())
            }
        });
    }
    let plan = builder.project(columns)?.build()?;
    Ok(Arc::new(GovernedTable(ViewTable::new(plan, None))))
}

/// The view a governed table becomes, shown to clients as the table it stands for: a
/// `BASE TABLE` in `information_schema` and an ordinary table (`relkind` `r`) in `pg_catalog`,
/// so `\dt` and BI tools list it. Everything else is the view's, and DataFusion inlines it as
/// a view (through `get_logical_plan`).
#[derive(Debug)]
struct GovernedTable(ViewTable);

#[async_trait::async_trait]
impl TableProvider for GovernedTable {
    fn schema(&self) -> datafusion::arrow::datatypes::SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_logical_plan(&self) -> Option<std::borrow::Cow<'_, LogicalPlan>> {
        self.0.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }
}

/// `sales.orders` for `agora.sales.orders`: how users name tables.
fn short_name(name: &TableReference) -> String {
    match name.schema() {
        Some(schema) => format!("{schema}.{}", name.table()),
        None => name.table().to_string(),
    }
}

/// The denied columns an (optimised) plan still reads, named `domain.table.column`. Columns a
/// query does not use are pruned by the optimiser first, so only real uses count.
pub fn denied_columns(plan: &LogicalPlan) -> Result<Vec<String>> {
    let mut denied = Vec::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::ScalarFunction(f) = e
                    && f.func.name() == DENIED_FUNCTION
                    && let Some(Expr::Literal(ScalarValue::Utf8(Some(column)), _)) = f.args.get(1)
                    && !denied.contains(column)
                {
                    denied.push(column.clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(denied)
}

/// Checks that `filter` is a boolean condition over the columns of `schema` (every principal
/// attribute standing in as a text value), so a policy naming a missing column or comparing
/// wrong types is refused when it is applied, not when someone reads.
pub fn check_row_filter(
    filter: &crate::FilterTemplate,
    schema: &datafusion::arrow::datatypes::Schema,
) -> std::result::Result<(), String> {
    let probe: BTreeMap<String, String> = filter
        .attributes()
        .iter()
        .map(|a| (a.clone(), String::new()))
        .collect();
    let df_schema =
        datafusion::common::DFSchema::try_from(schema.clone()).map_err(|e| e.strip_backtrace())?;
    let state = SessionStateBuilder::new().with_default_features().build();
    let expr = state
        .create_logical_expr(&filter.render(&probe), &df_schema)
        .map_err(|e| e.strip_backtrace())?;
    let data_type = datafusion::logical_expr::ExprSchemable::get_type(&expr, &df_schema)
        .map_err(|e| e.strip_backtrace())?;
    if data_type != datafusion::arrow::datatypes::DataType::Boolean {
        return Err(format!(
            "`{}` is {data_type}, not a true/false condition",
            filter.text()
        ));
    }
    Ok(())
}
