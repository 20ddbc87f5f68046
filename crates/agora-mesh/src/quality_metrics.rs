//! Batch metrics kept as data and judged against their history: every ingest's metrics
//! (`agora_quality::BatchProfile`) become rows of the table's metrics Delta table
//! (`domain.table__metrics`), and each metric with enough history is judged
//! (`agora_quality::judge_metric`). A metric outside its expected range is a failed check of
//! the rule `metric <name> of <column>`, which opens an incident like a contract rule's; a
//! metric back in range closes it. Checks that pass and close nothing are not kept.

use std::collections::HashMap;
use std::sync::Arc;

use agora_ingest::COMMIT_METADATA_KEY;
use agora_model::TableRef;
use agora_quality::{BatchMetric, MetricJudgement, RuleOutcome, judge_metric};
use agora_storage::quality_results::{
    METRIC_COLUMN, METRIC_NAME, METRIC_VALUE, RESULT_CHECKED_AT, metrics_schema,
};
use agora_storage::{TableKind, TableStore};
use arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::MeshError;
use crate::ingest::{IngestIntent, RuleVerdict};
use crate::quality_results::text;

/// One batch metric, as an ingest's pending record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MetricRecord {
    pub column: Option<String>,
    pub metric: String,
    pub value: f64,
}

impl From<&BatchMetric> for MetricRecord {
    fn from(m: &BatchMetric) -> Self {
        MetricRecord {
            column: m.column.clone(),
            metric: m.metric.to_string(),
            value: m.value,
        }
    }
}

/// How the checks of batch metrics are named: `metric null_ratio of email`.
const METRIC_RULE: &str = "metric ";
/// How the row-level checks are named: `rows outliers of amount`.
const ROWS_RULE: &str = "rows ";

/// Whether `rule` names a check Agora makes of every batch (a metric against its history, or
/// a row-level check) rather than a contract's rule.
pub(crate) fn is_batch_check(rule: &str) -> bool {
    rule.starts_with(METRIC_RULE) || rule.starts_with(ROWS_RULE)
}

/// A row-level check of the batch as a verdict (no value of a row is quoted).
pub(crate) fn row_verdict(c: &agora_quality::RowCheck) -> RuleVerdict {
    let outcome = match c.failed {
        true => RuleOutcome::Failed,
        false => RuleOutcome::Passed,
    };
    RuleVerdict {
        rule: format!("{ROWS_RULE}{} of {}", c.check, c.column),
        description: None,
        severity: "warn".into(),
        outcome: outcome.as_str().into(),
        observed: Some(c.rows as f64),
        expected: "no such row".into(),
        message: c.message.clone(),
        incident: None,
        value_derived: false,
    }
}

type History = HashMap<(Option<String>, String), Vec<(DateTime<Utc>, f64)>>;

/// The checks of `metrics`, measured `at`, against the earlier batches of `table`.
pub(crate) async fn judge(
    store: &TableStore,
    table: &TableRef,
    metrics: &[MetricRecord],
    at: DateTime<Utc>,
) -> Result<Vec<RuleVerdict>, MeshError> {
    let history = history(store, table).await?;
    let rows = metrics
        .iter()
        .find(|m| m.column.is_none() && m.metric == "row_count")
        .map_or(0, |m| m.value as u64);
    // A batch far smaller than usual is a sample too small to compare its distribution with
    // the history's (and its volume, which is judged, is what is wrong): only its counts and
    // ratios are judged.
    let usual_rows = history
        .get(&(None, "row_count".to_string()))
        .map(|points| {
            let mut counts: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
            counts.sort_by(f64::total_cmp);
            counts[counts.len() / 2]
        })
        .unwrap_or(0.0);
    let small = (rows as f64) < usual_rows / 2.0;
    let mut verdicts = Vec::new();
    for m in metrics.iter().filter(|m| BatchMetric::is_judged(&m.metric)) {
        if small
            && !matches!(
                m.metric.as_str(),
                "row_count" | "null_ratio" | "staleness_hours"
            )
        {
            continue;
        }
        let key = (m.column.clone(), m.metric.clone());
        let Some(earlier) = history.get(&key) else {
            continue;
        };
        let ratio = BatchMetric::is_ratio(&m.metric);
        let over = ratio.then_some(rows);
        if let Some(judgement) = judge_metric(earlier, at, m.value, over) {
            verdicts.push(verdict(m, &judgement, ratio));
        }
    }
    Ok(verdicts)
}

