//! The write path of a mesh: a source is decoded into Arrow batches of raw values, which flow
//! through a pipeline of [`Stage`]s and end in one Delta commit per table.
//!
//! 1. **decode** ([`Source`], [`InputFormat`]): CSV, JSON lines, Parquet or Arrow IPC, read
//!    once in a blocking thread that hashes what it reads; a malformed file is refused whole.
//! 2. **validate** ([`Validation`]): types, required values, enumerations, uniqueness; failing
//!    rows go on as rejected rows, with their reasons and source position.
//! 3. **classify** ([`Classify`]): a sample of each column is classified; the automatic tags it
//!    decides ([`TagDecision`]) are known to the stages after it.
//! 4. **store hashes** ([`StoreHashes`]): the stored hash column of each column some reader
//!    sees hashed is appended to the accepted rows.
//! 5. **commit** ([`Commit`]): accepted rows to the product table, rejected ones to its
//!    quarantine table, one Delta commit each.
//!
//! Stages share an [`IngestContext`]; a stage may hold batches back (classification does until
//! its sample is complete). What the mesh does around the pipeline — grants, the catalog
//! record, the ledger entry — is the mesh's. [`classify_file`] classifies a file with the same
//! decoders without ingesting it.
//!
//! ```no_run
//! # async fn demo(table: agora_model::TableRef, contract: agora_model::ContractTable) -> Result<(), agora_ingest::IngestError> {
//! use agora_ingest::{Ingest, Source};
//! let store = agora_storage::TableStore::new("agora-data".as_ref());
//! let outcome = Ingest {
//!     table,
//!     contract,
//!     source: Source::File("orders.csv".into()),
//!     format: None,
//!     actor: agora_model::Name::strict("principal", "alice").unwrap(),
//!     tags: Vec::new(),
//!     policies: Default::default(),
//!     mask_key: agora_policy::MaskKey::new([7; 32]),
//!     progress: None,
//! }
//! .run(&store)
//! .await?;
//! println!("version {:?}", outcome.committed.version);
//! # Ok(()) }
//! ```

mod classify;
mod commit;
mod decode;
mod error;
mod source;
mod stage;
mod store_hashes;
mod tags;
mod validate;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agora_model::{ColumnTag, ContractTable, Name, TableRef};
use agora_policy::{MaskKey, PolicySet};
use agora_storage::{TableKind, TableStore};
use tokio::sync::mpsc;
use tracing::Instrument;

pub use classify::{Classify, classify_file};
pub use commit::Commit;
pub use decode::InputFormat;
pub use error::IngestError;
pub use source::Source;
pub use stage::{ClassificationOutcome, Committed, IngestContext, Stage, StagedBatch};
pub use store_hashes::StoreHashes;
pub use tags::TagDecision;
pub use validate::{
    QUARANTINE_INGEST, QUARANTINE_REASON, QUARANTINE_ROW, QUARANTINE_SOURCE, Validation,
};

use decode::{Columns, RawBatch};

/// One ingest of `source` into the product table `table`.
pub struct Ingest {
    pub table: TableRef,
    /// The table as its product's contract defines it.
    pub contract: ContractTable,
    pub source: Source,
    /// The input format; by default the file name decides.
    pub format: Option<InputFormat>,
    /// Who ingests: named by the tags the classification decides.
    pub actor: Name,
    /// The table's column tags before the ingest.
    pub tags: Vec<ColumnTag>,
    /// The policies in force, which decide the stored hashes.
    pub policies: PolicySet,
    pub mask_key: MaskKey,
    /// Called with the number of bytes read so far, for a progress bar.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

/// What an ingest did.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub source: String,
    pub rows_read: u64,
    /// SHA-256 of the source as read.
    pub input_sha256: String,
    pub committed: Committed,
    pub classification: ClassificationOutcome,
}

impl Ingest {
    /// Runs the pipeline: every stage of the module docs, then one commit per table.
    pub async fn run(self, store: &TableStore) -> Result<IngestOutcome, IngestError> {
        let format = self.source.format(self.format)?;
        let source_name = self.source.name();
        let schema = self.contract.arrow_schema();
        let product = store
            .ensure(&self.table, TableKind::Product, schema.clone())
            .await?;
        let product = store.appender(product)?;
        let (table_columns, table_has_rows) = (product.columns()?, product.has_rows()?);
        let ingest_id = format!("{}-{:08x}", now(), rand::random::<u32>());
        let mut stages: Vec<Box<dyn Stage>> = vec![
            Box::new(Validation::new(
                self.contract.clone(),
                schema,
                ingest_id,
                source_name.clone(),
            )),
            Box::new(Classify::new(self.tags, self.actor)),
            Box::new(StoreHashes::new(
                self.mask_key,
                self.policies,
                self.contract.clone(),
                table_columns.clone(),
                table_has_rows,
            )),
            Box::new(Commit::new(
                store.clone(),
                self.table.clone(),
                product,
                table_columns,
            )),
        ];
        let mut context = IngestContext {
            table: self.table,
            source: source_name.clone(),
            classification: None,
            committed: None,
        };

        let read = Arc::new(AtomicU64::new(0));
        let (tx, mut rx) = mpsc::channel::<RawBatch>(4);
        let decoder = {
            let (read, source, contract) = (read.clone(), self.source, self.contract);
            tokio::task::spawn_blocking(move || {
                source::decode_source(source, format, Columns::Contract(&contract), read, |raw| {
                    tx.blocking_send(raw).map_err(|_| {
                        IngestError::Internal("the ingest stopped while decoding".into())
                    })?;
                    Ok(ControlFlow::Continue(()))
                })
            })
        };
        let mut rows_read = 0u64;
        while let Some(raw) = rx.recv().await {
            rows_read += raw.batch.num_rows() as u64;
            let staged = StagedBatch {
                raw: raw.batch,
                first_row: raw.first_row,
                accepted: None,
                rejected: None,
            };
            run_stages(&mut stages, vec![staged], &mut context).await?;
            if let Some(progress) = &self.progress {
                progress(read.load(Ordering::Relaxed));
            }
        }
        let input_sha256 = decoder
            .await
            .map_err(|e| IngestError::Internal(format!("the decoder thread failed: {e}")))??;
        // Each stage lets go of what it holds, through the stages after it, before they finish.
        for i in 0..stages.len() {
            let held = stages[i].finish(&mut context).await?;
            run_stages(&mut stages[i + 1..], held, &mut context).await?;
        }
        let missing =
            |what: &str| IngestError::Internal(format!("the ingest ended without {what}"));
        Ok(IngestOutcome {
            source: source_name,
            rows_read,
            input_sha256,
            committed: context.committed.ok_or_else(|| missing("a commit"))?,
            classification: context
                .classification
                .ok_or_else(|| missing("a classification"))?,
        })
    }
}

/// Passes `batches` through `stages` in order.
async fn run_stages(
    stages: &mut [Box<dyn Stage>],
    mut batches: Vec<StagedBatch>,
    context: &mut IngestContext,
) -> Result<(), IngestError> {
    for stage in stages {
        let mut next = Vec::with_capacity(batches.len());
        for batch in batches {
            let span = tracing::debug_span!("stage", stage = stage.name());
            next.extend(stage.apply(batch, context).instrument(span).await?);
        }
        batches = next;
    }
    Ok(())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
