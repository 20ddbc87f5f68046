//! Validation against the contract: the first stage of the write path.
//!
//! Each row is checked for type (the raw value casts to the column's type), required values,
//! enumerations and uniqueness (each `unique` column alone, and the primary key columns
//! together) within the ingest and, for an append, against the rows the table has. A row that
//! fails any check goes to quarantine with every reason and its source position; the others go
//! on to the product table. A merge replaces rows by primary key, so an input holding one key
//! twice is ambiguous: it is refused whole instead.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use agora_model::ContractTable;
use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray, new_null_array};
use arrow::compute::{CastOptions, cast, cast_with_options, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::array_value_to_string;

use async_trait::async_trait;

use crate::{IngestContext, IngestError, Stage, StagedBatch};

pub use agora_storage::{QUARANTINE_INGEST, QUARANTINE_REASON, QUARANTINE_ROW, QUARANTINE_SOURCE};

/// Checks batches of one ingest against one contract table.
pub struct Validation {
    table: ContractTable,
    target: SchemaRef,
    ingest_id: String,
    source: String,
    /// One constraint per unique column, plus one for a composite primary key.
    unique: Vec<Constraint>,
    /// A merge's validation: a repeated primary key refuses the input.
    refuse_repeated_keys: bool,
    /// Keep the accepted rows in the quarantine's form too ([`StagedBatch::held`]).
    hold_accepted: bool,
}

/// Where a key was seen first.
#[derive(Clone, Copy)]
enum Seen {
    /// The 1-based source row of this ingest.
    Row(u64),
    /// A row the table had before the ingest.
    Table,
}

/// A uniqueness constraint: its columns and the keys seen so far.
struct Constraint {
    columns: Vec<usize>,
    primary_key: bool,
    seen: HashMap<String, Seen>,
}

impl Validation {
    /// Checks rows against `table`, typing them as `target`; quarantined rows carry
    /// `ingest_id` and `source`.
    pub fn new(table: ContractTable, target: SchemaRef, ingest_id: String, source: String) -> Self {
        let constraint = |columns: Vec<usize>, primary_key: bool| Constraint {
            columns,
            primary_key,
            seen: HashMap::new(),
        };
        let pk: Vec<usize> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.primary_key)
            .map(|(i, _)| i)
            .collect();
        let mut unique: Vec<Constraint> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.unique)
            .map(|(i, _)| constraint(vec![i], pk == [i]))
            .collect();
        if !pk.is_empty() && !unique.iter().any(|c| c.columns == pk) {
            unique.push(constraint(pk, true));
        }
        Validation {
            table,
            target,
            ingest_id,
            source,
            unique,
            refuse_repeated_keys: false,
            hold_accepted: false,
        }
    }

    /// Validation that also passes on the accepted rows in the quarantine's form, for an
    /// ingest a quality rule may still send to quarantine whole.
    pub fn holding_accepted(mut self) -> Self {
        self.hold_accepted = true;
        self
    }

    /// A merge's validation (see the module docs): an input holding a primary key twice is
    /// refused whole, and only the primary key is checked across rows (the table's other
    /// unique values may belong to the rows the merge replaces).
    pub fn for_merge(mut self) -> Self {
        self.unique.retain(|c| c.primary_key);
        self.refuse_repeated_keys = true;
        self
    }

    /// The columns of every uniqueness constraint, which [`Validation::note_existing`] needs.
    pub fn key_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = self
            .unique
            .iter()
            .flat_map(|c| c.columns.iter())
            .map(|&i| self.table.columns[i].sql_name.to_string())
            .collect();
        columns.sort();
        columns.dedup();
        columns
    }

    /// Notes the keys of rows the table already has (`batch` holds [`Validation::key_columns`]),
    /// so that an append cannot add a second row with one of them.
    pub fn note_existing(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        for constraint in &mut self.unique {
            let mut texts = Vec::with_capacity(constraint.columns.len());
            for &c in &constraint.columns {
                let name = self.table.columns[c].sql_name.as_str();
                let column = batch.column_by_name(name).ok_or_else(|| {
                    IngestError::Internal(format!("the table's keys lack column `{name}`"))
                })?;
                texts.push(as_text(column)?);
            }
            for row in 0..batch.num_rows() {
                if texts.iter().any(|t| t.is_null(row)) {
                    continue;
                }
                let key = texts
                    .iter()
                    .map(|t| t.value(row))
                    .collect::<Vec<_>>()
                    .join("\u{1f}");
                constraint.seen.insert(key, Seen::Table);
            }
        }
        Ok(())
    }
}

