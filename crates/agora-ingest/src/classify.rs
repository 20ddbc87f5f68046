//! Classification on the write path: a stage that keeps a sample of each column's accepted
//! values as they stream by and holds the batches back until the sample is complete; then it
//! is classified (see `agora-classify`), the tags it decides are known to the later stages, and
//! the batches go on. Also the classification of a file that is not ingested (`agora
//! classify`), through the same decoders.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use agora_classify::{Classification, Classifier, SAMPLE_SIZE, ValueKind};
use agora_model::{ColumnTag, Name};
use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;

use crate::decode::Columns;
use crate::source::decode_source;
use crate::{
    ClassificationOutcome, IngestContext, IngestError, InputFormat, Source, Stage, StagedBatch,
    tags,
};

/// The sample is complete once every column has its values, or after this many accepted rows
/// (columns that are mostly empty would otherwise hold rows back): the rows before the decision
/// wait in memory.
const DECIDE_AFTER_ROWS: usize = 65_536;

/// Keeps the first [`SAMPLE_SIZE`] non-empty values of every column of the accepted rows.
#[derive(Default)]
struct ClassificationSample {
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
    fn full(&self) -> bool {
        !self.columns.is_empty() && self.columns.iter().all(|(_, v)| v.len() >= SAMPLE_SIZE)
    }

    fn add_column(&mut self, name: &str, array: &ArrayRef) -> Result<(), IngestError> {
        let kept = self.values_mut(name);
        if kept.len() >= SAMPLE_SIZE {
            return Ok(());
        }
        let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
            .map_err(|e| IngestError::Internal(format!("formatting column {name}: {e}")))?;
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

    fn add_batch(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
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
    fn classify(&self, classifier: &Classifier) -> Vec<Classification> {
        self.columns
            .iter()
            .map(|(name, values)| {
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                classifier.classify_typed(name, &refs, self.kind(name))
            })
            .collect()
    }
}

/// The classification stage (see the module docs).
pub struct Classify {
    /// `None` once the sample is classified: batches then go straight on.
    sample: Option<ClassificationSample>,
    held: Vec<StagedBatch>,
    held_rows: usize,
    /// The table's tags before this ingest.
    tags_before: Vec<ColumnTag>,
    actor: Name,
}

impl Classify {
    /// Decisions are made against the table's tags before the ingest, as `actor`'s.
    pub fn new(tags_before: Vec<ColumnTag>, actor: Name) -> Self {
        Classify {
            sample: Some(ClassificationSample::default()),
            held: Vec::new(),
            held_rows: 0,
            tags_before,
            actor,
        }
    }

    /// Classifies the sample, tells the context, and lets the held batches go.
    async fn decide(
        &mut self,
        sample: ClassificationSample,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let classified =
            tokio::task::spawn_blocking(move || sample.classify(&Classifier::embedded()))
                .await
                .map_err(|e| IngestError::Internal(format!("the classifier failed: {e}")))?;
        let now = crate::now();
        let decisions = tags::decide(
            &context.table,
            &classified,
            &self.tags_before,
            &self.actor,
            &now,
        );
        let tags_after = tags::after(&self.tags_before, &decisions);
        context.classification = Some(ClassificationOutcome {
            classified,
            decisions,
            tags_after,
        });
        self.held_rows = 0;
        Ok(std::mem::take(&mut self.held))
    }
}

#[async_trait]
impl Stage for Classify {
    fn name(&self) -> &'static str {
        "classify"
    }

    async fn apply(
        &mut self,
        batch: StagedBatch,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let Some(sample) = self.sample.as_mut() else {
            return Ok(vec![batch]);
        };
        if let Some(accepted) = &batch.accepted {
            sample.add_batch(accepted)?;
            self.held_rows += accepted.num_rows();
        }
        self.held.push(batch);
        if sample.full() || self.held_rows >= DECIDE_AFTER_ROWS {
            let sample = self.sample.take().expect("INVARIANT: checked just above");
            return self.decide(sample, context).await;
        }
        Ok(Vec::new())
    }

    async fn finish(
        &mut self,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        match self.sample.take() {
            Some(sample) => self.decide(sample, context).await,
            None => Ok(Vec::new()),
        }
    }
}

/// Classifies the columns of a file without ingesting it: the first [`SAMPLE_SIZE`] values of
/// each column, decoded as an ingest decodes them (text from CSV and JSON lines, typed values
/// from Parquet and Arrow IPC), with the names the file gives the columns.
pub fn classify_file(
    path: &Path,
    format: Option<InputFormat>,
) -> Result<Vec<Classification>, IngestError> {
    let source = Source::File(path.to_path_buf());
    let format = source.format(format)?;
    let mut sample = ClassificationSample::default();
    decode_source(source, format, Columns::AsInFile, Arc::default(), |raw| {
        sample.add_batch(&raw.batch)?;
        Ok(if sample.full() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })?;
    Ok(sample.classify(&Classifier::embedded()))
}