fn verdict(m: &MetricRecord, j: &MetricJudgement, ratio: bool) -> RuleVerdict {
    let show = |v: f64| match ratio {
        true => format!("{}%", round_percent(v * 100.0)),
        false => round(v),
    };
    let what = match &m.column {
        Some(column) => format!("{} of `{column}`", m.metric.replace('_', " ")),
        None => m.metric.replace('_', " "),
    };
    let season = match j.seasonal {
        true => "weekly season",
        false => "recent batches",
    };
    let expected = format!(
        "{}–{} ({season}, {} batches of history)",
        show(j.low),
        show(j.high),
        j.history
    );
    let message = match (j.is_anomaly, m.value > j.typical) {
        (false, _) => format!("{what} is {}; expected {expected}", show(m.value)),
        (true, true) => format!(
            "{what} jumped from {} to {}; expected {expected}",
            show(j.typical),
            show(m.value)
        ),
        (true, false) => format!(
            "{what} dropped from {} to {}; expected {expected}",
            show(j.typical),
            show(m.value)
        ),
    };
    let outcome = match j.is_anomaly {
        true => RuleOutcome::Failed,
        false => RuleOutcome::Passed,
    };
    RuleVerdict {
        rule: match &m.column {
            Some(column) => format!("{METRIC_RULE}{} of {column}", m.metric),
            None => format!("{METRIC_RULE}{}", m.metric),
        },
        description: None,
        severity: "warn".into(),
        outcome: outcome.as_str().into(),
        observed: Some(m.value),
        expected,
        message,
        incident: None,
        // Counts and shares say nothing of a value; bounds, means and quantiles do.
        value_derived: !matches!(
            m.metric.as_str(),
            "row_count" | "null_ratio" | "distinct_ratio"
        ),
    }
}

/// A percentage with one decimal at most: `0.2`, `41`, `95.8`.
fn round_percent(v: f64) -> String {
    let text = format!("{v:.1}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Four decimals (none from 100 up), without trailing zeros.
fn round(v: f64) -> String {
    let text = format!("{v:.4}");
    let digits = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        text
    };
    match digits.contains('.') {
        true => digits
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        false => digits,
    }
}

/// Every earlier metric of `table`, by column and metric, oldest first.
async fn history(store: &TableStore, table: &TableRef) -> Result<History, MeshError> {
    let columns = [RESULT_CHECKED_AT, METRIC_COLUMN, METRIC_NAME, METRIC_VALUE].map(String::from);
    let mut history: History = HashMap::new();
    store
        .scan_columns(table, TableKind::Metrics, &columns, |batch| {
            let at = batch
                .column(0)
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| MeshError::Internal("batch metrics: checked_at".into()))?;
            let (column, metric) = (text(batch.column(1))?, text(batch.column(2))?);
            let value = cast(batch.column(3), &DataType::Float64)
                .map_err(|e| MeshError::Internal(format!("batch metrics: {e}")))?;
            let value = value
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("INVARIANT: a cast to Float64 yields a Float64Array");
            for row in 0..batch.num_rows() {
                if at.is_null(row) || metric.is_null(row) || value.is_null(row) {
                    continue;
                }
                let Some(when) = DateTime::from_timestamp_micros(at.value(row)) else {
                    continue;
                };
                let key = (
                    column.is_valid(row).then(|| column.value(row).to_string()),
                    metric.value(row).to_string(),
                );
                history
                    .entry(key)
                    .or_default()
                    .push((when, value.value(row)));
            }
            Ok::<(), MeshError>(())
        })
        .await?;
    for points in history.values_mut() {
        points.sort_by_key(|(t, _)| *t);
    }
    Ok(history)
}

/// Writes the metrics of the ingest `intent` to `table`'s metrics table, in one commit marked
/// with the ingest's id, unless that commit exists (a recovery).
pub(crate) async fn record(
    store: &TableStore,
    table: &TableRef,
    intent: &IngestIntent,
    version: Option<u64>,
) -> Result<(), MeshError> {
    let metrics = &intent.metrics;
    if metrics.is_empty() {
        return Ok(());
    }
    let mark = (COMMIT_METADATA_KEY, intent.ingest_id.as_str());
    if store
        .marked_commit(table, TableKind::Metrics, mark)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let n = metrics.len();
    let at = DateTime::parse_from_rfc3339(&intent.checked_at)
        .map(|t| t.timestamp_micros())
        .unwrap_or_else(|_| Utc::now().timestamp_micros());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![at; n]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec![intent.ingest_id.as_str(); n])),
        Arc::new(Int64Array::from(vec![version.map(|v| v as i64); n])),
        Arc::new(
            metrics
                .iter()
                .map(|m| m.column.clone())
                .collect::<StringArray>(),
        ),
        Arc::new(
            metrics
                .iter()
                .map(|m| Some(m.metric.clone()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            metrics
                .iter()
                .map(|m| Some(m.value))
                .collect::<Float64Array>(),
        ),
    ];
    let batch = RecordBatch::try_new(metrics_schema(), columns)
        .map_err(|e| MeshError::Internal(format!("building the batch metrics: {e}")))?;
    let created = store
        .ensure(table, TableKind::Metrics, batch.schema())
        .await?;
    let mut appender = store.appender(created)?;
    appender.write(batch).await?;
    appender.commit_marked(mark).await?;
    Ok(())
}
