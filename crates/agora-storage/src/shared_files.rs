//! Files a Delta Sharing recipient reads: the data files of a table version as its Delta log
//! lists them (handed out as they are where nothing is masked or filtered for the recipient),
//! and governed files, written from the rows of a governed query, where something is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::Schema;
use datafusion::execution::SendableRecordBatchStream;
use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::parquet::arrow::AsyncArrowWriter;
use deltalake::parquet::basic::Compression;
use deltalake::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::table_store::delta_err;
use crate::{StorageError, TableStore};

/// A Parquet file a recipient may fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Relative to the mesh directory.
    pub path: String,
    pub size: u64,
    /// The file's statistics in Delta's JSON form (`numRecords`, `minValues`, …).
    pub stats: Option<String>,
    pub partition_values: BTreeMap<String, String>,
    pub rows: Option<u64>,
    /// The SHA-256 of the file's bytes, hex, where known (governed files know theirs).
    pub sha256: Option<String>,
}

/// The Delta schema JSON (`schemaString`) of an Arrow schema.
pub fn delta_schema_json(schema: &Schema) -> Result<String, StorageError> {
    let kernel: StructType = schema.try_into_kernel().map_err(|e| StorageError::Delta {
        table: "(a shared table's schema)".into(),
        source: Box::new(e.into()),
    })?;
    serde_json::to_string(&kernel).map_err(|e| StorageError::Location {
        path: "(a shared table's schema)".into(),
        reason: e.to_string(),
    })
}

impl TableStore {
    /// The mesh directory the store's paths are relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The data files of `table` at the version it is loaded at, with paths relative to the
    /// mesh directory; `dir` is the table's directory relative to it (`tables/sales/orders`).
    pub fn data_files(&self, table: &DeltaTable, dir: &str) -> Result<Vec<DataFile>, StorageError> {
        let name = table.table_url().to_string();
        let snapshot = table.snapshot().map_err(delta_err(&name))?;
        let mut files = Vec::new();
        for f in snapshot.log_data().iter() {
            let path = f.path();
            // Agora writes its files inside the table's directory under plain names; anything
            // else (an absolute URL, a climb out) is not a file this store hands out.
            if path.contains("://")
                || path.starts_with('/')
                || path.split('/').any(|p| p.is_empty() || p == "..")
            {
                return Err(StorageError::Location {
                    path: path.to_string(),
                    reason: format!("a data file of {name} outside its table directory"),
                });
            }
            files.push(DataFile {
                path: format!("{dir}/{path}"),
                size: f.size().max(0) as u64,
                stats: f.stats(),
                partition_values: f
                    .partition_values_map()
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect(),
                rows: f.num_records().map(|n| n as u64),
                sha256: None,
            });
        }
        Ok(files)
    }
}

/// Where the governed files of every version and view of a table are kept, relative to the
/// mesh directory.
pub(crate) fn governed_table_dir(table: &agora_model::TableRef) -> String {
    format!("share_cache/{}/{}", table.domain, table.table)
}

/// Where governed files of one table version and one view are kept, relative to the mesh
/// directory: `share_cache/<domain>/<table>/v<version>-<fingerprint>`.
pub fn governed_dir(table: &agora_model::TableRef, version: u64, fingerprint: &str) -> String {
    format!("{}/v{version}-{fingerprint}", governed_table_dir(table))
}

/// Where governed files of the row changes commit `version` made, in one view, are kept:
/// `share_cache/<domain>/<table>/changes-v<version>-<fingerprint>`.
pub fn governed_changes_dir(
    table: &agora_model::TableRef,
    version: u64,
    fingerprint: &str,
) -> String {
    format!(
        "{}/changes-v{version}-{fingerprint}",
        governed_table_dir(table)
    )
}

const MANIFEST: &str = "manifest.json";

