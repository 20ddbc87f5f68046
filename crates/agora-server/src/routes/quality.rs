//! `/api/v1/tables/{domain}/{table}/quality`: a table's latest rule results, quality score and
//! incidents, as `agora quality TABLE --format json` prints them; and its suggested
//! corrections (`…/suggestions`, `…/suggestions/{id}/preview`, `…/corrections`,
//! `/api/v1/corrections/{id}/revert`), as `agora quality suggest | apply | revert` make them.

use agora_mesh::Mesh;
use agora_query::Interface;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody, parse_json};

#[derive(OpenApi)]
#[openapi(
    paths(
        table_quality,
        list_suggestions,
        preview_suggestion,
        apply_corrections,
        revert_correction
    ),
    components(schemas(ApplyRequest))
)]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new()
        .route(
            "/api/v1/tables/{domain}/{table}/quality",
            get(table_quality),
        )
        .route(
            "/api/v1/tables/{domain}/{table}/suggestions",
            get(list_suggestions),
        )
        .route(
            "/api/v1/tables/{domain}/{table}/suggestions/{id}/preview",
            get(preview_suggestion),
        )
        .route(
            "/api/v1/tables/{domain}/{table}/corrections",
            post(apply_corrections),
        )
        .route("/api/v1/corrections/{id}/revert", post(revert_correction))
}

#[utoipa::path(get, path = "/api/v1/tables/{domain}/{table}/quality", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table")), responses((status = 200, description = "score, the latest verdict of each quality rule (rules), the incidents, open first (each with its rule, severity, opening and closing ingest, observed and expected values and explanation), and the predicted breaches (predicted: each passing rule whose history of checks, forecast, breaks it within the checks looked at, with checks and seconds ahead, its 80% interval, the model and a message)"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "No read grant on the table"), (status = 404, body = ErrorBody)))]
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

#[utoipa::path(get, path = "/api/v1/tables/{domain}/{table}/suggestions", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table")), responses((status = 200, description = "The corrections proposed for the table, most confident first: id, kind, column, original and proposed value, values, rows, confidence, evidence and the whole fix; `quarantine` lists those for its quarantined rows, which re-admit the rows they correct"), (status = 400, body = ErrorBody, description = "Not a table name"), (status = 403, body = ErrorBody, description = "No write grant on the table"), (status = 404, body = ErrorBody)))]
async fn list_suggestions(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let list = mesh
        .suggest_corrections(&p, &format!("{domain}.{table}"), Interface::Http)
        .await?;
    Ok(Json(json!(list)))
}

#[utoipa::path(get, path = "/api/v1/tables/{domain}/{table}/suggestions/{id}/preview", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table"), ("id" = String, Path, description = "The suggestion")), responses((status = 200, description = "The suggestion and up to ten rows it changes, before and after"), (status = 400, body = ErrorBody, description = "Not a table name"), (status = 403, body = ErrorBody, description = "No write grant on the table"), (status = 404, body = ErrorBody, description = "No such suggestion for the table's data"), (status = 409, body = ErrorBody, description = "Applied already")))]
async fn preview_suggestion(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table, id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let preview = mesh
        .preview_correction(&p, &format!("{domain}.{table}"), &id, Interface::Http)
        .await?;
    Ok(Json(preview.to_json()?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApplyRequest {
    /// The ids of the suggestions to apply, in one new version.
    suggestions: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/tables/{domain}/{table}/corrections", params(("domain" = String, Path, description = "The table's domain"), ("table" = String, Path, description = "The table")), request_body = ApplyRequest, responses((status = 200, description = "Applied: the version made, the rows changed and the ledger entry; for suggestions for quarantined rows, also the rows re-admitted and those still quarantined"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "No write grant on the table"), (status = 404, body = ErrorBody, description = "An id is no current suggestion: nothing is applied"), (status = 409, body = ErrorBody, description = "An id was applied already: nothing is applied")))]
async fn apply_corrections(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path((domain, table)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let request: ApplyRequest = parse_json(&body)?;
    let report = mesh
        .apply_corrections(
            &p,
            &format!("{domain}.{table}"),
            &request.suggestions,
            Interface::Http,
        )
        .await?;
    Ok(Json(json!(report)))
}

#[utoipa::path(post, path = "/api/v1/corrections/{id}/revert", params(("id" = String, Path, description = "The applied suggestion")), responses((status = 200, description = "Reverted: the version made, the rows put back, and those changed since that keep their newer values"), (status = 403, body = ErrorBody, description = "No write grant on the table"), (status = 404, body = ErrorBody, description = "Never applied"), (status = 409, body = ErrorBody, description = "Reverted already, a re-admission (an ingest, not reverted), or its rows cannot be told apart or changed since")))]
async fn revert_correction(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let report = mesh.revert_correction(&p, &id).await?;
    Ok(Json(json!(report)))
}
