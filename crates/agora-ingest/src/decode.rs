//! Decoding sources into Arrow batches of raw column values.
//!
//! CSV and JSON lines decode every value as text, so that a value of the wrong type becomes a
//! quarantined row (validation casts it) rather than a failed file. A malformed file — a
//! ragged CSV row, a line that is not JSON, a Parquet or Arrow file whose columns cannot be
//! read as the contract's — is an error naming the source and position, and nothing is
//! written. Columns are matched to the contract by their normalised name; a column the
//! contract does not define is an error, so no data is dropped silently. Without a contract
//! (`agora classify` of a file) columns keep the names the file gives them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use agora_model::{ContractTable, Name};
use arrow::array::{ArrayRef, StringBuilder};
use arrow::compute::can_cast_types;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::IngestError;

/// What the receiver of decoded batches wants next.
pub(crate) type Flow = std::ops::ControlFlow<()>;

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
    pub fn parse(raw: &str) -> Result<Self, IngestError> {
        match raw.to_ascii_lowercase().as_str() {
            "csv" => Ok(InputFormat::Csv),
            "json" | "jsonl" | "ndjson" => Ok(InputFormat::Json),
            "parquet" => Ok(InputFormat::Parquet),
            "arrow" | "ipc" | "arrows" => Ok(InputFormat::ArrowIpc),
            other => Err(IngestError::bad_input(
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

/// How a source's columns become the columns of its batches.
#[derive(Clone, Copy)]
pub(crate) enum Columns<'a> {
    /// Matched to a contract table's columns by normalised name; any other column is an error.
    Contract(&'a ContractTable),
    /// As the file names them.
    AsInFile,
}

impl Columns<'_> {
    /// The batch column each source column goes to.
    fn map(&self, source: &str, names: &[String]) -> Result<Vec<String>, IngestError> {
        match self {
            Columns::Contract(table) => Ok(map_columns(source, names, table)?
                .into_iter()
                .map(|n| n.to_string())
                .collect()),
            Columns::AsInFile => Ok(names.to_vec()),
        }
    }

    /// The columns every batch may hold, known before reading (none without a contract).
    fn known(&self) -> Vec<String> {
        match self {
            Columns::Contract(table) => table
                .columns
                .iter()
                .map(|c| c.sql_name.to_string())
                .collect(),
            Columns::AsInFile => Vec::new(),
        }
    }
}

/// Maps source column names to contract column names, refusing unknown columns.
fn map_columns(
    source: &str,
    names: &[String],
    table: &ContractTable,
) -> Result<Vec<Name>, IngestError> {
    let mut seen = HashMap::new();
    names
        .iter()
        .map(|raw| {
            let name = Name::normalize("column", raw)
                .map_err(|e| IngestError::bad_input(source, e.to_string()))?;
            if table.column(name.as_str()).is_none() {
                let known: Vec<&str> = table.columns.iter().map(|c| c.sql_name.as_str()).collect();
                return Err(IngestError::bad_input(
                    source,
                    format!(
                        "column `{raw}` is not in the contract of table {} (its columns: {})",
                        table.sql_name,
                        known.join(", ")
                    ),
                ));
            }
            if let Some(first) = seen.insert(name.clone(), raw.clone()) {
                return Err(IngestError::bad_input(
                    source,
                    format!("columns `{first}` and `{raw}` both map to `{name}`"),
                ));
            }
            Ok(name)
        })
        .collect()
}

fn text_schema(names: &[String]) -> Arc<Schema> {
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
    columns: Columns,
    mut emit: impl FnMut(RawBatch) -> Result<Flow, IngestError>,
) -> Result<(), IngestError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .map_err(|e| IngestError::bad_input(source, format!("cannot read the header row: {e}")))?;
    if header.trim().is_empty() {
        return Err(IngestError::bad_input(
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
        .map_err(|e| IngestError::bad_input(source, format!("line 1: malformed header: {e}")))?
        .map(|r| r.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let columns = columns.map(source, &names)?;
    // Hand the header back to arrow so that the line numbers in its errors are file lines.
    let full = std::io::Cursor::new(header.into_bytes()).chain(reader);
    let decoder = arrow::csv::ReaderBuilder::new(text_schema(&columns))
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build(full)
        .map_err(|e| IngestError::bad_input(source, e.to_string()))?;
    let mut first_row = 1;
    for batch in decoder {
        let batch = batch.map_err(|e| {
            IngestError::bad_input(
                source,
                e.to_string().trim_start_matches("Csv error: ").to_string(),
            )
        })?;
        let rows = batch.num_rows() as u64;
        if emit(RawBatch { batch, first_row })?.is_break() {
            break;
        }
        first_row += rows;
    }
    Ok(())
}

/// Decodes JSON lines: one object per line, nested values kept as JSON text.
pub(crate) fn json_lines(
    source: &str,
    reader: impl Read,
    columns: Columns,
    mut emit: impl FnMut(RawBatch) -> Result<Flow, IngestError>,
) -> Result<(), IngestError> {
    let reader = BufReader::with_capacity(1 << 20, reader);
    let mut builder = TextColumns::new(columns.known());
    let mut first_row = 1u64;
    let mut known_keys: HashMap<String, usize> = HashMap::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line =
            line.map_err(|e| IngestError::bad_input(source, format!("line {line_no}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let Members(object) = serde_json::from_str(&line).map_err(|e| {
            let message = if e.classify() == serde_json::error::Category::Data {
                format!("line {line_no}: {}", without_position(&e))
            } else {
                format!(
                    "line {line_no}, column {}: not JSON: {}",
                    e.column(),
                    without_position(&e)
                )
            };
            IngestError::bad_input(source, message)
        })?;
        let mut filled = vec![false; builder.names.len()];
        for (key, v) in &object {
            let col = match known_keys.get(key) {
                Some(&col) => col,
                None => {
                    let name = columns
                        .map(source, std::slice::from_ref(key))
                        .map_err(|e| {
                            IngestError::bad_input(source, format!("line {line_no}: {e}"))
                        })?
                        .remove(0);
                    let col = builder.column(&name);
                    filled.resize(builder.names.len(), false);
                    known_keys.insert(key.clone(), col);
                    col
                }
            };
            if filled[col] {
                continue;
            }
            filled[col] = true;
            builder.present[col] = true;
            match v {
                serde_json::Value::Null => builder.builders[col].append_null(),
                serde_json::Value::String(s) => builder.builders[col].append_value(s),
                other => builder.builders[col].append_value(other.to_string()),
            }
        }
        for (col, done) in filled.iter().enumerate() {
            if !done {
                builder.builders[col].append_null();
            }
        }
        builder.rows += 1;
        if builder.rows == BATCH_ROWS {
            let batch = builder.finish()?;
            if emit(RawBatch { batch, first_row })?.is_break() {
                return Ok(());
            }
            first_row = line_no + 1;
        }
    }
    if builder.rows > 0 {
        // The last batch: whether the receiver wants more no longer matters.
        let _ = emit(RawBatch {
            batch: builder.finish()?,
            first_row,
        })?;
    }
    Ok(())
}

/// A JSON line's members in order. A key that appears twice is refused: JSON parsers disagree
/// on which one wins, so the line means different data to different readers.
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Members, M::Error> {
                let mut members: Vec<(String, serde_json::Value)> = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!(
                            "key `{key}` appears twice in one object"
                        )));
                    }
                    members.push((key, value));
                }
                Ok(Members(members))
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Members, E> {
                Err(not_an_object("a boolean"))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Members, E> {
                Err(not_an_object("a number"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Members, E> {
                Err(not_an_object("a number"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Members, E> {
                Err(not_an_object("a number"))
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Members, E> {
                Err(not_an_object("a string"))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Members, E> {
                Err(not_an_object("null"))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<Members, A::Error> {
                Err(not_an_object("an array"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn not_an_object<E: serde::de::Error>(found: &str) -> E {
    E::custom(format!("expected a JSON object, found {found}"))
}

/// The text columns of the JSON batch being built.
struct TextColumns {
    names: Vec<String>,
    builders: Vec<StringBuilder>,
    /// Whether any line so far has mentioned the column.
    present: Vec<bool>,
    /// Rows in the batch being built.
    rows: usize,
}

impl TextColumns {
    fn new(names: Vec<String>) -> Self {
        TextColumns {
            builders: names.iter().map(|_| StringBuilder::new()).collect(),
            present: vec![false; names.len()],
            names,
            rows: 0,
        }
    }

    /// The index of column `name`, added (NULL in the rows before) if it is new.
    fn column(&mut self, name: &str) -> usize {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return i;
        }
        let mut builder = StringBuilder::new();
        for _ in 0..self.rows {
            builder.append_null();
        }
        self.names.push(name.to_string());
        self.builders.push(builder);
        self.present.push(false);
        self.names.len() - 1
    }

    fn finish(&mut self) -> Result<RecordBatch, IngestError> {
        self.rows = 0;
        // Columns no line has mentioned yet stay out, as a CSV without them would; if no line
        // had any known key, all columns are kept (all null) so that the row count survives.
        let any_present = self.present.iter().any(|p| *p);
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for ((name, builder), present) in self
            .names
            .iter()
            .zip(self.builders.iter_mut())
            .zip(&self.present)
        {
            let array = Arc::new(builder.finish());
            if *present || !any_present {
                fields.push(Field::new(name.as_str(), DataType::Utf8, true));
                arrays.push(array);
            }
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| IngestError::Internal(format!("building a JSON batch: {e}")))
    }
}

/// serde_json's message without its own " at line 1 column N" (it only ever sees one line).
fn without_position(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    }
}

/// Renames typed columns (Parquet, Arrow IPC) to contract names and checks each can be read
/// as the contract's type; without a contract, the batch is kept as it is.
pub(crate) fn typed_batch(
    source: &str,
    batch: RecordBatch,
    columns: Columns,
) -> Result<RecordBatch, IngestError> {
    let Columns::Contract(table) = columns else {
        return Ok(batch);
    };
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
            return Err(IngestError::bad_input(
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
        .map_err(|e| IngestError::bad_input(source, e.to_string()))
}
