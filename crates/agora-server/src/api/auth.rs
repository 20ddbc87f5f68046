use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::ApiError;

/// The principal of a request, from `Authorization: Bearer <token>`.
pub(crate) struct Caller(pub(crate) Principal);

impl FromRequestParts<Mesh> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, mesh: &Mesh) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ApiError(MeshError::BadToken))?;
        Ok(Caller(mesh.authenticate(token).await?))
    }
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(crate) fn bearer_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}
