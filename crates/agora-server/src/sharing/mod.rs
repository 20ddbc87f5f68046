//! The Delta Sharing REST protocol under `/delta-sharing/`, for share recipients: list shares,
//! schemas and tables, a table's version and metadata, a query's files and a change feed's as
//! newline-delimited JSON in the response format the client asks for
//! ([`agora_sharing::ResponseFormat`]); and `/delta-sharing/files/…`, the
//! signed, expiring URLs of those files, served with `Range` support. A recipient's bearer
//! token opens its own share and nothing else; what it reads is decided by the mesh
//! (`share_reads.rs`), with the same governance as every other interface. Errors are the
//! protocol's `{"errorCode", "message"}` bodies.

mod error;
mod files;

use agora_mesh::{Mesh, MeshError, Recipient, SharedAnswer};
use agora_sharing::protocol::{CAPABILITIES_HEADER, NDJSON, TABLE_VERSION_HEADER};
use agora_sharing::{ChangesRequest, PageRequest, QueryRequest, ResponseFormat};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;

use error::{SharingError, SharingResult};

/// The prefix the protocol's paths hang under; a profile's endpoint ends in it.
pub const PREFIX: &str = "/delta-sharing";

/// The protocol's routes.
pub(crate) fn routes() -> Router<Mesh> {
    let table = "/shares/{share}/schemas/{schema}/tables/{table}";
    Router::new()
        .route("/shares", get(list_shares))
        .route("/shares/{share}", get(get_share))
        .route("/shares/{share}/schemas", get(list_schemas))
        .route("/shares/{share}/schemas/{schema}/tables", get(list_tables))
        .route("/shares/{share}/all-tables", get(list_all_tables))
        .route(&format!("{table}/version"), get(table_version))
        .route(table, axum::routing::head(table_version))
        .route(&format!("{table}/metadata"), get(table_metadata))
        .route(&format!("{table}/query"), post(query_table))
        .route(&format!("{table}/changes"), get(table_changes))
        .route("/files/{ticket}", get(files::serve))
        .fallback(|| async {
            SharingError(MeshError::NotFound {
                what: "Delta Sharing path",
                name: "this one".into(),
                hint: ": see the Delta Sharing protocol".into(),
            })
        })
}

/// The recipient of a request, from `Authorization: Bearer <token>`.
struct Caller(Recipient);

impl FromRequestParts<Mesh> for Caller {
    type Rejection = SharingError;

    async fn from_request_parts(parts: &mut Parts, mesh: &Mesh) -> Result<Self, Self::Rejection> {
        let token = crate::api::bearer_token(parts).ok_or(SharingError(MeshError::BadToken))?;
        Ok(Caller(mesh.authenticate_recipient(token).await?))
    }
}

fn paging(query: Result<Query<PageRequest>, QueryRejection>) -> SharingResult<PageRequest> {
    query
        .map(|Query(q)| q)
        .map_err(|e| SharingError::bad_input("query parameters", e.body_text()))
}

fn page<T: serde::Serialize>(
    request: &PageRequest,
    items: Vec<T>,
    key: impl Fn(&T) -> String,
) -> SharingResult<Response> {
    let page = request
        .page(items, key)
        .map_err(|e| SharingError::bad_input("query parameters", e.to_string()))?;
    Ok(Json(page).into_response())
}

async fn list_shares(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    query: Result<Query<PageRequest>, QueryRejection>,
) -> SharingResult<Response> {
    let request = paging(query)?;
    page(&request, mesh.recipient_shares(&r), |s| s.name.clone())
}

async fn get_share(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path(share): Path<String>,
) -> SharingResult<Response> {
    Ok(Json(serde_json::json!({ "share": mesh.recipient_share(&r, &share)? })).into_response())
}

async fn list_schemas(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path(share): Path<String>,
    query: Result<Query<PageRequest>, QueryRejection>,
) -> SharingResult<Response> {
    let request = paging(query)?;
    let schemas = mesh.recipient_schemas(&r, &share).await?;
    page(&request, schemas, |s| s.name.clone())
}

async fn list_tables(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path((share, schema)): Path<(String, String)>,
    query: Result<Query<PageRequest>, QueryRejection>,
) -> SharingResult<Response> {
    let request = paging(query)?;
    let tables = mesh.recipient_schema_tables(&r, &share, &schema).await?;
    page(&request, tables, |t| t.name.clone())
}

async fn list_all_tables(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path(share): Path<String>,
    query: Result<Query<PageRequest>, QueryRejection>,
) -> SharingResult<Response> {
    let request = paging(query)?;
    let tables = mesh.recipient_tables(&r, &share).await?;
    // Schema and name joined by a character no identifier holds.
    page(&request, tables, |t| format!("{}/{}", t.schema, t.name))
}

#[derive(Deserialize)]
struct VersionQuery {
    #[serde(rename = "startingTimestamp")]
    starting_timestamp: Option<String>,
}

async fn table_version(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path((share, schema, table)): Path<(String, String, String)>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> SharingResult<Response> {
    let Query(query) =
        query.map_err(|e| SharingError::bad_input("query parameters", e.body_text()))?;
    let version = mesh
        .shared_table_version(
            &r,
            &share,
            &schema,
            &table,
            query.starting_timestamp.as_deref(),
        )
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(TABLE_VERSION_HEADER, HeaderValue::from(version));
    Ok((headers, "").into_response())
}

async fn table_metadata(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path((share, schema, table)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> SharingResult<Response> {
    let answer = mesh
        .shared_table_metadata(&r, &share, &schema, &table)
        .await?;
    Ok(ndjson_response(answer, &headers))
}

async fn query_table(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path((share, schema, table)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> SharingResult<Response> {
    let request: QueryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        QueryRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| SharingError::bad_input("query request body", e.to_string()))?
    };
    let files_url = files_url(&headers);
    let answer = mesh
        .query_shared_table(&r, &share, &schema, &table, &request, &files_url)
        .await?;
    Ok(ndjson_response(answer, &headers))
}

async fn table_changes(
    Caller(r): Caller,
    State(mesh): State<Mesh>,
    Path((share, schema, table)): Path<(String, String, String)>,
    headers: HeaderMap,
    query: Result<Query<ChangesRequest>, QueryRejection>,
) -> SharingResult<Response> {
    let Query(request) =
        query.map_err(|e| SharingError::bad_input("query parameters", e.body_text()))?;
    let files_url = files_url(&headers);
    let answer = mesh
        .shared_table_changes(&r, &share, &schema, &table, &request, &files_url)
        .await?;
    Ok(ndjson_response(answer, &headers))
}

/// The base of the file URLs handed to the client.
fn files_url(headers: &HeaderMap) -> String {
    format!("{}{PREFIX}/files", origin(headers))
}

/// Where the client reached this server (`http://host:port`), for the file URLs it is
/// handed: the same address its profile's endpoint names.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The answer in the format the request's capabilities header asks for, which the response's
/// header names.
fn ndjson_response(answer: SharedAnswer, request: &HeaderMap) -> Response {
    let format = ResponseFormat::requested(
        request
            .get(CAPABILITIES_HEADER)
            .and_then(|h| h.to_str().ok()),
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    headers.insert(TABLE_VERSION_HEADER, HeaderValue::from(answer.version));
    headers.insert(
        CAPABILITIES_HEADER,
        HeaderValue::from_static(format.capability()),
    );
    (headers, format.ndjson(&answer.actions)).into_response()
}
