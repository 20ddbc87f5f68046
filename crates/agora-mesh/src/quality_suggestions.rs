//! `agora quality suggest TABLE [--preview ID]`: the corrections `agora-quality` proposes for
//! a product table, from what its columns hold as the asking writer may read them.
//!
//! The values are read through the governed query layer as the writer (audited, interface as
//! called, its row filter applied), one statement for every column's distinct values and one
//! for the pairs a swapped-fields check needs. Columns masked for the writer are left out: a
//! suggestion quotes values, and one that changes a column the writer cannot read would tell it
//! what the column holds.

use agora_model::{ColumnType, ContractTable, Principal, TableRef};
use agora_quality::corrections::{
    ColumnSample, ColumnValues, Fix, PairCounts, Quartiles, Suggestion, SuggestionKind,
    swap_queries,
};
use agora_query::{GovernedSession, Interface, QUARANTINE_SUFFIX, SessionOptions};
use arrow::array::{Array, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::DataType;
use serde::Serialize;

use crate::correction_records::AppliedCorrection;
use crate::quality_corrections::{Cases, assignments, fix_condition};
use crate::quality_results::text;
use crate::sql_quoting::{quote_ident, quote_literal};
use crate::{Mesh, MeshError};

/// At most this many distinct values of a column are read; a column with more is judged on its
/// most frequent ones.
pub(crate) const DISTINCT_READ: usize = 20_000;
/// At most this many values of each column are looked up in pairs for swaps.
const SWAP_VALUES: usize = 1_000;
/// Rows a preview shows.
const PREVIEW_ROWS: usize = 10;

/// A suggestion as `agora quality suggest` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionView {
    pub id: String,
    pub kind: SuggestionKind,
    /// The column it changes (`a, b` for a swap).
    pub column: String,
    /// Its first value and what it becomes; `values` says how many distinct values it changes.
    pub original: String,
    pub proposed: String,
    pub values: usize,
    /// The rows it changes.
    pub rows: u64,
    pub confidence: f64,
    pub evidence: String,
    /// Every value it changes.
    pub fix: Fix,
}

impl From<&Suggestion> for SuggestionView {
    fn from(s: &Suggestion) -> Self {
        let (original, proposed) = s.fix.example();
        SuggestionView {
            id: s.id.clone(),
            kind: s.kind,
            column: s.fix.columns().join(", "),
            original,
            proposed,
            values: s.fix.len(),
            rows: s.fix.rows(),
            confidence: (s.confidence * 100.0).round() / 100.0,
            evidence: s.evidence.clone(),
            fix: s.fix.clone(),
        }
    }
}

/// The corrections proposed for a table.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionList {
    pub table: String,
    pub suggestions: Vec<SuggestionView>,
    /// The corrections proposed for its quarantined rows: applying one re-admits the rows it
    /// corrects (see `quality_readmission.rs`).
    pub quarantine: Vec<SuggestionView>,
}

/// Rows of a table before and after a suggestion, as the writer may read them.
#[derive(Debug, Clone)]
pub struct CorrectionPreview {
    pub suggestion: SuggestionView,
    pub before: Vec<RecordBatch>,
    pub after: Vec<RecordBatch>,
}

impl CorrectionPreview {
    /// `{suggestion, before, after}` with the rows as JSON objects.
    pub fn to_json(&self) -> Result<serde_json::Value, MeshError> {
        let rows = |batches: &[RecordBatch]| -> Result<serde_json::Value, MeshError> {
            let mut writer = arrow::json::ArrayWriter::new(Vec::new());
            for batch in batches {
                writer
                    .write(batch)
                    .map_err(|e| MeshError::Internal(format!("a preview as JSON: {e}")))?;
            }
            writer
                .finish()
                .map_err(|e| MeshError::Internal(format!("a preview as JSON: {e}")))?;
            let bytes = writer.into_inner();
            if bytes.is_empty() {
                return Ok(serde_json::json!([]));
            }
            serde_json::from_slice(&bytes)
                .map_err(|e| MeshError::Internal(format!("a preview as JSON: {e}")))
        };
        Ok(serde_json::json!({
            "suggestion": self.suggestion,
            "before": rows(&self.before)?,
            "after": rows(&self.after)?,
        }))
    }
}

