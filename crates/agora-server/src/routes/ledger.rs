//! The ledger over HTTP: checkpoints, entries and proofs as JSON under `/api/v1/ledger`, and
//! the stored log itself as C2SP `tlog-tiles` static files under `/ledger/` (`checkpoint`,
//! `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`) for tools that speak that layout.

use agora_ledger::{LogError, TILE_WIDTH, TileKind, encode_bundle, encode_tile, parse_tile_path};
use agora_mesh::{Mesh, MeshError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::{ApiError, ApiResult, Caller, params};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    checkpoint,
    key,
    entry,
    inclusion,
    consistency,
    add_cosignatures,
    tile_file
))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new()
        .route("/api/v1/ledger/checkpoint", get(checkpoint))
        .route("/api/v1/ledger/key", get(key))
        .route("/api/v1/ledger/entries/{index}", get(entry))
        .route("/api/v1/ledger/proofs/inclusion", get(inclusion))
        .route("/api/v1/ledger/proofs/consistency", get(consistency))
        .route("/api/v1/ledger/cosignatures", post(add_cosignatures))
        .route("/ledger/{*path}", get(tile_file))
}

/// Runs a blocking read of the log off the async threads.
async fn blocking<T: Send + 'static>(
    mesh: &Mesh,
    f: impl FnOnce(&agora_ledger::Log) -> Result<T, LogError> + Send + 'static,
) -> ApiResult<T> {
    let mesh = mesh.clone();
    tokio::task::spawn_blocking(move || f(mesh.log()))
        .await
        .map_err(|e| ApiError(MeshError::Internal(format!("ledger read failed: {e}"))))?
        .map_err(|e| ApiError(MeshError::Ledger(e)))
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

#[utoipa::path(get, path = "/api/v1/ledger/checkpoint", responses((status = 200, description = "The latest checkpoint: a C2SP tlog-checkpoint in a signed note", content_type = "text/plain")))]
async fn checkpoint(State(mesh): State<Mesh>, _caller: Caller) -> ApiResult<Response> {
    let cp = blocking(&mesh, |log| log.cosigned_checkpoint()).await?;
    Ok(text(cp.note))
}

#[utoipa::path(get, path = "/api/v1/ledger/key", responses((status = 200, description = "The log's public key (C2SP verifier key)", content_type = "text/plain")))]
async fn key(State(mesh): State<Mesh>, _caller: Caller) -> ApiResult<Response> {
    Ok(text(format!("{}\n", mesh.log_key().encode())))
}

#[utoipa::path(get, path = "/api/v1/ledger/entries/{index}", params(("index" = u64, Path, description = "Entry index")), responses((status = 200, description = "One signed entry"), (status = 400, body = crate::api::ErrorBody, description = "Not a whole number"), (status = 404, body = crate::api::ErrorBody)))]
async fn entry(
    State(mesh): State<Mesh>,
    _caller: Caller,
    Path(index): Path<String>,
) -> ApiResult<Json<agora_ledger::SignedEntry>> {
    let index = parse_u64("index", &index)?;
    Ok(Json(blocking(&mesh, move |log| log.entry(index)).await?))
}

fn parse_u64(what: &str, raw: &str) -> ApiResult<u64> {
    raw.parse().map_err(|_| {
        ApiError(MeshError::BadInput {
            source_name: what.to_string(),
            message: format!("`{raw}` is not an entry index (a whole number)"),
        })
    })
}

#[derive(Deserialize)]
struct InclusionParams {
    index: u64,
    size: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/ledger/proofs/inclusion", params(("index" = u64, Query, description = "Entry index"), ("size" = Option<u64>, Query, description = "Size of a published checkpoint (default: latest)")), responses((status = 200, description = "Inclusion proof with its signed checkpoint"), (status = 400, body = crate::api::ErrorBody, description = "A missing or malformed parameter"), (status = 404, body = crate::api::ErrorBody)))]
async fn inclusion(
    State(mesh): State<Mesh>,
    _caller: Caller,
    query: Result<Query<InclusionParams>, QueryRejection>,
) -> ApiResult<Json<agora_ledger::InclusionProof>> {
    let p = params(query)?;
    Ok(Json(
        blocking(&mesh, move |log| log.prove_inclusion(p.index, p.size)).await?,
    ))
}

#[derive(Deserialize)]
struct ConsistencyParams {
    first: u64,
    size: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/ledger/proofs/consistency", params(("first" = u64, Query, description = "Size of the earlier checkpoint"), ("size" = Option<u64>, Query, description = "Size of the later checkpoint (default: latest)")), responses((status = 200, description = "Consistency proof with both signed checkpoints"), (status = 400, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn consistency(
    State(mesh): State<Mesh>,
    _caller: Caller,
    query: Result<Query<ConsistencyParams>, QueryRejection>,
) -> ApiResult<Json<agora_ledger::ConsistencyProof>> {
    let p = params(query)?;
    Ok(Json(
        blocking(&mesh, move |log| log.prove_consistency(p.first, p.size)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/ledger/cosignatures", request_body(content = String, content_type = "text/plain", description = "One of this log's checkpoints with witness cosignature lines (C2SP tlog-cosignature)"), responses((status = 200, description = "The witnesses whose cosignatures were kept"), (status = 400, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody)))]
async fn add_cosignatures(
    State(mesh): State<Mesh>,
    _caller: Caller,
    body: bytes::Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let note = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError(MeshError::BadInput {
            source_name: "cosigned checkpoint".into(),
            message: "not UTF-8 text".into(),
        })
    })?;
    let accepted = blocking(&mesh, move |log| log.add_cosignatures(&note)).await?;
    Ok(Json(serde_json::json!({ "accepted": accepted })))
}

/// A tile or bundle within the current checkpoint, read with the layout's fallbacks (a full
/// tile, or a wider partial, cut to the width asked for), so a client asking for the partial
/// it computed from a checkpoint gets it even after the log has grown.
fn tile_bytes(log: &agora_ledger::Log, path: &str) -> Result<Option<Vec<u8>>, LogError> {
    let Some((kind, n, width)) = parse_tile_path(path) else {
        return Ok(None);
    };
    let size = log.size()?;
    let count = match kind {
        TileKind::Entries => size,
        TileKind::Hashes(level) => size.checked_shr(8 * level).unwrap_or(0),
    };
    if n.saturating_mul(TILE_WIDTH).saturating_add(width) > count {
        return Ok(None);
    }
    Ok(Some(match kind {
        TileKind::Hashes(level) => encode_tile(&log.files().tile(level, n, width)?),
        TileKind::Entries => {
            let entries = log.files().bundle(n, width)?;
            encode_bundle(entries.iter().map(Vec::as_slice))
        }
    }))
}

/// Whether `path` names a file of the tiles layout (and nothing else under the log directory).
fn is_tile_path(path: &str) -> bool {
    let well_formed = path.split('/').all(|seg| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
    });
    well_formed && (path == "checkpoint" || path.starts_with("tile/"))
}

#[utoipa::path(get, path = "/ledger/{path}", params(("path" = String, Path, description = "`checkpoint` or a C2SP tlog-tiles path under `tile/`")), responses((status = 200, description = "The checkpoint or tile", content_type = "application/octet-stream"), (status = 404, body = crate::api::ErrorBody)))]
async fn tile_file(
    State(mesh): State<Mesh>,
    _caller: Caller,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    if !is_tile_path(&path) {
        return Err(ApiError(MeshError::NotFound {
            what: "ledger file",
            name: path,
            hint: ": expected checkpoint or tile/…".into(),
        }));
    }
    let rel = path.clone();
    let bytes = blocking(&mesh, move |log| {
        if rel == "checkpoint" {
            Ok(Some(log.cosigned_checkpoint()?.note.into_bytes()))
        } else {
            tile_bytes(log, &rel)
        }
    })
    .await?;
    let Some(bytes) = bytes else {
        return Err(ApiError(MeshError::NotFound {
            what: "ledger file",
            name: path,
            hint: String::new(),
        }));
    };
    // Full tiles never change; partial tiles and the checkpoint do.
    let immutable = path.starts_with("tile/") && !path.contains(".p/");
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}
