//! The data files behind the signed URLs of a query's answer: no bearer token (a client
//! fetches them as it would a pre-signed object-store URL), the ticket in the path instead;
//! served by tower-http's `ServeFile`, which answers `HEAD` and `Range` requests as the
//! clients' HTTP filesystems expect.

use agora_mesh::Mesh;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::SharingResult;

pub(super) async fn serve(
    State(mesh): State<Mesh>,
    Path(ticket): Path<String>,
    request: Request,
) -> SharingResult<Response> {
    let path = mesh.shared_file(&ticket).await?;
    let response = ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|e| agora_mesh::MeshError::Internal(format!("serving a shared file: {e}")))?;
    Ok(response.into_response())
}
