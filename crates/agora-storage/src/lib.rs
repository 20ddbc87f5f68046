//! Where product data lives: one Delta Lake table per product table, plus a quarantine table
//! for the rows that failed validation and a table of its quality results, on a local directory (delta-rs over `object_store`);
//! and how SQL scans them ([`delta_table_provider`]: delta-rs's scan with the table's column
//! statistics from the Delta log, which the join planner needs).
//!
//! Layout under the mesh directory:
//! `tables/<domain>/<table>/` (the product table), `quarantine/<domain>/<table>/` and
//! `quality/<domain>/<table>/` ([`quality_results`]).
//!
//! Writes stream: an [`Appender`] encodes batches into Parquet files as they arrive and makes
//! them visible with a single Delta commit in [`Appender::commit`]. Files written before a
//! crash are never referenced by the log, so the table stays at its previous version.
//!
//! Rewrites (`rewrites.rs`) are delta-rs's own operations, one marked commit each: a merge by
//! primary key or an overwrite from a staging table (`staging/<ingest id>/`), a delete by
//! condition, compaction, vacuum, and the purge that leaves no earlier version of a table on
//! disk. A suggested correction is an update of the rows holding the values it fixes, and its
//! revert a merge of the rows of the version before it (`corrections.rs`).
//!
//! Product tables record their row changes from their first version on (Delta's change data
//! feed, [`change_feed_provider`]). For Delta Sharing, `shared_files.rs` lists the data files
//! of a table version and writes the governed files a share serves instead where a recipient
//! sees the table masked or filtered (`share_cache/`).
//!
//! ```no_run
//! # async fn demo(batch: arrow::record_batch::RecordBatch) -> Result<(), agora_storage::StorageError> {
//! use agora_storage::{TableStore, TableKind};
//! let store = TableStore::new("agora-data".as_ref());
//! let table_ref = agora_model::TableRef::parse("sales.orders").unwrap();
//! let table = store.ensure(&table_ref, TableKind::Product, batch.schema()).await?;
//! let mut appender = store.appender(table)?;
//! appender.write(batch).await?;
//! let version = appender.commit().await?;
//! # Ok(()) }
//! ```

mod change_feed;
mod corrections;
mod delta_scan;
mod error;
pub mod quality_results;
mod rewrites;
mod shared_files;
mod table_store;

pub use change_feed::{
    CHANGE_TYPE, COMMIT_TIMESTAMP, COMMIT_VERSION, change_feed_provider, records_changes,
};
pub use corrections::{RevertMatch, RevertSpec};
pub use delta_scan::{VisibleStatistics, delta_table_provider};
pub use error::StorageError;
pub use quality_results::{events_schema, metrics_schema, quality_results_schema};
pub use rewrites::{MergeCounts, Rewritten};
pub use shared_files::{
    DataFile, delta_schema_json, governed_changes_dir, governed_dir, governed_files,
    write_governed_files,
};
pub use table_store::{
    Appender, QUARANTINE_INGEST, QUARANTINE_REASON, QUARANTINE_ROW, QUARANTINE_SOURCE, TableKind,
    TableStore, VersionInfo, arrow_schema_of,
};

/// Re-exported so that upper crates use exactly the Delta Lake version storage uses.
pub use deltalake;