/// How a column's distinct values, read as text, become the values suggestions judge.
type ReadAs = fn(Vec<(String, u64)>) -> ColumnValues;

/// Whether a column's values are read for suggestions, and as what.
fn sampled_as(column_type: &ColumnType) -> Option<ReadAs> {
    match &column_type.arrow {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(ColumnValues::Text),
        t if t.is_integer() => Some(|v| {
            ColumnValues::Integer(
                v.into_iter()
                    .filter_map(|(x, n)| Some((x.parse().ok()?, n)))
                    .collect(),
            )
        }),
        // Float32 values read as text do not compare equal to themselves as doubles: left out.
        DataType::Float64 | DataType::Decimal128(..) => Some(|v| {
            ColumnValues::Float(
                v.into_iter()
                    .filter_map(|(x, n)| Some((x.parse().ok()?, n)))
                    .collect(),
            )
        }),
        _ => None,
    }
}

impl Mesh {
    /// The corrections proposed for `table`, most confident first. Needs a write grant.
    pub async fn suggest_corrections(
        &self,
        actor: &Principal,
        table: &str,
        interface: Interface,
    ) -> Result<SuggestionList, MeshError> {
        let (table, _, suggestions) = self.suggestions(actor, table, interface).await?;
        let held = self
            .quarantine_suggestions(actor, &table, interface)
            .await?;
        Ok(SuggestionList {
            table: table.to_string(),
            suggestions: suggestions.iter().map(SuggestionView::from).collect(),
            quarantine: held.iter().map(SuggestionView::from).collect(),
        })
    }

    /// Up to ten rows the suggestion `id` would change, before and after: rows of the table, or
    /// of its quarantine for a suggestion that re-admits quarantined rows.
    pub async fn preview_correction(
        &self,
        actor: &Principal,
        table: &str,
        id: &str,
        interface: Interface,
    ) -> Result<CorrectionPreview, MeshError> {
        let (table, contract, mut suggestions) = self.suggestions(actor, table, interface).await?;
        let in_table = suggestions.iter().any(|s| s.id == id);
        if !in_table {
            suggestions.extend(
                self.quarantine_suggestions(actor, &table, interface)
                    .await?,
            );
        }
        let suggestion = self.find_suggestion(&table, &suggestions, id).await?;
        // Quarantined values are text: the fixes' literals for them are too.
        let from = match in_table {
            true => format!("{}.{}", table.domain, table.table),
            false => format!("{}.{}{QUARANTINE_SUFFIX}", table.domain, table.table),
        };
        let assigned: Vec<(String, Cases)> =
            assignments(std::slice::from_ref(&suggestion.fix), &contract)
                .into_iter()
                .collect();
        let after: Vec<String> = assigned
            .iter()
            .enumerate()
            .map(|(i, (column, cases))| {
                let data_type = contract.column(column).map(|c| &c.column_type.arrow);
                format!(
                    "{} AS {}",
                    cases.case_sql(&quote_ident(column), data_type),
                    quote_ident(&format!("__agora_after_{i}"))
                )
            })
            .collect();
        let sql = format!(
            "SELECT *, {} FROM {from} WHERE {} LIMIT {PREVIEW_ROWS}",
            after.join(", "),
            fix_condition(&suggestion.fix, &contract)
        );
        let session = self
            .session(actor, interface, SessionOptions::default())
            .await?;
        let batches = collect(&session, &sql).await?;
        let (before, after) = split_preview(&batches, &assigned)?;
        Ok(CorrectionPreview {
            suggestion: SuggestionView::from(&suggestion),
            before,
            after,
        })
    }

