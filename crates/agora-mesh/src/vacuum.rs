//! Orphaned data files: Parquet files an ingest wrote but never committed (it failed, or its
//! process died), which no version of any table references, and the staging tables of merges
//! and overwrites that never finished.
//!
//! Every ingest holds the mesh's writers lock shared from before it writes its first file until
//! its commit is recorded, and leaves a marker in `.writing/` for as long as it runs. Removing
//! orphans takes the lock exclusively, so it never sees the files of an ingest still under
//! way: `agora vacuum` waits for running ingests, and on open the mesh removes the orphans of
//! the tables whose markers a failed or dead ingest left, if no ingest is running then.
//!
//! Removing orphans changes no data (no version ever referenced them), so it has no ledger entry.

use std::fs::File;
use std::path::PathBuf;

use agora_model::{Principal, TableRef};
use agora_storage::TableKind;
use serde::Serialize;

use crate::changes::{lock, lock_file};
use crate::keys::io;
use crate::{Mesh, MeshError};

pub(crate) const WRITERS_LOCK: &str = ".writers.lock";
const WRITING_DIR: &str = ".writing";

/// What a vacuum removed.
#[derive(Debug, Clone, Serialize)]
pub struct VacuumReport {
    /// `domain.table` and the files removed from it (relative to the table's directory).
    pub removed: Vec<(String, Vec<String>)>,
}

/// An ingest under way: its shared hold on the writers lock and its marker. Dropping it after
/// a successful commit removes the marker; a failed ingest keeps the marker for the next
/// cleanup.
pub(crate) struct Writing {
    _lock: File,
    marker: PathBuf,
}

impl Writing {
    pub(crate) fn succeeded(self) {
        let _ = std::fs::remove_file(&self.marker);
    }
}

impl Mesh {
    /// Starts writing into `tables` for the ingest (or table change) `ingest_id` (see the
    /// module docs).
    pub(crate) fn start_writing(
        &self,
        tables: &[TableRef],
        ingest_id: &str,
    ) -> Result<Writing, MeshError> {
        let path = self.dir.join(WRITERS_LOCK);
        let file = lock_file(&path)?;
        file.lock_shared().map_err(io(&path))?;
        let dir = self.dir.join(WRITING_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let marker = dir.join(ingest_id);
        let names: Vec<String> = tables.iter().map(ToString::to_string).collect();
        std::fs::write(&marker, names.join("\n")).map_err(io(&marker))?;
        Ok(Writing {
            _lock: file,
            marker,
        })
    }

    /// Removes the orphaned files of every product table and its quarantine, waiting for the
    /// ingests under way. Administrators only.
    pub async fn vacuum(&self, actor: &Principal) -> Result<VacuumReport, MeshError> {
        if !actor.is_admin {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: "vacuum the mesh (administrators only)".to_string(),
            });
        }
        let _lock = lock(&self.dir.join(WRITERS_LOCK))?;
        let mut tables = Vec::new();
        for product in self.catalog.products().await? {
            for table in &product.tables {
                tables.push(TableRef {
                    domain: product.domain.clone(),
                    table: table.clone(),
                });
            }
        }
        let report = self.remove_orphans(&tables).await?;
        // No ingest runs while the lock is held: every staging table left is a failed one's.
        for ingest_id in self.store.staged_ingests() {
            self.store.remove_staging(&ingest_id)?;
        }
        self.clear_markers()?;
        Ok(report)
    }

    /// On open: removes the orphans of the tables failed ingests left markers for, unless an
    /// ingest is running (then a later open does it).
    pub(crate) async fn vacuum_after_failures(&self) -> Result<(), MeshError> {
        let dir = self.dir.join(WRITING_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        let markers: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        if markers.is_empty() {
            return Ok(());
        }
        let file = lock_file(&self.dir.join(WRITERS_LOCK))?;
        if file.try_lock().is_err() {
            return Ok(());
        }
        let mut tables = Vec::new();
        for marker in &markers {
            let names = std::fs::read_to_string(marker).map_err(io(marker))?;
            for name in names.lines() {
                if let Ok(table) = TableRef::parse(name.trim())
                    && !tables.contains(&table)
                {
                    tables.push(table);
                }
            }
        }
        let report = self.remove_orphans(&tables).await?;
        for (table, files) in &report.removed {
            tracing::warn!(
                table = %table,
                files = files.len(),
                "removed the files of an ingest that did not commit"
            );
        }
        self.clear_markers()
    }

    async fn remove_orphans(&self, tables: &[TableRef]) -> Result<VacuumReport, MeshError> {
        let mut removed = Vec::new();
        for table in tables {
            for kind in [
                TableKind::Product,
                TableKind::Quarantine,
                TableKind::Quality,
                TableKind::Metrics,
                TableKind::Events,
            ] {
                let files = self.store.remove_orphans(table, kind).await?;
                if !files.is_empty() {
                    let name = match kind {
                        TableKind::Product => table.to_string(),
                        TableKind::Quarantine => format!("{table} (quarantine)"),
                        TableKind::Quality => format!("{table} (quality results)"),
                        TableKind::Metrics => format!("{table} (batch metrics)"),
                        TableKind::Events => format!("{table} (flagged events)"),
                    };
                    removed.push((name, files));
                }
            }
        }
        Ok(VacuumReport { removed })
    }

    /// Removes every marker; the caller holds the writers lock exclusively.
    fn clear_markers(&self) -> Result<(), MeshError> {
        let dir = self.dir.join(WRITING_DIR);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            // A marker is named by its ingest, whose staging table (merges, overwrites) goes too.
            if let Some(ingest_id) = entry.file_name().to_str() {
                self.store.remove_staging(ingest_id)?;
            }
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        Ok(())
    }
}
