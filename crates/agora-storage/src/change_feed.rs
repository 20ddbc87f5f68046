//! A product table's row changes, commit by commit: Delta Lake's change data feed, which
//! product tables record from their first version on (`TableStore::ensure`). delta-rs reads
//! it, from the change-data files a commit wrote (updates, deletes, merges) or else from the
//! files it added and removed (appends, overwrites).

use std::sync::Arc;

use datafusion::datasource::TableProvider;
use deltalake::DeltaTable;
use deltalake::delta_datafusion::DeltaCdfTableProvider;

use agora_model::TableRef;

use crate::table_store::delta_err;
use crate::{StorageError, TableKind, TableStore};

/// The column naming what a row of the change feed is: `insert`, `delete`,
/// `update_preimage` or `update_postimage`.
pub const CHANGE_TYPE: &str = "_change_type";
/// The column naming the commit version of a change.
pub const COMMIT_VERSION: &str = "_commit_version";
/// The column holding the commit time of a change.
pub const COMMIT_TIMESTAMP: &str = "_commit_timestamp";

/// The directory of a Delta table's change-data files.
pub(crate) const CHANGE_DATA_DIR: &str = "_change_data";

impl TableStore {
    /// The first version of product table `t` whose changes can still be read: 0, or the one
    /// after the commit a purge kept as the table's earliest (its change data, and all before
    /// it, are gone: `TableStore::purge_history`).
    pub fn first_change_version(&self, t: &TableRef) -> Result<u64, StorageError> {
        let log = self.location_dir(t, TableKind::Product)?.join("_delta_log");
        let entries = std::fs::read_dir(&log).map_err(|e| StorageError::Location {
            path: log.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut earliest: Option<u64> = None;
        for entry in entries {
            let entry = entry.map_err(|e| StorageError::Location {
                path: log.display().to_string(),
                reason: e.to_string(),
            })?;
            let name = entry.file_name();
            let version = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(v) = version {
                earliest = Some(earliest.map_or(v, |e| e.min(v)));
            }
        }
        Ok(match earliest {
            None | Some(0) => 0,
            Some(v) => v + 1,
        })
    }
}

/// Whether `table`, at the version it is loaded at, records its row changes.
pub fn records_changes(table: &DeltaTable) -> Result<bool, StorageError> {
    let name = table.table_url().to_string();
    let snapshot = table.snapshot().map_err(delta_err(&name))?;
    Ok(snapshot
        .metadata()
        .configuration()
        .get("delta.enableChangeDataFeed")
        .is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

/// The rows commit `version` of `table` changed, as a table of the table's columns and
/// [`CHANGE_TYPE`], [`COMMIT_VERSION`], [`COMMIT_TIMESTAMP`]. `table` must be loaded at
/// `version` or later.
pub fn change_feed_provider(
    table: &DeltaTable,
    version: u64,
) -> Result<Arc<dyn TableProvider>, StorageError> {
    let name = table.table_url().to_string();
    let builder = table
        .clone()
        .scan_cdf()
        .with_starting_version(version)
        .with_ending_version(version);
    Ok(Arc::new(
        DeltaCdfTableProvider::try_new(builder).map_err(delta_err(&name))?,
    ))
}
