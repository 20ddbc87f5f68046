//! What every area of the HTTP API shares: the error body and its status codes, the caller's
//! authentication, and reading request parameters and bodies. A leaf: it imports no area.

mod auth;
mod error;
mod request;

pub(crate) use auth::{Caller, bearer_token};
pub(crate) use error::{ApiError, ApiResult, ErrorBody};
pub(crate) use request::{params, parse_json};
