//! `/api/v1/query`: governed SQL, rows as JSON.

use agora_mesh::{Interface, Mesh, MeshError, SessionOptions};
use agora_query::QueryError;
use agora_query::datafusion::arrow::json::ArrayWriter;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody, parse_json};

#[derive(OpenApi)]
#[openapi(paths(query), components(schemas(QueryRequest)))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route("/api/v1/query", post(query))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct QueryRequest {
    sql: String,
    /// Read every table at this Delta version.
    version: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/query", request_body = QueryRequest, responses((status = 200, description = "Rows as a JSON array of objects"), (status = 400, body = ErrorBody, description = "SQL that does not parse or plan, is not a query, is too large, or fails on its data"), (status = 403, body = ErrorBody, description = "A product or column the caller may not read"), (status = 404, body = ErrorBody, description = "An unknown table or version")))]
async fn query(State(mesh): State<Mesh>, Caller(p): Caller, body: Bytes) -> ApiResult<Response> {
    let req: QueryRequest = parse_json(&body)?;
    let options = SessionOptions {
        as_of: req.version,
        ..Default::default()
    };
    let df = mesh.query(&p, Interface::Http, options, &req.sql).await?;
    let rows = json_rows(df).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], rows).into_response())
}

/// The query's rows as a JSON array of objects, followed by a newline.
async fn json_rows(df: agora_query::datafusion::prelude::DataFrame) -> Result<Vec<u8>, MeshError> {
    let failed = |e: agora_query::datafusion::arrow::error::ArrowError| {
        MeshError::Internal(format!("writing results: {e}"))
    };
    let mut stream = df
        .execute_stream()
        .await
        .map_err(QueryError::from_datafusion)?;
    let mut writer = ArrayWriter::new(Vec::new());
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(QueryError::from_datafusion)?;
        rows += batch.num_rows();
        writer.write(&batch).map_err(failed)?;
    }
    writer.finish().map_err(failed)?;
    let mut out = writer.into_inner();
    if rows == 0 {
        out.extend_from_slice(b"[]");
    }
    out.push(b'\n');
    Ok(out)
}
