//! What an ingest reports: the rows it read, accepted and quarantined, the version it made,
//! the columns it classified and the verdict of every rule and batch check, each with the
//! incident it opens, keeps or closes. The ingest itself runs in `ingest.rs`.

use agora_ingest::{IngestMode, TagDecision};
use agora_quality::RuleResult;
use serde::{Deserialize, Serialize};

/// What an ingest did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub table: String,
    pub product: String,
    pub source: String,
    pub mode: IngestMode,
    /// The product table's Delta version after the ingest.
    pub version: Option<u64>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// For a merge: the accepted rows that were new keys, and those that replaced a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_inserted: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_updated: Option<u64>,
    /// The most frequent reasons rows were quarantined, with their counts.
    pub quarantine_reasons: Vec<(String, u64)>,
    pub input_sha256: String,
    /// The ledger entry that records the ingest.
    pub ledger_index: u64,
    /// Columns whose automatic classification this ingest set to a sensitive category or
    /// changed.
    pub classified: Vec<ColumnClassified>,
    /// Columns whose values this ingest classified below their label: the label stands until an
    /// owner lowers it (`agora tag set`).
    pub kept: Vec<ColumnClassified>,
    /// The verdict of each of the contract's quality rules on this ingest's rows.
    pub rules: Vec<RuleVerdict>,
    /// Set when a failed blocking rule sent every row to quarantine: the reason they carry.
    pub blocked: Option<String>,
}

/// One quality rule of the contract and what this ingest's rows showed of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleVerdict {
    /// Where the rule is written: `table orders quality rule 1`, `column orders.email ...`.
    pub rule: String,
    pub description: Option<String>,
    /// `warn` or `block`.
    pub severity: String,
    /// `passed`, `failed` or `not evaluated`.
    pub outcome: String,
    /// What was measured, in the rule's unit.
    pub observed: Option<f64>,
    /// What the rule demands: `must be ≤ 5 percent`.
    #[serde(default)]
    pub expected: String,
    /// What was measured and what the rule demands, in words.
    pub message: String,
    /// `opened`, `ongoing` or `closed` when this verdict opens, keeps or closes an incident
    /// (a rule whose latest evaluated verdict failed has one open).
    #[serde(default)]
    pub incident: Option<String>,
    /// Whether `observed`, `expected` and `message` derive from the rows' values (a batch
    /// metric's bounds, mean or quantiles), which the public ledger must not carry.
    #[serde(default)]
    pub value_derived: bool,
}

impl From<&RuleResult> for RuleVerdict {
    fn from(r: &RuleResult) -> Self {
        RuleVerdict {
            rule: r.place.clone(),
            description: r.description.clone(),
            severity: r.severity.as_str().to_string(),
            outcome: r.outcome.as_str().to_string(),
            observed: r.observed,
            expected: r.expected.clone(),
            message: r.message.clone(),
            incident: None,
            value_derived: false,
        }
    }
}

/// A column whose classification an ingest decided for the first time or changed (its values
/// drifted to another category), or would have lowered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnClassified {
    pub column: String,
    pub category: agora_model::Category,
    /// The automatic category before this ingest, if there was one.
    pub previous: Option<agora_model::Category>,
    pub sensitivity: agora_model::Sensitivity,
    pub confidence: f64,
    pub evidence: Vec<agora_classify::Evidence>,
}

impl From<&TagDecision> for ColumnClassified {
    fn from(d: &TagDecision) -> Self {
        ColumnClassified {
            column: d.tag.column.clone(),
            category: d.tag.category,
            previous: d.previous,
            sensitivity: d.tag.sensitivity,
            confidence: d.tag.confidence,
            evidence: d.classification.evidence.clone(),
        }
    }
}
