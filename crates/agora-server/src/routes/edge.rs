//! `/api/v1/edge/{agent}/…`: what edge agents send and fetch. No bearer token: each request is
//! signed with the agent's Ed25519 key (`agora_model::edge_batch` says over what), and the mesh
//! checks the signature against the key `agora edge register` recorded.

use agora_mesh::{EdgeBatch, EdgeBatchReceipt, EdgeContract, Mesh, MeshError};
use agora_model::edge_batch::{BATCH_HEADER, SIGNATURE_HEADER, SIGNED_AT_HEADER};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::OpenApi;

use super::ingest::{MaxIngestBody, refused_body};
use crate::api::{ApiError, ApiResult, ErrorBody, params};

#[derive(OpenApi)]
#[openapi(paths(send_batch, contract))]
pub(crate) struct Api;

pub(crate) fn routes(max_body: usize) -> Router<Mesh> {
    Router::new()
        .route(
            "/api/v1/edge/{agent}/batches",
            post(send_batch).layer(DefaultBodyLimit::max(max_body)),
        )
        .route("/api/v1/edge/{agent}/contract", get(contract))
        .layer(Extension(MaxIngestBody(max_body)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableParam {
    /// `domain.table`.
    table: String,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError(MeshError::BadInput {
                source_name: name.into(),
                message: "missing: an edge agent signs every request (see `agora-edge`)".into(),
            })
        })
}

#[utoipa::path(post, path = "/api/v1/edge/{agent}/batches", request_body(content = String, description = "An Arrow IPC stream of the table's rows"), params(("agent" = String, Path, description = "The registered edge agent"), ("table" = String, Query, description = "The table written: `domain.table`, in the agent's domain"), ("idempotency-key" = String, Header, description = "The batch's id: a batch sent again with it is committed once"), ("agora-signature" = String, Header, description = "Ed25519 signature (hex) over the agent, table, batch id and body's SHA-256")), responses((status = 200, description = "The batch's commit: table version, rows accepted and quarantined, and whether it had been committed before (duplicate)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "A signature that does not verify, a table outside the agent's domain, or no write grant"), (status = 404, body = ErrorBody, description = "Unknown agent or table"), (status = 413, body = ErrorBody)))]
async fn send_batch(
    State(mesh): State<Mesh>,
    Path(agent): Path<String>,
    query: Result<Query<TableParam>, QueryRejection>,
    headers: HeaderMap,
    Extension(max): Extension<MaxIngestBody>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EdgeBatchReceipt>, Response> {
    let body = body.map_err(|r| refused_body(r, max))?;
    let result = async {
        let TableParam { table } = params(query)?;
        let batch = EdgeBatch {
            agent,
            table,
            batch: header(&headers, BATCH_HEADER)?.to_string(),
            signature: header(&headers, SIGNATURE_HEADER)?.to_string(),
            body,
        };
        Ok::<_, ApiError>(Json(mesh.commit_edge_batch(batch).await?))
    };
    result
        .await
        .map_err(axum::response::IntoResponse::into_response)
}

#[utoipa::path(get, path = "/api/v1/edge/{agent}/contract", params(("agent" = String, Path, description = "The registered edge agent"), ("table" = String, Query, description = "`domain.table`, in the agent's domain"), ("agora-signed-at" = String, Header, description = "When the request was signed (RFC 3339), within five minutes of the node's clock"), ("agora-signature" = String, Header, description = "Ed25519 signature (hex) over the agent, table and signing time")), responses((status = 200, description = "The contract (ODCS YAML) of the table's product, the categories the policies have agents redact on the device (`edge.redact`) and the table's columns known to hold them"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn contract(
    State(mesh): State<Mesh>,
    Path(agent): Path<String>,
    query: Result<Query<TableParam>, QueryRejection>,
    headers: HeaderMap,
) -> ApiResult<Json<EdgeContract>> {
    let TableParam { table } = params(query)?;
    let contract = mesh
        .edge_contract(
            &agent,
            &table,
            header(&headers, SIGNED_AT_HEADER)?,
            header(&headers, SIGNATURE_HEADER)?,
        )
        .await?;
    Ok(Json(contract))
}
