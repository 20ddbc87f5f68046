//! The write path of a mesh: a source is decoded into Arrow batches of raw values, which flow
//! through a pipeline of [`Stage`]s and end in one Delta commit per table.
//!
//! 1. **decode** ([`Source`], [`InputFormat`]): CSV, JSON lines, Parquet or Arrow IPC, read
//!    once in a blocking thread that hashes what it reads; a malformed file is refused whole.
//! 2. **validate** ([`Validation`]): types, required values, enumerations, uniqueness; failing
//!    rows go on as rejected rows, with their reasons and source position.
//! 3. **check rules** ([`CheckRules`]): the contract's ODCS quality rules count what the
//!    accepted rows show; their verdicts are known when the input ends. A failed blocking rule
//!    sends the whole ingest to quarantine, with the rule as reason.
//!    Beside it, **profile** ([`Profile`]) measures the batch metrics of the accepted rows.
//! 4. **classify** ([`Classify`]): a sample of each column is classified; the automatic tags it
//!    decides ([`TagDecision`]) are known to the stages after it.
//! 5. **store hashes** ([`StoreHashes`]): the stored hash column of each column some reader
//!    sees hashed is appended to the accepted rows.
//! 6. **write** ([`Write`]): accepted rows to the product table's files (for a merge or an
//!    overwrite, to a staging table's), rejected ones to its quarantine table's.
//!
//! [`Ingest::prepare`] runs them and returns a [`Prepared`] ingest: everything is decided and
//! written, nothing is visible. The caller stores what must come first (the tags, so that no
//! reader ever sees rows before their labels) and then [`Prepared::commit`]s: one Delta commit
//! per table, carrying the ingest's id, so a recovery can tell whether it happened. The
//! [`IngestMode`] decides the product table's commit: an append of the written files, a
//! delta-rs `MERGE` of the staged rows by primary key, or an overwrite by them.
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
//! let prepared = Ingest {
//!     table,
//!     contract,
//!     source: Source::File("orders.csv".into()),
//!     mode: agora_ingest::IngestMode::Append,
//!     format: None,
//!     ingest_id: "ingest-1".into(),
//!     actor: agora_model::Name::strict("principal", "alice").unwrap(),
//!     tags: Vec::new(),
//!     policies: Default::default(),
//!     mask_key: agora_policy::MaskKey::new([7; 32]),
//!     progress: None,
//! }
//! .prepare(&store)
//! .await?;
//! let committed = prepared.commit().await?;
//! println!("version {:?}", committed.version);
//! # Ok(()) }
//! ```

mod check_rules;
mod classify;
mod decode;
mod error;
mod input_checks;
mod mode;
mod profile;
mod source;
mod stage;
mod store_hashes;
mod tags;
mod validate;
mod write;

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agora_model::{ColumnTag, ContractTable, Name, TableRef};
use agora_policy::{MaskKey, PolicySet};
use agora_quality::{QualityRule, RuleResult};
use agora_storage::deltalake::DeltaTable;
use agora_storage::{Appender, TableKind, TableStore};
use arrow::array::StringArray;
use arrow::record_batch::RecordBatch;
use tokio::sync::mpsc;
use tracing::Instrument;

pub use check_rules::CheckRules;
pub use classify::{Classify, classify_file};
pub use decode::InputFormat;
pub use error::IngestError;
pub use input_checks::MAX_LINE_BYTES;
pub use mode::IngestMode;
pub use profile::Profile;
pub use source::Source;
pub use stage::{ClassificationOutcome, Committed, IngestContext, Stage, StagedBatch, Written};
pub use store_hashes::StoreHashes;
pub use tags::TagDecision;
pub use validate::{
    QUARANTINE_INGEST, QUARANTINE_REASON, QUARANTINE_ROW, QUARANTINE_SOURCE, Validation,
};
pub use write::Write;

use decode::{Columns, RawBatch};

