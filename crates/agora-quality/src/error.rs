use thiserror::Error;

/// What went wrong in a quality check, naming where.
#[derive(Debug, Error)]
pub enum QualityError {
    /// A series file that cannot be read as `timestamp,value` rows.
    #[error("{source_name}, line {line}: {message}")]
    BadSeries {
        source_name: String,
        line: u64,
        message: String,
    },
    /// A contract quality rule Agora cannot evaluate as written.
    #[error("{place}: {message}")]
    BadRule { place: String, message: String },
    #[error("{source_name}: {error}")]
    Io {
        source_name: String,
        error: std::io::Error,
    },
}
