//! `/api/v1/principals` and `/api/v1/grants`: principals over their life and who may read or
//! write what, with the same checks and ledger entries as the CLI.

use std::collections::BTreeMap;

use agora_mesh::{Mesh, parse_lifetime};
use agora_model::{Grant, Sensitivity};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody, params, parse_json};

#[derive(OpenApi)]
#[openapi(
    paths(
        list_principals,
        create_principal,
        update_principal,
        delete_principal,
        rotate_token,
        disable,
        enable,
        list_grants,
        add_grant,
        revoke_grant
    ),
    components(schemas(CreatePrincipal, UpdatePrincipal, RotateToken, GrantRequest))
)]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new()
        .route(
            "/api/v1/principals",
            get(list_principals).post(create_principal),
        )
        .route(
            "/api/v1/principals/{name}",
            axum::routing::patch(update_principal).delete(delete_principal),
        )
        .route("/api/v1/principals/{name}/rotate-token", post(rotate_token))
        .route("/api/v1/principals/{name}/disable", post(disable))
        .route("/api/v1/principals/{name}/enable", post(enable))
        .route("/api/v1/grants", get(list_grants).post(add_grant))
        .route("/api/v1/grants/revoke", post(revoke_grant))
}

fn clearance(text: Option<&str>) -> ApiResult<Option<Sensitivity>> {
    Ok(text
        .map(|c| c.parse::<Sensitivity>())
        .transpose()
        .map_err(agora_mesh::MeshError::from)?)
}

fn lifetime(text: Option<&str>) -> ApiResult<Option<chrono::Duration>> {
    Ok(text
        .map(|e| parse_lifetime("request body: expires", e))
        .transpose()?)
}

fn grant_json(g: &Grant) -> Value {
    json!({"principal": g.principal.as_str(), "access": g.access.as_str(), "target": g.target.to_string()})
}

#[utoipa::path(get, path = "/api/v1/principals", responses((status = 200, description = "Every principal: clearance, attributes, whether disabled, token expiry (never a token)"), (status = 403, body = ErrorBody, description = "Not an administrator")))]
async fn list_principals(State(mesh): State<Mesh>, Caller(p): Caller) -> ApiResult<Json<Value>> {
    Ok(Json(json!(mesh.list_principals(&p).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreatePrincipal {
    name: String,
    /// public, internal (the default), confidential or restricted.
    clearance: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    /// The token's lifetime: 90d, 12h, 30m (default: it does not expire).
    expires: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/principals", request_body = CreatePrincipal, responses((status = 201, description = "Created: its token, shown only this once"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 409, body = ErrorBody, description = "The principal exists")))]
async fn create_principal(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: CreatePrincipal = parse_json(&body)?;
    let token = mesh
        .create_principal(
            &p,
            &req.name,
            clearance(req.clearance.as_deref())?.unwrap_or(Sensitivity::Internal),
            req.attributes,
            lifetime(req.expires.as_deref())?,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": req.name, "token": token})),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdatePrincipal {
    clearance: Option<String>,
    /// Attributes to set; an empty value removes one.
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[utoipa::path(patch, path = "/api/v1/principals/{name}", params(("name" = String, Path, description = "The principal")), request_body = UpdatePrincipal, responses((status = 200, description = "Updated"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 404, body = ErrorBody)))]
async fn update_principal(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: UpdatePrincipal = parse_json(&body)?;
    mesh.update_principal(
        &p,
        &name,
        clearance(req.clearance.as_deref())?,
        req.attributes,
    )
    .await?;
    Ok(Json(json!({"name": name})))
}

#[utoipa::path(delete, path = "/api/v1/principals/{name}", params(("name" = String, Path, description = "The principal")), responses((status = 204, description = "Deleted, with its grants"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "It owns a domain")))]
async fn delete_principal(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    mesh.delete_principal(&p, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RotateToken {
    /// The new token's lifetime: 90d, 12h, 30m (default: it does not expire).
    expires: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/principals/{name}/rotate-token", params(("name" = String, Path, description = "The principal")), request_body = RotateToken, responses((status = 200, description = "The new token, shown only this once; the old one no longer works"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 404, body = ErrorBody)))]
async fn rotate_token(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: RotateToken = if body.is_empty() {
        RotateToken { expires: None }
    } else {
        parse_json(&body)?
    };
    let token = mesh
        .rotate_token(&p, &name, lifetime(req.expires.as_deref())?)
        .await?;
    Ok(Json(json!({"name": name, "token": token})))
}

#[utoipa::path(post, path = "/api/v1/principals/{name}/disable", params(("name" = String, Path, description = "The principal")), responses((status = 200, description = "Disabled: it acts for nothing, its grants are kept"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Already disabled")))]
async fn disable(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    mesh.set_principal_enabled(&p, &name, false).await?;
    Ok(Json(json!({"name": name, "disabled": true})))
}

#[utoipa::path(post, path = "/api/v1/principals/{name}/enable", params(("name" = String, Path, description = "The principal")), responses((status = 200, description = "Enabled"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an administrator"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Not disabled")))]
async fn enable(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    mesh.set_principal_enabled(&p, &name, true).await?;
    Ok(Json(json!({"name": name, "disabled": false})))
}

#[derive(Deserialize)]
struct GrantFilter {
    principal: Option<String>,
    product: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/grants", params(("principal" = Option<String>, Query, description = "Only this principal's"), ("product" = Option<String>, Query, description = "Only those on this product (domain.product)")), responses((status = 200, description = "Grants: all for the administrator, else the caller's own and those on the domains it owns"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_grants(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    query: Result<Query<GrantFilter>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let filter = params(query)?;
    let grants = mesh
        .list_grants(&p, filter.principal.as_deref(), filter.product.as_deref())
        .await?;
    Ok(Json(json!(
        grants.iter().map(grant_json).collect::<Vec<_>>()
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    principal: String,
    /// read or write.
    access: String,
    /// `domain.product` or `domain.table`.
    target: String,
}

#[utoipa::path(post, path = "/api/v1/grants", request_body = GrantRequest, responses((status = 201, description = "Granted"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an owner of the domain"), (status = 404, body = ErrorBody)))]
async fn add_grant(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: GrantRequest = parse_json(&body)?;
    let g = mesh
        .set_grant(&p, &req.principal, &req.access, &req.target, false)
        .await?;
    Ok((StatusCode::CREATED, Json(grant_json(&g))))
}

#[utoipa::path(post, path = "/api/v1/grants/revoke", request_body = GrantRequest, responses((status = 200, description = "Revoked"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Not an owner of the domain"), (status = 404, body = ErrorBody, description = "No such grant, principal or target")))]
async fn revoke_grant(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: GrantRequest = parse_json(&body)?;
    let g = mesh
        .set_grant(&p, &req.principal, &req.access, &req.target, true)
        .await?;
    Ok(Json(grant_json(&g)))
}