/// One ingest of `source` into the product table `table`.
pub struct Ingest {
    pub table: TableRef,
    /// The table as its product's contract defines it.
    pub contract: ContractTable,
    pub source: Source,
    /// How the accepted rows meet the table's rows.
    pub mode: IngestMode,
    /// The input format; by default the file name decides.
    pub format: Option<InputFormat>,
    /// The ingest's id: in its quarantined rows and in its Delta commits.
    pub ingest_id: String,
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

/// What an ingest read, decided and wrote.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    pub source: String,
    pub rows_read: u64,
    /// SHA-256 of the source as read.
    pub input_sha256: String,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// Quarantine reasons by their shape, with their counts, most frequent first.
    pub quarantine_reasons: Vec<(String, u64)>,
    pub classification: ClassificationOutcome,
    /// Every quality rule of the table and its verdict on the rows validation accepted.
    pub rules: Vec<RuleResult>,
    /// The rows a failed blocking rule sent to quarantine (counted in `rows_quarantined`,
    /// not in `rows_accepted`), and the reason they carry there.
    pub blocked: Option<(u64, String)>,
    /// The batch metrics of the rows validation accepted.
    pub metrics: Vec<agora_quality::BatchMetric>,
    /// The row-level checks of the rows validation accepted.
    pub row_checks: Vec<agora_quality::RowCheck>,
}

/// An ingest whose files are written and whose decisions are known, waiting for its commit:
/// the caller records what must precede the commit (the tags, so that no reader sees the rows
/// before their labels) and then commits.
pub struct Prepared {
    pub outcome: IngestOutcome,
    store: TableStore,
    table: TableRef,
    ingest_id: String,
    mode: IngestMode,
    /// The contract's primary key columns, which a merge matches rows by.
    primary_key: Vec<String>,
    written: Written,
    /// The accepted rows as a staging table: the rows a merge or an overwrite applies, or an
    /// append's when its quality rules read them with SQL before the commit.
    staged: Option<DeltaTable>,
    /// For an append through `staged`: the product table's append.
    append_to: Option<Appender>,
    /// The reason every accepted row goes to quarantine instead, if a blocking rule failed.
    blocked: Option<String>,
}

/// The key of the Delta commit metadata that names an ingest.
pub const COMMIT_METADATA_KEY: &str = "agora.ingest";

impl Prepared {
    /// The accepted rows as a staging table, for the quality rules that read them with SQL
    /// (`None` when no row was accepted, or a rule already blocked them).
    pub fn staged_rows(&self) -> Option<&DeltaTable> {
        self.staged
            .as_ref()
            .filter(|_| self.outcome.rows_accepted > 0)
    }

    /// Records the verdicts of rules the caller judged (the SQL rules, over
    /// [`Prepared::staged_rows`]) in place of their "not evaluated" ones; a failed blocking
    /// rule among them blocks the ingest.
    pub fn judge(&mut self, verdicts: Vec<RuleResult>) {
        for verdict in verdicts {
            if let Some(r) = self
                .outcome
                .rules
                .iter_mut()
                .find(|r| r.place == verdict.place)
            {
                *r = verdict;
            }
        }
        if self.blocked.is_none()
            && let Some(reason) = blocking_reason(&self.outcome.rules)
        {
            self.block(reason);
        }
    }

    /// Sends every accepted row to quarantine with `reason` instead of the product table,
    /// which then stays at its previous version. The product's files stay uncommitted (the
    /// caller removes them).
    fn block(&mut self, reason: String) {
        let rows = self.outcome.rows_accepted;
        self.written.product = None;
        self.staged = None;
        self.append_to = None;
        self.outcome.rows_accepted = 0;
        self.outcome.rows_quarantined += rows;
        if rows > 0 {
            self.outcome
                .quarantine_reasons
                .insert(0, (reason.clone(), rows));
        }
        self.outcome.blocked = Some((rows, reason.clone()));
        self.blocked = Some(reason);
    }

