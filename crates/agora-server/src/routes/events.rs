//! `/api/v1/tables/{domain}/{table}/events`: events one by one (or a few at a time), scored
//! as they arrive and buffered into Delta commits by size or age.

use agora_mesh::Mesh;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody, params};

/// Largest request body of events.
const MAX_EVENTS_BYTES: usize = 64 << 20;

#[derive(OpenApi)]
#[openapi(paths(post_events))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route(
        "/api/v1/tables/{domain}/{table}/events",
        post(post_events).layer(DefaultBodyLimit::max(MAX_EVENTS_BYTES)),
    )
}

#[derive(Deserialize)]
struct EventParams {
    /// Ingest the buffer now rather than at its size or age.
    #[serde(default)]
    flush: bool,
}

#[utoipa::path(post, path = "/api/v1/tables/{domain}/{table}/events", request_body(content = String, description = "One JSON object, an array of them, or one per line (NDJSON): each an event, a row of the table"), params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table"), ("flush" = Option<bool>, Query, description = "Ingest the buffered events now")), responses((status = 200, description = "Each event's score and flags (value, score, expected range, reason of every anomalous value), how many are buffered, and the ingest a flush made (the buffer is ingested at 10,000 events or when its oldest is 2 s old; events that do not match the contract go to quarantine with the reason)"), (status = 400, body = ErrorBody, description = "Not JSON objects: nothing is buffered"), (status = 403, body = ErrorBody, description = "No write grant on the table"), (status = 404, body = ErrorBody)))]
async fn post_events(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
    query: Result<Query<EventParams>, QueryRejection>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let params = params(query)?;
    let report = mesh
        .post_events(&p, &format!("{domain}.{table}"), &body, params.flush)
        .await?;
    Ok(Json(json!(report)))
}
