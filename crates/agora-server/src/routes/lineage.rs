//! Lineage over HTTP: `POST /api/v1/lineage` takes OpenLineage run events, so existing
//! integrations (Airflow, Spark, dbt, the openlineage-python client) send lineage into the
//! ledger unchanged; `GET /api/v1/lineage/{target}` answers the graph.

use agora_lineage::{Direction, LineageGraph, LineageRequest, PointInTime};
use agora_mesh::{Mesh, MeshError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::api::{ApiError, ApiResult, Caller, params};

#[derive(utoipa::OpenApi)]
#[openapi(paths(record, graph))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new()
        .route("/api/v1/lineage", post(record))
        .route("/api/v1/lineage/{target}", get(graph))
}

#[utoipa::path(post, path = "/api/v1/lineage", request_body(content = String, content_type = "application/json", description = "An OpenLineage run event"), responses((status = 201, description = "Recorded: the ledger entry index"), (status = 400, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody)))]
async fn record(State(mesh): State<Mesh>, Caller(p): Caller, body: Bytes) -> ApiResult<Response> {
    let index = mesh.record_lineage(&p, &body).await?;
    Ok((StatusCode::CREATED, Json(json!({"ledger_index": index}))).into_response())
}

#[derive(Deserialize)]
struct GraphParams {
    direction: Option<String>,
    depth: Option<usize>,
    as_of: Option<String>,
    checkpoint: Option<u64>,
    #[serde(default)]
    verify: bool,
    format: Option<String>,
}

fn bad(field: &str, message: String) -> ApiError {
    ApiError(MeshError::BadInput {
        source_name: field.to_string(),
        message,
    })
}

#[utoipa::path(get, path = "/api/v1/lineage/{target}", params(("target" = String, Path, description = "domain.product, domain.table or domain.table.column"), ("direction" = Option<String>, Query, description = "upstream, downstream or both"), ("depth" = Option<usize>, Query, description = "Hops"), ("as_of" = Option<String>, Query, description = "RFC 3339 time"), ("checkpoint" = Option<u64>, Query, description = "Checkpoint size"), ("verify" = Option<bool>, Query, description = "Prove every edge"), ("format" = Option<String>, Query, description = "json or dot")), responses((status = 200, description = "The lineage graph: edges to and from what the caller may read"), (status = 400, body = crate::api::ErrorBody, description = "A malformed parameter"), (status = 403, body = crate::api::ErrorBody, description = "A target the caller may not read"), (status = 404, body = crate::api::ErrorBody, description = "An unknown target or checkpoint")))]
async fn graph(
    State(mesh): State<Mesh>,
    Caller(caller): Caller,
    Path(target): Path<String>,
    query: Result<Query<GraphParams>, QueryRejection>,
) -> ApiResult<Response> {
    let p = params(query)?;
    let direction = match p.direction.as_deref() {
        None | Some("both") => Direction::Both,
        Some("upstream") => Direction::Upstream,
        Some("downstream") => Direction::Downstream,
        Some(other) => {
            return Err(bad(
                "direction",
                format!("`{other}`: expected upstream, downstream or both"),
            ));
        }
    };
    let at = match (p.as_of, p.checkpoint) {
        (Some(t), _) => PointInTime::AsOf(
            chrono::DateTime::parse_from_rfc3339(&t)
                .map_err(|e| bad("as_of", format!("`{t}` is not an RFC 3339 time: {e}")))?
                .to_utc(),
        ),
        (None, Some(size)) => PointInTime::Checkpoint(size),
        (None, None) => PointInTime::Latest,
    };
    let graph: LineageGraph = mesh
        .lineage(
            &caller,
            LineageRequest {
                target,
                direction,
                depth: p.depth,
                at,
                verify: p.verify,
            },
        )
        .await?;
    match p.format.as_deref() {
        None | Some("json") => Ok(Json(graph).into_response()),
        Some("dot") => Ok((
            [(header::CONTENT_TYPE, "text/vnd.graphviz")],
            graph.to_dot(),
        )
            .into_response()),
        Some(other) => Err(bad("format", format!("`{other}`: expected json or dot"))),
    }
}
