//! Commits that rewrite a table rather than append to it: a merge or an overwrite from a staged
//! ingest, a delete by predicate, compaction, vacuum, and the purge that leaves no earlier
//! version holding erased values. Each is delta-rs's own operation, one Delta commit (vacuum:
//! two), carrying the caller's mark in its metadata so that a recovery can tell whether it
//! happened.
//!
//! A staged ingest is a Delta table of its own under `staging/<ingest id>/`: the write path
//! streams accepted rows into it exactly as into a product table, and the merge or overwrite
//! reads it as its source. Staging costs a second write of the rows, and buys a source that is
//! streamed from disk rather than held in memory, whatever the input's size.

use std::path::PathBuf;

use agora_model::TableRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use deltalake::datafusion::common::tree_node::{Transformed, TreeNode};
use deltalake::datafusion::common::{Column, ScalarValue};
use deltalake::datafusion::logical_expr::{Expr, lit};

use deltalake::DeltaTable;
use deltalake::kernel::CommitInfo;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::vacuum::VacuumMode;
use futures::StreamExt;
use url::Url;

use crate::table_store::{datafusion_err, delta_err, read_whole, to_delta_fields};
use crate::{StorageError, TableKind, TableStore};

const STAGING_DIR: &str = "staging";

/// What a merge did to the target table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MergeCounts {
    pub version: u64,
    pub rows_inserted: u64,
    pub rows_updated: u64,
}

impl MergeCounts {
    /// What the MERGE `commit` (which made `version`) did, from the metrics delta-rs writes
    /// into it: a recovery records a merge a crash stopped after its commit as the merge
    /// reported it.
    pub fn of_commit(version: u64, commit: &CommitInfo) -> MergeCounts {
        let metric = |name: &str| {
            commit
                .info
                .get("operationMetrics")
                .and_then(|m| m.get(name))
                .and_then(|v| v.as_u64())
                .unwrap_or(0)
        };
        MergeCounts {
            version,
            rows_inserted: metric("num_target_rows_inserted"),
            rows_updated: metric("num_target_rows_updated"),
        }
    }
}

/// What a rewrite of a table did: the version it made (none when there was nothing to do) and
/// how many rows or files it touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rewritten {
    pub version: Option<u64>,
    /// Rows deleted (delete), files removed (optimize, vacuum).
    pub removed: u64,
    /// Files added (optimize).
    pub added: u64,
}

/// The Delta operations that can change a table's rows: each such version must be accounted
/// for by a ledger entry. Table creation, column additions and vacuums change no row.
const DATA_OPERATIONS: &[&str] = &["WRITE", "MERGE", "DELETE", "UPDATE", "OPTIMIZE", "RESTORE"];

pub(crate) fn properties(mark: (&str, &str)) -> CommitProperties {
    CommitProperties::default().with_metadata([(
        mark.0.to_string(),
        serde_json::Value::String(mark.1.to_string()),
    )])
}

/// `predicate` (SQL) as a condition on the rows of `table`, with the columns it names.
///
/// A column of `declared` (the columns the table's contract has) that the stored table does not
/// have yet reads as NULL: its rows were all written before the column existed, and Delta reads
/// a column added later as NULL in older files too. So a condition on a column the contract
/// added after the table's last write (a quarantine is written only when rows are rejected)
/// matches by its other columns, instead of failing. Any other unknown name is an error.
pub(crate) async fn condition(
    name: &str,
    table: &DeltaTable,
    predicate: &str,
    declared: &[String],
) -> Result<(Expr, Vec<String>), StorageError> {
    // DataFusion's message lists the table's columns, stored hashes included, under a
    // placeholder table name: the caller names the columns the reader may know.
    let bad = |reason: String| StorageError::BadPredicate {
        table: name.to_string(),
        predicate: predicate.to_string(),
        reason: reason
            .split(". Valid fields are")
            .next()
            .unwrap_or_default()
            .replace("\"?table?\".", "")
            .trim_end_matches('.')
            .to_string(),
    };
    let (_ctx, df) = read_whole(name, table).await?;
    let stored: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let absent: Vec<&String> = declared.iter().filter(|c| !stored.contains(c)).collect();
    let mut widened = df.clone();
    for column in &absent {
        widened = widened
            .with_column(column, lit(ScalarValue::Utf8(None)))
            .map_err(|e| bad(e.strip_backtrace()))?;
    }
    let parsed = widened
        .parse_sql_expr(predicate)
        .map_err(|e| bad(e.strip_backtrace()))?;
    let mut columns: Vec<String> = parsed
        .column_refs()
        .into_iter()
        .map(|c| c.name.clone())
        .collect();
    columns.sort();
    columns.dedup();
    // Unqualified, because delta-rs plans the condition in a session of its own.
    let expr = parsed
        .transform(|e| {
            Ok(match e {
                Expr::Column(c) if absent.contains(&&c.name) => {
                    // Typed: delta-rs casts literals to the other side's type, and no type
                    // casts to Null.
                    Transformed::yes(lit(ScalarValue::Utf8(None)))
                }
                Expr::Column(c) => Transformed::yes(Expr::Column(Column::new_unqualified(c.name))),
                other => Transformed::no(other),
            })
        })
        .map_err(|e| bad(e.strip_backtrace()))?
        .data;
    df.filter(expr.clone())
        .map_err(|e| bad(e.strip_backtrace()))?;
    Ok((expr, columns))
}

