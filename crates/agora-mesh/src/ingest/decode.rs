//! Decoding sources into Arrow batches of raw column values.
//!
//! CSV and JSON lines decode every value as text, so that a value of the wrong type becomes a
//! quarantined row (validation casts it) rather than a failed file. A malformed file — a
//! ragged CSV row, a line that is not JSON, a Parquet or Arrow file whose columns cannot be
//! read as the contract's — is an error naming the source and position, and nothing is
//! written. Columns are matched to the contract by their normalised name; a column the
//! contract does not define is an error, so no data is dropped silently.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use agora_model::{ContractTable, Name};
use arrow::array::{ArrayRef, StringBuilder};
use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::MeshError;

/// Rows per decoded batch.
pub(crate) const BATCH_ROWS: usize = 8192;

/// The formats Agora ingests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    /// JSON lines: one object per line.
    Json,
    Parquet,
    /// The Arrow IPC stream format.
    ArrowIpc,
}

impl InputFormat {
    pub fn parse(raw: &str) -> Result<Self, MeshError> {
        match raw.to_ascii_lowercase().as_str() {
            "csv" => Ok(InputFormat::Csv),
            "json" | "jsonl" | "ndjson" => Ok(InputFormat::Json),
            "parquet" => Ok(InputFormat::Parquet),
            "arrow" | "ipc" | "arrows" => Ok(InputFormat::ArrowIpc),
            other => Err(MeshError::bad_input(
                "format",
                format!("unknown format `{other}`: use csv, json, parquet or arrow"),
            )),
        }
    }

    /// The format a file name implies, from its extension.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1;
        Self::parse(ext).ok()
    }
}

/// A batch of raw values and the 1-based position in the source of its first row.
pub(crate) struct RawBatch {
    pub batch: RecordBatch,
    pub first_row: u64,
}

/// Maps source column names to contract column names, refusing unknown columns.
fn map_columns(
    source: &str,
    names: &[String],
    table: &ContractTable,
) -> Result<Vec<Name>, MeshError> {
    let mut seen = HashMap::new();
    names
        .iter()
        .map(|raw| {
            let name = Name::normalize("column", raw)
                .map_err(|e| MeshError::bad_input(source, e.to_string()))?;
            if table.column(name.as_str()).is_none() {
                let known: Vec<&str> = table.columns.iter().map(|c| c.sql_name.as_str()).collect();
                return Err(MeshError::bad_input(
                    source,
                    format!(
                        "column `{raw}` is not in the contract of table {} (its columns: {})",
                        table.sql_name,
                        known.join(", ")
                    ),
                ));
            }
            if let Some(first) = seen.insert(name.clone(), raw.clone()) {
                return Err(MeshError::bad_input(
                    source,
                    format!("columns `{first}` and `{raw}` both map to `{name}`"),
                ));
            }
            Ok(name)
        })
        .collect()
}

