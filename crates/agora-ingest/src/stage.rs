//! The stages of the write path and what flows between them.

use agora_classify::Classification;
use agora_model::TableRef;
use agora_quality::RuleResult;
use agora_storage::Appender;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::{IngestError, TagDecision};

/// A batch on its way through the stages.
pub struct StagedBatch {
    /// The decoded values, before validation (empty after it).
    pub raw: RecordBatch,
    /// The 1-based position in the source of the batch's first row.
    pub first_row: u64,
    /// Rows that passed every stage so far, in the product's schema.
    pub accepted: Option<RecordBatch>,
    /// Rows that failed, in the quarantine schema.
    pub rejected: Option<RecordBatch>,
    /// The accepted rows again, in the quarantine schema with no reason yet: kept only while a
    /// quality rule may still send the whole batch to quarantine (see [`crate::CheckRules`]).
    pub held: Option<RecordBatch>,
}

/// What the stages of one ingest know and tell each other.
pub struct IngestContext {
    pub table: TableRef,
    /// The source's name, as errors and the quarantine name it.
    pub source: String,
    /// The classification of the ingest's sample and the tags it decides, once the
    /// classification stage has made them (it lets no batch through before).
    pub classification: Option<ClassificationOutcome>,
    /// The verdicts of the table's quality rules on the accepted rows, once the input has
    /// ended.
    pub rules: Option<Vec<RuleResult>>,
    /// The batch metrics of the accepted rows, once the input has ended.
    pub metrics: Option<Vec<agora_quality::BatchMetric>>,
    /// The row-level checks of the accepted rows, once the input has ended.
    pub row_checks: Option<Vec<agora_quality::RowCheck>>,
    /// What the write stage wrote, once the input has ended.
    pub written: Option<Written>,
}

/// The classifier's verdict on an ingest's sample, as tags.
#[derive(Debug, Clone)]
pub struct ClassificationOutcome {
    pub classified: Vec<Classification>,
    /// One decision per classified column (see [`TagDecision`]).
    pub decisions: Vec<TagDecision>,
    /// The table's tags as they are once the changed decisions are stored.
    pub tags_after: Vec<agora_model::ColumnTag>,
}

/// What the write stage wrote: Parquet files no Delta version references yet.
pub struct Written {
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// Quarantine reasons by their shape, with their counts, most frequent first.
    pub reasons: Vec<(String, u64)>,
    /// The product table's append, if any row was accepted.
    pub(crate) product: Option<Appender>,
    /// The quarantine table's append, if any row was rejected.
    pub(crate) quarantine: Option<Appender>,
    /// The held copy of the accepted rows (see [`StagedBatch::held`]), if any was kept.
    pub(crate) held: Option<Appender>,
}

/// The Delta versions an ingest's commit made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Committed {
    /// The product table's version after the ingest (its previous one if no row was accepted).
    pub version: Option<u64>,
    /// The quarantine table's version, if rows were quarantined.
    pub quarantine_version: Option<u64>,
    /// For a merge: the rows it inserted and updated.
    pub merged: Option<agora_storage::MergeCounts>,
}

/// One step of the write path. Validation, classification, stored hashes and writing the files
/// are stages; so is the check of the contract's quality rules.
#[async_trait]
pub trait Stage: Send {
    fn name(&self) -> &'static str;

    /// Takes one batch and returns the batches ready for the next stage: usually the batch
    /// itself, none while the stage holds batches back, or several when it lets them go.
    async fn apply(
        &mut self,
        batch: StagedBatch,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError>;

    /// The input has ended: returns the batches the stage still holds.
    async fn finish(
        &mut self,
        _context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        Ok(Vec::new())
    }
}
