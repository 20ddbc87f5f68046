//! Batch metrics kept as data and judged against their history: every ingest's metrics
//! (`agora_quality::BatchProfile`) become rows of the table's metrics Delta table
//! (`domain.table__metrics`), and each metric with enough history is judged
//! (`agora_quality::judge_metric`). A metric outside its expected range is a failed check of
//! the rule `metric <name> of <column>`, which opens an incident like a contract rule's; a
//! metric back in range closes it. Checks that pass and close nothing are not kept.
//!
//! The shares of a low-cardinality column's values (`frequency`, one metric per value) are
//! judged together as one check per column, `metric frequency of region`: a value whose share
//! leaves its range fails it, and the message names the value that moved most. A value the
//! history knows and this batch lacks is judged at the most its share can be (under the
//! profile's cut), and counts as 0 in the history of the batches that lacked it, so a value
//! that stopped coming becomes the usual. The check's name holds no value, so its
//! ledger entries hold none either.

use std::collections::HashMap;
use std::sync::Arc;

use agora_ingest::COMMIT_METADATA_KEY;
use agora_model::{Category, ColumnTag, ContractTable, Sensitivity, TableRef};
use agora_quality::profile::{FREQUENCY_MIN_ROWS, SOURCE_COLUMNS};
use agora_quality::{BatchMetric, MetricJudgement, RuleOutcome, judge_metric};
use agora_storage::quality_results::{
    METRIC_COLUMN, METRIC_KEY, METRIC_NAME, METRIC_VALUE, RESULT_CHECKED_AT, metrics_schema,
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
use crate::ingest_report::RuleVerdict;
use crate::quality_results::text;

/// One batch metric, as an ingest's pending record keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MetricRecord {
    pub column: Option<String>,
    pub metric: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: f64,
}

impl From<&BatchMetric> for MetricRecord {
    fn from(m: &BatchMetric) -> Self {
        MetricRecord {
            column: m.column.clone(),
            metric: m.metric.to_string(),
            key: m.key.clone(),
            value: m.value,
        }
    }
}