    /// The suggestion `id` among `suggestions` of `table`, or an error saying why it is not
    /// there: applied already, or never proposed for the table's data.
    pub(crate) async fn find_suggestion(
        &self,
        table: &TableRef,
        suggestions: &[Suggestion],
        id: &str,
    ) -> Result<Suggestion, MeshError> {
        if let Some(s) = suggestions.iter().find(|s| s.id == id) {
            return Ok(s.clone());
        }
        let applied = self.catalog.corrections(id).await?;
        if let Some(latest) = applied.first().filter(|r| r.reverted_at.is_none()) {
            let readmitted = serde_json::from_str::<AppliedCorrection>(&latest.record)
                .ok()
                .and_then(|r| r.readmitted_by);
            return Err(MeshError::Conflict(match readmitted {
                Some(ingest) => format!(
                    "suggestion {id} re-admitted quarantined rows of {} at {} (ingest {ingest})",
                    latest.table, latest.applied_at
                ),
                None => format!(
                    "suggestion {id} was applied to {} at {} (`agora quality revert {id}` undoes it)",
                    latest.table, latest.applied_at
                ),
            }));
        }
        Err(MeshError::NotFound {
            what: "suggestion",
            name: id.to_string(),
            hint: format!(
                " for {table} (its data holds no such fix now: `agora quality suggest {table}` lists the current ones)"
            ),
        })
    }

    /// The suggestions for `table` from what `actor`, a writer of it, may read.
    pub(crate) async fn suggestions(
        &self,
        actor: &Principal,
        table: &str,
        interface: Interface,
    ) -> Result<(TableRef, ContractTable, Vec<Suggestion>), MeshError> {
        let (table, product, contract) = self
            .writable(actor, table, "see suggested corrections for")
            .await?;
        let view = self.column_view(actor, &table, &product).await?;
        let columns: Vec<(String, ReadAs)> = contract
            .columns
            .iter()
            .filter(|c| !view.is_masked(c.sql_name.as_str()))
            .filter_map(|c| Some((c.sql_name.to_string(), sampled_as(&c.column_type)?)))
            .collect();
        let stored = self
            .store
            .open(&table, agora_storage::TableKind::Product)
            .await?;
        if columns.is_empty() || stored.is_none() {
            return Ok((table, contract, Vec::new()));
        }
        let session = self
            .session(actor, interface, SessionOptions::default())
            .await?;
        let samples = samples(&session, &table, &columns).await?;
        let pairs = self.pairs(&session, &table, &samples).await?;
        let suggestions = agora_quality::suggest(&table.to_string(), &samples, &pairs);
        Ok((table, contract, suggestions))
    }

    async fn pairs(
        &self,
        session: &GovernedSession,
        table: &TableRef,
        samples: &[ColumnSample],
    ) -> Result<Vec<PairCounts>, MeshError> {
        let queries = swap_queries(samples);
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let list = |values: &[String]| {
            values
                .iter()
                .take(SWAP_VALUES)
                .map(|v| quote_literal(v))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let parts: Vec<String> = queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let (a, b) = (quote_ident(&q.first), quote_ident(&q.second));
                format!(
                    "SELECT CAST({i} AS BIGINT) AS q, CAST({a} AS VARCHAR) AS x, CAST({b} AS VARCHAR) AS y, count(*) AS n FROM {}.{} WHERE {a} IN ({}) AND {b} IN ({}) GROUP BY {a}, {b}",
                    table.domain,
                    table.table,
                    list(&q.first_values),
                    list(&q.second_values)
                )
            })
            .collect();
        let batches = collect(session, &parts.join(" UNION ALL ")).await?;
        let mut counted: Vec<PairCounts> = queries
            .iter()
            .map(|q| PairCounts {
                first: q.first.clone(),
                second: q.second.clone(),
                pairs: Vec::new(),
            })
            .collect();
        for batch in &batches {
            let q = downcast_i64(batch, 0)?;
            let (x, y) = (text(batch.column(1))?, text(batch.column(2))?);
            let n = downcast_i64(batch, 3)?;
            for row in 0..batch.num_rows() {
                if let Some(c) = counted.get_mut(q.value(row) as usize) {
                    c.pairs.push((
                        (x.value(row).to_string(), y.value(row).to_string()),
                        n.value(row) as u64,
                    ));
                }
            }
        }
        for c in &mut counted {
            c.pairs.sort();
        }
        counted.retain(|c| !c.pairs.is_empty());
        Ok(counted)
    }
}

