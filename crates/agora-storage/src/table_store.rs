//! Delta tables in a directory: create, evolve, append, open at a version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use agora_model::TableRef;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitConflictError, CommitProperties, TransactionError};
use deltalake::kernel::{CommitInfo, StructField};
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use deltalake::{DeltaTable, DeltaTableError};
use futures::StreamExt;
use url::Url;

use crate::StorageError;

/// Which of a product table's Delta tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// The rows that passed validation: what SQL reads.
    Product,
    /// The rows that failed, as text, with the reason and source position.
    Quarantine,
    /// The verdicts of the table's quality rules, one row per rule per ingest
    /// ([`crate::quality_results`]).
    Quality,
    /// The batch metrics of every ingest, one row per metric ([`crate::quality_results`]).
    Metrics,
    /// The events the streaming detector flagged, one row per flagged value
    /// ([`crate::quality_results::events_schema`]).
    Events,
}

/// Column names Agora gives a quarantine table ahead of the source's values (kept as text).
pub const QUARANTINE_INGEST: &str = "_ingest_id";
pub const QUARANTINE_SOURCE: &str = "_source";
pub const QUARANTINE_ROW: &str = "_row";
pub const QUARANTINE_REASON: &str = "_reason";

/// The schema of a Delta table at its loaded version, in Arrow terms.
pub fn arrow_schema_of(table: &DeltaTable) -> Result<SchemaRef, StorageError> {
    let name = table.table_url().to_string();
    Ok(table
        .snapshot()
        .map_err(delta_err(&name))?
        .snapshot()
        .arrow_schema())
}

impl TableKind {
    fn dir(self) -> &'static str {
        match self {
            TableKind::Product => "tables",
            TableKind::Quarantine => "quarantine",
            TableKind::Quality => "quality",
            TableKind::Metrics => "metrics",
            TableKind::Events => "event_flags",
        }
    }
}

/// One commit of a table's history.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    pub version: u64,
    pub timestamp_ms: Option<i64>,
    pub operation: Option<String>,
}

/// The Delta tables of one mesh directory.
///
/// Opened tables are cached: the next open only reads the log entries written since (by this
/// process or any other), instead of replaying the log, so a query pays for new commits only.
#[derive(Debug, Clone)]
pub struct TableStore {
    pub(crate) root: PathBuf,
    opened: Arc<Mutex<HashMap<Url, DeltaTable>>>,
}

pub(crate) fn delta_err(table: &str) -> impl FnOnce(DeltaTableError) -> StorageError + '_ {
    move |source| StorageError::Delta {
        table: table.to_string(),
        source: Box::new(source),
    }
}

impl TableStore {
    pub fn new(root: &Path) -> Self {
        TableStore {
            root: root.to_path_buf(),
            opened: Arc::default(),
        }
    }

    fn cached(&self, url: &Url) -> Option<DeltaTable> {
        let opened = self
            .opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        opened.get(url).cloned()
    }

    fn remember(&self, url: Url, table: &DeltaTable) {
        let mut opened = self
            .opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        opened.insert(url, table.clone());
    }

