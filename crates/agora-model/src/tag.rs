//! Column tags: one source's decision about a column's classification. The classifier writes
//! `auto` tags on ingest; an owner writes `override` tags, which the classifier never touches.
//! How tags and a contract's `classification` combine into the label readers get is a
//! governance decision (`agora-policy`).

use crate::{Category, Name, Sensitivity, TableRef};

/// Who decided a column's classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagSource {
    /// The classifier, on ingest; replaced by later runs when the values drift.
    Auto,
    /// An owner, with a reason; never replaced by the classifier.
    Override,
}

impl TagSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TagSource::Auto => "auto",
            TagSource::Override => "override",
        }
    }
}

/// One source's classification of one column, as the catalog keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnTag {
    pub table: TableRef,
    pub column: String,
    pub source: TagSource,
    pub category: Category,
    pub sensitivity: Sensitivity,
    pub confidence: f64,
    /// JSON array of the detectors that fired and the share of sampled values they fired on.
    pub evidence: String,
    pub reason: String,
    pub set_by: Name,
    pub updated_at: String,
}