async fn samples(
    session: &GovernedSession,
    table: &TableRef,
    columns: &[(String, ReadAs)],
) -> Result<Vec<ColumnSample>, MeshError> {
    let names: Vec<String> = columns.iter().map(|(name, _)| name.clone()).collect();
    let from = format!("{}.{}", table.domain, table.table);
    let values = distinct_values(session, &from, &names).await?;
    let mut samples: Vec<ColumnSample> = columns
        .iter()
        .zip(values)
        .map(|((name, as_values), mut list)| {
            let complete = list.len() <= DISTINCT_READ;
            list.truncate(DISTINCT_READ);
            ColumnSample {
                name: name.clone(),
                values: as_values(list),
                complete,
                quartiles: None,
            }
        })
        .collect();
    far_numbers(session, table, columns, &mut samples).await?;
    Ok(samples)
}

/// For number columns with more distinct values than are read, the most frequent ones say
/// nothing of slips: their quartiles over every row are read instead, with the values far
/// outside them (beyond three interquartile ranges, or under a thirtieth of a positive
/// column's lower quartile), which are the candidates.
async fn far_numbers(
    session: &GovernedSession,
    table: &TableRef,
    columns: &[(String, ReadAs)],
    samples: &mut [ColumnSample],
) -> Result<(), MeshError> {
    let wide: Vec<usize> = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.complete && !matches!(s.values, ColumnValues::Text(_)))
        .map(|(i, _)| i)
        .collect();
    if wide.is_empty() {
        return Ok(());
    }
    let from = format!("{}.{}", table.domain, table.table);
    let parts: Vec<String> = wide
        .iter()
        .map(|&i| {
            let c = quote_ident(&samples[i].name);
            format!(
                "SELECT CAST({i} AS BIGINT) AS c, CAST(approx_percentile_cont({c}, 0.25) AS DOUBLE) AS q1, CAST(approx_percentile_cont({c}, 0.5) AS DOUBLE) AS m, CAST(approx_percentile_cont({c}, 0.75) AS DOUBLE) AS q3, count({c}) AS n FROM {from}"
            )
        })
        .collect();
    let mut quartiles: Vec<(usize, Quartiles)> = Vec::new();
    for batch in collect(session, &parts.join(" UNION ALL ")).await? {
        let c = downcast_i64(&batch, 0)?;
        let n = downcast_i64(&batch, 4)?;
        let number = |i: usize| {
            batch
                .column(i)
                .as_any()
                .downcast_ref::<Float64Array>()
                .cloned()
                .ok_or_else(|| MeshError::Internal("a quartile is not a double".into()))
        };
        let (q1, m, q3) = (number(1)?, number(2)?, number(3)?);
        for row in 0..batch.num_rows() {
            let finite = |a: &Float64Array| a.is_valid(row) && a.value(row).is_finite();
            if finite(&q1) && finite(&m) && finite(&q3) {
                quartiles.push((
                    c.value(row) as usize,
                    Quartiles {
                        q1: q1.value(row),
                        median: m.value(row),
                        q3: q3.value(row),
                        rows: n.value(row) as u64,
                    },
                ));
            }
        }
    }
    if quartiles.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = quartiles
        .iter()
        .map(|(i, q)| {
            let c = quote_ident(&samples[*i].name);
            let spread = (q.q3 - q.q1).max(0.1 * q.median.abs());
            let (low, high) = (q.q1 - 3.0 * spread, q.q3 + 3.0 * spread);
            format!(
                "SELECT * FROM (SELECT CAST({i} AS BIGINT) AS c, CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {from} WHERE {c} < {low:?} OR {c} > {high:?} OR ({c} > 0 AND {c} * 30 < {:?}) GROUP BY {c} ORDER BY n DESC, v LIMIT {DISTINCT_READ})",
                q.q1
            )
        })
        .collect();
    let mut far: Vec<Vec<(String, u64)>> = vec![Vec::new(); samples.len()];
    for batch in collect(session, &parts.join(" UNION ALL ")).await? {
        let c = downcast_i64(&batch, 0)?;
        let v = text(batch.column(1))?;
        let n = downcast_i64(&batch, 2)?;
        for row in 0..batch.num_rows() {
            if let Some(list) = far.get_mut(c.value(row) as usize) {
                list.push((v.value(row).to_string(), n.value(row) as u64));
            }
        }
    }
    for (i, q) in quartiles {
        let read_as = columns[i].1;
        samples[i].values = read_as(std::mem::take(&mut far[i]));
        samples[i].quartiles = Some(q);
    }
    Ok(())
}

