//! The write path: decode → stages (validation, then a classification sample; quality checks
//! plug in here) → once the sample is complete, it is classified and the columns some reader
//! sees hashed get their hashes stored beside them (precomputed hashes) → streaming writes →
//! one Delta commit for the product table (and one for its quarantine) → one catalog record of
//! the ingest → changed column tags stored → one ledger batch recording the ingest and each
//! classification decision.

mod classify;
mod decode;
mod precomputed_hash;
mod validate;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agora_catalog::IngestRecord;

use crate::ledger::Event;
use agora_model::{Access, Principal, TableRef};
use agora_storage::{Appender, TableKind};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

pub use classify::classify_file;
pub use decode::InputFormat;
use decode::RawBatch;
pub use validate::{QUARANTINE_INGEST, QUARANTINE_REASON, QUARANTINE_ROW, QUARANTINE_SOURCE};

use crate::products::table_schema;
use crate::{Mesh, MeshError};

/// The classification sample is complete once every column has its values, or after this
/// many accepted rows (columns that are mostly empty would otherwise hold rows back): the rows
/// before the decision wait in memory.
const DECIDE_AFTER_ROWS: usize = 65_536;

/// Where ingested data comes from.
pub enum Source {
    File(PathBuf),
    Stdin,
    /// A request body (HTTP).
    Bytes {
        name: String,
        bytes: Bytes,
    },
    /// Batches already in memory (the demo, tests of the pipeline).
    Batches {
        name: String,
        batches: Vec<RecordBatch>,
    },
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
            Source::Bytes { name, .. } | Source::Batches { name, .. } => name.clone(),
        }
    }
}

/// How to ingest.
#[derive(Default, Clone)]
pub struct IngestOptions {
    /// The input format; by default the file extension decides.
    pub format: Option<InputFormat>,
    /// Called with the number of bytes read so far, for a progress bar.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

/// What an ingest did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub table: String,
    pub product: String,
    pub source: String,
    /// The product table's Delta version after the ingest.
    pub version: Option<u64>,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_quarantined: u64,
    /// The most frequent reasons rows were quarantined, with their counts.
    pub quarantine_reasons: Vec<(String, u64)>,
    pub input_sha256: String,
    /// The ledger entry that records the ingest.
    pub ledger_index: u64,
    /// Columns whose automatic classification this ingest set to a sensitive category or
    /// changed.
    pub classified: Vec<ColumnClassified>,
}

/// A column whose classification an ingest decided for the first time or changed (its values
/// drifted to another category).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnClassified {
    pub column: String,
    pub category: agora_model::Category,
    /// The automatic category before this ingest, if there was one.
    pub previous: Option<agora_model::Category>,
    pub sensitivity: agora_model::Sensitivity,
    pub confidence: f64,
    pub evidence: Vec<agora_classify::Evidence>,
}

/// A batch on its way through the stages.
pub struct StagedBatch {
    raw: RawBatch,
    /// Rows that passed every stage so far, in the product's schema.
    pub accepted: Option<RecordBatch>,
    /// Rows that failed, in the quarantine schema.
    pub rejected: Option<RecordBatch>,
}

/// One step of the write path between decoding and committing. Validation is the first; the
/// classification and quality components add theirs.
pub trait BatchStage: Send {
    fn name(&self) -> &'static str;
    fn apply(&mut self, batch: StagedBatch) -> Result<StagedBatch, MeshError>;
}