    /// Commits the written files: the quarantine table first, then the product table, each as
    /// one Delta version carrying the ingest's id ([`COMMIT_METADATA_KEY`]).
    pub async fn commit(self) -> Result<Committed, IngestError> {
        let mark = (COMMIT_METADATA_KEY, self.ingest_id.as_str());
        let mut quarantine = self.written.quarantine;
        if let (Some(reason), Some(held)) = (&self.blocked, self.written.held) {
            quarantine =
                Some(quarantine_held(&self.store, &self.table, quarantine, held, reason).await?);
        }
        // Quarantine first: if the process dies between the two commits, the rejected rows are
        // kept and the product is still at its previous version — nothing is lost either way.
        let quarantine_version = match quarantine {
            Some(q) => Some(q.commit_marked(mark).await?),
            None => None,
        };
        agora_ledger::failpoint("ingest.between_commits");
        let mut merged = None;
        let version = match (self.written.product, self.staged, self.mode) {
            (Some(p), None, IngestMode::Append) => Some(p.commit_marked(mark).await?),
            (_, Some(staged), IngestMode::Append) => {
                let product = self.append_to.ok_or_else(|| {
                    IngestError::Internal("a staged append without its product table".into())
                })?;
                Some(append_staged(product, &staged, mark).await?)
            }
            (_, Some(staged), IngestMode::Merge) => {
                let counts = self
                    .store
                    .merge_staged(&self.table, staged, &self.primary_key, mark)
                    .await?;
                merged = Some(counts);
                Some(counts.version)
            }
            (_, Some(staged), IngestMode::Overwrite) => Some(
                self.store
                    .overwrite_staged(&self.table, staged, mark)
                    .await?,
            ),
            // No row was accepted, or a rule blocked them: the table stays as it was.
            _ => self
                .store
                .open(&self.table, TableKind::Product)
                .await?
                .and_then(|t| t.version()),
        };
        self.store.remove_staging(&self.ingest_id)?;
        Ok(Committed {
            version,
            quarantine_version,
            merged,
        })
    }
}

/// Adds the held rows (every row the ingest accepted) to the quarantine's append, each with
/// `reason`; returns the append.
async fn quarantine_held(
    store: &TableStore,
    table: &TableRef,
    quarantine: Option<Appender>,
    held: Appender,
    reason: &str,
) -> Result<Appender, IngestError> {
    let mut quarantine = match quarantine {
        Some(q) => q,
        None => {
            let created = store
                .ensure(table, TableKind::Quarantine, held.arrow_schema()?)
                .await?;
            store.appender(created)?.with_schema_merge()
        }
    };
    let held = held.commit_table().await?;
    quarantine
        .write_table(&held, |batch| with_reason(batch, reason))
        .await?;
    Ok(quarantine)
}

/// `batch` (quarantine rows) with `reason` in every row's reason column.
fn with_reason(batch: RecordBatch, reason: &str) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = batch.schema();
    let at = schema.index_of(QUARANTINE_REASON)?;
    let mut columns = batch.columns().to_vec();
    columns[at] = Arc::new(StringArray::from(vec![reason; batch.num_rows()]));
    RecordBatch::try_new(schema, columns)
}

/// Appends the rows of `staged` to the product table through `product`, in one commit marked
/// with `mark`; the staged rows may carry stored hash columns the table lacks yet.
async fn append_staged(
    mut product: Appender,
    staged: &DeltaTable,
    mark: (&str, &str),
) -> Result<u64, IngestError> {
    let table_columns = product.columns()?;
    let adds_columns = agora_storage::arrow_schema_of(staged)?
        .fields()
        .iter()
        .any(|f| !table_columns.contains(f.name()));
    if adds_columns {
        product = product.with_schema_merge();
    }
    product.write_table(staged, Ok).await?;
    Ok(product.commit_marked(mark).await?)
}

/// The quarantine reason of an ingest the failed blocking rules in `rules` stopped, if any did.
fn blocking_reason(rules: &[RuleResult]) -> Option<String> {
    let failed: Vec<String> = rules
        .iter()
        .filter(|r| r.blocks())
        .map(|r| format!("{} failed ({})", r.place, r.message))
        .collect();
    (!failed.is_empty()).then(|| format!("blocked by {}", failed.join(", ")))
}

