//! What a pending record holds (`changes.rs`): the entries a change owes the ledger, and for
//! an ingest or a table change what its recovery needs to finish it after a crash — the
//! ingest's report so far and the rows a re-admission takes out of the quarantine, or the
//! tables a change may commit to and the correction records it writes.

use agora_ingest::IngestMode;
use agora_model::TableRef;
use agora_storage::{QUARANTINE_INGEST, QUARANTINE_ROW, TableKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::correction_records::{CorrectionDraft, described};
use crate::ingest_report::{ColumnClassified, RuleVerdict};
use crate::quality_metrics::MetricRecord;
use crate::recorder::Event;
use crate::sql_quoting::{quote_ident, quote_literal};

/// What a pending record holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// The entries to record.
    #[serde(default)]
    pub events: Vec<Event>,
    /// For an ingest: what its recovery needs (its events depend on the Delta commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest: Option<IngestIntent>,
    /// For a delete, an erasure, a compaction or a vacuum: what its recovery needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_change: Option<TableChangeIntent>,
}

/// What recovery needs to finish an ingest a crash interrupted, kept in its pending record.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IngestIntent {
    pub ingest_id: String,
    pub table: String,
    pub product: String,
    pub source: String,
    #[serde(default)]
    pub mode: IngestMode,
    pub input_sha256: String,
    pub actor: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    pub quarantine_reasons: Vec<(String, u64)>,
    pub idempotency_key: Option<String>,
    pub classified: Vec<ColumnClassified>,
    pub kept: Vec<ColumnClassified>,
    #[serde(default)]
    pub rules: Vec<RuleVerdict>,
    #[serde(default)]
    pub blocked: Option<String>,
    /// When the rules were judged.
    #[serde(default)]
    pub checked_at: String,
    #[serde(default)]
    pub metrics: Vec<MetricRecord>,
    /// For an ingest of corrected quarantined rows: the rows it takes out of the quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readmission: Option<Readmission>,
    /// For an ingest of rows derived from other tables (a saved forecast): the body of the
    /// `lineage.run` entry recorded with it, whose output version the commit fills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivation: Option<serde_json::Value>,
}

/// What an ingest that re-admits quarantined rows takes out of the quarantine, kept in its
/// pending record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Readmission {
    /// The rows, by the ingest that quarantined them and their rows in it.
    pub rows: Vec<(String, Vec<i64>)>,
    /// The catalog records of the suggestions applied, finished with the ingest.
    pub corrections: Vec<CorrectionDraft>,
}

impl Readmission {
    pub(crate) fn row_count(&self) -> usize {
        self.rows.iter().map(|(_, rows)| rows.len()).sum()
    }

    /// The condition selecting exactly the rows to take out.
    pub(crate) fn predicate(&self) -> String {
        self.rows
            .iter()
            .map(|(ingest, rows)| {
                let rows: Vec<String> = rows.iter().map(i64::to_string).collect();
                format!(
                    "({} = {} AND {} IN ({}))",
                    quote_ident(QUARANTINE_INGEST),
                    quote_literal(ingest),
                    quote_ident(QUARANTINE_ROW),
                    rows.join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }
}

/// The `quality.rows_readmitted` entry of a re-admitting ingest: suggestions by id and kind,
/// counts, never values.
pub(crate) fn readmitted_event(
    table: &TableRef,
    ingest_id: &str,
    readmission: &Readmission,
    rows_accepted: u64,
    table_version: Option<u64>,
    quarantine_version: Option<u64>,
) -> Event {
    let suggestions: Vec<Value> = readmission
        .corrections
        .iter()
        .map(|d| described(&d.record.suggestion))
        .collect();
    let by = readmission
        .corrections
        .first()
        .map(|d| d.record.applied_by.clone());
    Event::by_domain(
        "quality.rows_readmitted",
        &table.domain,
        json!({
            "table": table.to_string(),
            "ingest_id": ingest_id,
            "suggestions": suggestions,
            "rows_taken_out": readmission.row_count(),
            "rows_readmitted": rows_accepted,
            "table_version": table_version,
            "quarantine_version": quarantine_version,
            "by": by,
        }),
    )
}

/// What a pending record of a table change holds: enough to write its ledger entry from the
/// marks its commits carry.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TableChangeIntent {
    /// The marks' value.
    pub id: String,
    pub event: Event,
    /// Every table the change may commit to, as `domain.table` and its kind.
    pub tables: Vec<(String, StoredKind)>,
    /// For a correction applied or reverted: the catalog records it writes once done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<CorrectionDraft>,
}

/// [`TableKind`] as a pending record stores it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum StoredKind {
    Product,
    Quarantine,
}

impl From<StoredKind> for TableKind {
    fn from(k: StoredKind) -> TableKind {
        match k {
            StoredKind::Product => TableKind::Product,
            StoredKind::Quarantine => TableKind::Quarantine,
        }
    }
}

impl StoredKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StoredKind::Product => "product",
            StoredKind::Quarantine => "quarantine",
        }
    }
}