/// Each column's distinct non-null values in `from` (an SQL table name) as text, with the rows
/// holding each, most frequent first: at most one more than [`DISTINCT_READ`], so that a
/// column with too many shows it. One statement for all columns.
pub(crate) async fn distinct_values(
    session: &GovernedSession,
    from: &str,
    columns: &[String],
) -> Result<Vec<Vec<(String, u64)>>, MeshError> {
    let mut values: Vec<Vec<(String, u64)>> = vec![Vec::new(); columns.len()];
    if columns.is_empty() {
        return Ok(values);
    }
    let parts: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let c = quote_ident(name);
            format!(
                "SELECT * FROM (SELECT CAST({i} AS BIGINT) AS c, CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {from} WHERE {c} IS NOT NULL GROUP BY {c} ORDER BY n DESC, v LIMIT {})",
                DISTINCT_READ + 1
            )
        })
        .collect();
    for batch in &collect(session, &parts.join(" UNION ALL ")).await? {
        let c = downcast_i64(batch, 0)?;
        let v = text(batch.column(1))?;
        let n = downcast_i64(batch, 2)?;
        for row in 0..batch.num_rows() {
            if let Some(list) = values.get_mut(c.value(row) as usize) {
                list.push((v.value(row).to_string(), n.value(row) as u64));
            }
        }
    }
    for list in &mut values {
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    Ok(values)
}

pub(crate) async fn collect(
    session: &GovernedSession,
    sql: &str,
) -> Result<Vec<RecordBatch>, MeshError> {
    session
        .sql(sql)
        .await?
        .collect()
        .await
        .map_err(|e| MeshError::Internal(format!("reading the table for suggestions: {e}")))
}

fn downcast_i64(batch: &RecordBatch, i: usize) -> Result<&Int64Array, MeshError> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| {
            MeshError::Internal(format!("column {i} of a suggestion query is not BIGINT"))
        })
}

/// The preview's rows as they are (its `SELECT *` columns) and as the fix leaves them (each
/// written column replaced by its `__agora_after_{i}` twin).
fn split_preview(
    batches: &[RecordBatch],
    assigned: &[(String, Cases)],
) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), MeshError> {
    let mut before = Vec::new();
    let mut after = Vec::new();
    for batch in batches {
        let kept = batch.num_columns() - assigned.len();
        let original = batch
            .project(&(0..kept).collect::<Vec<_>>())
            .map_err(|e| MeshError::Internal(format!("a preview: {e}")))?;
        let schema = original.schema();
        let mut columns = original.columns().to_vec();
        for (i, (column, _)) in assigned.iter().enumerate() {
            if let Ok(position) = schema.index_of(column) {
                columns[position] = arrow::compute::cast(
                    batch.column(kept + i),
                    schema.field(position).data_type(),
                )
                .map_err(|e| MeshError::Internal(format!("a preview: {e}")))?;
            }
        }
        after.push(
            RecordBatch::try_new(schema, columns)
                .map_err(|e| MeshError::Internal(format!("a preview: {e}")))?,
        );
        before.push(original);
    }
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_numbers_and_decimals_are_sampled_dates_are_not() {
        let of = |t: DataType| sampled_as(&ColumnType { arrow: t });
        assert!(of(DataType::Utf8).is_some());
        assert!(of(DataType::Int32).is_some());
        assert!(of(DataType::Decimal128(10, 2)).is_some());
        assert!(of(DataType::Date32).is_none());
        assert!(of(DataType::Boolean).is_none());
    }
}
