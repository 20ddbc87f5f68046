//! `/api/v1/domains`: list and create domains.

use agora_mesh::Mesh;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody, parse_json};

#[derive(OpenApi)]
#[openapi(paths(list_domains, create_domain), components(schemas(CreateDomain)))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route("/api/v1/domains", get(list_domains).post(create_domain))
}

#[utoipa::path(get, path = "/api/v1/domains", responses((status = 200, description = "All domains")))]
async fn list_domains(State(mesh): State<Mesh>, _caller: Caller) -> ApiResult<Json<Value>> {
    let domains = mesh.domains().await?;
    Ok(Json(json!(domains.iter().map(|d| json!({"name": d.name.as_str(), "owner": d.owner.as_str(), "description": d.description})).collect::<Vec<_>>())))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CreateDomain {
    name: String,
    owner: String,
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/api/v1/domains", request_body = CreateDomain, responses((status = 201, description = "Created"), (status = 400, body = ErrorBody, description = "A malformed body or name"), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 404, body = ErrorBody, description = "The owner is no principal"), (status = 409, body = ErrorBody, description = "The domain exists")))]
async fn create_domain(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: CreateDomain = parse_json(&body)?;
    let d = mesh
        .create_domain(&p, &req.name, &req.owner, &req.description)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": d.name.as_str(), "owner": d.owner.as_str()})),
    ))
}
