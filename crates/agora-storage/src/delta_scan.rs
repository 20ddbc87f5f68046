//! Table-wide column statistics from the Delta log, given to the scans of every table.
//!
//! delta-rs gives its scan statistics only for the columns the query filters on. DataFusion's
//! join planner then takes every other join key for all-distinct and misjudges join sizes: in
//! TPC-H Q18 it built the hash table of an `IN (subquery)` semi join on a six-million-row join
//! result instead of the subquery's 57 rows. The Delta log already holds every file's minimum,
//! maximum and null count of every column, so the table's bounds cost nothing to read; this
//! module adds them where the scan left a column's statistics unknown. Nothing here changes
//! what a scan reads or returns.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column, ColumnStatistics, ScalarValue, Statistics};
use datafusion::config::ConfigOptions;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
use datafusion::logical_expr::{Accumulator, Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::pruning::PruningStatistics;
use datafusion::physical_plan::execution_plan::CardinalityEffect;
use datafusion::physical_plan::filter_pushdown::{FilterDescription, FilterPushdownPhase};
use datafusion::physical_plan::statistics::{ChildStats, StatisticsArgs};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use deltalake::DeltaTable;

/// Which statistics of a table its scans may show: the planner uses them, and `EXPLAIN
/// VERBOSE` prints them, so a reader must get none that describe values they cannot select.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VisibleStatistics {
    /// Every column's bounds and null count, and the row count.
    #[default]
    All,
    /// All but the bounds and null counts of these columns (masked for the reader).
    Except(Vec<String>),
}

impl VisibleStatistics {
    fn shows(&self, column: &str) -> bool {
        match self {
            VisibleStatistics::All => true,
            VisibleStatistics::Except(hidden) => !hidden.iter().any(|h| h == column),
        }
    }
}

/// The table provider SQL reads a Delta table through: delta-rs's scan, following `session`'s
/// Parquet options, with the table's column statistics (see the module docs) as far as
/// `visible` allows.
pub async fn delta_table_provider(
    table: &DeltaTable,
    session: Arc<SessionState>,
    visible: VisibleStatistics,
) -> Result<Arc<dyn TableProvider>> {
    Ok(Arc::new(WithColumnStatistics {
        inner: table.table_provider().with_session(session).await?,
        table: table.clone(),
        visible,
    }))
}

/// Minimum, maximum and null count of each column of a table, by column name.
type TableColumnStatistics = HashMap<String, ColumnStatistics>;

/// The bounds of the columns of `schema` over all of the table's files, as far as the log has
/// them.
fn from_log(log: &dyn PruningStatistics, schema: &SchemaRef) -> TableColumnStatistics {
    let mut by_column = HashMap::new();
    if log.num_containers() == 0 {
        return by_column;
    }
    for field in schema.fields() {
        let column = Column::new_unqualified(field.name());
        // A file without the statistic leaves the table's bound unknown.
        let bound = |values: Option<Arc<dyn Array>>, bound: Bound| {
            values
                .filter(|v| v.null_count() == 0)
                .and_then(|v| bound.over(&v).ok())
                .and_then(|s| s.cast_to(field.data_type()).ok())
                .map_or(Precision::Absent, Precision::Inexact)
        };
        let nulls = log
            .null_counts(&column)
            .and_then(|c| {
                let counts = c.as_any().downcast_ref::<UInt64Array>()?;
                (counts.null_count() == 0).then(|| counts.values().iter().sum::<u64>())
            })
            .map_or(Precision::Absent, |n| Precision::Inexact(n as usize));
        let stats = ColumnStatistics {
            min_value: bound(log.min_values(&column), Bound::Min),
            max_value: bound(log.max_values(&column), Bound::Max),
            null_count: nulls,
            ..ColumnStatistics::new_unknown()
        };
        by_column.insert(field.name().clone(), stats);
    }
    by_column
}

enum Bound {
    Min,
    Max,
}

impl Bound {
    /// The least or greatest of the files' values.
    fn over(&self, files: &Arc<dyn Array>) -> Result<ScalarValue> {
        let mut acc: Box<dyn Accumulator> = match self {
            Bound::Min => Box::new(MinAccumulator::try_new(files.data_type())?),
            Bound::Max => Box::new(MaxAccumulator::try_new(files.data_type())?),
        };
        acc.update_batch(std::slice::from_ref(files))?;
        acc.evaluate()
    }
}

/// A table whose scans carry the table's column statistics (see the module docs).
#[derive(Debug)]
struct WithColumnStatistics {
    inner: Arc<dyn TableProvider>,
    /// The snapshot `inner` scans, whose log holds the files' statistics.
    table: DeltaTable,
    visible: VisibleStatistics,
}

#[async_trait]
impl TableProvider for WithColumnStatistics {
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
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let scan = self.inner.scan(state, projection, filters, limit).await?;
        // Only the columns the scan returns: a query reading two columns of a wide table
        // computes two columns' bounds.
        let log = self
            .table
            .snapshot()
            .and_then(|s| s.snapshot().try_log_data())
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Arc::new(ScanWithStatistics {
            columns: Arc::new(from_log(&log, &scan.schema())),
            visible: self.visible.clone(),
            input: scan,
        }))
    }
}

