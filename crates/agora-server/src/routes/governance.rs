//! `/api/v1/policies` and `/api/v1/tables/{domain}/{table}/tags`: the policies in force and
//! column classifications, with the same checks and ledger entries as the CLI.

use agora_mesh::Mesh;
use agora_model::TableRef;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiError, ApiResult, Caller, ErrorBody, parse_json};

#[derive(OpenApi)]
#[openapi(
    paths(list_policies, apply_policy, list_tags, set_tag),
    components(schemas(SetTag))
)]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new()
        .route("/api/v1/policies", get(list_policies).post(apply_policy))
        .route("/api/v1/tables/{domain}/{table}/tags", get(list_tags))
        .route(
            "/api/v1/tables/{domain}/{table}/tags/{column}",
            put(set_tag),
        )
}

#[utoipa::path(get, path = "/api/v1/policies", responses((status = 200, description = "The policy documents in force, global first")))]
async fn list_policies(State(mesh): State<Mesh>, _caller: Caller) -> ApiResult<Json<Value>> {
    let policies = mesh.policies().await?;
    Ok(Json(json!(
        policies
            .iter()
            .map(|p| json!({
                "scope": p.domain.as_ref().map_or("global".to_string(), |d| d.to_string()),
                "document": p.document,
                "applied_by": p.applied_by.as_str(),
                "applied_at": p.applied_at,
            }))
            .collect::<Vec<_>>()
    )))
}

#[utoipa::path(post, path = "/api/v1/policies", request_body(content = String, content_type = "application/yaml", description = "An AgoraPolicy document: the global policy, or a domain's"), responses((status = 200, description = "Applied whole"), (status = 400, body = ErrorBody, description = "Malformed, or naming what does not exist"), (status = 403, body = ErrorBody, description = "Not the administrator (global) or the domain's owner"), (status = 404, body = ErrorBody, description = "Unknown domain")))]
async fn apply_policy(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let yaml = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError(agora_mesh::MeshError::BadInput {
            source_name: "request body".into(),
            message: "the policy is not UTF-8 text".into(),
        })
    })?;
    let applied = mesh.apply_policy(&p, "request body", &yaml).await?;
    Ok(Json(json!(applied)))
}

#[utoipa::path(get, path = "/api/v1/tables/{domain}/{table}/tags", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table")), responses((status = 200, description = "Each labelled column's category, sensitivity, confidence, source, evidence and whether the category is a suggestion (below 0.9 confidence, for an owner to confirm or reject)"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_tags(
    State(mesh): State<Mesh>,
    _caller: Caller,
    Path((domain, table)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let table =
        TableRef::parse(&format!("{domain}.{table}")).map_err(agora_mesh::MeshError::from)?;
    Ok(Json(json!(mesh.column_labels(&table).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SetTag {
    /// email, payment_card, …, or none.
    category: String,
    /// The sensitivity, if not the category's own.
    sensitivity: Option<String>,
    /// Why: kept with the tag and in the ledger.
    reason: String,
}

#[utoipa::path(put, path = "/api/v1/tables/{domain}/{table}/tags/{column}", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table"), ("column" = String, Path, description = "The column")), request_body = SetTag, responses((status = 200, description = "The column's label now: an owner's override no ingest undoes"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an owner of the domain"), (status = 404, body = ErrorBody)))]
async fn set_tag(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table, column)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: SetTag = parse_json(&body)?;
    let label = mesh
        .set_tag(
            &p,
            &format!("{domain}.{table}.{column}"),
            &req.category,
            req.sensitivity.as_deref(),
            &req.reason,
        )
        .await?;
    Ok(Json(json!(label)))
}