/// Counts and hashes the bytes of a source as they are read.
struct Tap<R> {
    inner: R,
    hasher: Sha256,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

type Emitted = Result<RawBatch, MeshError>;

/// Reads the whole source in a blocking thread, sending raw batches; returns the SHA-256.
fn decode_source(
    source: Source,
    format: InputFormat,
    table: agora_model::ContractTable,
    read: Arc<AtomicU64>,
    tx: mpsc::Sender<Emitted>,
) -> Result<String, MeshError> {
    let name = source.name();
    let send = |batch: RawBatch| {
        tx.blocking_send(Ok(batch))
            .map_err(|_| MeshError::Internal("the ingest stopped while decoding".into()))
    };
    if format == InputFormat::Parquet {
        return decode_parquet(source, &name, &table, read, send);
    }
    let reader: Box<dyn Read + Send> = match source {
        Source::Batches { batches, .. } => {
            let mut hasher = Sha256::new();
            for b in &batches {
                for column in b.columns() {
                    for buffer in column.to_data().buffers() {
                        hasher.update(buffer.as_slice());
                    }
                }
            }
            emit_typed(&name, batches.into_iter().map(Ok), &table, send)?;
            return Ok(hex::encode(hasher.finalize()));
        }
        Source::File(path) => Box::new(open(&path)?),
        Source::Stdin => Box::new(std::io::stdin()),
        Source::Bytes { bytes, .. } => Box::new(std::io::Cursor::new(bytes)),
    };
    let mut tap = Tap {
        inner: reader,
        hasher: Sha256::new(),
        read,
    };
    match format {
        InputFormat::Csv => decode::csv(&name, &mut tap, &table, send)?,
        InputFormat::Json => decode::json_lines(&name, &mut tap, &table, send)?,
        InputFormat::ArrowIpc => {
            // A stream: one batch is read at a time.
            let batches =
                arrow::ipc::reader::StreamReader::try_new(&mut tap, None).map_err(|e| {
                    MeshError::bad_input(&name, format!("not an Arrow IPC stream: {e}"))
                })?;
            emit_typed(&name, batches, &table, send)?;
        }
        InputFormat::Parquet => {
            unreachable!("Parquet returned above: decode_parquet reads it from a file")
        }
    }
    Ok(hex::encode(tap.hasher.finalize()))
}

fn open(path: &std::path::Path) -> Result<std::fs::File, MeshError> {
    std::fs::File::open(path).map_err(|source| MeshError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Types each decoded batch by the contract and sends it, numbering rows from 1.
fn emit_typed(
    name: &str,
    batches: impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>>,
    table: &agora_model::ContractTable,
    send: impl Fn(RawBatch) -> Result<(), MeshError>,
) -> Result<(), MeshError> {
    let mut first_row = 1;
    for b in batches {
        let b = b.map_err(|e| MeshError::bad_input(name, e.to_string()))?;
        let batch = decode::typed_batch(name, b, table)?;
        let rows = batch.num_rows() as u64;
        send(RawBatch { batch, first_row })?;
        first_row += rows;
    }
    Ok(())
}

/// Parquet keeps its footer at the end, so it is read from a file, one row group at a time:
/// a file is read in place (after one sequential pass for its SHA-256), standard input is first
/// spooled to a temporary file. Only a request body, already in memory, is read from memory.
fn decode_parquet(
    source: Source,
    name: &str,
    table: &agora_model::ContractTable,
    read: Arc<AtomicU64>,
    send: impl Fn(RawBatch) -> Result<(), MeshError>,
) -> Result<String, MeshError> {
    let cannot_read = |e: std::io::Error| MeshError::bad_input(name, format!("cannot read: {e}"));
    let (file, digest) = match source {
        Source::File(path) => {
            let mut tap = Tap {
                inner: open(&path)?,
                hasher: Sha256::new(),
                read,
            };
            std::io::copy(&mut tap, &mut std::io::sink()).map_err(cannot_read)?;
            (open(&path)?, tap.hasher.finalize())
        }
        Source::Stdin => {
            let mut spool = tempfile::tempfile().map_err(cannot_read)?;
            let mut tap = Tap {
                inner: std::io::stdin(),
                hasher: Sha256::new(),
                read,
            };
            std::io::copy(&mut tap, &mut spool).map_err(cannot_read)?;
            (spool, tap.hasher.finalize())
        }
        Source::Bytes { bytes, .. } => {
            read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            let digest = Sha256::digest(&bytes);
            let batches = parquet_batches(name, bytes)?;
            emit_typed(name, batches, table, send)?;
            return Ok(hex::encode(digest));
        }
        Source::Batches { .. } => {
            return Err(MeshError::Internal(
                "batches in memory are not a Parquet input".into(),
            ));
        }
    };
    emit_typed(name, parquet_batches(name, file)?, table, send)?;
    Ok(hex::encode(digest))
}

fn parquet_batches<R: parquet::file::reader::ChunkReader + 'static>(
    name: &str,
    input: R,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, MeshError> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(input)
        .and_then(|b| b.with_batch_size(decode::BATCH_ROWS).build())
        .map_err(|e| MeshError::bad_input(name, format!("not a readable Parquet file: {e}")))
}

impl Mesh {
    /// Ingests `source` into the product table `table` (`domain.table`) as `actor`.
    pub async fn ingest(
        &self,
        actor: &Principal,
        table: &str,
        source: Source,
        options: IngestOptions,
    ) -> Result<IngestReport, MeshError> {
        let table_ref = TableRef::parse(table)?;
        let (product, contract_table) = self.product_of_table(&table_ref).await?;
        let viewer = self.viewer(actor).await?;
        if !viewer.may(
            Access::Write,
            &table_ref.domain,
            &product.name,
            &table_ref.table,
        ) {
            return Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: format!(
                    "write to {table_ref} (product {}.{})",
                    product.domain, product.name
                ),
            });
        }
        let source_name = source.name();
        let format = match (&source, options.format) {
            (_, Some(f)) => f,
            (Source::Batches { .. }, None) => InputFormat::ArrowIpc,
            _ => InputFormat::from_file_name(&source_name).ok_or_else(|| {
                MeshError::bad_input(
                    &source_name,
                    "cannot tell the format from the name: pass --format csv|json|parquet|arrow",
                )
            })?,
        };
        let span = tracing::info_span!("ingest", table = %table_ref, principal = %actor.name, source = %source_name);
        let _guard = span.enter();

        let schema = table_schema(&contract_table);
        let product_table = self
            .store
            .ensure(&table_ref, TableKind::Product, schema.clone())
            .await?;
        let mut accepted_writer = self.store.appender(product_table)?;
        let mut quarantine_writer: Option<Appender> = None;
        let ingest_id = format!("{}-{:08x}", crate::now(), rand::random::<u32>());
        let mut stages: Vec<Box<dyn BatchStage>> = vec![Box::new(validate::Validation::new(
            contract_table.clone(),
            schema,
            ingest_id,
            source_name.clone(),
        ))];

        // Kept apart from `stages`: once its sample is complete it is classified, which decides
        // the precomputed hashes; accepted rows wait (at most DECIDE_AFTER_ROWS) until then.
        let mut sample = Some(classify::ClassificationSample::default());
        let mut classified: Vec<agora_classify::Classification> = Vec::new();
        let mut hashes: Option<precomputed_hash::PrecomputedHashes> = None;
        let mut waiting: Vec<RecordBatch> = Vec::new();
        let mut waiting_rows = 0usize;

        let read = Arc::new(AtomicU64::new(0));
        let (tx, mut rx) = mpsc::channel::<Emitted>(4);
        let decoder = {
            let read = read.clone();
            let table = contract_table.clone();
            tokio::task::spawn_blocking(move || decode_source(source, format, table, read, tx))
        };

        let (mut rows_read, mut rows_accepted, mut rows_quarantined) = (0u64, 0u64, 0u64);
        let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
        loop {
            let next = rx.recv().await;
            let ready = sample
                .as_ref()
                .is_some_and(|s| next.is_none() || s.full() || waiting_rows >= DECIDE_AFTER_ROWS);
            if let Some(done) = sample.take_if(|_| ready) {
                classified = tokio::task::spawn_blocking(move || {
                    done.classify(&agora_classify::Classifier::embedded())
                })
                .await
                .map_err(|e| MeshError::Internal(format!("the classifier failed: {e}")))?;
                let (table_columns, table_has_rows) =
                    (accepted_writer.columns()?, accepted_writer.has_rows()?);
                let h = self
                    .precomputed_hashes(
                        &table_ref,
                        &product,
                        &classified,
                        actor,
                        &table_columns,
                        table_has_rows,
                    )
                    .await?;
                if h.adds_columns() {
                    accepted_writer = accepted_writer.with_schema_merge();
                }
                for batch in waiting.drain(..) {
                    accepted_writer.write(h.extend(batch)?).await?;
                }
                hashes = Some(h);
            }
            let Some(raw) = next else { break };
            let raw = raw?;
            rows_read += raw.batch.num_rows() as u64;
            let mut staged = StagedBatch {
                raw,
                accepted: None,
                rejected: None,
            };
            for stage in &mut stages {
                staged = stage.apply(staged)?;
            }
            if let Some(s) = sample.as_mut() {
                staged = s.apply(staged)?;
            }
            if let Some(accepted) = staged.accepted.filter(|b| b.num_rows() > 0) {
                rows_accepted += accepted.num_rows() as u64;
                match &hashes {
                    Some(h) => accepted_writer.write(h.extend(accepted)?).await?,
                    None => {
                        waiting_rows += accepted.num_rows();
                        waiting.push(accepted);
                    }
                }
            }
            if let Some(rejected) = staged.rejected.filter(|b| b.num_rows() > 0) {
                rows_quarantined += rejected.num_rows() as u64;
                count_reasons(&rejected, &mut reasons);
                if quarantine_writer.is_none() {
                    let q = self
                        .store
                        .ensure(&table_ref, TableKind::Quarantine, rejected.schema())
                        .await?;
                    quarantine_writer = Some(self.store.appender(q)?.with_schema_merge());
                }
                if let Some(w) = quarantine_writer.as_mut() {
                    w.write(rejected).await?;
                }
            }
            if let Some(progress) = &options.progress {
                progress(read.load(Ordering::Relaxed));
            }
        }
        let input_sha256 = decoder
            .await
            .map_err(|e| MeshError::Internal(format!("the decoder thread failed: {e}")))??;

        // Quarantine first: if the process dies between the two commits, the rejected rows are
        // kept and the product is still at its previous version — nothing is lost either way.
        if let Some(q) = quarantine_writer {
            q.commit().await?;
        }
        let version = if rows_accepted > 0 {
            Some(accepted_writer.commit().await?)
        } else {
            self.store
                .open(&table_ref, TableKind::Product)
                .await?
                .and_then(|t| t.version())
        };
        self.catalog
            .record_ingest(&IngestRecord {
                domain: table_ref.domain.clone(),
                product: product.name.clone(),
                table: table_ref.table.clone(),
                table_version: version.unwrap_or(0) as i64,
                rows_accepted: rows_accepted as i64,
                rows_quarantined: rows_quarantined as i64,
                source: source_name.clone(),
                input_sha256: input_sha256.clone(),
                principal: actor.name.clone(),
                at: crate::now(),
            })
            .await?;
        let quarantine_version = match rows_quarantined {
            0 => None,
            _ => self
                .store
                .open(&table_ref, TableKind::Quarantine)
                .await?
                .and_then(|t| t.version()),
        };
        let classified = if rows_accepted > 0 {
            self.store_classifications(&table_ref, classified, actor)
                .await?
        } else {
            Vec::new()
        };
        let mut events = vec![Event::by_domain(
            "ingest.committed",
            &table_ref.domain,
            serde_json::json!({
                "product": format!("{}.{}", product.domain, product.name),
                "table": table_ref.to_string(),
                "table_version": version,
                "rows_accepted": rows_accepted,
                "rows_quarantined": rows_quarantined,
                "quarantine_version": quarantine_version,
                "source": source_name,
                "input_sha256": input_sha256,
                "by": actor.name.as_str(),
            }),
        )];
        events.extend(classified.iter().map(|c| {
            Event::by_domain(
                "classification.decided",
                &table_ref.domain,
                serde_json::json!({
                    "table": table_ref.to_string(),
                    "column": c.column,
                    "category": c.category.as_str(),
                    "previous_category": c.previous.map(|p| p.as_str()),
                    "sensitivity": c.sensitivity.as_str(),
                    "confidence": c.confidence,
                    "evidence": c.evidence,
                }),
            )
        }));
        let appended = self.record(events).await?;
        let mut quarantine_reasons: Vec<(String, u64)> = reasons.into_iter().collect();
        quarantine_reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        quarantine_reasons.truncate(5);
        Ok(IngestReport {
            table: table_ref.to_string(),
            product: format!("{}.{}", product.domain, product.name),
            source: source_name,
            version,
            rows_read,
            rows_accepted,
            rows_quarantined,
            quarantine_reasons,
            input_sha256,
            ledger_index: appended.first_index,
            classified,
        })
    }
}

