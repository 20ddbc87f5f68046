//! Recovery of an ingest a crash interrupted, on the next open (`changes.rs`): the Delta
//! commits carry the ingest's id, so their marks tell whether it happened; a committed ingest
//! is recorded as the ingest would have recorded it, one that did not commit leaves only its
//! tags (they can only have raised labels) and, where its quarantine committed, a rollback
//! entry that keeps the rejected rows traceable.

use agora_catalog::PendingRecord;
use agora_ingest::{COMMIT_METADATA_KEY, Committed, IngestMode};
use agora_model::TableRef;
use agora_storage::{MergeCounts, TableKind};
use serde_json::json;

use crate::pending::IngestIntent;
use crate::recorder::Event;
use crate::{Mesh, MeshError};

impl Mesh {
    /// Finishes an ingest a crash interrupted: if its Delta commit happened (the product
    /// table's, or for an ingest whose every row was quarantined, the quarantine table's), it
    /// is recorded; if not, only its tags stay (they can only have raised labels).
    pub(crate) async fn recover_ingest(
        &self,
        pending_id: i64,
        pending: &PendingRecord,
        intent: IngestIntent,
    ) -> Result<(), MeshError> {
        let table = TableRef::parse(&intent.table)?;
        let mark = (COMMIT_METADATA_KEY, intent.ingest_id.as_str());
        let product = self
            .store
            .marked_commit_info(&table, TableKind::Product, mark)
            .await?;
        let version = product.as_ref().map(|(v, _)| *v);
        let quarantine_version = self
            .store
            .marked_commit(&table, TableKind::Quarantine, mark)
            .await?;
        let product_committed = version.is_some() || intent.rows_accepted == 0;
        if product_committed && (intent.rows_accepted > 0 || quarantine_version.is_some()) {
            let version = match version {
                Some(v) => Some(v),
                None => self
                    .store
                    .open(&table, TableKind::Product)
                    .await?
                    .and_then(|t| t.version()),
            };
            let merged = match (intent.mode, &product) {
                (IngestMode::Merge, Some((v, commit))) => Some(MergeCounts::of_commit(*v, commit)),
                _ => None,
            };
            let committed = Committed {
                version,
                quarantine_version,
                merged,
            };
            let ingest_id = intent.ingest_id.clone();
            self.finish_ingest(pending_id, pending, intent, committed)
                .await?;
            self.store.remove_staging(&ingest_id)?;
            return Ok(());
        }
        if let Some(q) = quarantine_version {
            if intent.readmission.is_some() {
                // The corrected rows stay in the quarantine as they were: not twice.
                self.undo_readmitted_copies(&table, &intent.ingest_id)
                    .await?;
            }
            // The quarantine committed, the product did not: the rejected rows stay traceable.
            if !self
                .recorder
                .has_intent(pending.log_size, &pending.intent)
                .await?
            {
                let event = Event::by_domain(
                    "ingest.rolled_back",
                    &table.domain,
                    json!({
                        "table": intent.table,
                        "source": intent.source,
                        "input_sha256": intent.input_sha256,
                        "quarantine_version": q,
                        "rows_quarantined": intent.rows_quarantined,
                        "by": intent.actor,
                    }),
                );
                self.recorder
                    .record(vec![event], Some(pending.intent.clone()))
                    .await?;
            }
        }
        self.catalog.complete(pending_id, &[]).await?;
        self.store.remove_staging(&intent.ingest_id)?;
        Ok(())
    }
}
