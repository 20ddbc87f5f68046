//! This node as a witness others push to, in the manner of C2SP `tlog-witness`:
//! `POST /api/v1/witness/add-checkpoint` with `old <size>`, the consistency proof from that size
//! (one base64 hash per line), a blank line, and the signed checkpoint. The answer is the
//! cosignature line; 409 with the size this witness last saw when `old` is not it (or when the
//! checkpoint is a split view or a rollback), 422 when the proof does not prove consistency,
//! 403 when the log's signature does not verify, 404 for a log this node does not witness.

use agora_ledger::{Hash, WitnessError};
use agora_mesh::Mesh;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;

use crate::api::Caller;

#[derive(utoipa::OpenApi)]
#[openapi(paths(add_checkpoint))]
pub(crate) struct Api;

pub(crate) fn routes() -> Router<Mesh> {
    Router::new().route("/api/v1/witness/add-checkpoint", post(add_checkpoint))
}

fn answer(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Splits the request into the old size, the proof and the checkpoint note.
fn parse(body: &str) -> Result<(u64, Vec<Hash>, &str), String> {
    let (head, note) = body
        .split_once("\n\n")
        .ok_or("expected `old <size>`, proof lines, a blank line, then the checkpoint")?;
    let mut lines = head.lines();
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(|n| n.parse().ok())
        .ok_or("the first line must be `old <size>`")?;
    let proof = lines
        .map(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| format!("`{l}` is not a base64 SHA-256 hash"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((old, proof, note))
}

#[utoipa::path(post, path = "/api/v1/witness/add-checkpoint", request_body(content = String, content_type = "text/plain", description = "C2SP tlog-witness add-checkpoint: `old <size>`, consistency proof lines, a blank line, the checkpoint"), responses((status = 200, description = "The witness's cosignature line", content_type = "text/plain"), (status = 400, description = "A malformed request", content_type = "text/plain"), (status = 403, description = "A checkpoint whose signature does not verify", content_type = "text/plain"), (status = 404, description = "A log this node does not witness", content_type = "text/plain"), (status = 409, description = "The witness has seen another size: the body names it", content_type = "text/plain"), (status = 422, description = "The proof does not show consistency", content_type = "text/plain")))]
async fn add_checkpoint(State(mesh): State<Mesh>, _caller: Caller, body: String) -> Response {
    let (old, proof, note) = match parse(&body) {
        Ok(p) => p,
        Err(e) => return answer(StatusCode::BAD_REQUEST, format!("{e}\n")),
    };
    let origin = note.lines().next().unwrap_or_default();
    let key = match mesh.watched_logs() {
        Ok(keys) => keys.into_iter().find(|k| k.name == origin),
        Err(e) => return answer(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    };
    let Some(key) = key else {
        return answer(
            StatusCode::NOT_FOUND,
            format!("this node does not witness the log `{origin}`\n"),
        );
    };
    let note = note.to_string();
    let result = tokio::task::spawn_blocking(move || {
        let witness = mesh
            .witness()
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let seen = witness
            .last_seen(&key)
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_or(0, |s| s.checkpoint.size);
        if seen != old {
            // The client must retry from the size this witness knows.
            return Err((StatusCode::CONFLICT, format!("{seen}\n")));
        }
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        witness.witness(&key, &note, &proof, now).map_err(|e| {
            let status = match e {
                WitnessError::BadCheckpoint(_) => StatusCode::FORBIDDEN,
                WitnessError::Inconsistent { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                WitnessError::SplitView { .. } | WitnessError::Rollback { .. } => {
                    StatusCode::CONFLICT
                }
                WitnessError::State(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, e.to_string())
        })
    })
    .await;
    match result {
        Ok(Ok(line)) => answer(StatusCode::OK, line),
        Ok(Err((status, message))) => answer(status, format!("{}\n", message.trim_end())),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("witness failed: {e}\n"),
        ),
    }
}
