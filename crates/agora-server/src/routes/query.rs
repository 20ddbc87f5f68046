//! `/api/v1/query`: governed SQL, rows as JSON.

use agora_mesh::{Interface, Mesh, MeshError, SessionOptions};
use agora_query::QueryError;
use agora_query::datafusion::arrow::json::ArrayWriter;
use agora_query::datafusion::arrow::record_batch::RecordBatch;
use agora_query::datafusion::physical_plan::SendableRecordBatchStream;
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
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| MeshError::from(QueryError::from_datafusion(e)))?;
    // The status is decided by the first batch: an error before any row is the answer, with
    // its status; after it the rows stream out as they come (the server never holds the whole
    // result), and a later error cuts the body off.
    let first = match stream.next().await {
        Some(Ok(batch)) => Some(batch),
        Some(Err(e)) => return Err(MeshError::from(QueryError::from_datafusion(e)).into()),
        None => None,
    };
    let body = RowsBody {
        stream,
        first,
        opened: false,
        done: false,
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(futures::stream::unfold(body, RowsBody::next_chunk)),
    )
        .into_response())
}

/// A query's rows as one JSON array of objects (and a newline), a batch at a time.
struct RowsBody {
    stream: SendableRecordBatchStream,
    first: Option<RecordBatch>,
    /// Whether the array's `[` is out.
    opened: bool,
    done: bool,
}

impl RowsBody {
    async fn next_chunk(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        let next = match self.first.take() {
            Some(batch) => Some(Ok(batch)),
            None => self.stream.next().await,
        };
        let chunk = match next {
            Some(Ok(batch)) => json_objects(&batch).map(|objects| {
                if objects.is_empty() {
                    return Bytes::new();
                }
                let separator: &[u8] = if self.opened { b"," } else { b"[" };
                self.opened = true;
                Bytes::from([separator, &objects].concat())
            }),
            Some(Err(e)) => {
                self.done = true;
                Err(std::io::Error::other(e.strip_backtrace()))
            }
            None => {
                self.done = true;
                Ok(Bytes::from_static(if self.opened {
                    b"]\n"
                } else {
                    b"[]\n"
                }))
            }
        };
        Some((chunk, self))
    }
}

/// A batch's rows as JSON objects separated by commas, without the array's brackets.
fn json_objects(batch: &RecordBatch) -> Result<Vec<u8>, std::io::Error> {
    let mut writer = ArrayWriter::new(Vec::new());
    writer.write(batch).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)?;
    let mut out = writer.into_inner();
    // `[…]` for a batch with rows, nothing for one without.
    if out.len() >= 2 {
        out.pop();
        out.remove(0);
    }
    Ok(out)
}
