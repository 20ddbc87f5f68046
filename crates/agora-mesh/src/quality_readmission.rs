//! Suggested corrections for quarantined rows, which re-admit the rows they correct.
//!
//! A quarantine holds rows as text (`…__quarantine`), so its suggestions are judged on text:
//! each column's values in the quarantine together with the table's own, so that `Germny` in a
//! quarantined row is read against the `Germany` of thousands of accepted ones, and a
//! quarantined `31/01/2024` against a column of ISO dates. Only the fixes that change values
//! the quarantine holds are kept (`agora_quality::corrections::within`), named apart from the
//! table's own suggestions.
//!
//! Applying one (`agora quality apply TABLE ID…`) is an ingest of the corrected rows, through
//! every stage an arriving row passes (validation, classification, rules, stored hashes): the
//! writer picks the rows through the governed read of the quarantine (its row filter applies;
//! a fix never names a column it sees masked), the rows are then read whole from the quarantine
//! table (the masks are for reading; the rows move as they are), corrected, and ingested as
//! JSON lines of text. The ingest's pending record carries the rows to take out, and its
//! recording deletes them from the quarantine (a commit marked with the ingest's id) before its
//! ledger batch, which adds a `quality.rows_readmitted` entry: a crash at any step is finished
//! on the next open like any ingest (`ingest.rs`). Rows the corrected values still do not
//! admit go back to the quarantine from that ingest, with their new reason. A row is thus
//! always in the table or in the quarantine, never both and never neither.

use std::collections::{HashMap, HashSet};

use agora_model::{Principal, TableRef};
use agora_quality::corrections::{Fix, Suggestion, ValuesIn, within};
use agora_query::{Interface, QUARANTINE_SUFFIX, SessionOptions};
use agora_storage::{QUARANTINE_INGEST, QUARANTINE_ROW, TableKind};
use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::datatypes::DataType;
use serde_json::Value;

use crate::correction_records::CorrectionDraft;
use crate::ingest::IngestOptions;
use crate::pending::Readmission;
use crate::quality_corrections::{CorrectionReport, fix_condition};
use crate::quality_results::text;
use crate::quality_suggestions::{DISTINCT_READ, collect, distinct_values};
use crate::sql_quoting::{quote_ident, quote_literal};
use crate::{Mesh, MeshError};

/// The commit metadata key of the deletion that takes re-admitted rows out of the quarantine.
const READMISSION_MARK: &str = "agora.readmission";
/// The same for the deletion of the copies a re-admission that a crash stopped before its
/// product commit had put back into the quarantine.
const READMISSION_UNDONE_MARK: &str = "agora.readmission_undone";

impl Mesh {
    /// The corrections proposed for the quarantined rows of `table` that `actor`, a writer of
    /// it, may read; most confident first.
    pub(crate) async fn quarantine_suggestions(
        &self,
        actor: &Principal,
        table: &TableRef,
        interface: Interface,
    ) -> Result<Vec<Suggestion>, MeshError> {
        let (table, product, contract) = self
            .writable(actor, &table.to_string(), "see suggested corrections for")
            .await?;
        if self
            .store
            .open(&table, TableKind::Quarantine)
            .await?
            .is_none()
        {
            return Ok(Vec::new());
        }
        let view = self.column_view(actor, &table, &product).await?;
        let columns: Vec<String> = contract
            .columns
            .iter()
            .filter(|c| !view.is_masked(c.sql_name.as_str()))
            .filter(|c| c.column_type.arrow != DataType::Boolean)
            .map(|c| c.sql_name.to_string())
            .collect();
        if columns.is_empty() {
            return Ok(Vec::new());
        }
        let session = self
            .session(actor, interface, SessionOptions::default())
            .await?;
        let from = format!("{}.{}", table.domain, table.table);
        let held =
            distinct_values(&session, &format!("{from}{QUARANTINE_SUFFIX}"), &columns).await?;
        let accepted = match self.store.open(&table, TableKind::Product).await? {
            Some(_) => distinct_values(&session, &from, &columns).await?,
            None => vec![Vec::new(); columns.len()],
        };
        let mut part = ValuesIn::new();
        let mut samples = Vec::new();
        for ((column, held), accepted) in columns.iter().zip(held).zip(accepted) {
            let complete = held.len() <= DISTINCT_READ && accepted.len() <= DISTINCT_READ;
            let mut counts: HashMap<String, u64> = HashMap::new();
            for (value, rows) in accepted.iter().chain(&held) {
                *counts.entry(value.clone()).or_default() += rows;
            }
            let mut values: Vec<(String, u64)> = counts.into_iter().collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            values.truncate(DISTINCT_READ);
            part.insert(column.clone(), held.into_iter().collect());
            samples.push(agora_quality::ColumnSample {
                name: column.clone(),
                values: agora_quality::ColumnValues::Text(values),
                complete,
                quartiles: None,
            });
        }
        let scope = format!("{from}{QUARANTINE_SUFFIX}");
        Ok(within(
            &scope,
            agora_quality::suggest(&scope, &samples, &[]),
            &part,
        ))
    }

