//! `/api/v1/tables/{domain}/{table}/quality`: a table's latest rule results, quality score and
//! incidents, as `agora quality TABLE --format json` prints them.

use agora_mesh::Mesh;
use agora_query::Interface;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody};

#[derive(OpenApi)]
#[openapi(paths(table_quality))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route(
        "/api/v1/tables/{domain}/{table}/quality",
        get(table_quality),
    )
}

#[utoipa::path(get, path = "/api/v1/tables/{domain}/{table}/quality", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table")), responses((status = 200, description = "score, the latest verdict of each quality rule (rules), and the incidents, open first (each with its rule, severity, opening and closing ingest, observed and expected values and explanation)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "No read grant on the table"), (status = 404, body = ErrorBody)))]
async fn table_quality(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let report = mesh
        .quality_report(&p, &format!("{domain}.{table}"), Interface::Http)
        .await?;
    Ok(Json(json!(report)))
}
