//! Applied corrections as the catalog keeps them: the records a correction's table change
//! writes once it knows the version it made, and how the ledger describes a suggestion.

use agora_catalog::{Change, CorrectionRecord};
use agora_model::{Principal, TableRef};
use agora_quality::corrections::{Fix, Suggestion};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::MeshError;

/// One suggestion's application, as the catalog keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AppliedCorrection {
    pub suggestion: Suggestion,
    /// Every fix applied in the same commit: what the update made of a row depends on all.
    pub applied_with: Vec<Fix>,
    /// The writer's row filter at the time, which narrowed the update.
    pub row_filter: Option<String>,
    pub applied_by: String,
    pub version: Option<u64>,
    pub rows_changed: u64,
    #[serde(default)]
    pub reverted_by: Option<String>,
    #[serde(default)]
    pub revert_version: Option<u64>,
    /// For a suggestion for quarantined rows: the ingest that re-admitted them.
    #[serde(default)]
    pub readmitted_by: Option<String>,
}

/// A catalog record a table change writes once it knows the version it made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CorrectionDraft {
    pub application_id: String,
    pub table: String,
    pub applied_at: String,
    /// Set for a revert: the time it was made.
    pub reverted_at: Option<String>,
    pub record: AppliedCorrection,
}

impl CorrectionDraft {
    /// The records of `chosen` applied together to `table` by `actor`, under its row filter.
    pub(crate) fn applying(
        table: &TableRef,
        chosen: &[Suggestion],
        row_filter: &Option<String>,
        actor: &Principal,
    ) -> Vec<CorrectionDraft> {
        let application_id = format!("{}-{:08x}", crate::now(), rand::random::<u32>());
        let applied_at = crate::now();
        let fixes: Vec<Fix> = chosen.iter().map(|s| s.fix.clone()).collect();
        chosen
            .iter()
            .map(|s| CorrectionDraft {
                application_id: application_id.clone(),
                table: table.to_string(),
                applied_at: applied_at.clone(),
                reverted_at: None,
                record: AppliedCorrection {
                    suggestion: s.clone(),
                    applied_with: fixes.clone(),
                    row_filter: row_filter.clone(),
                    applied_by: actor.name.to_string(),
                    version: None,
                    rows_changed: 0,
                    reverted_by: None,
                    revert_version: None,
                    readmitted_by: None,
                },
            })
            .collect()
    }
}

/// The catalog changes that finish `drafts` once their change made `version`; none when it
/// made no version (an application that matched no row, a revert a crash stopped before its
/// commit: nothing happened to record).
pub(crate) fn finished_records(
    drafts: &[CorrectionDraft],
    version: Option<u64>,
    rows: Option<u64>,
) -> Result<Vec<Change>, MeshError> {
    let mut changes = Vec::new();
    if version.is_none() {
        return Ok(changes);
    }
    for draft in drafts {
        let mut record = draft.record.clone();
        if draft.reverted_at.is_some() {
            record.revert_version = version;
        } else {
            record.version = version;
            if let Some(rows) = rows {
                record.rows_changed = rows;
            }
        }
        changes.push(Change::PutCorrection(CorrectionRecord {
            application_id: draft.application_id.clone(),
            suggestion_id: record.suggestion.id.clone(),
            table: TableRef::parse(&draft.table)?,
            applied_at: draft.applied_at.clone(),
            reverted_at: draft.reverted_at.clone(),
            record: serde_json::to_string(&record)
                .map_err(|e| MeshError::Internal(format!("a correction record: {e}")))?,
        }));
    }
    Ok(changes)
}

/// The ledger's description of a suggestion: no values.
pub(crate) fn described(s: &Suggestion) -> Value {
    json!({
        "id": s.id,
        "kind": s.kind.as_str(),
        "columns": s.fix.columns(),
        "values": s.fix.len(),
        "confidence": s.confidence,
    })
}
