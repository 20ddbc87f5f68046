//! Every change to the mesh in one order, so none is ever in the catalog without its ledger
//! entries: (1) the catalog change and a pending record of the entries it owes, in one SQLite
//! transaction; (2) the entries appended to the log, each carrying the pending record's intent;
//! (3) the pending record removed. A crash after (1) leaves a pending record; the next open
//! finishes it ([`Mesh::recover`]) — it appends the entries unless the log already holds one
//! with the intent, so nothing is recorded twice. Ingests add a Delta commit between (1) and
//! (2); their recovery lives with them (`ingest.rs`), as does that of deletes, erasures,
//! compactions and vacuums (`table_changes.rs`).

use std::fs::File;
use std::path::Path;

use agora_catalog::{Change, PendingRecord};
use agora_ledger::{Appended, failpoint};

use crate::keys::io;
use crate::pending::Payload;
use crate::recorder::Event;
use crate::{Mesh, MeshError};

/// This process: its id and its start time (clock ticks since boot, from `/proc`), which
/// together name it even after the id is reused.
pub(crate) fn this_process() -> (u32, u64) {
    let pid = std::process::id();
    (pid, process_start(pid).unwrap_or(0))
}

fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that wrote a pending record may still be finishing it.
fn still_running(pid: u32, started: u64) -> bool {
    process_start(pid).is_some_and(|s| s == started)
}

impl Mesh {
    /// Makes `changes` in the catalog and records `events` for them, in the order of the module
    /// docs.
    pub(crate) async fn change(
        &self,
        changes: Vec<Change>,
        events: Vec<Event>,
    ) -> Result<Appended, MeshError> {
        let payload = Payload {
            events,
            ingest: None,
            table_change: None,
        };
        let (id, pending) = self.begin_change(&changes, &payload).await?;
        failpoint("change.after_catalog");
        let appended = self
            .recorder
            .record(payload.events, Some(pending.intent))
            .await?;
        failpoint("change.after_ledger");
        self.catalog.complete(id, &[]).await?;
        Ok(appended)
    }

    /// Step (1): the changes and their pending record, in one transaction.
    pub(crate) async fn begin_change(
        &self,
        changes: &[Change],
        payload: &Payload,
    ) -> Result<(i64, PendingRecord), MeshError> {
        let (pid, process_start) = this_process();
        let pending = PendingRecord {
            intent: format!("{}-{:016x}", crate::now(), rand::random::<u64>()),
            payload: serde_json::to_string(payload)
                .map_err(|e| MeshError::Internal(format!("a pending change: {e}")))?,
            log_size: self.log().size()?,
            pid,
            process_start,
            created_at: crate::now(),
        };
        let id = self
            .catalog
            .apply(changes, Some(&pending))
            .await?
            .ok_or_else(|| MeshError::Internal("the catalog kept no pending record".into()))?;
        Ok((id, pending))
    }

    /// Finishes every change a crashed process left half-done (see the module docs). Runs on
    /// open, one process at a time.
    pub(crate) async fn recover(&self) -> Result<(), MeshError> {
        let pending = self.catalog.pending().await?;
        if pending.is_empty() {
            return Ok(());
        }
        let _lock = lock(&self.dir.join(".recovery.lock"))?;
        for (id, record) in self.catalog.pending().await? {
            if still_running(record.pid, record.process_start) {
                continue;
            }
            let payload: Payload = serde_json::from_str(&record.payload).map_err(|e| {
                MeshError::Internal(format!("pending change {}: {e}", record.intent))
            })?;
            tracing::warn!(intent = %record.intent, "finishing a change a crash interrupted");
            match (payload.ingest, payload.table_change) {
                (Some(intent), _) => self.recover_ingest(id, &record, intent).await?,
                (None, Some(intent)) => self.recover_table_change(id, &record, intent).await?,
                (None, None) => {
                    if !self
                        .recorder
                        .has_intent(record.log_size, &record.intent)
                        .await?
                    {
                        self.recorder
                            .record(payload.events, Some(record.intent.clone()))
                            .await?;
                    }
                    self.catalog.complete(id, &[]).await?;
                }
            }
        }
        Ok(())
    }

    /// The changes a crash left that this process could not finish (another one is still
    /// running them, or they failed again), for `agora ledger verify` to report.
    pub async fn unfinished_changes(&self) -> Result<Vec<String>, MeshError> {
        Ok(self
            .catalog
            .pending()
            .await?
            .into_iter()
            .map(|(_, r)| format!("{} (since {}, process {})", r.intent, r.created_at, r.pid))
            .collect())
    }
}

/// An exclusive lock on `path`, held while the file stays open.
pub(crate) fn lock(path: &Path) -> Result<File, MeshError> {
    let file = lock_file(path)?;
    file.lock().map_err(io(path))?;
    Ok(file)
}

/// The lock file at `path` (created if missing), not locked yet.
pub(crate) fn lock_file(path: &Path) -> Result<File, MeshError> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(path))
}
