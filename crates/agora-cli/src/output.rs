//! Query results in the formats users ask for: a text table, CSV, JSON, Parquet or Arrow IPC.

use std::io::Write;

use agora_mesh::MeshError;
use agora_query::QueryError;
use agora_query::datafusion::prelude::DataFrame;
use arrow::record_batch::RecordBatch;
use futures::StreamExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    /// A JSON array of row objects.
    Json,
    Parquet,
    /// An Arrow IPC stream.
    Arrow,
}

impl OutputFormat {
    pub fn parse(raw: &str) -> Result<Self, MeshError> {
        match raw {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" => Ok(OutputFormat::Json),
            "parquet" => Ok(OutputFormat::Parquet),
            "arrow" => Ok(OutputFormat::Arrow),
            other => Err(MeshError::BadInput {
                source_name: "--format".into(),
                message: format!(
                    "unknown output format `{other}`: use table, csv, json, parquet or arrow"
                ),
            }),
        }
    }
}

fn io(e: impl std::fmt::Display) -> MeshError {
    MeshError::Internal(format!("writing results: {e}"))
}

/// Runs the query and writes its rows to `out`, streaming except for the text table (which
/// needs every row to size its columns). Returns the number of rows.
pub async fn write_results(
    df: DataFrame,
    format: OutputFormat,
    out: &mut (dyn Write + Send),
) -> Result<u64, MeshError> {
    let schema = df.schema().inner().clone();
    let mut stream = df
        .execute_stream()
        .await
        .map_err(QueryError::from_datafusion)?;
    let mut rows = 0u64;
    match format {
        OutputFormat::Table => {
            let mut batches: Vec<RecordBatch> = Vec::new();
            while let Some(b) = stream.next().await {
                let b = b.map_err(QueryError::from_datafusion)?;
                rows += b.num_rows() as u64;
                batches.push(b);
            }
            let table = arrow::util::pretty::pretty_format_batches(&batches).map_err(io)?;
            writeln!(out, "{table}").map_err(io)?;
            writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" }).map_err(io)?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            let mut wrote_any = false;
            while let Some(b) = stream.next().await {
                let b = b.map_err(QueryError::from_datafusion)?;
                rows += b.num_rows() as u64;
                writer.write(&b).map_err(io)?;
                wrote_any = true;
            }
            if !wrote_any {
                writer.write(&RecordBatch::new_empty(schema)).map_err(io)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            while let Some(b) = stream.next().await {
                let b = b.map_err(QueryError::from_datafusion)?;
                rows += b.num_rows() as u64;
                writer.write(&b).map_err(io)?;
            }
            writer.finish().map_err(io)?;
            let out = writer.into_inner();
            if rows == 0 {
                write!(out, "[]").map_err(io)?;
            }
            writeln!(out).map_err(io)?;
        }
        OutputFormat::Parquet => {
            let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema, None).map_err(io)?;
            while let Some(b) = stream.next().await {
                let b = b.map_err(QueryError::from_datafusion)?;
                rows += b.num_rows() as u64;
                writer.write(&b).map_err(io)?;
            }
            writer.close().map_err(io)?;
        }
        OutputFormat::Arrow => {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(out, &schema).map_err(io)?;
            while let Some(b) = stream.next().await {
                let b = b.map_err(QueryError::from_datafusion)?;
                rows += b.num_rows() as u64;
                writer.write(&b).map_err(io)?;
            }
            writer.finish().map_err(io)?;
        }
    }
    Ok(rows)
}
