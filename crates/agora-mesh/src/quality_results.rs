//! The quality results of every ingest, kept as data: one row per rule per ingest in the
//! table's quality results Delta table (`agora_storage::quality_results`), which owners query
//! as `domain.table__quality`. A rule whose latest evaluated verdict failed has an open
//! incident; each verdict is marked with the incident it opens, keeps or closes before the
//! ingest is recorded, so the results, the ledger's `quality.*` entries and a recovery after a
//! crash all tell the same story.

use std::collections::HashMap;
use std::sync::Arc;

use agora_ingest::COMMIT_METADATA_KEY;
use agora_model::TableRef;
use agora_quality::RuleOutcome;
use agora_storage::quality_results::{
    RESULT_CHECKED_AT, RESULT_OUTCOME, RESULT_RULE, quality_results_schema,
};
use agora_storage::{TableKind, TableStore};
use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::MeshError;
use crate::ingest_report::RuleVerdict;

pub(crate) const OPENED: &str = "opened";
pub(crate) const ONGOING: &str = "ongoing";
pub(crate) const CLOSED: &str = "closed";

/// `verdicts` (of an ingest into `table`), each marked with the incident it opens, keeps or
/// closes given the rules' earlier results. A rule that was not evaluated changes nothing.
pub(crate) async fn with_incidents(
    store: &TableStore,
    table: &TableRef,
    mut verdicts: Vec<RuleVerdict>,
) -> Result<Vec<RuleVerdict>, MeshError> {
    if verdicts.is_empty() {
        return Ok(verdicts);
    }
    let open = open_incidents(store, table).await?;
    for v in &mut verdicts {
        let was_open = open.get(&v.rule).copied().unwrap_or(false);
        v.incident = match (v.outcome.as_str(), was_open) {
            (o, false) if o == RuleOutcome::Failed.as_str() => Some(OPENED.to_string()),
            (o, true) if o == RuleOutcome::Failed.as_str() => Some(ONGOING.to_string()),
            (o, true) if o == RuleOutcome::Passed.as_str() => Some(CLOSED.to_string()),
            _ => None,
        };
    }
    Ok(verdicts)
}

/// Each rule of `table`'s results → whether its latest evaluated verdict failed.
async fn open_incidents(
    store: &TableStore,
    table: &TableRef,
) -> Result<HashMap<String, bool>, MeshError> {
    let columns = [RESULT_CHECKED_AT, RESULT_RULE, RESULT_OUTCOME].map(String::from);
    let mut latest: HashMap<String, (i64, bool)> = HashMap::new();
    store
        .scan_columns(table, TableKind::Quality, &columns, |batch| {
            let at = batch
                .column(0)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| MeshError::Internal("quality results: checked_at".into()))?;
            let (rules, outcomes) = (text(batch.column(1))?, text(batch.column(2))?);
            for row in 0..batch.num_rows() {
                let failed = match outcomes.value(row) {
                    o if o == RuleOutcome::Failed.as_str() => true,
                    o if o == RuleOutcome::Passed.as_str() => false,
                    // Not evaluated: says nothing of an incident.
                    _ => continue,
                };
                if rules.is_null(row) {
                    continue;
                }
                let entry = latest
                    .entry(rules.value(row).to_string())
                    .or_insert((i64::MIN, false));
                if at.value(row) >= entry.0 {
                    *entry = (at.value(row), failed);
                }
            }
            Ok::<(), MeshError>(())
        })
        .await?;
    Ok(latest
        .into_iter()
        .map(|(rule, (_, failed))| (rule, failed))
        .collect())
}

/// A column of a quality results or metrics table as text.
pub(crate) fn text(array: &ArrayRef) -> Result<StringArray, MeshError> {
    let text = cast(array, &DataType::Utf8)
        .map_err(|e| MeshError::Internal(format!("quality data as text: {e}")))?;
    Ok(text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("INVARIANT: a cast to Utf8 yields a StringArray")
        .clone())
}

/// One rule's verdict at a check.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStatus {
    pub rule: String,
    pub description: Option<String>,
    pub severity: String,
    pub outcome: String,
    pub observed: Option<f64>,
    pub expected: Option<String>,
    pub explanation: String,
}

/// One row of the quality results, as a report reads it back.
pub(crate) struct ResultRow {
    pub checked_at: String,
    pub ingest_id: String,
    pub table_version: Option<i64>,
    pub blocked: bool,
    pub status: RuleStatus,
}

/// The verdicts of one ingest, as its quality results record them.
pub(crate) struct IngestVerdicts<'a> {
    pub ingest_id: &'a str,
    /// When the rules were checked (RFC 3339).
    pub checked_at: &'a str,
    pub rules: &'a [RuleVerdict],
    /// Whether a blocking rule sent the batch to quarantine.
    pub blocked: bool,
}

/// Writes the verdicts of an ingest as rows of `table`'s quality results, in one commit marked
/// with the ingest's id, unless that commit exists (a recovery).
pub(crate) async fn record(
    store: &TableStore,
    table: &TableRef,
    verdicts: &IngestVerdicts<'_>,
    version: Option<u64>,
) -> Result<(), MeshError> {
    if verdicts.rules.is_empty() {
        return Ok(());
    }
    let mark = (COMMIT_METADATA_KEY, verdicts.ingest_id);
    if store
        .marked_commit(table, TableKind::Quality, mark)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let batch = results_batch(verdicts, version)?;
    let results = store
        .ensure(table, TableKind::Quality, batch.schema())
        .await?;
    let mut appender = store.appender(results)?;
    appender.write(batch).await?;
    appender.commit_marked(mark).await?;
    Ok(())
}

fn results_batch(
    verdicts: &IngestVerdicts<'_>,
    version: Option<u64>,
) -> Result<RecordBatch, MeshError> {
    let rules = verdicts.rules;
    let n = rules.len();
    let checked_at = chrono::DateTime::parse_from_rfc3339(verdicts.checked_at)
        .map(|t| t.timestamp_micros())
        .unwrap_or_else(|_| chrono::Utc::now().timestamp_micros());
    let strings = |f: &dyn Fn(&RuleVerdict) -> Option<String>| -> ArrayRef {
        Arc::new(rules.iter().map(f).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![checked_at; n]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec![verdicts.ingest_id; n])),
        Arc::new(Int64Array::from(vec![version.map(|v| v as i64); n])),
        strings(&|r| Some(r.rule.clone())),
        strings(&|r| r.description.clone()),
        strings(&|r| Some(r.severity.clone())),
        strings(&|r| Some(r.outcome.clone())),
        Arc::new(rules.iter().map(|r| r.observed).collect::<Float64Array>()),
        strings(&|r| Some(r.expected.clone()).filter(|e| !e.is_empty())),
        strings(&|r| Some(r.message.clone())),
        strings(&|r| r.incident.clone()),
        Arc::new(BooleanArray::from(vec![verdicts.blocked; n])),
    ];
    RecordBatch::try_new(quality_results_schema(), columns)
        .map_err(|e| MeshError::Internal(format!("building the quality results: {e}")))
}