/// Empty text counts as missing (CSV cannot tell the two apart).
fn blank_to_null(array: &ArrayRef) -> Result<ArrayRef, IngestError> {
    if let Some(strings) = array.as_any().downcast_ref::<StringArray>() {
        // Scan first: most columns have no blank value, and then nothing is copied.
        if !strings
            .iter()
            .any(|v| v.is_some_and(|s| s.trim().is_empty()))
        {
            return Ok(array.clone());
        }
        let cleaned: StringArray = strings
            .iter()
            .map(|v| v.filter(|s| !s.trim().is_empty()))
            .collect();
        return Ok(Arc::new(cleaned));
    }
    Ok(array.clone())
}

fn as_text(array: &ArrayRef) -> Result<StringArray, IngestError> {
    let text = cast(array, &DataType::Utf8)
        .map_err(|e| IngestError::Internal(format!("casting to text: {e}")))?;
    Ok(text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("INVARIANT: a cast to Utf8 yields a StringArray")
        .clone())
}

#[async_trait]
impl Stage for Validation {
    fn name(&self) -> &'static str {
        "validate"
    }

    async fn apply(
        &mut self,
        staged: StagedBatch,
        _context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let StagedBatch {
            raw: batch,
            first_row,
            ..
        } = staged;
        let rows = batch.num_rows();
        let mut reasons: Vec<Vec<String>> = vec![Vec::new(); rows];
        let (typed, raws) = self.check_columns(&batch, &mut reasons)?;
        // Uniqueness last, so that keys of rows rejected for other reasons don't count.
        self.check_uniqueness(&typed, &mut reasons, first_row)?;

        let accepted = RecordBatch::try_new(self.target.clone(), typed)
            .map_err(|e| IngestError::Internal(format!("building the validated batch: {e}")))?;
        let accepted_mask: BooleanArray = reasons.iter().map(|r| Some(r.is_empty())).collect();
        let held = match self.hold_accepted {
            true => Some(self.quarantine_batch(&reasons, &raws, first_row, &accepted_mask)?),
            false => None,
        };
        let (accepted, rejected) = if accepted_mask.true_count() == rows {
            (accepted, None)
        } else {
            let rejected_mask = arrow::compute::not(&accepted_mask)
                .map_err(|e| IngestError::Internal(format!("masking rejected rows: {e}")))?;
            let accepted = filter_record_batch(&accepted, &accepted_mask)
                .map_err(|e| IngestError::Internal(format!("filtering accepted rows: {e}")))?;
            (
                accepted,
                Some(self.quarantine_batch(&reasons, &raws, first_row, &rejected_mask)?),
            )
        };
        Ok(vec![StagedBatch {
            raw: RecordBatch::new_empty(batch.schema()),
            first_row,
            accepted: Some(accepted),
            rejected,
            held,
        }])
    }
}

impl Validation {
    /// Types each contract column of `batch` and notes every row's type, required-value and
    /// enumeration failures in `reasons`; returns the typed columns and the raw ones.
    fn check_columns(
        &self,
        batch: &RecordBatch,
        reasons: &mut [Vec<String>],
    ) -> Result<(Vec<ArrayRef>, Vec<Option<ArrayRef>>), IngestError> {
        let rows = batch.num_rows();
        let safe = CastOptions {
            safe: true,
            ..Default::default()
        };
        let mut typed: Vec<ArrayRef> = Vec::with_capacity(self.table.columns.len());
        let mut raws: Vec<Option<ArrayRef>> = Vec::with_capacity(self.table.columns.len());
        for (column, field) in self.table.columns.iter().zip(self.target.fields()) {
            let name = column.sql_name.as_str();
            let Some(raw) = batch.column_by_name(name) else {
                if column.required {
                    for r in reasons.iter_mut() {
                        r.push(format!("required column `{name}` is missing"));
                    }
                }
                typed.push(new_null_array(field.data_type(), rows));
                raws.push(None);
                continue;
            };
            let raw = blank_to_null(raw)?;
            let value = cast_with_options(&raw, field.data_type(), &safe).map_err(|e| {
                IngestError::bad_input(&self.source, format!("column `{name}`: {e}"))
            })?;
            // Fast path: a cast that lost no value and a column with no gap to fill.
            let cast_failed = value.null_count() > raw.null_count();
            let missing = column.required && value.null_count() > 0;
            if cast_failed || missing {
                for (row, reason) in reasons.iter_mut().enumerate() {
                    if raw.is_valid(row) && value.is_null(row) {
                        reason.push(format!(
                            "`{name}`: `{}` is not a valid {}",
                            array_value_to_string(&raw, row).unwrap_or_default(),
                            field.data_type()
                        ));
                    } else if column.required && value.is_null(row) {
                        reason.push(format!("`{name}` is required"));
                    }
                }
            }
            if let Some(valid) = &column.valid_values {
                let allowed: HashSet<&str> = valid.iter().map(String::as_str).collect();
                let canonical = as_text(&value)?;
                for (row, reason) in reasons.iter_mut().enumerate() {
                    if canonical.is_valid(row) && !allowed.contains(canonical.value(row)) {
                        reason.push(format!(
                            "`{name}`: `{}` is not one of {}",
                            canonical.value(row),
                            valid.join(", ")
                        ));
                    }
                }
            }
            typed.push(value);
            raws.push(Some(raw));
        }
        Ok((typed, raws))
    }

