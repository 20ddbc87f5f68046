//! The two rewrites of a suggested correction: applying it is a Delta `UPDATE` of the rows that
//! hold the values it fixes; reverting it is a `MERGE` that puts back, on exactly those rows,
//! the values they held in the version before the update. The rows to put back are read from
//! that version by time travel, so a revert needs no copy of them kept elsewhere (and an
//! erasure that purges old versions leaves no such copy behind).

use std::sync::Arc;

use agora_model::TableRef;
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::{DeltaTable, DeltaTableError};

use crate::rewrites::properties;
use crate::table_store::datafusion_err;
use crate::table_store::delta_err;
use crate::{Rewritten, StorageError, TableKind, TableStore};

/// Which rows a revert puts back, and how.
#[derive(Debug, Clone)]
pub struct RevertSpec {
    /// The version before the correction: the source is read from it, as table `before`.
    pub before_version: u64,
    /// SQL over `before` giving one row per corrected row: the row as the correction left it
    /// (every column of the table, under its name) and the values to put back (other names).
    pub source_sql: String,
    /// The columns that identify a row in the table today (compared null-safe).
    pub match_on: Vec<String>,
    /// `(table column, source column)`: what matched rows get back.
    pub set: Vec<(String, String)>,
}

/// How many rows a revert would put back: the source's rows, and the rows of the table that
/// match them now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevertMatch {
    pub corrected: u64,
    pub matching: u64,
}

fn quoted(c: &str) -> String {
    format!("\"{}\"", c.replace('"', "\"\""))
}

