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

    /// [`Self::classify`] of the columns that have values: an empty or all-null sample
    /// decides nothing.
    fn classify_sampled(&self, classifier: &Classifier) -> Vec<Classification> {
        let mut sampled = ClassificationSample {
            columns: Vec::new(),
            kinds: self.kinds.clone(),
        };
        sampled.columns = self
            .columns
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .cloned()
            .collect();
        sampled.classify(classifier)
    }
}

/// Rows drawn uniformly at random from the whole ingest (reservoir sampling, Li's Algorithm L:
/// it skips ahead, so it costs a random draw per kept row, not per row). The first rows of an
/// ingest are the writer's to choose; a random sample of all of them is not, so it checks the
/// decision the first rows made.
struct RowReservoir {
    /// The column names, in the accepted rows' order.
    columns: Vec<String>,
    kinds: Vec<(String, ValueKind)>,
    rows: Vec<Vec<Option<String>>>,
    /// Rows seen so far, and the index of the next row to keep.
    seen: u64,
    next: u64,
    w: f64,
}

impl RowReservoir {
    fn new() -> Self {
        let mut r = RowReservoir {
            columns: Vec::new(),
            kinds: Vec::new(),
            rows: Vec::with_capacity(SAMPLE_SIZE),
            seen: 0,
            next: SAMPLE_SIZE as u64,
            w: 1.0,
        };
        r.advance();
        r
    }

    /// Draws the gap to the next kept row (Algorithm L).
    fn advance(&mut self) {
        let mut rng = rand::rng();
        let u: f64 = rand::Rng::random_range(&mut rng, f64::MIN_POSITIVE..1.0);
        self.w *= (u.ln() / SAMPLE_SIZE as f64).exp();
        let v: f64 = rand::Rng::random_range(&mut rng, f64::MIN_POSITIVE..1.0);
        let skip = (v.ln() / (1.0 - self.w).ln()).floor();
        if self.seen >= SAMPLE_SIZE as u64 {
            self.next = self.seen
                + if skip.is_finite() {
                    skip as u64
                } else {
                    u64::MAX / 2
                };
        }
    }

    fn add_batch(&mut self, batch: &RecordBatch) -> Result<(), IngestError> {
        if self.columns.is_empty() {
            for field in batch.schema().fields() {
                self.columns.push(field.name().clone());
                self.kinds
                    .push((field.name().clone(), value_kind(field.data_type())));
            }
        }
        let start = self.seen;
        let end = start + batch.num_rows() as u64;
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| IngestError::Internal(format!("formatting a sample row: {e}")))?;
        let row_at = |row: usize| -> Vec<Option<String>> {
            batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(c, f)| c.is_valid(row).then(|| f.value(row).to_string()))
                .collect()
        };
        // The reservoir fills with the first rows, then keeps each chosen row in a random slot.
        while self.rows.len() < SAMPLE_SIZE && self.seen < end {
            self.rows.push(row_at((self.seen - start) as usize));
            self.seen += 1;
        }
        while self.next < end {
            let slot = rand::Rng::random_range(&mut rand::rng(), 0..SAMPLE_SIZE);
            self.rows[slot] = row_at((self.next - start) as usize);
            self.seen = self.next + 1;
            self.advance();
        }
        self.seen = end;
        Ok(())
    }

    /// The reservoir as a sample of each column's non-empty values.
    fn sample(&self) -> ClassificationSample {
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let values = self
                    .rows
                    .iter()
                    .filter_map(|r| r.get(i).cloned().flatten())
                    .filter(|v| !v.trim().is_empty())
                    .collect();
                (name.clone(), values)
            })
            .collect();
        ClassificationSample {
            columns,
            kinds: self.kinds.clone(),
        }
    }
}

/// Per column, the more sensitive of the first rows' classification and the random sample's.
fn most_sensitive(first: Vec<Classification>, random: Vec<Classification>) -> Vec<Classification> {
    let mut merged = first;
    for r in random {
        match merged.iter_mut().find(|c| c.column == r.column) {
            Some(c) if r.sensitivity > c.sensitivity => *c = r,
            Some(_) => {}
            None => merged.push(r),
        }
    }
    merged
}

/// The classification stage (see the module docs).
pub struct Classify {
    /// `None` once the sample is classified: batches then go straight on.
    sample: Option<ClassificationSample>,
    /// A random sample of every accepted row, which can only raise the decision at the end.
    reservoir: RowReservoir,
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
            reservoir: RowReservoir::new(),
            held: Vec::new(),
            held_rows: 0,
            tags_before,
            actor,
        }
    }

    /// Tells the context the tags `classified` decides.
    fn decide(&self, classified: Vec<Classification>, context: &mut IngestContext) {
        let decisions = tags::decide(
            &context.table,
            &classified,
            &self.tags_before,
            &self.actor,
            &crate::now(),
        );
        let tags_after = tags::after(&self.tags_before, &decisions);
        context.classification = Some(ClassificationOutcome {
            classified,
            decisions,
            tags_after,
        });
    }

    /// Lets the held batches go.
    fn release(&mut self) -> Vec<StagedBatch> {
        self.held_rows = 0;
        std::mem::take(&mut self.held)
    }
}

/// Classifies a sample's columns that have values, off the async threads.
async fn classify(sample: ClassificationSample) -> Result<Vec<Classification>, IngestError> {
    tokio::task::spawn_blocking(move || sample.classify_sampled(&Classifier::embedded()))
        .await
        .map_err(|e| IngestError::Internal(format!("the classifier failed: {e}")))
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
        if let Some(accepted) = &batch.accepted {
            self.reservoir.add_batch(accepted)?;
        }
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
            let classified = classify(sample).await?;
            self.decide(classified, context);
            return Ok(self.release());
        }
        Ok(Vec::new())
    }

    /// The random sample of all rows has the last word, but only to raise: a column it finds
    /// more sensitive than the first rows did gets the higher label before anything commits.
    async fn finish(
        &mut self,
        context: &mut IngestContext,
    ) -> Result<Vec<StagedBatch>, IngestError> {
        let first = match self.sample.take() {
            Some(sample) => classify(sample).await?,
            None => context
                .classification
                .as_ref()
                .map(|c| c.classified.clone())
                .unwrap_or_default(),
        };
        let random = classify(self.reservoir.sample()).await?;
        self.decide(most_sensitive(first, random), context);
        Ok(self.release())
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