/// The governed files already written under `dir` (relative to `root`), if they were.
pub fn governed_files(root: &Path, dir: &str) -> Result<Option<Vec<DataFile>>, StorageError> {
    let manifest = root.join(dir).join(MANIFEST);
    match std::fs::read(&manifest) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StorageError::Location {
                path: manifest.display().to_string(),
                reason: format!("not a manifest of governed files: {e}"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&manifest)(e)),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |e| StorageError::Location {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes the rows of `stream` as Parquet files of up to `rows_per_file` rows under `dir`
/// (relative to `root`), with a manifest naming each file's size, rows and SHA-256. The files
/// go to a temporary directory first, renamed into place whole: a reader finds all of them or
/// none, and two writers of the same view leave one complete copy.
pub async fn write_governed_files(
    root: &Path,
    dir: &str,
    mut stream: SendableRecordBatchStream,
    rows_per_file: usize,
) -> Result<Vec<DataFile>, StorageError> {
    let target = root.join(dir);
    let parent = target.parent().ok_or_else(|| StorageError::Location {
        path: target.display().to_string(),
        reason: "no parent directory".into(),
    })?;
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(io_err(parent))?;
    let temp = parent.join(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        rand_suffix()
    ));
    tokio::fs::create_dir_all(&temp)
        .await
        .map_err(io_err(&temp))?;
    let written = write_files(&temp, dir, &mut stream, rows_per_file).await;
    let files = match written {
        Ok(files) => files,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&temp).await;
            return Err(e);
        }
    };
    let manifest = serde_json::to_vec(&files).expect("INVARIANT: file records are plain data");
    let manifest_path = temp.join(MANIFEST);
    tokio::fs::write(&manifest_path, manifest)
        .await
        .map_err(io_err(&manifest_path))?;
    match tokio::fs::rename(&temp, &target).await {
        Ok(()) => Ok(files),
        // Another reader of the same view wrote it first: its copy is as good.
        Err(_) if target.join(MANIFEST).exists() => {
            let _ = tokio::fs::remove_dir_all(&temp).await;
            governed_files(root, dir)?.ok_or_else(|| StorageError::Location {
                path: target.display().to_string(),
                reason: "the manifest vanished".into(),
            })
        }
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&temp).await;
            Err(io_err(&target)(e))
        }
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

async fn write_files(
    temp: &Path,
    dir: &str,
    stream: &mut SendableRecordBatchStream,
    rows_per_file: usize,
) -> Result<Vec<DataFile>, StorageError> {
    let schema = stream.schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut files = Vec::new();
    let mut current: Option<(PathBuf, AsyncArrowWriter<tokio::fs::File>, u64)> = None;
    let parquet_err = |path: &Path| {
        let path = path.display().to_string();
        move |e: deltalake::parquet::errors::ParquetError| StorageError::Location {
            path,
            reason: e.to_string(),
        }
    };
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| StorageError::Location {
            path: dir.to_string(),
            reason: format!("the governed query failed: {e}"),
        })?;
        if batch.num_rows() == 0 {
            continue;
        }
        if current.is_none() {
            let path = temp.join(format!("part-{:05}.snappy.parquet", files.len()));
            let file = tokio::fs::File::create(&path)
                .await
                .map_err(io_err(&path))?;
            let writer = AsyncArrowWriter::try_new(file, schema.clone(), Some(props.clone()))
                .map_err(parquet_err(&path))?;
            current = Some((path, writer, 0));
        }
        let (path, writer, rows) = current.as_mut().expect("INVARIANT: opened just above");
        writer.write(&batch).await.map_err(parquet_err(path))?;
        *rows += batch.num_rows() as u64;
        if *rows >= rows_per_file as u64 {
            let (path, writer, rows) = current.take().expect("INVARIANT: matched just above");
            files.push(finish(path, writer, rows, dir).await?);
        }
    }
    if let Some((path, writer, rows)) = current.take() {
        files.push(finish(path, writer, rows, dir).await?);
    }
    Ok(files)
}

async fn finish(
    path: PathBuf,
    writer: AsyncArrowWriter<tokio::fs::File>,
    rows: u64,
    dir: &str,
) -> Result<DataFile, StorageError> {
    writer.close().await.map_err(|e| StorageError::Location {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let bytes = tokio::fs::read(&path).await.map_err(io_err(&path))?;
    let name = path
        .file_name()
        .expect("INVARIANT: a file written here has a name")
        .to_string_lossy()
        .into_owned();
    Ok(DataFile {
        path: format!("{dir}/{name}"),
        size: bytes.len() as u64,
        stats: Some(format!(r#"{{"numRecords":{rows}}}"#)),
        partition_values: BTreeMap::new(),
        rows: Some(rows),
        sha256: Some(hex::encode(Sha256::digest(&bytes))),
    })
}