impl TableStore {
    /// Sets each `(column, SQL expression over the row before the update)` of `set` on the rows
    /// of the product table `t` that match `predicate` (a column of `declared` the stored
    /// table does not have yet reads as NULL), in one commit; no commit when no row matches.
    pub async fn update_where(
        &self,
        t: &TableRef,
        predicate: &str,
        declared: &[String],
        set: &[(String, String)],
        mark: (&str, &str),
    ) -> Result<Rewritten, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, TableKind::Product).await? else {
            return Ok(Rewritten::default());
        };
        let (condition, _) = crate::rewrites::condition(&name, &table, predicate, declared).await?;
        let before = table.version();
        let mut update = table
            .update()
            .with_predicate(condition)
            .with_commit_properties(properties(mark));
        for (column, expression) in set {
            update = update.with_update(column.as_str(), expression.as_str());
        }
        let (table, metrics) = update.await.map_err(delta_err(&name))?;
        Ok(Rewritten {
            version: table.version().filter(|v| Some(*v) != before),
            removed: metrics.num_updated_rows as u64,
            added: 0,
        })
    }

    /// A session with the product table `t` at `spec.before_version` as `before`, and the
    /// revert's source read from it.
    async fn revert_source(
        &self,
        t: &TableRef,
        spec: &RevertSpec,
    ) -> Result<(SessionContext, Vec<arrow::record_batch::RecordBatch>), StorageError> {
        let name = t.to_string();
        let before = self.open_at(t, spec.before_version).await?;
        let ctx = SessionContext::new();
        let provider = before
            .table_provider()
            .await
            .map_err(|e| delta_err(&name)(DeltaTableError::from(e)))?;
        ctx.register_table("before", provider)
            .map_err(datafusion_err(&name))?;
        let rows = ctx
            .sql(&spec.source_sql)
            .await
            .map_err(datafusion_err(&name))?
            .collect()
            .await
            .map_err(datafusion_err(&name))?;
        Ok((ctx, rows))
    }

    fn match_predicate(spec: &RevertSpec) -> String {
        spec.match_on
            .iter()
            .map(|c| {
                // Parenthesised: the parser binds `IS NOT DISTINCT FROM` looser than `AND`.
                format!(
                    "(target.{} IS NOT DISTINCT FROM source.{})",
                    quoted(c),
                    quoted(c)
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// How many rows the revert `spec` stands for, and how many rows of the table match them
    /// today (fewer: some changed since; more: rows the correction did not touch look the same).
    pub async fn revert_match(
        &self,
        t: &TableRef,
        spec: &RevertSpec,
    ) -> Result<RevertMatch, StorageError> {
        let name = t.to_string();
        let (ctx, rows) = self.revert_source(t, spec).await?;
        let corrected: usize = rows.iter().map(|b| b.num_rows()).sum();
        let current = match self.open(t, TableKind::Product).await? {
            Some(current) if corrected > 0 => current,
            _ => {
                return Ok(RevertMatch {
                    corrected: corrected as u64,
                    matching: 0,
                });
            }
        };
        let provider = current
            .table_provider()
            .await
            .map_err(|e| delta_err(&name)(DeltaTableError::from(e)))?;
        ctx.register_table("target", provider)
            .map_err(datafusion_err(&name))?;
        let source = distinct_source(&name, &ctx, rows).await?;
        ctx.register_table("source", source)
            .map_err(datafusion_err(&name))?;
        let counted = ctx
            .sql(&format!(
                "SELECT count(*) FROM target JOIN source ON {}",
                Self::match_predicate(spec)
            ))
            .await
            .map_err(datafusion_err(&name))?
            .collect()
            .await
            .map_err(datafusion_err(&name))?;
        let matching = counted
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .map(|a| a.value(0))
            })
            .unwrap_or(0);
        Ok(RevertMatch {
            corrected: corrected as u64,
            matching: matching as u64,
        })
    }

    /// Puts back the values of `spec` on the rows that match its source, in one commit (none if
    /// no row matches); returns the version made and the rows changed.
    pub async fn revert_rows(
        &self,
        t: &TableRef,
        spec: &RevertSpec,
        mark: (&str, &str),
    ) -> Result<Rewritten, StorageError> {
        let name = t.to_string();
        let (ctx, rows) = self.revert_source(t, spec).await?;
        let target = match self.open(t, TableKind::Product).await? {
            Some(target) if rows.iter().any(|b| b.num_rows() > 0) => target,
            _ => return Ok(Rewritten::default()),
        };
        let before = target.version();
        let source = distinct_source(&name, &ctx, rows).await?;
        let source = ctx.read_table(source).map_err(datafusion_err(&name))?;
        let (table, metrics) = merge_back(target, source, &ctx, spec, properties(mark))
            .await
            .map_err(delta_err(&name))?;
        Ok(Rewritten {
            version: table.version().filter(|v| Some(*v) != before),
            removed: metrics,
            added: 0,
        })
    }
}

/// The source rows without repeats: identical corrected rows are one match, and a merge refuses
/// a target row matched by two source rows.
async fn distinct_source(
    name: &str,
    ctx: &SessionContext,
    rows: Vec<arrow::record_batch::RecordBatch>,
) -> Result<Arc<MemTable>, StorageError> {
    let schema = match rows.first() {
        Some(b) => b.schema(),
        None => Arc::new(arrow::datatypes::Schema::empty()),
    };
    let table = MemTable::try_new(schema, vec![rows]).map_err(datafusion_err(name))?;
    let distinct = ctx
        .read_table(Arc::new(table))
        .map_err(datafusion_err(name))?
        .distinct()
        .map_err(datafusion_err(name))?;
    let schema = Arc::new(distinct.schema().as_arrow().clone());
    let batches = distinct.collect().await.map_err(datafusion_err(name))?;
    Ok(Arc::new(
        MemTable::try_new(schema, vec![batches]).map_err(datafusion_err(name))?,
    ))
}

async fn merge_back(
    target: DeltaTable,
    source: deltalake::datafusion::prelude::DataFrame,
    ctx: &SessionContext,
    spec: &RevertSpec,
    commit: CommitProperties,
) -> Result<(DeltaTable, u64), DeltaTableError> {
    let set = spec.set.clone();
    let (table, metrics) = target
        .merge(source, TableStore::match_predicate(spec))
        .with_source_alias("source")
        .with_target_alias("target")
        .with_session_state(Arc::new(ctx.state()))
        .with_commit_properties(commit)
        .when_matched_update(|mut update| {
            for (column, from) in &set {
                update = update.update(quoted(column), format!("source.{}", quoted(from)));
            }
            update
        })?
        .await?;
    Ok((table, metrics.num_target_rows_updated as u64))
}
