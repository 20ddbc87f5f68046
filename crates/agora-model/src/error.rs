use thiserror::Error;

/// Everything that can be wrong with a name, a contract or a grant, before any I/O happens.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// A name that cannot become a SQL identifier or a directory name.
    #[error("invalid {what} name `{name}`: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: String,
    },
    /// YAML that does not parse, with the position serde reports.
    #[error("malformed contract YAML at line {line}, column {column}: {message}")]
    MalformedYaml {
        line: usize,
        column: usize,
        message: String,
    },
    /// YAML that parses but is not a usable contract.
    #[error("invalid contract: {0}")]
    InvalidContract(String),
    /// A word outside a fixed vocabulary (a category, a sensitivity level).
    #[error("unknown {what} `{value}`; expected one of: {expected}")]
    UnknownTerm {
        what: &'static str,
        value: String,
        expected: String,
    },
    /// A contract change that would break readers of existing data.
    #[error(
        "breaking change to {product} refused: {changes}; bump the contract's major version (now {version}) to allow it"
    )]
    BreakingChange {
        product: String,
        version: String,
        changes: String,
    },
}
