use agora_storage::StorageError;
use thiserror::Error;

/// Errors of the write path. Every message names the source and the position where it can.
#[derive(Debug, Error)]
pub enum IngestError {
    /// The input is wrong (a malformed file, a column the contract does not define): nothing
    /// was written.
    #[error("{source_name}: {message}")]
    BadInput {
        source_name: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    pub(crate) fn bad_input(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError::BadInput {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
}