impl Ingest {
    /// Runs the pipeline up to the commit: every stage of the module docs but the commit.
    pub async fn prepare(self, store: &TableStore) -> Result<Prepared, IngestError> {
        let format = self.source.format(self.format)?;
        let source_name = self.source.name();
        let rules = agora_quality::rules_of(&self.contract)
            .map_err(|e| IngestError::bad_input(&source_name, format!("the contract: {e}")))?;
        let schema = self.contract.arrow_schema();
        let product = store
            .ensure(&self.table, TableKind::Product, schema.clone())
            .await?;
        let product = store.appender(product)?;
        let (table_columns, table_has_rows) = (product.columns()?, product.has_rows()?);
        let primary_key: Vec<String> = self
            .contract
            .columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.sql_name.to_string())
            .collect();
        let mut validation = Validation::new(
            self.contract.clone(),
            schema.clone(),
            self.ingest_id.clone(),
            source_name.clone(),
        );
        if rules.iter().any(QualityRule::can_block) {
            validation = validation.holding_accepted();
        }
        // SQL rules read the accepted rows before the commit: an append then stages them too.
        let stage_append = rules.iter().any(|r| r.sql().is_some());
        let mut append_to = None;
        let written_to = match self.mode {
            IngestMode::Append => {
                if table_has_rows && !validation.key_columns().is_empty() {
                    store
                        .scan_columns(
                            &self.table,
                            TableKind::Product,
                            &validation.key_columns(),
                            |keys| validation.note_existing(keys),
                        )
                        .await?;
                }
                if stage_append {
                    let staging = store
                        .staging(&self.ingest_id, product.arrow_schema()?)
                        .await?;
                    append_to = Some(product);
                    store.appender(staging)?
                } else {
                    product
                }
            }
            IngestMode::Merge | IngestMode::Overwrite => {
                if self.mode == IngestMode::Merge {
                    if primary_key.is_empty() {
                        return Err(IngestError::bad_input(
                            &source_name,
                            format!(
                                "a merge matches rows by primary key, and the contract of {} names none (mark its key columns `primaryKey: true`)",
                                self.table
                            ),
                        ));
                    }
                    validation = validation.for_merge();
                }
                let staging = store
                    .staging(&self.ingest_id, product.arrow_schema()?)
                    .await?;
                store.appender(staging)?
            }
        };
        let mut stages: Vec<Box<dyn Stage>> = vec![
            Box::new(validation),
            Box::new(CheckRules::new(rules)),
            Box::new(Profile::new(&schema, &self.contract)),
            Box::new(Classify::new(self.tags, self.actor)),
            Box::new(StoreHashes::new(
                self.mask_key,
                self.policies,
                self.contract.clone(),
                table_columns.clone(),
                table_has_rows,
            )),
            Box::new(Write::new(
                store.clone(),
                self.table.clone(),
                written_to,
                table_columns,
                self.ingest_id.clone(),
            )),
        ];
        let mut context = IngestContext {
            table: self.table.clone(),
            source: source_name.clone(),
            classification: None,
            rules: None,
            metrics: None,
            row_checks: None,
            written: None,
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
                held: None,
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
        let mut written = context.written.ok_or_else(|| missing("its files"))?;
        let rules = context
            .rules
            .ok_or_else(|| missing("its quality verdicts"))?;
        // Rows written to a staging table are committed there now, so that checks can read
        // them; nothing of the product table is visible yet.
        let staged = match (self.mode, written.product.take()) {
            (IngestMode::Append, Some(p)) if append_to.is_none() => {
                written.product = Some(p);
                None
            }
            (_, Some(p)) => Some(p.commit_table().await?),
            (_, None) => None,
        };
        let blocked = blocking_reason(&rules);
        let mut prepared = Prepared {
            outcome: IngestOutcome {
                source: source_name,
                rows_read,
                input_sha256,
                rows_accepted: written.rows_accepted,
                rows_quarantined: written.rows_quarantined,
                quarantine_reasons: written.reasons.clone(),
                classification: context
                    .classification
                    .ok_or_else(|| missing("a classification"))?,
                rules,
                blocked: None,
                metrics: context
                    .metrics
                    .ok_or_else(|| missing("its batch metrics"))?,
                row_checks: context
                    .row_checks
                    .ok_or_else(|| missing("its row-level checks"))?,
            },
            store: store.clone(),
            table: self.table,
            ingest_id: self.ingest_id,
            mode: self.mode,
            primary_key,
            written,
            staged,
            append_to,
            blocked: None,
        };
        if let Some(reason) = blocked {
            prepared.block(reason);
        }
        Ok(prepared)
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

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
