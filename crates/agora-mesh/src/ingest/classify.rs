//! Classification on the write path: a stage that keeps a sample of each column's accepted
//! values as they stream by, classified as soon as it is complete (see `agora-classify`); and
//! the classification of a file that is not ingested (`agora classify`).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use agora_classify::{Classification, Classifier, SAMPLE_SIZE, ValueKind};
use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{BatchStage, InputFormat, StagedBatch};
use crate::MeshError;

/// Keeps the first [`SAMPLE_SIZE`] non-empty values of every column of the accepted rows.
#[derive(Default)]
pub(crate) struct ClassificationSample {
    /// Columns in the order they were first seen, with their sampled values.
    columns: Vec<(String, Vec<String>)>,
    /// The kind of each typed column's values (columns read from text have none).
    kinds: Vec<(String, ValueKind)>,
}

/// What an Arrow type says about the values a column can hold.
fn value_kind(t: &DataType) -> ValueKind {
    match t {
        DataType::Boolean => ValueKind::Boolean,
        t if t.is_integer() => ValueKind::Integer,
        t if t.is_floating()
            || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..)) =>
        {
            ValueKind::Decimal
        }
        DataType::Date32 | DataType::Date64 => ValueKind::Date,
        DataType::Timestamp(..) => ValueKind::Timestamp,
        _ => ValueKind::Text,
    }
}

impl ClassificationSample {
    fn values_mut(&mut self, name: &str) -> &mut Vec<String> {
        let i = match self.columns.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                self.columns.push((name.to_string(), Vec::new()));
                self.columns.len() - 1
            }
        };
        &mut self.columns[i].1
    }

    /// Whether every column seen has its sample (false before the first batch).
    pub(crate) fn full(&self) -> bool {
        !self.columns.is_empty() && self.columns.iter().all(|(_, v)| v.len() >= SAMPLE_SIZE)
    }

    fn add_column(&mut self, name: &str, array: &ArrayRef) -> Result<(), MeshError> {
        let kept = self.values_mut(name);
        if kept.len() >= SAMPLE_SIZE {
            return Ok(());
        }
        let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
            .map_err(|e| MeshError::Internal(format!("formatting column {name}: {e}")))?;
        for row in 0..array.len() {
            if kept.len() >= SAMPLE_SIZE {
                break;
            }
            if array.is_valid(row) {
                let value = formatter.value(row).to_string();
                if !value.trim().is_empty() {
                    kept.push(value);
                }
            }
        }
        Ok(())
    }

    fn add_batch(&mut self, batch: &RecordBatch) -> Result<(), MeshError> {
        for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
            if !self.kinds.iter().any(|(n, _)| n == field.name()) {
                self.kinds
                    .push((field.name().clone(), value_kind(field.data_type())));
            }
            self.add_column(field.name(), array)?;
        }
        Ok(())
    }

    fn kind(&self, column: &str) -> ValueKind {
        self.kinds
            .iter()
            .find(|(n, _)| n == column)
            .map_or(ValueKind::Text, |(_, k)| *k)
    }

    /// Classifies every sampled column, each among the categories its type admits.
    pub(crate) fn classify(&self, classifier: &Classifier) -> Vec<Classification> {
        self.columns
            .iter()
            .map(|(name, values)| {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                classifier.classify_typed(name, &refs, self.kind(name))
            })
            .collect()
    }
}

impl BatchStage for ClassificationSample {
    fn name(&self) -> &'static str {
        "classification sample"
    }

    fn apply(&mut self, batch: StagedBatch) -> Result<StagedBatch, MeshError> {
        if let Some(accepted) = &batch.accepted {
            self.add_batch(accepted)?;
        }
        Ok(batch)
    }
}

/// Classifies the columns of a CSV, JSON lines or Parquet file without ingesting it: the first
/// [`SAMPLE_SIZE`] values of each column, read as text.
pub fn classify_file(
    path: &Path,
    format: Option<InputFormat>,
) -> Result<Vec<Classification>, MeshError> {
    let name = path.display().to_string();
    let format = match format {
        Some(f) => f,
        None => InputFormat::from_file_name(&name).ok_or_else(|| {
            MeshError::bad_input(
                &name,
                "cannot tell the format from the name: pass --format csv|json|parquet",
            )
        })?,
    };
    let open = || {
        File::open(path).map_err(|source| MeshError::Io {
            path: name.clone(),
            source,
        })
    };
    let mut sample = ClassificationSample::default();
    match format {
        InputFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::new(open()?));
            let headers: Vec<String> = reader
                .headers()
                .map_err(|e| MeshError::bad_input(&name, format!("reading the header: {e}")))?
                .iter()
                .map(str::to_string)
                .collect();
            for h in &headers {
                sample.values_mut(h);
            }
            for (i, record) in reader.records().enumerate() {
                let record = record
                    .map_err(|e| MeshError::bad_input(&name, format!("line {}: {e}", i + 2)))?;
                for (h, v) in headers.iter().zip(record.iter()) {
                    let kept = sample.values_mut(h);
                    if kept.len() < SAMPLE_SIZE && !v.trim().is_empty() {
                        kept.push(v.to_string());
                    }
                }
                if sample.full() {
                    break;
                }
            }
        }
        InputFormat::Json => {
            use std::io::BufRead;
            for (i, line) in BufReader::new(open()?).lines().enumerate() {
                let line = line.map_err(|source| MeshError::Io {
                    path: name.clone(),
                    source,
                })?;
                if line.trim().is_empty() {
                    continue;
                }
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&line).map_err(|e| {
                        MeshError::bad_input(
                            &name,
                            format!("line {}: not a JSON object: {e}", i + 1),
                        )
                    })?;
                for (k, v) in object {
                    let text = match v {
                        serde_json::Value::Null => continue,
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let kept = sample.values_mut(&k);
                    if kept.len() < SAMPLE_SIZE && !text.trim().is_empty() {
                        kept.push(text);
                    }
                }
                if sample.full() {
                    break;
                }
            }
        }
        InputFormat::Parquet => {
            let reader =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)
                    .and_then(|b| b.build())
                    .map_err(|e| MeshError::bad_input(&name, format!("not a Parquet file: {e}")))?;
            for batch in reader {
                let batch = batch.map_err(|e| MeshError::bad_input(&name, e.to_string()))?;
                sample.add_batch(&batch)?;
                if sample.full() {
                    break;
                }
            }
        }
        InputFormat::ArrowIpc => {
            return Err(MeshError::bad_input(
                &name,
                "classify reads CSV, JSON lines and Parquet files",
            ));
        }
    }
    Ok(sample.classify(&Classifier::embedded()))
}
