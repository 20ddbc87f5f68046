//! The shape of a product table's quality results (`quality/<domain>/<table>/`): one row per
//! quality rule per ingest, so that the history of every rule is data an owner queries with SQL
//! (`domain.table__quality`). The mesh writes them; SQL reads them, even before the first.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// When the rules were judged (UTC).
pub const RESULT_CHECKED_AT: &str = "checked_at";
pub const RESULT_INGEST: &str = "ingest_id";
/// The product table's version after the ingest (its previous one if the ingest was blocked).
pub const RESULT_VERSION: &str = "table_version";
/// Where the rule is written: `column orders.amount quality rule 1`.
pub const RESULT_RULE: &str = "rule";
pub const RESULT_DESCRIPTION: &str = "description";
/// `warn` or `block`.
pub const RESULT_SEVERITY: &str = "severity";
/// `passed`, `failed` or `not evaluated`.
pub const RESULT_OUTCOME: &str = "outcome";
/// What was measured, in the rule's unit.
pub const RESULT_OBSERVED: &str = "observed";
/// What the rule demands: `must be ≤ 5 percent`.
pub const RESULT_EXPECTED: &str = "expected";
/// What was measured and what the rule demands, in words.
pub const RESULT_EXPLANATION: &str = "explanation";
/// `opened`, `ongoing` or `closed` when this result opened, kept or closed an incident.
pub const RESULT_INCIDENT: &str = "incident";
/// Whether a blocking rule's failure sent this ingest to quarantine.
pub const RESULT_BLOCKED: &str = "blocked";

/// The column a batch metric measures (null for the batch as a whole).
pub const METRIC_COLUMN: &str = "column_name";
/// `row_count`, `null_ratio`, `distinct_ratio`, `min`, `max`, `mean`, `stddev`, `p50`, `p95`,
/// `mean_length`, `staleness_hours`, `frequency`.
pub const METRIC_NAME: &str = "metric";
pub const METRIC_VALUE: &str = "value";
/// For `frequency`: the value whose share it is (a column added to older metrics tables on
/// their next write).
pub const METRIC_KEY: &str = "metric_key";

/// The columns of a batch metrics table (`metrics/<domain>/<table>/`, SQL
/// `domain.table__metrics`): when, which ingest and version, then one metric per row.
pub fn metrics_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            RESULT_CHECKED_AT,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new(RESULT_INGEST, DataType::Utf8, true),
        Field::new(RESULT_VERSION, DataType::Int64, true),
        Field::new(METRIC_COLUMN, DataType::Utf8, true),
        Field::new(METRIC_NAME, DataType::Utf8, true),
        Field::new(METRIC_VALUE, DataType::Float64, true),
        Field::new(METRIC_KEY, DataType::Utf8, true),
    ]))
}

/// An event's position: its row in the ingest that committed it (as a quarantine's `_row`).
pub const EVENT_ROW: &str = "event_row";
/// When the event arrived (UTC).
pub const EVENT_RECEIVED_AT: &str = "received_at";
pub const EVENT_SCORE: &str = "score";
pub const EVENT_EXPECTED_LOW: &str = "expected_low";
pub const EVENT_EXPECTED_HIGH: &str = "expected_high";
pub const EVENT_REASON: &str = "reason";

/// The columns of a table's flagged events (`event_flags/<domain>/<table>/`, SQL
/// `domain.table__events`): which ingest committed the event and where, when it arrived, and
/// for the value the detector found anomalous its score, expected range and reason.
pub fn events_schema() -> SchemaRef {
    let at = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let number = |name: &str| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        Field::new(EVENT_RECEIVED_AT, at(), true),
        Field::new(RESULT_INGEST, DataType::Utf8, true),
        Field::new(EVENT_ROW, DataType::Int64, true),
        Field::new(METRIC_COLUMN, DataType::Utf8, true),
        number(METRIC_VALUE),
        number(EVENT_SCORE),
        number(EVENT_EXPECTED_LOW),
        number(EVENT_EXPECTED_HIGH),
        Field::new(EVENT_REASON, DataType::Utf8, true),
    ]))
}

/// The columns of a quality results table.
pub fn quality_results_schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new(
            RESULT_CHECKED_AT,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        text(RESULT_INGEST),
        Field::new(RESULT_VERSION, DataType::Int64, true),
        text(RESULT_RULE),
        text(RESULT_DESCRIPTION),
        text(RESULT_SEVERITY),
        text(RESULT_OUTCOME),
        Field::new(RESULT_OBSERVED, DataType::Float64, true),
        text(RESULT_EXPECTED),
        text(RESULT_EXPLANATION),
        text(RESULT_INCIDENT),
        Field::new(RESULT_BLOCKED, DataType::Boolean, true),
    ]))
}
