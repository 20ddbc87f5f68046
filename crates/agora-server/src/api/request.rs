use agora_mesh::MeshError;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;

use super::ApiError;

/// Query-string parameters, with a JSON error body when they do not parse.
pub(crate) fn params<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(p)| p).map_err(|e| {
        ApiError(MeshError::BadInput {
            source_name: "query string".into(),
            message: e.body_text(),
        })
    })
}

/// A JSON request body, with the line and column of what does not parse.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(MeshError::BadInput {
            source_name: "request body".into(),
            message: format!("line {}, column {}: {e}", e.line(), e.column()),
        })
    })
}