    /// Re-admits the quarantined rows of `table` that the quarantine suggestions `chosen`
    /// correct, as one ingest of the corrected rows (see the module docs).
    pub(crate) async fn readmit(
        &self,
        actor: &Principal,
        table: &TableRef,
        chosen: Vec<Suggestion>,
        interface: Interface,
    ) -> Result<CorrectionReport, MeshError> {
        let (table, product, contract) = self
            .writable(actor, &table.to_string(), "re-admit quarantined rows of")
            .await?;
        let view = self.column_view(actor, &table, &product).await?;
        let fixes: Vec<Fix> = chosen.iter().map(|s| s.fix.clone()).collect();
        let condition = fixes
            .iter()
            .map(|f| format!("({})", fix_condition(f, &contract)))
            .collect::<Vec<_>>()
            .join(" OR ");
        // The rows the writer may see: its row filter applies to a quarantine as to its table.
        let session = self
            .session(actor, interface, SessionOptions::default())
            .await?;
        let sql = format!(
            "SELECT {}, {} FROM {}.{}{QUARANTINE_SUFFIX} WHERE {condition}",
            quote_ident(QUARANTINE_INGEST),
            quote_ident(QUARANTINE_ROW),
            table.domain,
            table.table,
        );
        let mut visible: HashSet<(String, i64)> = HashSet::new();
        for batch in collect(&session, &sql).await? {
            visible.extend(row_keys(&batch)?.into_iter().flatten());
        }
        // Their values as stored: masks are for reading, and the rows move whole.
        let stored = self
            .store
            .select_where(&table, TableKind::Quarantine, &condition)
            .await?;
        let replacements = replacements(&fixes);
        let columns: Vec<&str> = contract
            .columns
            .iter()
            .map(|c| c.sql_name.as_str())
            .collect();
        let mut lines = Vec::new();
        let mut taken: Vec<(String, i64)> = Vec::new();
        for batch in &stored {
            let keys = row_keys(batch)?;
            let present: Vec<(&str, arrow::array::StringArray)> = columns
                .iter()
                .filter_map(|c| Some((*c, batch.column_by_name(c)?)))
                .map(|(c, a)| Ok((c, text(a)?)))
                .collect::<Result<_, MeshError>>()?;
            for (row, key) in keys.into_iter().enumerate() {
                let Some(key) = key.filter(|k| visible.contains(k)) else {
                    continue;
                };
                let mut object = serde_json::Map::new();
                for (column, values) in &present {
                    let value = match values.is_valid(row) {
                        false => Value::Null,
                        true => {
                            let v = values.value(row);
                            let fixed = replacements.get(*column).and_then(|m| m.get(v));
                            Value::String(fixed.map_or(v, String::as_str).to_string())
                        }
                    };
                    object.insert(column.to_string(), value);
                }
                lines.push(Value::Object(object).to_string());
                taken.push(key);
            }
        }
        if taken.is_empty() {
            return Err(MeshError::Conflict(format!(
                "no quarantined row of {table} you may read holds the values of {} any more",
                chosen
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        taken.sort();
        let mut rows: Vec<(String, Vec<i64>)> = Vec::new();
        for (ingest, row) in taken {
            match rows.last_mut() {
                Some((last, list)) if *last == ingest => list.push(row),
                _ => rows.push((ingest, vec![row])),
            }
        }
        let corrections = CorrectionDraft::applying(&table, &chosen, &view.row_filter, actor);
        let readmission = Readmission { rows, corrections };
        let selected = readmission.row_count() as u64;
        let ids: Vec<String> = chosen.iter().map(|s| s.id.clone()).collect();
        let source = agora_ingest::Source::Bytes {
            name: format!("quarantine of {table} corrected by {}", ids.join(", ")),
            bytes: lines.join("\n").into_bytes().into(),
        };
        let options = IngestOptions {
            format: Some(agora_ingest::InputFormat::Json),
            allow_duplicate: true,
            ..IngestOptions::default()
        };
        let report = self
            .ingest_readmitting(
                actor,
                &table.to_string(),
                source,
                options,
                Some(readmission),
            )
            .await?;
        Ok(CorrectionReport {
            table: table.to_string(),
            suggestions: ids,
            version: report.version,
            rows: selected,
            changed_since: None,
            readmitted: Some(report.rows_accepted),
            still_quarantined: Some(report.rows_quarantined),
            ledger_index: report.ledger_index,
        })
    }

    /// Takes the rows a re-admitting ingest admitted (or sent back with a new reason) out of
    /// the quarantine, once: the deletion is marked with the ingest's id. Returns the
    /// quarantine's version after it.
    pub(crate) async fn take_out_readmitted(
        &self,
        table: &TableRef,
        ingest_id: &str,
        readmission: &Readmission,
    ) -> Result<Option<u64>, MeshError> {
        let mark = (READMISSION_MARK, ingest_id);
        if let Some(version) = self
            .store
            .marked_commit(table, TableKind::Quarantine, mark)
            .await?
        {
            return Ok(Some(version));
        }
        let done = self
            .store
            .delete_where(
                table,
                TableKind::Quarantine,
                &readmission.predicate(),
                &[],
                mark,
            )
            .await?;
        Ok(done.version)
    }

    /// For a re-admitting ingest a crash stopped after its quarantine commit and before its
    /// product commit: the rows it put back into the quarantine are removed again, so that
    /// the quarantine holds each row once (the originals stay).
    pub(crate) async fn undo_readmitted_copies(
        &self,
        table: &TableRef,
        ingest_id: &str,
    ) -> Result<(), MeshError> {
        let predicate = format!(
            "{} = {}",
            quote_ident(QUARANTINE_INGEST),
            quote_literal(ingest_id)
        );
        self.store
            .delete_where(
                table,
                TableKind::Quarantine,
                &predicate,
                &[],
                (READMISSION_UNDONE_MARK, ingest_id),
            )
            .await?;
        Ok(())
    }
}

/// The value each replacing fix gives each original, by column, as text.
fn replacements(fixes: &[Fix]) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    for fix in fixes {
        if let Fix::Replace { column, changes } = fix {
            let column = out.entry(column.clone()).or_default();
            for c in changes {
                column
                    .entry(c.original.to_string())
                    .or_insert_with(|| c.proposed.to_string());
            }
        }
    }
    out
}

/// Each row's `(_ingest_id, _row)`, `None` where one is missing.
fn row_keys(batch: &RecordBatch) -> Result<Vec<Option<(String, i64)>>, MeshError> {
    let missing = |c: &str| MeshError::Internal(format!("a quarantine without its `{c}` column"));
    let ingest = text(
        batch
            .column_by_name(QUARANTINE_INGEST)
            .ok_or_else(|| missing(QUARANTINE_INGEST))?,
    )?;
    let row = batch
        .column_by_name(QUARANTINE_ROW)
        .ok_or_else(|| missing(QUARANTINE_ROW))?;
    let row = arrow::compute::cast(row, &DataType::Int64)
        .map_err(|e| MeshError::Internal(format!("a quarantine's `_row`: {e}")))?;
    let row = row
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("INVARIANT: a cast to Int64 yields an Int64Array");
    Ok((0..batch.num_rows())
        .map(|i| {
            (ingest.is_valid(i) && row.is_valid(i))
                .then(|| (ingest.value(i).to_string(), row.value(i)))
        })
        .collect())
}