/// Tallies reasons by their shape: the first reason of a row, without the offending value.
fn count_reasons(rejected: &RecordBatch, into: &mut BTreeMap<String, u64>) {
    let Some(reasons) = rejected
        .column_by_name(QUARANTINE_REASON)
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
    else {
        return;
    };
    for reason in reasons.iter().flatten() {
        let first = reason.split("; ").next().unwrap_or(reason);
        let shape = match first.split_once(": `") {
            Some((column, rest)) => match rest.split_once("` ") {
                Some((_, what)) => format!("{column}: {what}"),
                None => first.to_string(),
            },
            None => first.to_string(),
        };
        *into.entry(shape).or_default() += 1;
    }
}

impl Mesh {
    /// Stores the automatic tags of an ingest's classified sample that are new or changed.
    /// Overrides are separate rows the classifier never writes, so an owner's decision stands.
    async fn store_classifications(
        &self,
        table: &TableRef,
        results: Vec<agora_classify::Classification>,
        actor: &Principal,
    ) -> Result<Vec<ColumnClassified>, MeshError> {
        let previous: BTreeMap<String, agora_model::Category> = self
            .catalog
            .column_tags()
            .await?
            .into_iter()
            .filter(|t| &t.table == table && t.source == agora_catalog::TagSource::Auto)
            .map(|t| (t.column, t.category))
            .collect();
        let mut changed = Vec::new();
        for r in results {
            let before = previous.get(&r.column).copied();
            if before == Some(r.category) {
                continue;
            }
            // A first `none` is stored (later drift is measured against it) but is not news.
            let news = !(before.is_none() && r.category == agora_model::Category::None);
            self.catalog
                .put_column_tag(&auto_tag(table, &r, actor))
                .await?;
            if !news {
                continue;
            }
            changed.push(ColumnClassified {
                column: r.column,
                category: r.category,
                previous: before,
                sensitivity: r.sensitivity,
                confidence: r.confidence,
                evidence: r.evidence,
            });
        }
        Ok(changed)
    }
}

/// The automatic tag a classification decision stores.
fn auto_tag(
    table: &TableRef,
    decision: &agora_classify::Classification,
    actor: &Principal,
) -> agora_catalog::ColumnTagRecord {
    agora_catalog::ColumnTagRecord {
        table: table.clone(),
        column: decision.column.clone(),
        source: agora_catalog::TagSource::Auto,
        category: decision.category,
        sensitivity: decision.sensitivity,
        confidence: decision.confidence,
        evidence: serde_json::to_string(&decision.evidence)
            .expect("INVARIANT: evidence is plain JSON"),
        reason: String::new(),
        set_by: actor.name.clone(),
        updated_at: crate::now(),
    }
}
