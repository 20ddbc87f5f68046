use agora_storage::StorageError;
use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
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
    /// A statement past the size the layer plans (see `session::MAX_TOKENS`).
    #[error("the statement is too large: {0}")]
    TooLarge(String),
    /// The query passed a limit while it ran: its memory or its time.
    #[error("the query passed a limit: {0}")]
    Limit(String),
    /// Something the query names does not exist (a table version).
    #[error("{0}")]
    NotFound(String),
    /// The query's own evaluation failed on its data: a division by zero, a value that does
    /// not cast, an invalid argument to a function.
    #[error("query failed: {0}")]
    Runtime(String),
    /// Agora or its environment failed while executing a valid plan.
    #[error("query failed: {0}")]
    Execution(String),
    /// The statement could not be recorded, so it did not run.
    #[error("the query audit failed, so the query did not run: {0}")]
    Audit(String),
}

impl QueryError {
    /// Classifies a DataFusion error by its type (never by its text): a [`PermissionDenied`]
    /// or a missing table version wherever they are wrapped, SQL and planning errors, errors of
    /// the query's own evaluation, and failures of the system.
    pub fn from_datafusion(e: DataFusionError) -> Self {
        let message = e.strip_backtrace();
        // The variant's own prefix says "SQL error"; DataFusion's message may say it too.
        let message = message
            .strip_prefix("SQL error: ")
            .unwrap_or(&message)
            .to_string();
        match e.find_root() {
            DataFusionError::External(inner) => {
                if let Some(denied) = inner.downcast_ref::<PermissionDenied>() {
                    return QueryError::PermissionDenied(denied.clone());
                }
                if let Some(StorageError::NoSuchVersion { .. }) =
                    inner.downcast_ref::<StorageError>()
                {
                    return QueryError::NotFound(inner.to_string());
                }
                QueryError::Execution(message)
            }
            DataFusionError::SQL(parse, _)
                if matches!(parse.as_ref(), ParserError::RecursionLimitExceeded) =>
            {
                QueryError::TooLarge(format!(
                    "its parentheses, function calls or subqueries nest more than {} deep, the most the SQL parser reads",
                    datafusion::config::SqlParserOptions::default()
                        .recursion_limit
                        .get()
                ))
            }
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => QueryError::Sql(message),
            DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
                ArrowError::DivideByZero
                | ArrowError::CastError(_)
                | ArrowError::ParseError(_)
                | ArrowError::ArithmeticOverflow(_)
                | ArrowError::InvalidArgumentError(_)
                | ArrowError::ComputeError(_) => QueryError::Runtime(message),
                _ => QueryError::Execution(message),
            },
            DataFusionError::ResourcesExhausted(m) => QueryError::Limit(m.clone()),
            // Raised by functions on the values they are given (a bad regex, an argument out of
            // range): the query's, not the system's.
            DataFusionError::Execution(_) => QueryError::Runtime(message),
            _ => QueryError::Execution(message),
        }
    }

    /// Whether the error is the user's (bad SQL, no grant, a failing expression) rather than
    /// the system's.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            QueryError::Execution(_) | QueryError::Audit(_) | QueryError::NotFound(_)
        )
    }
}
