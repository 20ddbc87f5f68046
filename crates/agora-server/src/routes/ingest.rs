//! `/api/v1/tables/{domain}/{table}/batches`: ingest a request body.

use agora_mesh::{IngestOptions, IngestReport, InputFormat, Mesh, MeshError, Source};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use utoipa::OpenApi;

use crate::api::{ApiError, ApiResult, Caller, ErrorBody};

/// Largest request body accepted by the batch ingest endpoint.
const MAX_BATCH_BYTES: usize = 1 << 30;

#[derive(OpenApi)]
#[openapi(paths(ingest_batch))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route(
        "/api/v1/tables/{domain}/{table}/batches",
        post(ingest_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
    )
}

fn format_of(headers: &HeaderMap) -> Result<InputFormat, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "text/csv" => Ok(InputFormat::Csv),
        "application/json" | "application/x-ndjson" | "application/jsonl" => Ok(InputFormat::Json),
        "application/vnd.apache.arrow.stream" => Ok(InputFormat::ArrowIpc),
        "application/vnd.apache.parquet" => Ok(InputFormat::Parquet),
        other => Err(ApiError(MeshError::BadInput {
            source_name: "Content-Type".into(),
            message: format!(
                "`{other}` is not an ingest format: use text/csv, application/x-ndjson, application/vnd.apache.arrow.stream or application/vnd.apache.parquet"
            ),
        })),
    }
}

#[utoipa::path(post, path = "/api/v1/tables/{domain}/{table}/batches", request_body(content = String, description = "CSV with a header, JSON lines, an Arrow IPC stream or Parquet, by Content-Type"), responses((status = 200, description = "Ingest report: rows accepted and quarantined, new version"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_batch(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    let format = format_of(&headers)?;
    let source = Source::Bytes {
        name: "request body".into(),
        bytes: body,
    };
    let options = IngestOptions {
        format: Some(format),
        progress: None,
    };
    Ok(Json(
        mesh.ingest(&p, &format!("{domain}.{table}"), source, options)
            .await?,
    ))
}