    /// The directory of the `kind` table of `t`, created if need be.
    pub(crate) fn location_dir(
        &self,
        t: &TableRef,
        kind: TableKind,
    ) -> Result<PathBuf, StorageError> {
        // Names are strict identifiers (agora_model::Name), so they cannot climb out of the root.
        let dir = self
            .root
            .join(kind.dir())
            .join(t.domain.as_str())
            .join(t.table.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::Location {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(dir)
    }

    fn location(&self, t: &TableRef, kind: TableKind) -> Result<Url, StorageError> {
        let dir = self.location_dir(t, kind)?;
        let dir = dir.canonicalize().map_err(|e| StorageError::Location {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        Url::from_directory_path(&dir).map_err(|()| StorageError::Location {
            path: dir.display().to_string(),
            reason: "not an absolute path".into(),
        })
    }

    /// Opens a table at its latest version, or `None` if it was never created.
    pub async fn open(
        &self,
        t: &TableRef,
        kind: TableKind,
    ) -> Result<Option<DeltaTable>, StorageError> {
        let name = t.to_string();
        let url = self.location(t, kind)?;
        let table = match self.cached(&url) {
            Some(mut table) => {
                table
                    .update_incremental(None)
                    .await
                    .map_err(delta_err(&name))?;
                table
            }
            None => DeltaTable::try_from_url(url.clone())
                .await
                .map_err(delta_err(&name))?,
        };
        if table.version().is_none() {
            return Ok(None);
        }
        self.remember(url, &table);
        Ok(Some(table))
    }

    /// Opens a table as it was at `version`.
    pub async fn open_at(&self, t: &TableRef, version: u64) -> Result<DeltaTable, StorageError> {
        let name = t.to_string();
        let mut table = DeltaTable::try_from_url(self.location(t, TableKind::Product)?)
            .await
            .map_err(delta_err(&name))?;
        match table.load_version(version).await {
            Ok(()) => Ok(table),
            Err(_) if table.version().is_none_or(|v| v < version) => {
                Err(StorageError::NoSuchVersion {
                    table: name,
                    version,
                })
            }
            Err(e) => Err(delta_err(&name)(e)),
        }
    }

    /// Creates the table with `schema` if it does not exist; adds the columns of `schema` it
    /// lacks if it does. Type changes are the caller's business (see [`TableStore::replace`]).
    ///
    /// Two writers may make the same change at once (the first ingests of a new table, both
    /// adding its stored-hash column): the loser's commit conflicts, but the change it wanted
    /// is there, so it looks again instead of failing.
    pub async fn ensure(
        &self,
        t: &TableRef,
        kind: TableKind,
        schema: SchemaRef,
    ) -> Result<DeltaTable, StorageError> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        loop {
            let failed = match self.ensure_once(t, kind, schema.clone()).await {
                Ok(table) => return Ok(table),
                Err(e) => e,
            };
            if let Some(table) = self.open(t, kind).await? {
                let existing = table
                    .snapshot()
                    .map_err(delta_err(&t.to_string()))?
                    .schema();
                if schema
                    .fields()
                    .iter()
                    .all(|f| existing.field(f.name()).is_some())
                {
                    return Ok(table);
                }
            }
            if attempt == ATTEMPTS {
                return Err(failed);
            }
            attempt += 1;
        }
    }

    async fn ensure_once(
        &self,
        t: &TableRef,
        kind: TableKind,
        schema: SchemaRef,
    ) -> Result<DeltaTable, StorageError> {
        let name = t.to_string();
        let err = delta_err(&name);
        let fields = to_delta_fields(&schema).map_err(err)?;
        match self.open(t, kind).await? {
            None => {
                let table = DeltaTable::try_from_url(self.location(t, kind)?)
                    .await
                    .map_err(delta_err(&name))?;
                let create = table
                    .create()
                    .with_table_name(t.table.as_str())
                    .with_columns(fields);
                // A product's row changes are recorded from its first version on, so a share
                // with history can serve them (`crate::change_feed`).
                let create = match kind {
                    TableKind::Product => create.with_configuration_property(
                        deltalake::TableProperty::EnableChangeDataFeed,
                        Some("true"),
                    ),
                    _ => create,
                };
                create.await.map_err(delta_err(&name))
            }
            Some(table) => {
                let existing = table.snapshot().map_err(delta_err(&name))?.schema();
                let missing: Vec<StructField> = fields
                    .into_iter()
                    .filter(|f| existing.field(f.name()).is_none())
                    .collect();
                if missing.is_empty() {
                    return Ok(table);
                }
                table
                    .add_columns()
                    .with_fields(missing)
                    .await
                    .map_err(delta_err(&name))
            }
        }
    }

    /// Replaces the table's schema, keeping its rows: each column of `schema` is read from the
    /// column of the same name, cast to its new type; columns that are gone are dropped. Used
    /// when a contract's major version allows a breaking change. One commit; older versions
    /// stay readable by time travel.
    pub async fn replace(
        &self,
        t: &TableRef,
        schema: SchemaRef,
    ) -> Result<DeltaTable, StorageError> {
        use deltalake::datafusion::prelude::*;
        use deltalake::operations::write::SchemaMode;
        use deltalake::protocol::SaveMode;
        let name = t.to_string();
        let Some(table) = self.open(t, TableKind::Product).await? else {
            return self.ensure(t, TableKind::Product, schema).await;
        };
        let (_ctx, df) = read_whole(&name, &table).await?;
        let old = df.schema().clone();
        let exprs: Vec<Expr> = schema
            .fields()
            .iter()
            .map(|f| {
                let source = if old.has_column_with_unqualified_name(f.name()) {
                    col(format!("\"{}\"", f.name()))
                } else {
                    lit(deltalake::datafusion::scalar::ScalarValue::Null)
                };
                cast(source, f.data_type().clone()).alias(f.name())
            })
            .collect();
        let plan = df
            .select(exprs)
            .map_err(|e| delta_err(&name)(DeltaTableError::from(e)))?
            .into_unoptimized_plan();
        table
            .write(Vec::new())
            .with_input_plan(plan)
            .with_save_mode(SaveMode::Overwrite)
            .with_schema_mode(SchemaMode::Overwrite)
            .await
            .map_err(delta_err(&name))
    }

    /// Starts a streaming append to `table`.
    pub fn appender(&self, table: DeltaTable) -> Result<Appender, StorageError> {
        let name = table.table_url().to_string();
        let writer = RecordBatchWriter::for_table(&table)
            .map_err(delta_err(&name))?
            .with_target_file_size(128 * 1024 * 1024);
        let started_with = writer.arrow_schema();
        Ok(Appender {
            table,
            writer,
            name,
            merge_schema: false,
            started_with,
        })
    }

    /// The table's commits with their versions, newest first (the latest `limit` if given);
    /// none if the table was never created.
    pub(crate) async fn commits(
        &self,
        t: &TableRef,
        kind: TableKind,
        limit: Option<usize>,
    ) -> Result<Vec<(u64, CommitInfo)>, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(Vec::new());
        };
        let latest = table.version().unwrap_or(0);
        let commits: Vec<_> = table.history(limit).collect().await;
        commits
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let c = c.map_err(delta_err(&name))?;
                // A commit names the version it read; the first one reads none.
                let version = c
                    .read_version
                    .map_or(latest.saturating_sub(i as u64), |v| v + 1);
                Ok((version, c))
            })
            .collect()
    }

    /// The version of the table's commit whose metadata holds `mark`, if there is one.
    pub async fn marked_commit(
        &self,
        t: &TableRef,
        kind: TableKind,
        mark: (&str, &str),
    ) -> Result<Option<u64>, StorageError> {
        Ok(self
            .marked_commit_info(t, kind, mark)
            .await?
            .map(|(version, _)| version))
    }

    /// [`Self::marked_commit`] with the commit's information (its operation metrics).
    pub async fn marked_commit_info(
        &self,
        t: &TableRef,
        kind: TableKind,
        mark: (&str, &str),
    ) -> Result<Option<(u64, CommitInfo)>, StorageError> {
        Ok(self
            .commits(t, kind, None)
            .await?
            .into_iter()
            .find(|(_, c)| c.info.get(mark.0).and_then(|v| v.as_str()) == Some(mark.1)))
    }

    /// Removes the data files under the table's directory that no version of its log
    /// references: the Parquet files of ingests that failed or crashed between writing and
    /// committing. Returns their paths, relative to the table.
    ///
    /// The caller must hold the mesh's writers lock exclusively (no ingest may be between
    /// writing its files and committing them). delta-rs finds the orphans (its `Full` vacuum
    /// mode, as a dry run, keeping the files of every version so time travel still works); the
    /// removal is a plain file deletion rather than delta-rs's vacuum commit, so the table gains
    /// no version that would need a ledger entry of its own.
    pub async fn remove_orphans(
        &self,
        t: &TableRef,
        kind: TableKind,
    ) -> Result<Vec<String>, StorageError> {
        let name = t.to_string();
        let Some(table) = self.open(t, kind).await? else {
            return Ok(Vec::new());
        };
        let latest = table.version().unwrap_or(0);
        let every_version: Vec<u64> = (0..=latest).collect();
        let (_, metrics) = table
            .vacuum()
            .with_mode(deltalake::operations::vacuum::VacuumMode::Full)
            .with_retention_period(chrono::Duration::zero())
            .with_enforce_retention_duration(false)
            .with_keep_versions(&every_version)
            .with_dry_run(true)
            .await
            .map_err(delta_err(&name))?;
        let dir = self
            .root
            .join(kind.dir())
            .join(t.domain.as_str())
            .join(t.table.as_str());
        let mut removed = Vec::new();
        for file in metrics.files_deleted {
            let path = dir.join(&file);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StorageError::Location {
                        path: path.display().to_string(),
                        reason: format!("could not remove an orphaned file: {e}"),
                    });
                }
            }
        }
        Ok(removed)
    }

    /// The commits of a table, newest first: the latest `limit`, or all of them.
    pub async fn history(
        &self,
        t: &TableRef,
        limit: Option<usize>,
    ) -> Result<Vec<VersionInfo>, StorageError> {
        Ok(self
            .commits(t, TableKind::Product, limit)
            .await?
            .into_iter()
            .map(|(version, c)| VersionInfo {
                version,
                timestamp_ms: c.timestamp,
                operation: c.operation,
            })
            .collect())
    }
}

