//! `POST /api/v1/forecast`: a table metric's forecast, as `agora forecast --format json` prints
//! it, through the caller's governed view.

use agora_mesh::{ForecastRequest, Mesh, MeshError, forecasts_json};
use agora_query::Interface;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use utoipa::OpenApi;

use crate::api::{ApiResult, Caller, ErrorBody, parse_json};

#[derive(OpenApi)]
#[openapi(paths(forecast), components(schemas(ForecastBody)))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route("/api/v1/forecast", post(forecast))
}

/// What to forecast, as `agora forecast`'s flags say it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ForecastBody {
    /// `domain.table`.
    table: String,
    /// The column that dates each row.
    time: String,
    /// An aggregate SQL expression: `sum(amount)`, `count(*)`.
    value: String,
    /// `1h`, `1d`, `1w`, `1mo`, `1q`, `1y` (and multiples).
    every: String,
    horizon: usize,
    /// A column whose values are forecast one by one.
    by: Option<String>,
    /// Prediction levels in percent (default 80 and 95).
    levels: Option<Vec<u32>>,
    /// Also store the forecast as the derived table `domain.table_forecast` (its domain's
    /// owner creates it; a write grant on it saves over it).
    #[serde(default)]
    save: bool,
}

#[utoipa::path(post, path = "/api/v1/forecast", request_body = ForecastBody, responses((status = 200, description = "The table's version read and, per group: the chosen model, its backtest (MASE, sMAPE), the seasons, filled periods, notes on fallbacks, every candidate's backtest, and one row per future period with ts, forecast, lower_L and upper_L for each level; with `save`, what the save stored (`saved`: table, version, rows, source version, ledger entry)"), (status = 400, body = ErrorBody, description = "A malformed body, an interval, level or horizon out of range, a time that is not a time, a value that is not numeric, a column masked for the caller, or a save that would show readers what the source hides (a row filter, a policy rule on a column used)"), (status = 403, body = ErrorBody, description = "No read grant on the table, or no right to create or write the forecast table"), (status = 409, body = ErrorBody, description = "The table changed while the forecast read it"), (status = 404, body = ErrorBody, description = "Unknown table")))]
async fn forecast(
    State(mesh): State<Mesh>,
    Caller(p): Caller,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: ForecastBody = parse_json(&body)?;
    let bad = |field: &str, e: agora_insight::InsightError| MeshError::BadInput {
        source_name: field.into(),
        message: e.to_string(),
    };
    let every = body.every.parse().map_err(|e| bad("every", e))?;
    let levels = match &body.levels {
        None => vec![80, 95],
        Some(levels) => {
            agora_insight::check_levels(levels.clone()).map_err(|e| bad("levels", e))?
        }
    };
    let request = ForecastRequest {
        table: body.table,
        time: body.time,
        value: body.value,
        every,
        horizon: body.horizon,
        by: body.by,
        levels,
    };
    let forecast = mesh.forecast(&p, Interface::Http, &request).await?;
    let mut answer = forecasts_json(&request, &forecast);
    if body.save {
        let saved = mesh.save_forecast(&p, &request, &forecast).await?;
        answer["saved"] = serde_json::to_value(saved)
            .map_err(|e| MeshError::Internal(format!("the save's report: {e}")))?;
    }
    Ok(Json(answer))
}
