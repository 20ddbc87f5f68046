use agora_catalog::CatalogError;
use agora_ingest::IngestError;
use agora_ledger::{LogError, ProofError};
use agora_lineage::LineageError;
use agora_model::ModelError;
use agora_query::QueryError;
use agora_storage::StorageError;
use thiserror::Error;

/// What kind of failure an error is, so that every interface maps it the same way (the CLI to
/// an exit code, the server to an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input is wrong: fix it and retry.
    BadInput,
    NotFound,
    /// Authenticated but not allowed.
    Denied,
    /// No or wrong credentials.
    Unauthenticated,
    /// The request conflicts with the state of the mesh (already exists, breaking change).
    Conflict,
    /// Agora or its environment failed.
    Internal,
}

/// Errors of mesh operations. Every message names what went wrong and where.
#[derive(Debug, Error)]
pub enum MeshError {
    #[error("no mesh at {dir}: run `agora init` first, or point --data / AGORA_DATA at a mesh")]
    NotAMesh { dir: String },
    #[error("a mesh already exists at {dir}")]
    MeshExists { dir: String },
    #[error("unknown {what} `{name}`{hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: String,
    },
    #[error("permission denied: {principal} may not {action}")]
    Denied { principal: String, action: String },
    #[error("invalid or unknown API token")]
    BadToken,
    /// A principal that may not act now: disabled, or its token expired.
    #[error("principal {principal} {why}")]
    InactivePrincipal { principal: String, why: String },
    #[error("{source_name}: {message}")]
    BadInput {
        source_name: String,
        message: String,
    },
    #[error(transparent)]
    Contract(#[from] ModelError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Ledger(agora_ledger::LogError),
    #[error("ledger verification failed: {0}")]
    LedgerAudit(String),
    #[error(transparent)]
    Policy(#[from] agora_policy::PolicyError),
    #[error("witness refuses to cosign: {0}")]
    WitnessRefused(String),
    /// The request conflicts with the state of the mesh: input ingested before, a principal
    /// already disabled, one that still owns a domain.
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// An error of one step of a larger request (a statement of a SQL script), with where.
    #[error("{place}: {error}")]
    At {
        place: String,
        error: Box<MeshError>,
    },
}

impl MeshError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            MeshError::NotAMesh { .. } | MeshError::NotFound { .. } => ErrorKind::NotFound,
            MeshError::MeshExists { .. } => ErrorKind::Conflict,
            MeshError::Denied { .. } => ErrorKind::Denied,
            MeshError::BadToken | MeshError::InactivePrincipal { .. } => ErrorKind::Unauthenticated,
            MeshError::BadInput { .. } => ErrorKind::BadInput,
            MeshError::Contract(ModelError::BreakingChange { .. }) => ErrorKind::Conflict,
            MeshError::Contract(_) => ErrorKind::BadInput,
            MeshError::Catalog(CatalogError::AlreadyExists { .. }) | MeshError::Conflict(_) => {
                ErrorKind::Conflict
            }
            MeshError::Catalog(CatalogError::NotFound { .. }) => ErrorKind::NotFound,
            MeshError::Query(QueryError::PermissionDenied(_) | QueryError::ColumnDenied(_)) => {
                ErrorKind::Denied
            }
            MeshError::Policy(_) => ErrorKind::BadInput,
            MeshError::Query(QueryError::NotFound(_)) => ErrorKind::NotFound,
            MeshError::Query(e) if e.is_user_error() => ErrorKind::BadInput,
            MeshError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            MeshError::Io { .. } => ErrorKind::BadInput,
            MeshError::Ledger(LogError::Proof(
                ProofError::IndexBeyondTree { .. } | ProofError::SizeBeyondLog { .. },
            ))
            | MeshError::Ledger(LogError::NoCheckpoint(_)) => ErrorKind::NotFound,
            MeshError::Ledger(LogError::ForeignCheckpoint(_)) => ErrorKind::Conflict,
            MeshError::Ledger(LogError::NoCosignature | LogError::TooFewCosignatures { .. }) => {
                ErrorKind::BadInput
            }
            MeshError::Ledger(LogError::Proof(_) | LogError::Note(_) | LogError::Checkpoint(_)) => {
                ErrorKind::BadInput
            }
            MeshError::Ledger(_) | MeshError::LedgerAudit(_) => ErrorKind::Internal,
            MeshError::WitnessRefused(_) => ErrorKind::Conflict,
            MeshError::Storage(StorageError::BadPredicate { .. }) => ErrorKind::BadInput,
            MeshError::Storage(StorageError::NoSuchVersion { .. }) => ErrorKind::NotFound,
            MeshError::Storage(StorageError::ConcurrentChange { .. }) => ErrorKind::Conflict,
            MeshError::At { error, .. } => error.kind(),
            MeshError::Catalog(_)
            | MeshError::Storage(_)
            | MeshError::Query(_)
            | MeshError::Internal(_) => ErrorKind::Internal,
        }
    }

    pub(crate) fn bad_input(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        MeshError::BadInput {
            source_name: source_name.into(),
            message: message.into(),
        }
    }

    pub(crate) fn not_found(what: &'static str, name: impl ToString) -> Self {
        MeshError::NotFound {
            what,
            name: name.to_string(),
            hint: String::new(),
        }
    }
}

impl From<IngestError> for MeshError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::BadInput {
                source_name,
                message,
            } => MeshError::BadInput {
                source_name,
                message,
            },
            IngestError::Io { path, source } => MeshError::Io { path, source },
            IngestError::Storage(e) => MeshError::Storage(e),
            IngestError::Internal(m) => MeshError::Internal(m),
        }
    }
}

impl From<LineageError> for MeshError {
    fn from(e: LineageError) -> Self {
        match e {
            LineageError::BadEvent(message) => MeshError::BadInput {
                source_name: "OpenLineage event".into(),
                message,
            },
            LineageError::NotFound { what, name, hint } => MeshError::NotFound { what, name, hint },
            LineageError::Ledger(e) => MeshError::Ledger(e),
            LineageError::Verification(m) => MeshError::LedgerAudit(m),
        }
    }
}
