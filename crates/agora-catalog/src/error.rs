use thiserror::Error;

/// Errors of the metadata store.
#[derive(Debug, Error)]
pub enum CatalogError {
    #[error("catalog database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("catalog migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unknown {what} `{name}`")]
    NotFound { what: &'static str, name: String },
    #[error("{what} `{name}` already exists")]
    AlreadyExists { what: &'static str, name: String },
    #[error("catalog holds an invalid {what} `{value}`: {reason}")]
    Corrupt {
        what: &'static str,
        value: String,
        reason: String,
    },
}