fn schema_of(name: &str, table: &DeltaTable) -> Result<SchemaRef, StorageError> {
    Ok(table
        .snapshot()
        .map_err(delta_err(name))?
        .snapshot()
        .arrow_schema())
}

/// The version an operation made, if it made one (`before` was the table's version).
fn made_version(table: &DeltaTable, before: Option<u64>) -> Option<u64> {
    table.version().filter(|v| Some(*v) != before)
}

impl TableStore {
    fn staging_dir(&self, ingest_id: &str) -> PathBuf {
        // Ingest ids are made by the mesh from a timestamp and random hex: no separator in them.
        self.root.join(STAGING_DIR).join(ingest_id)
    }

    /// A new, empty staging table for the ingest `ingest_id`, with `schema`: the rows a merge
    /// or an overwrite applies to the product table.
    pub async fn staging(
        &self,
        ingest_id: &str,
        schema: SchemaRef,
    ) -> Result<DeltaTable, StorageError> {
        self.create_staged(ingest_id, "rows", schema).await
    }

    /// A new, empty staging table for the ingest `ingest_id` holding its accepted rows in the
    /// quarantine's form, for as long as a quality rule may still send the whole batch there.
    pub async fn held(
        &self,
        ingest_id: &str,
        schema: SchemaRef,
    ) -> Result<DeltaTable, StorageError> {
        self.create_staged(ingest_id, "held", schema).await
    }

    async fn create_staged(
        &self,
        ingest_id: &str,
        part: &str,
        schema: SchemaRef,
    ) -> Result<DeltaTable, StorageError> {
        let name = format!("staging of {ingest_id} ({part})");
        let dir = self.staging_dir(ingest_id).join(part);
        let location = |reason: String| StorageError::Location {
            path: dir.display().to_string(),
            reason,
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| location(e.to_string()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| location(e.to_string()))?;
        let url =
            Url::from_directory_path(dir.canonicalize().map_err(|e| location(e.to_string()))?)
                .map_err(|()| location("not an absolute path".into()))?;
        let fields = to_delta_fields(&schema).map_err(delta_err(&name))?;
        DeltaTable::try_from_url(url)
            .await
            .map_err(delta_err(&name))?
            .create()
            .with_table_name("staging")
            .with_columns(fields)
            .await
            .map_err(delta_err(&name))
    }

    /// Removes the staging tables of `ingest_id`, if it has any.
    pub fn remove_staging(&self, ingest_id: &str) -> Result<(), StorageError> {
        let dir = self.staging_dir(ingest_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::Location {
                path: dir.display().to_string(),
                reason: format!("could not remove a staging table: {e}"),
            }),
        }
    }

