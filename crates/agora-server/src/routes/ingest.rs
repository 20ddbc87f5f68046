//! `/api/v1/tables/{domain}/{table}/batches`: ingest a request body.

use agora_mesh::{IngestMode, IngestOptions, IngestReport, InputFormat, Mesh, MeshError, Source};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::api::{ApiError, Caller, ErrorBody, params};

/// The largest request body the batch ingest endpoint accepts unless `agora serve
/// --max-ingest-body` says otherwise.
pub const DEFAULT_MAX_INGEST_BODY: usize = 1 << 30;

/// The largest request body this server's batch ingest endpoint accepts.
#[derive(Clone, Copy)]
pub(super) struct MaxIngestBody(pub(super) usize);

#[derive(OpenApi)]
#[openapi(paths(ingest_batch))]
pub(crate) struct Api;

pub(crate) fn routes(max_body: usize) -> Router<Mesh> {
    Router::new()
        .route(
            "/api/v1/tables/{domain}/{table}/batches",
            post(ingest_batch).layer(DefaultBodyLimit::max(max_body)),
        )
        .layer(Extension(MaxIngestBody(max_body)))
}

/// A body the endpoint could not take: past the limit, 413 with the limit named (nothing of
/// it was ingested); otherwise the reason axum gives.
pub(super) fn refused_body(rejection: BytesRejection, max: MaxIngestBody) -> Response {
    if rejection.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return rejection.into_response();
    }
    let body = ErrorBody::new(
        format!(
            "request body: larger than this server's maximum ingest body of {} bytes \
             (`agora serve --max-ingest-body`); nothing was ingested: send the rows in \
             smaller batches",
            max.0
        ),
        "too_large",
    );
    (StatusCode::PAYLOAD_TOO_LARGE, Json(body)).into_response()
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

#[derive(Deserialize)]
struct IngestParams {
    #[serde(default)]
    allow_duplicate: bool,
    /// append (the default), merge or overwrite.
    #[serde(default)]
    mode: IngestMode,
}

/// The `Idempotency-Key` header: a retried request with the same key is refused, not ingested
/// twice.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(key) if !key.trim().is_empty() && key.len() <= 255 => Ok(Some(key.to_string())),
            _ => Err(ApiError(MeshError::BadInput {
                source_name: "Idempotency-Key".into(),
                message: "expected 1 to 255 visible ASCII characters".into(),
            })),
        },
    }
}

#[utoipa::path(post, path = "/api/v1/tables/{domain}/{table}/batches", request_body(content = String, description = "CSV with a header, JSON lines, an Arrow IPC stream or Parquet, by Content-Type"), params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table"), ("allow_duplicate" = Option<bool>, Query, description = "Ingest even if the same input was ingested into the table before"), ("mode" = Option<String>, Query, description = "append (the default), merge (upsert by the contract's primary key) or overwrite (replace every row)"), ("Idempotency-Key" = Option<String>, Header, description = "A key for this request: a second request with it is refused")), responses((status = 200, description = "Ingest report: rows accepted and quarantined, new version"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The input, or the idempotency key, was ingested before"), (status = 413, body = ErrorBody, description = "The body is larger than the server's maximum ingest body")))]
async fn ingest_batch(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
    query: Result<Query<IngestParams>, QueryRejection>,
    headers: HeaderMap,
    Extension(max): Extension<MaxIngestBody>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReport>, Response> {
    let body = body.map_err(|r| refused_body(r, max))?;
    let params = params(query)?;
    let format = format_of(&headers)?;
    let source = Source::Bytes {
        name: "request body".into(),
        bytes: body,
    };
    let options = IngestOptions {
        format: Some(format),
        progress: None,
        allow_duplicate: params.allow_duplicate,
        idempotency_key: idempotency_key(&headers)?,
        mode: params.mode,
    };
    Ok(Json(
        mesh.ingest(&p, &format!("{domain}.{table}"), source, options)
            .await
            .map_err(ApiError)?,
    ))
}
