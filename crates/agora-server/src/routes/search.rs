//! `/api/v1/search`: products matching words.

use agora_mesh::Mesh;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, params};

#[derive(OpenApi)]
#[openapi(paths(search))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route("/api/v1/search", get(search))
}

#[derive(Deserialize)]
struct SearchParams {
    q: String,
}

#[utoipa::path(get, path = "/api/v1/search", params(("q" = String, Query, description = "Words to look for")), responses((status = 200, description = "Products the caller may read, best match first"), (status = 400, body = crate::api::ErrorBody, description = "No `q`")))]
async fn search(
    State(mesh): State<Mesh>,
    Caller(caller): Caller,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let params = params(query)?;
    let hits = mesh.search(&caller, &params.q, 20).await?;
    Ok(Json(json!(hits.iter().map(|h| json!({"product": format!("{}.{}", h.domain, h.product), "description": h.description, "snippet": h.snippet, "rank": h.rank})).collect::<Vec<_>>())))
}
