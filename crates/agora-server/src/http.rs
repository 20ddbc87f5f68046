//! The HTTP API: JSON over axum, bearer tokens, an OpenAPI document at `/api/openapi.json`.
//!
//! Every error is a JSON body `{"error": "...", "kind": "..."}` with a 4xx status for the
//! caller's mistakes (400 bad input, 401 no or bad token, 403 no grant, 404 unknown, 409
//! conflict); 500 is only for failures of Agora itself.

use agora_mesh::output::{OutputFormat, write_results};
use agora_mesh::{
    ErrorKind, IngestOptions, IngestReport, InputFormat, Mesh, MeshError, SessionOptions, Source,
};
use agora_model::Principal;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::OpenApi;

/// Largest request body accepted by the batch ingest endpoint.
const MAX_BATCH_BYTES: usize = 1 << 30;

#[derive(OpenApi)]
#[openapi(
    info(title = "Agora", description = "Data mesh platform: domains, data products, ingest, governed SQL"),
    paths(list_domains, create_domain, list_products, show_product, apply_contract, ingest_batch, query, search, crate::ledger_api::checkpoint, crate::ledger_api::key, crate::ledger_api::entry, crate::ledger_api::inclusion, crate::ledger_api::consistency, crate::ledger_api::add_cosignatures, crate::lineage_api::record, crate::lineage_api::graph),
    components(schemas(CreateDomain, QueryRequest, ErrorBody)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The routes of the API.
pub fn router(mesh: Mesh) -> Router {
    Router::new()
        .route(
            "/api/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .route("/api/v1/domains", get(list_domains).post(create_domain))
        .route("/api/v1/products", get(list_products).post(apply_contract))
        .route("/api/v1/products/{domain}/{product}", get(show_product))
        .route(
            "/api/v1/tables/{domain}/{table}/batches",
            post(ingest_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BYTES)),
        )
        .route("/api/v1/query", post(query))
        .route("/api/v1/search", get(search))
        .merge(crate::ledger_api::routes())
        .merge(crate::lineage_api::routes())
        .merge(crate::witness_api::routes())
        .fallback(|| async {
            ApiError(MeshError::NotFound {
                what: "route",
                name: "this path".into(),
                hint: ": see /api/openapi.json".into(),
            })
        })
        .with_state(mesh)
}

/// The error body of every failed request.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: String,
    kind: String,
}

pub(crate) struct ApiError(pub(crate) MeshError);

impl From<MeshError> for ApiError {
    fn from(e: MeshError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let status = match kind {
            ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Denied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        let body = ErrorBody {
            error: self.0.to_string(),
            kind: format!("{kind:?}").to_lowercase(),
        };
        (status, Json(body)).into_response()
    }
}

/// The principal of a request, from `Authorization: Bearer <token>`.
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<Mesh> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, mesh: &Mesh) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError(MeshError::BadToken))?;
        Ok(Caller(mesh.authenticate(token).await?))
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Query-string parameters, with a JSON error body when they do not parse.
pub(crate) fn params<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(p)| p).map_err(|e| {
        ApiError(MeshError::BadInput {
            source_name: "query string".into(),
            message: e.body_text(),
        })
    })
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

#[utoipa::path(post, path = "/api/v1/domains", request_body = CreateDomain, responses((status = 201, description = "Created"), (status = 409, body = ErrorBody)))]
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

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(MeshError::BadInput {
            source_name: "request body".into(),
            message: format!("line {}, column {}: {e}", e.line(), e.column()),
        })
    })
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

#[utoipa::path(get, path = "/api/v1/products/{domain}/{product}", responses((status = 200, description = "Contract, tables, versions, row counts, classifications, sample rows as the caller sees them"), (status = 404, body = ErrorBody)))]
async fn show_product(
    State(mesh): State<Mesh>,
    Caller(caller): Caller,
    Path((domain, product)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let d = mesh
        .product_details(
            &caller,
            &format!("{domain}.{product}"),
            agora_mesh::Interface::Http,
        )
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

#[utoipa::path(post, path = "/api/v1/products", request_body(content = String, content_type = "application/yaml", description = "An ODCS v3 contract"), params(("domain" = Option<String>, Query, description = "Domain, when the contract names none")), responses((status = 200, description = "Applied"), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
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

fn format_of(headers: &HeaderMap) -> Result<InputFormat, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    match essence {
        "text/csv" => Ok(InputFormat::Csv),
        "application/json" | "application/x-ndjson" | "application/jsonl" => Ok(InputFormat::Json),
        "application/vnd.apache.arrow.stream" => Ok(InputFormat::ArrowIpc),
        "application/vnd.apache.parquet" => Ok(InputFormat::Parquet),
        other => Err(ApiError(MeshError::BadInput {
            source_name: "Content-Type".into(),
            message: format!(
                "`{other}` is not an ingest format: use text/csv, application/x-ndjson, application/vnd.apache.arrow.stream or application/vnd.apache.parquet"
            ),
        })),
    }
}

#[utoipa::path(post, path = "/api/v1/tables/{domain}/{table}/batches", request_body(content = String, description = "CSV with a header, JSON lines, an Arrow IPC stream or Parquet, by Content-Type"), responses((status = 200, description = "Ingest report: rows accepted and quarantined, new version"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn ingest_batch(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestReport>> {
    let format = format_of(&headers)?;
    let source = Source::Bytes {
        name: "request body".into(),
        bytes: body,
    };
    let options = IngestOptions {
        format: Some(format),
        progress: None,
    };
    Ok(Json(
        mesh.ingest(&p, &format!("{domain}.{table}"), source, options)
            .await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct QueryRequest {
    sql: String,
    /// Read every table at this Delta version.
    version: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/query", request_body = QueryRequest, responses((status = 200, description = "Rows as a JSON array of objects"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn query(State(mesh): State<Mesh>, Caller(p): Caller, body: Bytes) -> ApiResult<Response> {
    let req: QueryRequest = parse_json(&body)?;
    let options = SessionOptions {
        as_of: req.version,
        default_schema: None,
    };
    let df = mesh
        .query(&p, options, &req.sql, agora_mesh::Interface::Http)
        .await?;
    let mut out = Vec::new();
    write_results(df, OutputFormat::Json, &mut out).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

#[derive(Deserialize)]
struct SearchParams {
    q: String,
}

#[utoipa::path(get, path = "/api/v1/search", params(("q" = String, Query, description = "Words to look for")), responses((status = 200, description = "Products, best match first")))]
async fn search(
    State(mesh): State<Mesh>,
    _caller: Caller,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let params = params(query)?;
    let hits = mesh.search(&params.q, 20).await?;
    Ok(Json(json!(hits.iter().map(|h| json!({"product": format!("{}.{}", h.domain, h.product), "description": h.description, "snippet": h.snippet, "rank": h.rank})).collect::<Vec<_>>())))
}
