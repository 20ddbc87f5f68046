use agora_mesh::{ErrorKind, MeshError};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The error body of every failed request.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    error: String,
    kind: String,
}

impl ErrorBody {
    /// A body for an error that is the HTTP layer's own, not the mesh's (a body too large).
    pub(crate) fn new(error: String, kind: &str) -> ErrorBody {
        ErrorBody {
            error,
            kind: kind.to_string(),
        }
    }
}

/// A failed request: its status comes from the error's kind, in this one place.
pub(crate) struct ApiError(pub(crate) MeshError);

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl From<MeshError> for ApiError {
    fn from(e: MeshError) -> Self {
        ApiError(e)
    }
}

/// So that a handler answering with a response of its own (a refused body) can still use `?`
/// on the mesh's errors.
impl From<ApiError> for Response {
    fn from(e: ApiError) -> Response {
        e.into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let status = match kind {
            ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorKind::Denied => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %self.0, "request failed");
        }
        let body = ErrorBody {
            error: self.0.to_string(),
            kind: format!("{kind:?}").to_lowercase(),
        };
        (status, Json(body)).into_response()
    }
}