/// Converts an Arrow schema to Delta columns; all are nullable so that adding a column to a
/// table with data never fails (required-ness is enforced by validation, not by the file).
pub(crate) fn to_delta_fields(schema: &Schema) -> Result<Vec<StructField>, DeltaTableError> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let f = f.as_ref().clone().with_nullable(true);
            (&f).try_into_kernel().map_err(DeltaTableError::from)
        })
        .collect()
}

/// A streaming append: Parquet files are written as batches arrive; nothing is visible until
/// [`Appender::commit`] writes one Delta log entry for all of them.
pub struct Appender {
    table: DeltaTable,
    writer: RecordBatchWriter,
    name: String,
    merge_schema: bool,
    /// The table's columns when the append started: the writer adds columns (and its commit
    /// carries new metadata) when its schema has more.
    started_with: SchemaRef,
}

impl Appender {
    /// Lets batches add columns the table lacks (used for quarantine tables, whose columns
    /// follow whatever the source files had).
    pub fn with_schema_merge(mut self) -> Self {
        self.merge_schema = true;
        self
    }

    /// The names of the table's columns when the append started.
    pub fn columns(&self) -> Result<Vec<String>, StorageError> {
        let snapshot = self.table.snapshot().map_err(delta_err(&self.name))?;
        Ok(snapshot
            .schema()
            .fields()
            .map(|f| f.name().to_string())
            .collect())
    }

