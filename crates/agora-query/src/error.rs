use datafusion::error::DataFusionError;
use thiserror::Error;

/// A principal tried to read a product without a grant.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error(
    "permission denied: {principal} may not read product {domain}.{product} (table {domain}.{table}); ask an owner of domain {domain} for a grant"
)]
pub struct PermissionDenied {
    pub principal: String,
    pub domain: String,
    pub product: String,
    pub table: String,
}

/// A query used a column the reader's policy denies.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error(
    "permission denied: {principal} may not read column {} (denied by policy); leave it out of the query",
    columns.join(", ")
)]
pub struct ColumnDenied {
    pub principal: String,
    /// `domain.table.column` of each denied column the query uses.
    pub columns: Vec<String>,
}

/// Errors of the query layer.
#[derive(Debug, Error)]
pub enum QueryError {
    #[error(transparent)]
    PermissionDenied(#[from] PermissionDenied),
    #[error(transparent)]
    ColumnDenied(#[from] ColumnDenied),
    /// SQL that does not parse or does not plan (unknown table or column, bad types, …).
    #[error("SQL error: {0}")]
    Sql(String),
    /// A statement the read-only layer does not run.
    #[error("only queries are allowed here: {0}")]
    NotAQuery(String),
    /// A failure while executing a valid plan.
    #[error("query failed: {0}")]
    Execution(String),
    /// The statement could not be recorded, so it did not run.
    #[error("the query audit failed, so the query did not run: {0}")]
    Audit(String),
}

impl QueryError {
    /// Classifies a DataFusion error, finding a [`PermissionDenied`] wherever it is wrapped.
    pub fn from_datafusion(e: DataFusionError) -> Self {
        if let DataFusionError::External(inner) = e.find_root()
            && let Some(denied) = inner.downcast_ref::<PermissionDenied>()
        {
            return QueryError::PermissionDenied(denied.clone());
        }
        let message = e.strip_backtrace();
        // The variant's own prefix says "SQL error"; DataFusion's message may say it too.
        let message = message
            .strip_prefix("SQL error: ")
            .unwrap_or(&message)
            .to_string();
        match e.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..) => {
                let refused = [
                    "DDL not supported",
                    "DML not supported",
                    "Statement not supported",
                ];
                if refused.iter().any(|r| message.contains(r)) {
                    QueryError::NotAQuery(message)
                } else {
                    QueryError::Sql(message)
                }
            }
            DataFusionError::NotImplemented(_) => QueryError::Sql(message),
            _ => QueryError::Execution(message),
        }
    }

    /// Whether the error is the user's (bad SQL, no grant) rather than the system's.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, QueryError::Execution(_) | QueryError::Audit(_))
    }
}
