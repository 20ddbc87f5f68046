//! Sources of an ingest and the thread that decodes them: a file, standard input, a request
//! body or batches in memory, read once, hashed (SHA-256) and counted as they are read, and
//! decoded into batches of raw values sent to the pipeline.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::IngestError;
use crate::decode::{self, Columns, Flow, InputFormat, RawBatch};
use crate::input_checks::CheckedInput;

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
    /// The source's name, as errors, the quarantine and the ledger name it.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
            Source::Bytes { name, .. } | Source::Batches { name, .. } => name.clone(),
        }
    }

    /// The format to decode the source as: `explicit` if given, else what the file name says
    /// (batches in memory need none).
    pub fn format(&self, explicit: Option<InputFormat>) -> Result<InputFormat, IngestError> {
        match (self, explicit) {
            (_, Some(f)) => Ok(f),
            (Source::Batches { .. }, None) => Ok(InputFormat::ArrowIpc),
            _ => {
                let name = self.name();
                InputFormat::from_file_name(&name).ok_or_else(|| {
                    IngestError::bad_input(
                        &name,
                        "cannot tell the format from the name: pass --format csv|json|parquet|arrow",
                    )
                })
            }
        }
    }
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

/// Reads `source` (blocking) and hands each batch of raw values to `emit`, in order, until the
/// source ends or `emit` breaks; `read` counts the bytes read. Returns the SHA-256 of what was
/// read: the whole source unless `emit` broke off.
pub(crate) fn decode_source(
    source: Source,
    format: InputFormat,
    columns: Columns,
    read: Arc<AtomicU64>,
    mut emit: impl FnMut(RawBatch) -> Result<Flow, IngestError>,
) -> Result<String, IngestError> {
    let name = source.name();
    if format == InputFormat::Parquet {
        return decode_parquet(source, &name, columns, read, emit);
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
            emit_typed(&name, batches.into_iter().map(Ok), columns, &mut emit)?;
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
        InputFormat::Csv | InputFormat::Json => {
            let csv = format == InputFormat::Csv;
            let (mut checked, violation) = CheckedInput::new(&mut tap, csv);
            let decoded = if csv {
                decode::csv(&name, &mut checked, columns, emit)
            } else {
                decode::json_lines(&name, &mut checked, columns, emit)
            };
            // The check's own words name the problem better than the decoder's I/O error.
            if let Some(violation) = violation.take() {
                return Err(IngestError::bad_input(&name, violation));
            }
            decoded?;
        }
        InputFormat::ArrowIpc => {
            // A stream: one batch is read at a time.
            let batches =
                arrow::ipc::reader::StreamReader::try_new(&mut tap, None).map_err(|e| {
                    IngestError::bad_input(&name, format!("not an Arrow IPC stream: {e}"))
                })?;
            emit_typed(&name, batches, columns, &mut emit)?;
        }
        InputFormat::Parquet => {
            unreachable!("Parquet returned above: decode_parquet reads it from a file")
        }
    }
    Ok(hex::encode(tap.hasher.finalize()))
}

fn open(path: &std::path::Path) -> Result<std::fs::File, IngestError> {
    std::fs::File::open(path).map_err(|source| IngestError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Maps each typed batch's columns and hands it on, numbering rows from 1.
fn emit_typed(
    name: &str,
    batches: impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>>,
    columns: Columns,
    emit: &mut impl FnMut(RawBatch) -> Result<Flow, IngestError>,
) -> Result<(), IngestError> {
    let mut first_row = 1;
    for b in batches {
        let b = b.map_err(|e| IngestError::bad_input(name, e.to_string()))?;
        let batch = decode::typed_batch(name, b, columns)?;
        let rows = batch.num_rows() as u64;
        if emit(RawBatch { batch, first_row })?.is_break() {
            break;
        }
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
    columns: Columns,
    read: Arc<AtomicU64>,
    mut emit: impl FnMut(RawBatch) -> Result<Flow, IngestError>,
) -> Result<String, IngestError> {
    let cannot_read = |e: std::io::Error| IngestError::bad_input(name, format!("cannot read: {e}"));
    let (file, digest) = match source {
        Source::File(path) => {
            let mut tap = Tap {
                inner: parquet_magic(name, open(&path)?)?,
                hasher: Sha256::new(),
                read,
            };
            std::io::copy(&mut tap, &mut std::io::sink()).map_err(cannot_read)?;
            (open(&path)?, tap.hasher.finalize())
        }
        Source::Stdin => {
            let mut spool = tempfile::tempfile().map_err(cannot_read)?;
            let mut tap = Tap {
                inner: parquet_magic(name, std::io::stdin())?.take(MAX_SPOOL_BYTES + 1),
                hasher: Sha256::new(),
                read,
            };
            let spooled = std::io::copy(&mut tap, &mut spool).map_err(cannot_read)?;
            if spooled > MAX_SPOOL_BYTES {
                return Err(IngestError::bad_input(
                    name,
                    format!(
                        "Parquet on standard input is spooled to disk first and may be at most {MAX_SPOOL_BYTES} bytes: ingest the file by its path"
                    ),
                ));
            }
            (spool, tap.hasher.finalize())
        }
        Source::Bytes { bytes, .. } => {
            read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            let digest = Sha256::digest(&bytes);
            let batches = parquet_batches(name, bytes)?;
            emit_typed(name, batches, columns, &mut emit)?;
            return Ok(hex::encode(digest));
        }
        Source::Batches { .. } => {
            return Err(IngestError::Internal(
                "batches in memory are not a Parquet input".into(),
            ));
        }
    };
    emit_typed(name, parquet_batches(name, file)?, columns, &mut emit)?;
    Ok(hex::encode(digest))
}

/// The most Parquet a standard input may hold (it is spooled to a temporary file first).
const MAX_SPOOL_BYTES: u64 = 64 * 1024 * 1024 * 1024;

/// `input`, once its first bytes are Parquet's magic number: anything else (`/dev/zero`, a CSV
/// file) is refused before it is read through.
fn parquet_magic<R: Read>(name: &str, mut input: R) -> Result<impl Read, IngestError> {
    let mut magic = [0u8; 4];
    input
        .read_exact(&mut magic)
        .map_err(|e| IngestError::bad_input(name, format!("not a readable Parquet file: {e}")))?;
    if &magic != b"PAR1" {
        return Err(IngestError::bad_input(
            name,
            "not a readable Parquet file: it does not start with Parquet's magic number `PAR1`",
        ));
    }
    Ok(std::io::Cursor::new(magic).chain(input))
}

fn parquet_batches<R: parquet::file::reader::ChunkReader + 'static>(
    name: &str,
    input: R,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, IngestError> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(input)
        .and_then(|b| b.with_batch_size(decode::BATCH_ROWS).build())
        .map_err(|e| IngestError::bad_input(name, format!("not a readable Parquet file: {e}")))
}
