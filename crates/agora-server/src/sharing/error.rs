//! The protocol's error responses: `{"errorCode": "…", "message": "…"}` with the status of
//! the mesh error's kind, the same mapping as the rest of the HTTP API.

use agora_mesh::{ErrorKind, MeshError};
use agora_sharing::protocol::ErrorBody;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub(crate) struct SharingError(pub(crate) MeshError);

pub(crate) type SharingResult<T> = Result<T, SharingError>;

impl SharingError {
    pub(crate) fn bad_input(source: &str, message: String) -> SharingError {
        SharingError(MeshError::BadInput {
            source_name: source.to_string(),
            message,
        })
    }
}

impl From<MeshError> for SharingError {
    fn from(e: MeshError) -> Self {
        SharingError(e)
    }
}

impl IntoResponse for SharingError {
    fn into_response(self) -> Response {
        let (status, code) = match self.0.kind() {
            ErrorKind::BadInput => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE"),
            ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ErrorKind::Denied => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "RESOURCE_CONFLICT"),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "sharing request failed");
        }
        let body = ErrorBody {
            error_code: code.to_string(),
            message: self.0.to_string(),
        };
        (status, Json(body)).into_response()
    }
}