    /// The ingest ids of every staging table left on disk.
    pub fn staged_ingests(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join(STAGING_DIR)) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect()
    }

    /// Upserts the rows of `staged` into the product table `t` by `keys` (its primary key
    /// columns): a row whose key the table has replaces that row, the others are inserted.
    /// Columns the staged rows have and the table lacks (new stored hashes) are added first.
    pub async fn merge_staged(
        &self,
        t: &TableRef,
        staged: DeltaTable,
        keys: &[String],
        mark: (&str, &str),
    ) -> Result<MergeCounts, StorageError> {
        let name = t.to_string();
        let schema = schema_of(&name, &staged)?;
        let target = self.ensure(t, TableKind::Product, schema.clone()).await?;
        let (ctx, source) = read_whole(&name, &staged).await?;
        let quoted = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
        let predicate = keys
            .iter()
            .map(|k| format!("target.{} = source.{}", quoted(k), quoted(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let (table, metrics) = target
            .merge(source, predicate)
            .with_source_alias("source")
            .with_target_alias("target")
            .with_session_state(std::sync::Arc::new(ctx.state()))
            .with_commit_properties(properties(mark))
            .when_matched_update(|mut update| {
                for c in &columns {
                    update = update.update(quoted(c), format!("source.{}", quoted(c)));
                }
                update
            })
            .and_then(|merge| {
                merge.when_not_matched_insert(|mut insert| {
                    for c in &columns {
                        insert = insert.set(quoted(c), format!("source.{}", quoted(c)));
                    }
                    insert
                })
            })
            .map_err(delta_err(&name))?
            .await
            .map_err(delta_err(&name))?;
        Ok(MergeCounts {
            version: table.version().unwrap_or(0),
            rows_inserted: metrics.num_target_rows_inserted as u64,
            rows_updated: metrics.num_target_rows_updated as u64,
        })
    }

    /// Replaces every row of the product table `t` with the rows of `staged`, in one commit;
    /// earlier versions stay readable by time travel until a vacuum.
    pub async fn overwrite_staged(
        &self,
        t: &TableRef,
        staged: DeltaTable,
        mark: (&str, &str),
    ) -> Result<u64, StorageError> {
        use deltalake::operations::write::SchemaMode;
        use deltalake::protocol::SaveMode;
        let name = t.to_string();
        let schema = schema_of(&name, &staged)?;
        let target = self.ensure(t, TableKind::Product, schema).await?;
        let (_ctx, source) = read_whole(&name, &staged).await?;
        let table = target
            .write(Vec::new())
            .with_input_plan(source.into_unoptimized_plan())
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Merge)
            .with_commit_properties(properties(mark))
            .await
            .map_err(delta_err(&name))?;
        Ok(table.version().unwrap_or(0))
    }

    /// Deletes the rows of `t` that match `predicate` (SQL over the table's columns; a column
    /// of `declared` the stored table does not have yet reads as NULL, see [`condition`]) in
    /// one commit; no commit when the table does not exist. Files holding matching rows are
    /// rewritten without them; the old files stay for time travel until a vacuum.
    pub async fn delete_where(
        &self,
        t: &TableRef,
        kind: TableKind,
        predicate: &str,
        declared: &[String],
        mark: (&str, &str),
    ) -> Result<Rewritten, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(Rewritten::default());
        };
        let (expr, _) = condition(&name, &table, predicate, declared).await?;
        let before = table.version();
        let (table, metrics) = table
            .delete()
            .with_predicate(expr)
            .with_commit_properties(properties(mark))
            .await
            .map_err(delta_err(&name))?;
        let version = made_version(&table, before);
        Ok(Rewritten {
            version,
            removed: metrics.num_deleted_rows.unwrap_or(0) as u64,
            added: 0,
        })
    }

    /// The columns `predicate` (SQL over the columns of `t`, or of `declared` the stored table
    /// does not have yet) reads, once it is known to be a valid condition on the table
    /// (planned as a filter over it); `None` if the table was never created.
    pub async fn predicate_columns(
        &self,
        t: &TableRef,
        kind: TableKind,
        predicate: &str,
        declared: &[String],
    ) -> Result<Option<Vec<String>>, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(None);
        };
        let (_, columns) = condition(&name, &table, predicate, declared).await?;
        Ok(Some(columns))
    }

    /// Compacts the small files of `t` into larger ones (delta-rs `optimize`); the rows do not
    /// change. No commit when there is nothing to compact.
    pub async fn optimize(
        &self,
        t: &TableRef,
        kind: TableKind,
        mark: (&str, &str),
    ) -> Result<Rewritten, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(Rewritten::default());
        };
        let before = table.version();
        let (table, metrics) = table
            .optimize()
            .with_commit_properties(properties(mark))
            .await
            .map_err(delta_err(&name))?;
        Ok(Rewritten {
            version: made_version(&table, before),
            removed: metrics.num_files_removed,
            added: metrics.num_files_added,
        })
    }

    /// Deletes the data files of `t` that its latest version no longer references and that
    /// were removed longer than `retain` ago (delta-rs `vacuum`): versions older than that can
    /// no longer be read by time travel.
    pub async fn vacuum_removed(
        &self,
        t: &TableRef,
        kind: TableKind,
        retain: chrono::Duration,
        mark: (&str, &str),
    ) -> Result<Rewritten, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(Rewritten::default());
        };
        let before = table.version();
        let (table, metrics) = table
            .vacuum()
            .with_mode(VacuumMode::Lite)
            .with_retention_period(retain)
            .with_enforce_retention_duration(false)
            .with_commit_properties(properties(mark))
            .await
            .map_err(delta_err(&name))?;
        Ok(Rewritten {
            version: made_version(&table, before),
            removed: metrics.files_deleted.len() as u64,
            added: 0,
        })
    }

    /// Leaves no trace of earlier versions of `t`: deletes every data file the latest version
    /// does not reference, every change-data file (the rows a commit deleted or updated, its
    /// own included), the governed files shares were served of the table, writes a
    /// checkpoint of the latest version and deletes the log entries before it (their commit
    /// details and file statistics may hold values of deleted rows). Time travel and the
    /// change feed of earlier versions end here ([`TableStore::first_change_version`]).
    pub async fn purge_history(
        &self,
        t: &TableRef,
        kind: TableKind,
        mark: (&str, &str),
    ) -> Result<Rewritten, StorageError> {
        let name = t.to_string();
        let vacuumed = self
            .vacuum_removed(t, kind, chrono::Duration::zero(), mark)
            .await?;
        let Some(table) = self.open(t, kind).await? else {
            return Ok(vacuumed);
        };
        if kind == TableKind::Product {
            for dir in [
                self.location_dir(t, kind)?
                    .join(crate::change_feed::CHANGE_DATA_DIR),
                self.root().join(crate::shared_files::governed_table_dir(t)),
            ] {
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(StorageError::Location {
                            path: dir.display().to_string(),
                            reason: format!("could not remove it: {e}"),
                        });
                    }
                }
            }
        }
        deltalake::checkpoints::create_checkpoint(&table, None)
            .await
            .map_err(delta_err(&name))?;
        let latest = table.version().unwrap_or(0);
        // Every log entry before the checkpoint goes, however recent: the cut-off is now.
        let cutoff = chrono::Utc::now().timestamp_millis() + 1_000;
        deltalake::checkpoints::cleanup_expired_logs_for(
            latest,
            table.log_store().as_ref(),
            cutoff,
            None,
        )
        .await
        .map_err(delta_err(&name))?;
        Ok(vacuumed)
    }

    /// The versions of `t` whose commits could change its rows (appends, merges, overwrites,
    /// deletes, compactions), oldest first; a purge leaves only those after it.
    pub async fn data_versions(
        &self,
        t: &TableRef,
        kind: TableKind,
    ) -> Result<Vec<u64>, StorageError> {
        let mut versions: Vec<u64> = self
            .commits(t, kind, None)
            .await?
            .into_iter()
            .filter(|(_, c)| {
                c.operation
                    .as_deref()
                    .is_some_and(|op| DATA_OPERATIONS.contains(&op))
            })
            .map(|(version, _)| version)
            .collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// The rows of the `kind` table of `t` that match `predicate` (SQL over its columns), every
    /// column as stored; none if the table was never created. For rows the caller has chosen
    /// through a governed read and must now move whole (a quarantine's re-admitted rows).
    pub async fn select_where(
        &self,
        t: &TableRef,
        kind: TableKind,
        predicate: &str,
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(Vec::new());
        };
        let (_ctx, df) = read_whole(&name, &table).await?;
        let expr = df
            .parse_sql_expr(predicate)
            .map_err(datafusion_err(&name))?;
        df.filter(expr)
            .map_err(datafusion_err(&name))?
            .collect()
            .await
            .map_err(datafusion_err(&name))
    }

    /// The values of `columns` in every row of the `kind` table of `t` (none if it was never
    /// created), streamed batch by batch to `each`.
    pub async fn scan_columns<E: From<StorageError>>(
        &self,
        t: &TableRef,
        kind: TableKind,
        columns: &[String],
        mut each: impl FnMut(&RecordBatch) -> Result<(), E>,
    ) -> Result<(), E> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(());
        };
        let (_ctx, df) = read_whole(&name, &table).await?;
        let selected: Vec<&str> = columns.iter().map(String::as_str).collect();
        let df = df
            .select_columns(&selected)
            .map_err(datafusion_err(&name))?;
        let mut stream = df.execute_stream().await.map_err(datafusion_err(&name))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| datafusion_err(&name)(e))?;
            each(&batch)?;
        }
        Ok(())
    }
}