/// `metrics` without the frequencies of columns that hold personal data (a category among the
/// table's tags, or a contract classification above `internal`): a frequency's key is a value,
/// and an erasure must find a person's values in the table and its quarantine alone.
pub(crate) fn without_personal_frequencies(
    mut metrics: Vec<MetricRecord>,
    tags: &[ColumnTag],
    contract: &ContractTable,
) -> Vec<MetricRecord> {
    let personal = |column: &str| {
        tags.iter()
            .any(|t| t.column == column && t.category != Category::None)
            || contract
                .column(column)
                .and_then(|c| c.classification.as_deref())
                .and_then(|c| c.parse::<Sensitivity>().ok())
                .is_some_and(|s| s > Sensitivity::Internal)
    };
    metrics.retain(|m| m.metric != FREQUENCY || !m.column.as_deref().is_some_and(personal));
    metrics
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

/// A metric's earlier values, oldest first.
type Points = Vec<(DateTime<Utc>, f64)>;
/// Every metric's earlier values by column, metric and key (see [`MetricRecord`]).
type History = HashMap<(Option<String>, String, Option<String>), Points>;

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
        .get(&(None, "row_count".to_string(), None))
        .map(|points| {
            let mut counts: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
            counts.sort_by(f64::total_cmp);
            counts[counts.len() / 2]
        })
        .unwrap_or(0.0);
    let small = (rows as f64) < usual_rows / 2.0;
    let mut verdicts: Vec<RuleVerdict> = source_columns_check(&history, metrics)
        .into_iter()
        .collect();
    if !small {
        verdicts.extend(judge_frequencies(&history, metrics, at, rows));
    }
    for m in metrics
        .iter()
        .filter(|m| BatchMetric::is_judged(&m.metric) && m.metric != FREQUENCY)
    {
        if small
            && !matches!(
                m.metric.as_str(),
                "row_count" | "null_ratio" | "staleness_hours"
            )
        {
            continue;
        }
        let key = (m.column.clone(), m.metric.clone(), None);
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

const FREQUENCY: &str = "frequency";

/// The source's columns against the previous batch's: a column no longer sent, newly sent,
/// sent with another type or in another order fails `metric source_columns` (a schema drift).
fn source_columns_check(history: &History, metrics: &[MetricRecord]) -> Option<RuleVerdict> {
    let now = metrics
        .iter()
        .find(|m| m.column.is_none() && m.metric == SOURCE_COLUMNS)?;
    let columns_now = now.key.as_deref()?;
    let (_, before) = history
        .iter()
        .filter(|((c, metric, _), _)| c.is_none() && metric == SOURCE_COLUMNS)
        .filter_map(|((_, _, key), points)| Some((points.last()?.0, key.as_deref()?)))
        .max_by_key(|(at, _)| *at)?;
    let split = |text: &str| -> Vec<(String, String)> {
        text.split(',')
            .filter(|c| !c.is_empty())
            .map(|c| match c.split_once(':') {
                Some((name, kind)) => (name.to_string(), kind.to_string()),
                None => (c.to_string(), String::new()),
            })
            .collect()
    };
    let (was, is) = (split(before), split(columns_now));
    // The columns of `list` that `other` lacks, as `a`, `b`.
    let lacking = |list: &[(String, String)], other: &[(String, String)]| {
        list.iter()
            .filter(|(n, _)| !other.iter().any(|(m, _)| m == n))
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut changes = Vec::new();
    for (columns, what) in [
        (lacking(&was, &is), "no longer sent"),
        (lacking(&is, &was), "newly sent"),
    ] {
        if !columns.is_empty() {
            changes.push(format!("{columns} {what}"));
        }
    }
    for (name, kind) in &is {
        if let Some((_, old)) = was.iter().find(|(n, k)| n == name && k != kind) {
            changes.push(format!("`{name}` sent as {kind}, before as {old}"));
        }
    }
    let order = |list: &[(String, String)], other: &[(String, String)]| -> Vec<String> {
        list.iter()
            .filter(|(n, _)| other.iter().any(|(m, _)| m == n))
            .map(|(n, _)| n.clone())
            .collect()
    };
    if changes.is_empty() && order(&was, &is) != order(&is, &was) {
        changes.push("the columns come in another order".to_string());
    }
    let failed = !changes.is_empty();
    Some(RuleVerdict {
        rule: format!("{METRIC_RULE}{SOURCE_COLUMNS}"),
        description: None,
        severity: "warn".into(),
        outcome: match failed {
            true => RuleOutcome::Failed,
            false => RuleOutcome::Passed,
        }
        .as_str()
        .into(),
        observed: Some(now.value),
        expected: format!("the {} columns of the previous batch", was.len()),
        message: match failed {
            true => format!(
                "the source's columns changed since the previous batch: {}",
                changes.join("; ")
            ),
            false => format!("the source sent the {} columns it sent before", is.len()),
        },
        incident: None,
        value_derived: false,
    })
}

/// One check per low-cardinality column: the shares of its values (see the module docs).
fn judge_frequencies(
    history: &History,
    metrics: &[MetricRecord],
    at: DateTime<Utc>,
    rows: u64,
) -> Vec<RuleVerdict> {
    let mut by_column: HashMap<&str, HashMap<&str, f64>> = HashMap::new();
    for m in metrics.iter().filter(|m| m.metric == FREQUENCY) {
        if let (Some(column), Some(key)) = (&m.column, &m.key) {
            by_column.entry(column).or_default().insert(key, m.value);
        }
    }
    let mut columns: Vec<&str> = by_column.keys().copied().collect();
    columns.sort();
    let mut verdicts = Vec::new();
    for column in columns {
        let shares = &by_column[column];
        // A value held by fewer rows than the profile keeps has no share in the batch's
        // metrics: its share is at most this, and it is judged at that (no alarm from the cut).
        let nulls = metrics
            .iter()
            .find(|m| m.column.as_deref() == Some(column) && m.metric == "null_ratio")
            .map_or(0.0, |m| m.value);
        let present = (rows as f64 * (1.0 - nulls)).max(1.0);
        let unseen = ((FREQUENCY_MIN_ROWS - 1) as f64 / present).min(1.0);
        let of_column: Vec<(&String, &Points)> = history
            .iter()
            .filter(|((c, metric, _), _)| c.as_deref() == Some(column) && metric == FREQUENCY)
            .filter_map(|((_, _, key), points)| Some((key.as_ref()?, points)))
            .collect();
        // Every earlier batch that measured the column: in one a value lacks, its share was 0
        // (or under the cut), so that a value that stopped coming becomes the usual.
        let mut batches: Vec<DateTime<Utc>> = of_column
            .iter()
            .flat_map(|(_, points)| points.iter().map(|(t, _)| *t))
            .collect();
        batches.sort();
        batches.dedup();
        // Each value the column has held, with its share now.
        let mut judged: Vec<(String, f64, MetricJudgement)> = of_column
            .into_iter()
            .filter_map(|(key, points)| {
                let held: HashMap<&DateTime<Utc>, f64> =
                    points.iter().map(|(t, v)| (t, *v)).collect();
                let earlier: Points = batches
                    .iter()
                    .map(|t| (*t, held.get(t).copied().unwrap_or(0.0)))
                    .collect();
                let absent = !shares.contains_key(key.as_str());
                let now = if absent { unseen } else { shares[key.as_str()] };
                let mut judged = judge_metric(&earlier, at, now, Some(rows))?;
                // Under the cut the share is anywhere from 0 to `unseen`: only an expected
                // range wholly above that says the value dropped (a value that stopped coming
                // long ago is expected at 0%, which under the cut it may well be).
                if absent {
                    judged.is_anomaly = unseen < judged.low;
                }
                Some((key.clone(), now, judged))
            })
            .collect();
        // The value that moved most, in widths of its expected range, speaks for the column.
        let moved = |(_, now, j): &(String, f64, MetricJudgement)| {
            (now - j.typical).abs() / (j.high - j.low).max(1e-9)
        };
        judged.sort_by(|a, b| {
            (b.2.is_anomaly, moved(b))
                .partial_cmp(&(a.2.is_anomaly, moved(a)))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.0.cmp(&b.0))
        });
        let Some((value, now, j)) = judged.into_iter().next() else {
            continue;
        };
        let absent = !shares.contains_key(value.as_str());
        let record = MetricRecord {
            column: Some(column.to_string()),
            metric: FREQUENCY.to_string(),
            key: Some(value.clone()),
            value: now,
        };
        let mut v = verdict(&record, &j, true);
        if absent && j.is_anomaly {
            v.message = format!(
                "share of `{value}` in `{column}` dropped from {}% to under {}% (fewer than {FREQUENCY_MIN_ROWS} rows hold it); expected {}",
                round_percent(j.typical * 100.0),
                round_percent(now * 100.0),
                v.expected
            );
        }
        verdicts.push(v);
    }
    verdicts
}

fn verdict(m: &MetricRecord, j: &MetricJudgement, ratio: bool) -> RuleVerdict {
    let show = |v: f64| match ratio {
        true => format!("{}%", round_percent(v * 100.0)),
        false => round(v),
    };
    let what = match (&m.column, &m.key) {
        (Some(column), Some(key)) => format!("share of `{key}` in `{column}`"),
        (Some(column), None) => format!("{} of `{column}`", m.metric.replace('_', " ")),
        (None, _) => m.metric.replace('_', " "),
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

/// Every earlier metric of `table`, by column, metric and key, oldest first.
async fn history(store: &TableStore, table: &TableRef) -> Result<History, MeshError> {
    let mut columns = [RESULT_CHECKED_AT, METRIC_COLUMN, METRIC_NAME, METRIC_VALUE]
        .map(String::from)
        .to_vec();
    // A metrics table written before frequencies were kept has no key column yet.
    let keyed = match store.open(table, TableKind::Metrics).await? {
        Some(t) => agora_storage::arrow_schema_of(&t)?
            .field_with_name(METRIC_KEY)
            .is_ok(),
        None => false,
    };
    if keyed {
        columns.push(METRIC_KEY.to_string());
    }
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
            let keys = match keyed {
                true => Some(text(batch.column(4))?),
                false => None,
            };
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
                    keys.as_ref()
                        .filter(|k| k.is_valid(row))
                        .map(|k| k.value(row).to_string()),
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

/// Writes the `metrics` of the ingest `ingest_id` (checked at `checked_at`, RFC 3339) to
/// `table`'s metrics table, in one commit marked with the ingest's id, unless that commit
/// exists (a recovery).
pub(crate) async fn record(
    store: &TableStore,
    table: &TableRef,
    ingest_id: &str,
    checked_at: &str,
    metrics: &[MetricRecord],
    version: Option<u64>,
) -> Result<(), MeshError> {
    if metrics.is_empty() {
        return Ok(());
    }
    let mark = (COMMIT_METADATA_KEY, ingest_id);
    if store
        .marked_commit(table, TableKind::Metrics, mark)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let n = metrics.len();
    let at = DateTime::parse_from_rfc3339(checked_at)
        .map(|t| t.timestamp_micros())
        .unwrap_or_else(|_| Utc::now().timestamp_micros());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![at; n]).with_timezone("UTC")),
        Arc::new(StringArray::from(vec![ingest_id; n])),
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
        Arc::new(
            metrics
                .iter()
                .map(|m| m.key.clone())
                .collect::<StringArray>(),
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