    /// Notes in `reasons` the rows whose unique key (or primary key) an earlier row of this
    /// ingest, or a row of the table, already had; rows rejected for other reasons are skipped.
    /// For a merge, a repeated primary key refuses the input.
    fn check_uniqueness(
        &mut self,
        typed: &[ArrayRef],
        reasons: &mut [Vec<String>],
        first_row: u64,
    ) -> Result<(), IngestError> {
        for constraint in &mut self.unique {
            let columns = &constraint.columns;
            let canonical: Vec<(usize, StringArray)> = columns
                .iter()
                .map(|&c| Ok((c, as_text(&typed[c])?)))
                .collect::<Result<_, IngestError>>()?;
            let canonical = |c: usize| {
                &canonical
                    .iter()
                    .find(|(i, _)| *i == c)
                    .expect("INVARIANT: every key column was cast")
                    .1
            };
            let names: Vec<&str> = columns
                .iter()
                .map(|&c| self.table.columns[c].sql_name.as_str())
                .collect();
            let what = match constraint.primary_key {
                true => format!("primary key {}", names.join(", ")),
                false => names.join(", "),
            };
            for (row, reason) in reasons.iter_mut().enumerate() {
                if !reason.is_empty() || columns.iter().any(|&c| canonical(c).is_null(row)) {
                    continue;
                }
                let key = columns
                    .iter()
                    .map(|&c| canonical(c).value(row))
                    .collect::<Vec<_>>()
                    .join("\u{1f}");
                let shown = key.replace('\u{1f}', ", ");
                let at = first_row + row as u64;
                match constraint.seen.get(&key).copied() {
                    None => {
                        constraint.seen.insert(key, Seen::Row(at));
                    }
                    Some(Seen::Row(earlier)) if self.refuse_repeated_keys => {
                        return Err(IngestError::bad_input(
                            &self.source,
                            format!(
                                "rows {earlier} and {at} have the same {what} `{shown}`: a merge needs one row per key, so nothing was written"
                            ),
                        ));
                    }
                    Some(Seen::Row(_)) => {
                        reason.push(format!("duplicate {what} `{shown}` in this ingest"))
                    }
                    Some(Seen::Table) => reason.push(format!(
                        "{what} `{shown}` is already in the table (ingest with --mode merge to update rows)"
                    )),
                }
            }
        }
        Ok(())
    }

    /// The rows `keep` selects in the quarantine's form: ingest id, source, position, reasons,
    /// and every raw value as text.
    fn quarantine_batch(
        &self,
        reasons: &[Vec<String>],
        raws: &[Option<ArrayRef>],
        first_row: u64,
        keep: &BooleanArray,
    ) -> Result<RecordBatch, IngestError> {
        let rows = reasons.len();
        let mut fields = vec![
            Field::new(QUARANTINE_INGEST, DataType::Utf8, false),
            Field::new(QUARANTINE_SOURCE, DataType::Utf8, false),
            Field::new(QUARANTINE_ROW, DataType::Int64, false),
            Field::new(QUARANTINE_REASON, DataType::Utf8, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.ingest_id.as_str(); rows])),
            Arc::new(StringArray::from(vec![self.source.as_str(); rows])),
            Arc::new(Int64Array::from_iter_values(
                (0..rows as u64).map(|r| (first_row + r) as i64),
            )),
            Arc::new(StringArray::from_iter_values(
                reasons.iter().map(|r| r.join("; ")),
            )),
        ];
        for (column, raw) in self.table.columns.iter().zip(raws) {
            fields.push(Field::new(column.sql_name.as_str(), DataType::Utf8, true));
            columns.push(match raw {
                Some(raw) => Arc::new(as_text(raw)?),
                None => new_null_array(&DataType::Utf8, rows),
            });
        }
        let all = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
            .map_err(|e| IngestError::Internal(format!("building the quarantine batch: {e}")))?;
        filter_record_batch(&all, keep)
            .map_err(|e| IngestError::Internal(format!("filtering quarantined rows: {e}")))
    }
}
