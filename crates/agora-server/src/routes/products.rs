//! `/api/v1/products`: list products, apply a contract, show a product as the caller sees it.

use agora_mesh::{Interface, Mesh, MeshError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiError, ApiResult, Caller, ErrorBody, params};

#[derive(OpenApi)]
#[openapi(paths(list_products, show_product, apply_contract))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new()
        .route("/api/v1/products", get(list_products).post(apply_contract))
        .route("/api/v1/products/{domain}/{product}", get(show_product))
}

#[utoipa::path(get, path = "/api/v1/products", responses((status = 200, description = "All products")))]
async fn list_products(State(mesh): State<Mesh>, _caller: Caller) -> ApiResult<Json<Value>> {
    let products = mesh.products().await?;
    Ok(Json(json!(
        products
            .iter()
            .map(|p| json!({
                "domain": p.domain.as_str(), "name": p.name.as_str(), "version": p.version,
                "status": p.status, "description": p.description,
                "tables": p.tables.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            }))
            .collect::<Vec<_>>()
    )))
}

#[utoipa::path(get, path = "/api/v1/products/{domain}/{product}", params(("domain" = String, Path, description = "The product's domain"), ("product" = String, Path, description = "The product")), responses((status = 200, description = "Contract, tables, versions, row counts, classifications, sample rows as the caller sees them"), (status = 400, body = ErrorBody, description = "A name that is not an identifier"), (status = 404, body = ErrorBody)))]
async fn show_product(
    State(mesh): State<Mesh>,
    Caller(caller): Caller,
    Path((domain, product)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let d = mesh
        .product_details(&caller, &format!("{domain}.{product}"), Interface::Http)
        .await?;
    Ok(Json(json!({
        "domain": d.record.domain.as_str(), "name": d.record.name.as_str(), "owner": d.owner.as_str(),
        "version": d.record.version, "status": d.record.status, "description": d.record.description,
        "contract": d.record.contract_yaml,
        "tables": d.tables.iter().map(|t| json!({
            "table": t.table.to_string(), "version": t.version, "rows": t.rows,
            "quarantined_rows": t.quarantined_rows,
            "columns": t.columns.iter().map(|(n, ty, req)| json!({"name": n, "type": ty, "required": req})).collect::<Vec<_>>(),
            "classifications": t.tags,
            "sample": t.sample,
        })).collect::<Vec<_>>(),
        "ingests": d.ingests.iter().map(|i| json!({"table": i.table.as_str(), "version": i.table_version, "rows_accepted": i.rows_accepted, "rows_quarantined": i.rows_quarantined, "source": i.source, "at": i.at, "by": i.principal.as_str()})).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ApplyParams {
    domain: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/products", request_body(content = String, content_type = "application/yaml", description = "An ODCS v3 contract"), params(("domain" = Option<String>, Query, description = "Domain, when the contract names none")), responses((status = 200, description = "Applied"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an owner of the domain"), (status = 404, body = ErrorBody, description = "Unknown domain"), (status = 409, body = ErrorBody, description = "A breaking change to an active contract")))]
async fn apply_contract(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    query: Result<Query<ApplyParams>, QueryRejection>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let params = params(query)?;
    let yaml = std::str::from_utf8(&body).map_err(|e| {
        ApiError(MeshError::BadInput {
            source_name: "request body".into(),
            message: format!("not UTF-8: {e}"),
        })
    })?;
    let r = mesh
        .apply_contract(&p, yaml, params.domain.as_deref())
        .await?;
    Ok(Json(json!({
        "product": format!("{}.{}", r.domain, r.product), "version": r.version, "created": r.created,
        "tables": r.tables.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "changes": r.changes.iter().map(|c| &c.description).collect::<Vec<_>>(),
        "warnings": r.warnings,
    })))
}
