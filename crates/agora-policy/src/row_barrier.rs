//! Row filters as security barriers (PostgreSQL's `security_barrier` views).
//!
//! A row filter written as a logical `Filter` under the reader's own predicates is not enough:
//! the optimiser merges the reader's predicates with it and pushes them into the scan, so a
//! reader's `WHERE 1 / (amount - 100) > 0` would run on rows the filter hides and fail — telling
//! the reader such a row exists. Here the table a reader sees is a [`FilteredTable`]: a leaf to
//! the optimiser, whose scan applies the row filter first and only then the reader's predicates
//! that are provably safe (comparisons of columns with literals, null tests, `IN` lists: they
//! cannot fail and have no effect but their answer); every other predicate and expression of the
//! query stays above it and sees only visible rows. Its plan hides what runs inside it from the
//! physical optimiser and from `EXPLAIN`: no filter, limit or dynamic filter from above passes
//! into it, and neither its statistics nor the metrics of the rows it drops are shown.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, Result};
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};

/// A table whose rows a reader sees only where `predicate` holds (see the module docs).
#[derive(Debug)]
pub struct FilteredTable {
    inner: Arc<dyn TableProvider>,
    /// The row filter, over `inner`'s columns.
    predicate: Expr,
    /// How the filter shows in plans (the policy's text, rendered for the reader).
    shown: String,
}

impl FilteredTable {
    pub fn new(inner: Arc<dyn TableProvider>, predicate: Expr, shown: String) -> Self {
        FilteredTable {
            inner,
            predicate,
            shown,
        }
    }
}

/// Whether `expr` can be evaluated on a row the reader may not see without anything showing:
/// it cannot fail, and its only effect is its value.
fn is_safe(expr: &Expr) -> bool {
    match expr {
        Expr::Column(_) | Expr::Literal(..) => true,
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let operands_safe = || is_safe(left) && is_safe(right);
            match op {
                Operator::And | Operator::Or => operands_safe(),
                Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom => {
                    is_operand(left) && is_operand(right) && operands_safe()
                }
                _ => false,
            }
        }
        Expr::Not(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsTrue(e)
        | Expr::IsFalse(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNotFalse(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e) => is_safe(e),
        Expr::InList(list) => {
            is_operand(&list.expr) && list.list.iter().all(|e| matches!(e, Expr::Literal(..)))
        }
        Expr::Between(b) => {
            is_operand(&b.expr)
                && matches!(*b.low, Expr::Literal(..))
                && matches!(*b.high, Expr::Literal(..))
        }
        _ => false,
    }
}

/// A column or a literal: what a safe comparison compares.
fn is_operand(expr: &Expr) -> bool {
    matches!(expr, Expr::Column(_) | Expr::Literal(..))
}

#[async_trait]
impl TableProvider for FilteredTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if is_safe(f) {
                    // Applied after the row filter; the planner keeps its own copy above too.
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.inner.schema();
        // The planner qualifies columns with the table's name; the scan's schema does not.
        let safe: Vec<Expr> = filters
            .iter()
            .filter(|f| is_safe(f))
            .map(|f| unnormalize_col(f.clone()))
            .collect();
        let mut pushed = vec![unnormalize_col(self.predicate.clone())];
        pushed.extend(safe.iter().cloned());
        // The inner scan reads the projection's columns and the filters'.
        let mut needed: BTreeSet<usize> = match projection {
            Some(p) => p.iter().copied().collect(),
            None => (0..schema.fields().len()).collect(),
        };
        for e in &pushed {
            for c in e.column_refs() {
                needed.insert(schema.index_of(&c.name)?);
            }
        }
        let needed: Vec<usize> = needed.into_iter().collect();
        let inner = self.inner.scan(state, Some(&needed), &pushed, None).await?;
        let scanned = DFSchema::try_from(schema.project(&needed)?)?;
        let row_filter = state.create_physical_expr(pushed[0].clone(), &scanned)?;
        let mut plan: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(row_filter, inner)?);
        if let Some(reader) = conjunction(safe) {
            let reader = state.create_physical_expr(reader, &scanned)?;
            plan = Arc::new(FilterExec::try_new(reader, plan)?);
        }
        let wanted = projection
            .cloned()
            .unwrap_or_else(|| (0..schema.fields().len()).collect());
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = wanted
            .iter()
            .map(|i| {
                let position = needed
                    .iter()
                    .position(|n| n == i)
                    .expect("INVARIANT: every projected column is scanned");
                let name = schema.field(*i).name().clone();
                let column: Arc<dyn PhysicalExpr> = Arc::new(Column::new(&name, position));
                (column, name)
            })
            .collect();
        plan = Arc::new(ProjectionExec::try_new(exprs, plan)?);
        Ok(Arc::new(RowFilterBarrier {
            properties: plan.properties().clone(),
            inner: plan,
            shown: self.shown.clone(),
        }))
    }
}

/// The plan of a [`FilteredTable`]'s scan: a leaf to the optimiser and to `EXPLAIN`, which runs
/// the filtered scan it holds.
#[derive(Debug)]
struct RowFilterBarrier {
    inner: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
    shown: String,
}

impl DisplayAs for RowFilterBarrier {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "AgoraRowFilter: {}", self.shown)
    }
}

impl ExecutionPlan for RowFilterBarrier {
    fn name(&self) -> &str {
        "AgoraRowFilter"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// None: what runs inside is out of the optimiser's and `EXPLAIN`'s reach.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            datafusion::common::internal_err!("AgoraRowFilter has no children")
        }
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }
}