    /// The table's schema when the append started, in Arrow terms.
    pub fn arrow_schema(&self) -> Result<SchemaRef, StorageError> {
        Ok(self
            .table
            .snapshot()
            .map_err(delta_err(&self.name))?
            .snapshot()
            .arrow_schema())
    }

    /// Whether the table had rows (any data file) when the append started.
    pub fn has_rows(&self) -> Result<bool, StorageError> {
        let snapshot = self.table.snapshot().map_err(delta_err(&self.name))?;
        Ok(snapshot.log_data().num_files() > 0)
    }

    pub async fn write(&mut self, batch: RecordBatch) -> Result<(), StorageError> {
        let mode = if self.merge_schema {
            WriteMode::MergeSchema
        } else {
            WriteMode::Default
        };
        self.writer
            .write_with_mode(batch, mode)
            .await
            .map_err(delta_err(&self.name))
    }

    /// Writes every row of `source` (a committed staging table), batch by batch, each in the
    /// source's schema (a scan reads text back as `Utf8View`) and passed through `map`.
    pub async fn write_table(
        &mut self,
        source: &DeltaTable,
        mut map: impl FnMut(RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError>,
    ) -> Result<(), StorageError> {
        let schema = arrow_schema_of(source)?;
        let conform = |batch: RecordBatch| {
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let column = batch.column_by_name(f.name()).ok_or_else(|| {
                        arrow::error::ArrowError::SchemaError(format!(
                            "the scan lacks column `{}`",
                            f.name()
                        ))
                    })?;
                    arrow::compute::cast(column, f.data_type())
                })
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), columns)
        };
        let (_ctx, df) = read_whole(&self.name, source).await?;
        let mut stream = df
            .execute_stream()
            .await
            .map_err(datafusion_err(&self.name))?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(|e| datafusion_err(&self.name)(e))?;
            let batch = conform(batch)
                .and_then(&mut map)
                .map_err(|e| delta_err(&self.name)(DeltaTableError::from(e)))?;
            self.write(batch).await?;
        }
        Ok(())
    }

    /// Makes everything written visible in one commit; returns the new table version.
    pub async fn commit(mut self) -> Result<u64, StorageError> {
        self.flush_and_commit().await
    }

    /// Commits the written files, looking again when another writer changed the table's
    /// metadata meanwhile (Delta refuses such a commit with `MetadataChanged`): the first
    /// ingests of a new product both add its stored-hash columns, and all of them must commit,
    /// each as one version. The commit is tried again on the table as it is now when the files
    /// still fit it: an append that adds no columns needs its columns in the table, one that
    /// adds columns must keep every column the table has now (its metadata replaces the
    /// table's). delta-rs keeps the written files staged after a failed commit, so nothing is
    /// written twice.
    async fn flush_and_commit(&mut self) -> Result<u64, StorageError> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        loop {
            let failed = match self.writer.flush_and_commit(&mut self.table).await {
                Ok(version) => return Ok(version),
                Err(e) => e,
            };
            let metadata_changed = matches!(
                &failed,
                DeltaTableError::Transaction {
                    source: TransactionError::CommitConflict(CommitConflictError::MetadataChanged)
                }
            );
            if !metadata_changed || attempt == ATTEMPTS {
                return Err(delta_err(&self.name)(failed));
            }
            self.table
                .update_incremental(None)
                .await
                .map_err(delta_err(&self.name))?;
            let now = self
                .table
                .snapshot()
                .map_err(delta_err(&self.name))?
                .snapshot()
                .arrow_schema();
            let writing = self.writer.arrow_schema();
            let adds_columns = writing.fields().len() > self.started_with.fields().len();
            let fits = if adds_columns {
                same_columns_within(&now, &writing)
            } else {
                same_columns_within(&writing, &now)
            };
            if !fits {
                let columns: Vec<&str> = now.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(StorageError::ConcurrentChange {
                    table: self.name.clone(),
                    columns: columns.join(", "),
                    source: Box::new(failed),
                });
            }
            attempt += 1;
        }
    }

    /// [`Appender::commit`], returning the table at its new version (a staging table, which a
    /// merge or an overwrite reads next).
    pub async fn commit_table(mut self) -> Result<DeltaTable, StorageError> {
        self.flush_and_commit().await?;
        self.table
            .update_incremental(None)
            .await
            .map_err(delta_err(&self.name))?;
        Ok(self.table)
    }

    /// [`Appender::commit`], with `mark` (a key and a value) in the commit's metadata, so that
    /// [`TableStore::marked_commit`] finds it after a crash.
    pub async fn commit_marked(mut self, mark: (&str, &str)) -> Result<u64, StorageError> {
        let properties = CommitProperties::default().with_metadata([(
            mark.0.to_string(),
            serde_json::Value::String(mark.1.to_string()),
        )]);
        self.writer = self.writer.with_commit_properties(properties);
        self.commit().await
    }
}