/// A scan, unchanged, whose statistics have the table's column bounds where the scan has none,
/// and none of the columns `visible` hides.
#[derive(Debug)]
struct ScanWithStatistics {
    input: Arc<dyn ExecutionPlan>,
    columns: Arc<TableColumnStatistics>,
    visible: VisibleStatistics,
}

impl DisplayAs for ScanWithStatistics {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ScanWithStatistics")
    }
}

impl ExecutionPlan for ScanWithStatistics {
    fn name(&self) -> &str {
        "ScanWithStatistics"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(ScanWithStatistics {
                input,
                columns: self.columns.clone(),
                visible: self.visible.clone(),
            })),
            _ => datafusion::common::internal_err!("ScanWithStatistics has exactly one child"),
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
        self.input.execute(partition, context)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        vec![ChildStats::At(partition)]
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let Some(scan) = input_stats.first() else {
            return Ok(Arc::new(Statistics::new_unknown(&self.schema())));
        };
        let mut stats = Statistics::clone(scan);
        let schema = self.schema();
        for (field, column) in schema
            .fields()
            .iter()
            .zip(stats.column_statistics.iter_mut())
        {
            if !self.visible.shows(field.name()) {
                *column = ColumnStatistics::new_unknown();
                continue;
            }
            let Some(table) = self.columns.get(field.name()) else {
                continue;
            };
            // The table's bounds hold for any part of it; its null count only for all of it.
            if column.min_value == Precision::Absent {
                column.min_value = table.min_value.clone();
            }
            if column.max_value == Precision::Absent {
                column.max_value = table.max_value.clone();
            }
            if column.null_count == Precision::Absent && args.partition().is_none() {
                column.null_count = table.null_count;
            }
        }
        Ok(Arc::new(stats))
    }

    fn supports_limit_pushdown(&self) -> bool {
        self.input.supports_limit_pushdown()
    }

    fn fetch(&self) -> Option<usize> {
        self.input.fetch()
    }

    fn with_fetch(&self, limit: Option<usize>) -> Option<Arc<dyn ExecutionPlan>> {
        Some(Arc::new(ScanWithStatistics {
            input: self.input.with_fetch(limit)?,
            columns: self.columns.clone(),
            visible: self.visible.clone(),
        }))
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        self.input.cardinality_effect()
    }

    /// Filters pass through to the scan: the output is the scan's, column for column.
    fn gather_filters_for_pushdown(
        &self,
        _phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        FilterDescription::from_children(parent_filters, &self.children())
    }
}

#[cfg(test)]
mod tests {
    use agora_model::{Name, TableRef};
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::statistics::StatisticsContext;
    use datafusion::prelude::SessionContext;

    use super::*;
    use crate::{TableKind, TableStore};

    fn batch(schema: &SchemaRef, ids: Vec<Option<i64>>, notes: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(notes)),
            ],
        )
        .unwrap()
    }

    /// The planner sees a column's bounds over all of a table's files, though the query does
    /// not filter on it, and the rows read are unchanged.
    #[tokio::test]
    async fn scans_carry_the_bounds_of_every_file_of_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::new(dir.path());
        let table = TableRef {
            domain: Name::strict("domain", "sales").unwrap(),
            table: Name::strict("table", "orders").unwrap(),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let delta = store
            .ensure(&table, TableKind::Product, schema.clone())
            .await
            .unwrap();
        let mut first = store.appender(delta).unwrap();
        first
            .write(batch(&schema, vec![Some(5), None], vec![Some("a"), None]))
            .await
            .unwrap();
        first.commit().await.unwrap();
        let delta = store
            .open(&table, TableKind::Product)
            .await
            .unwrap()
            .unwrap();
        let mut second = store.appender(delta).unwrap();
        second
            .write(batch(
                &schema,
                vec![Some(2), Some(40)],
                vec![None, Some("b")],
            ))
            .await
            .unwrap();
        second.commit().await.unwrap();

        let ctx = SessionContext::new();
        let delta = store
            .open(&table, TableKind::Product)
            .await
            .unwrap()
            .unwrap();
        let provider = delta_table_provider(&delta, Arc::new(ctx.state()), Default::default())
            .await
            .unwrap();
        ctx.register_table("orders", provider).unwrap();
        let df = ctx.sql("select id, note from orders").await.unwrap();
        let plan = df.clone().create_physical_plan().await.unwrap();
        let stats = StatisticsContext::new()
            .compute(plan.as_ref(), &StatisticsArgs::new())
            .unwrap();
        let (id, note) = (&stats.column_statistics[0], &stats.column_statistics[1]);
        assert_eq!(
            id.min_value,
            Precision::Inexact(ScalarValue::Int64(Some(2)))
        );
        assert_eq!(
            id.max_value,
            Precision::Inexact(ScalarValue::Int64(Some(40)))
        );
        assert_eq!(id.null_count, Precision::Inexact(1));
        // Text bounds take the scan's type (string views).
        assert_eq!(
            note.min_value,
            Precision::Inexact(ScalarValue::Utf8View(Some("a".into())))
        );
        assert_eq!(
            note.max_value,
            Precision::Inexact(ScalarValue::Utf8View(Some("b".into())))
        );

        let rows: usize = df
            .collect()
            .await
            .unwrap()
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows, 4);
    }
}