fn text_schema(names: &[Name]) -> Arc<Schema> {
    Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(n.as_str(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// Decodes CSV with a header row, every value as text.
pub(crate) fn csv(
    source: &str,
    reader: impl Read,
    table: &ContractTable,
    mut emit: impl FnMut(RawBatch) -> Result<(), MeshError>,
) -> Result<(), MeshError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(|e| MeshError::bad_input(source, format!("cannot read the header row: {e}")))?;
    if header.trim().is_empty() {
        return Err(MeshError::bad_input(
            source,
            "the file is empty: expected a header row",
        ));
    }
    let names: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(header.as_bytes())
        .records()
        .next()
        .transpose()
        .map_err(|e| MeshError::bad_input(source, format!("line 1: malformed header: {e}")))?
        .map(|r| r.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let columns = map_columns(source, &names, table)?;
    // Hand the header back to arrow so that the line numbers in its errors are file lines.
    let full = std::io::Cursor::new(header.into_bytes()).chain(reader);
    let decoder = arrow::csv::ReaderBuilder::new(text_schema(&columns))
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build(full)
        .map_err(|e| MeshError::bad_input(source, e.to_string()))?;
    let mut first_row = 1;
    for batch in decoder {
        let batch = batch.map_err(|e| {
            MeshError::bad_input(
                source,
                e.to_string().trim_start_matches("Csv error: ").to_string(),
            )
        })?;
        let rows = batch.num_rows() as u64;
        emit(RawBatch { batch, first_row })?;
        first_row += rows;
    }
    Ok(())
}

/// Decodes JSON lines: one object per line, nested values kept as JSON text.
pub(crate) fn json_lines(
    source: &str,
    reader: impl Read,
    table: &ContractTable,
    mut emit: impl FnMut(RawBatch) -> Result<(), MeshError>,
) -> Result<(), MeshError> {
    let reader = BufReader::with_capacity(1 << 20, reader);
    let names: Vec<Name> = table.columns.iter().map(|c| c.sql_name.clone()).collect();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut builders: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let mut present = vec![false; names.len()];
    let mut rows = 0usize;
    let mut first_row = 1u64;
    let mut known_keys: HashMap<String, usize> = HashMap::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line =
            line.map_err(|e| MeshError::bad_input(source, format!("line {line_no}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
            MeshError::bad_input(
                source,
                format!(
                    "line {line_no}, column {}: not JSON: {}",
                    e.column(),
                    without_position(&e)
                ),
            )
        })?;
        let serde_json::Value::Object(object) = value else {
            return Err(MeshError::bad_input(
                source,
                format!(
                    "line {line_no}: expected a JSON object, found {}",
                    value_kind(&value)
                ),
            ));
        };
        let mut filled = vec![false; names.len()];
        for (key, v) in &object {
            let col = match known_keys.get(key) {
                Some(&col) => col,
                None => {
                    let name = map_columns(source, std::slice::from_ref(key), table)
                        .map_err(|e| MeshError::bad_input(source, format!("line {line_no}: {e}")))?
                        .remove(0);
                    let col = index[name.as_str()];
                    known_keys.insert(key.clone(), col);
                    col
                }
            };
            if filled[col] {
                continue;
            }
            filled[col] = true;
            present[col] = true;
            match v {
                serde_json::Value::Null => builders[col].append_null(),
                serde_json::Value::String(s) => builders[col].append_value(s),
                other => builders[col].append_value(other.to_string()),
            }
        }
        for (col, done) in filled.iter().enumerate() {
            if !done {
                builders[col].append_null();
            }
        }
        rows += 1;
        if rows == BATCH_ROWS {
            emit(RawBatch {
                batch: finish_text_batch(&names, &mut builders, &present)?,
                first_row,
            })?;
            first_row = line_no + 1;
            rows = 0;
        }
    }
    if rows > 0 {
        emit(RawBatch {
            batch: finish_text_batch(&names, &mut builders, &present)?,
            first_row,
        })?;
    }
    Ok(())
}

fn finish_text_batch(
    names: &[Name],
    builders: &mut [StringBuilder],
    present: &[bool],
) -> Result<RecordBatch, MeshError> {
    // Columns no line has mentioned yet stay out, as a CSV without them would; if no line had
    // any known key, all columns are kept (all null) so that the row count survives.
    let any_present = present.iter().any(|p| *p);
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for ((name, builder), present) in names.iter().zip(builders.iter_mut()).zip(present) {
        let array = Arc::new(builder.finish());
        if *present || !any_present {
            fields.push(Field::new(name.as_str(), DataType::Utf8, true));
            arrays.push(array);
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| MeshError::Internal(format!("building a JSON batch: {e}")))
}

/// serde_json's message without its own " at line 1 column N" (it only ever sees one line).
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    }
}

fn value_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Renames typed columns (Parquet, Arrow IPC) to contract names and checks each can be read
/// as the contract's type.
pub(crate) fn typed_batch(
    source: &str,
    batch: RecordBatch,
    table: &ContractTable,
) -> Result<RecordBatch, MeshError> {
    let schema = batch.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mapped = map_columns(source, &names, table)?;
    let mut fields = Vec::with_capacity(mapped.len());
    for (field, name) in schema.fields().iter().zip(&mapped) {
        let target = &table
            .column(name.as_str())
            .expect("INVARIANT: map_columns only returns contract columns")
            .column_type
            .arrow;
        if !can_cast_types(field.data_type(), target) {
            return Err(MeshError::bad_input(
                source,
                format!(
                    "column `{}` has type {} in the file, which cannot be read as the contract's {target}",
                    field.name(),
                    field.data_type()
                ),
            ));
        }
        fields.push(Field::new(name.as_str(), field.data_type().clone(), true));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())
        .map_err(|e| MeshError::bad_input(source, e.to_string()))
}