/// Whether every column of `inner` is in `outer`, with the same type.
fn same_columns_within(inner: &Schema, outer: &Schema) -> bool {
    inner.fields().iter().all(|f| {
        outer
            .field_with_name(f.name())
            .is_ok_and(|o| o.data_type() == f.data_type())
    })
}

pub(crate) fn datafusion_err(
    table: &str,
) -> impl FnOnce(deltalake::datafusion::error::DataFusionError) -> StorageError + '_ {
    move |e| delta_err(table)(DeltaTableError::from(e))
}

/// A session reading `table` (named `name` in errors) whole, as a DataFrame.
pub(crate) async fn read_whole(
    name: &str,
    table: &DeltaTable,
) -> Result<(SessionContext, deltalake::datafusion::prelude::DataFrame), StorageError> {
    let ctx = SessionContext::new();
    table
        .update_datafusion_session(&ctx.state())
        .map_err(delta_err(name))?;
    let provider = table
        .table_provider()
        .await
        .map_err(|e| delta_err(name)(DeltaTableError::from(e)))?;
    let df = ctx.read_table(provider).map_err(datafusion_err(name))?;
    Ok((ctx, df))
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field};

    use super::*;

    fn batch(schema: &SchemaRef, id: i64) -> RecordBatch {
        let columns = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int64 => Arc::new(arrow::array::Int64Array::from(vec![id])) as _,
                _ => Arc::new(arrow::array::StringArray::from(vec![format!("{id}")])) as _,
            })
            .collect();
        RecordBatch::try_new(schema.clone(), columns).unwrap()
    }

    /// A store in a temporary directory holding the table `d.t` of one column, `id`.
    async fn table_of_ids() -> (tempfile::TempDir, TableStore, TableRef, DeltaTable) {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::new(dir.path());
        let t = TableRef::parse("d.t").unwrap();
        let id = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let table = store.ensure(&t, TableKind::Product, id).await.unwrap();
        (dir, store, t, table)
    }

    #[tokio::test]
    async fn appends_that_add_the_same_column_at_once_each_commit_one_version() {
        let (_dir, store, t, table) = table_of_ids().await;
        let wider = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("hash", DataType::Utf8, true),
        ]));
        // Both start on version 0; the second commits after the first changed the metadata.
        let mut first = store.appender(table.clone()).unwrap().with_schema_merge();
        let mut second = store.appender(table).unwrap().with_schema_merge();
        first.write(batch(&wider, 1)).await.unwrap();
        second.write(batch(&wider, 2)).await.unwrap();
        assert_eq!(first.commit().await.unwrap(), 1);
        assert_eq!(second.commit().await.unwrap(), 2);

        let table = store.open(&t, TableKind::Product).await.unwrap().unwrap();
        let snapshot = table.snapshot().unwrap();
        assert_eq!(snapshot.schema().fields().count(), 2);
        assert_eq!(snapshot.log_data().num_files(), 2);
    }

    #[tokio::test]
    async fn an_append_that_would_drop_a_column_added_meanwhile_fails() {
        let (_dir, store, t, table) = table_of_ids().await;
        let with = |column: &str| {
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, true),
                Field::new(column, DataType::Utf8, true),
            ]))
        };
        let mut hash = store.appender(table.clone()).unwrap().with_schema_merge();
        let mut other = store.appender(table).unwrap().with_schema_merge();
        hash.write(batch(&with("hash"), 1)).await.unwrap();
        other.write(batch(&with("other"), 2)).await.unwrap();
        hash.commit().await.unwrap();
        let err = other.commit().await.unwrap_err().to_string();
        assert!(err.contains("Metadata changed"), "{err}");

        let table = store.open(&t, TableKind::Product).await.unwrap().unwrap();
        let snapshot = table.snapshot().unwrap();
        let columns: Vec<_> = snapshot
            .schema()
            .fields()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(columns, ["id", "hash"]);
        assert_eq!(snapshot.log_data().num_files(), 1);
    }

    #[tokio::test]
    async fn writers_creating_and_widening_a_table_at_once_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let store = TableStore::new(dir.path());
        let one = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let two = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("hash", DataType::Utf8, true),
        ]));
        for n in 0..5 {
            let t = TableRef::parse(&format!("d.t{n}")).unwrap();
            // Both create the table, then both add the same column.
            let (a, b) = tokio::join!(
                store.ensure(&t, TableKind::Product, one.clone()),
                store.ensure(&t, TableKind::Product, one.clone())
            );
            a.unwrap();
            b.unwrap();
            let (a, b) = tokio::join!(
                store.ensure(&t, TableKind::Product, two.clone()),
                store.ensure(&t, TableKind::Product, two.clone())
            );
            let columns = a.unwrap().snapshot().unwrap().schema().fields().count();
            assert_eq!(columns, 2);
            b.unwrap();
        }
    }
}
