//! Lineage read from a mesh's ledger: the graph of sources, tables, external datasets and jobs,
//! every edge backed by the signed entry that recorded it.
//!
//! Edges come from two kinds of entries: `ingest.committed` (the source file, identified by its
//! name and SHA-256, feeds the table) and [`KIND_LINEAGE`] (OpenLineage run events, checked by
//! [`RunEvent::parse`]: each input dataset feeds each output through the job; their
//! `columnLineage` facets give column edges). Because the ledger is append-only, the graph "as
//! it stood" at any published checkpoint is the graph of that checkpoint's first entries, and
//! each edge is proven against that checkpoint ([`lineage`] with `verify`).
//!
//! ```no_run
//! # fn demo(log: &agora_ledger::Log) -> Result<(), agora_lineage::LineageError> {
//! use agora_lineage::{Direction, LineageRequest, PointInTime, lineage};
//! let tables = ["sales.orders".to_string()].into();
//! let request = LineageRequest {
//!     target: "sales.orders".into(),
//!     direction: Direction::Upstream,
//!     depth: None,
//!     at: PointInTime::Latest,
//!     verify: true,
//! };
//! let graph = lineage(log, &request, &tables, &Default::default())?;
//! println!("{}", graph.to_dot());
//! # Ok(()) }
//! ```

mod graph;
mod openlineage;

pub use graph::{
    Direction, LineageCheckpoint, LineageEdge, LineageGraph, LineageRequest, PointInTime, lineage,
};
pub use openlineage::{Dataset, KIND_LINEAGE, RunEvent};

use agora_ledger::LogError;
use thiserror::Error;

/// Errors of lineage questions and events.
#[derive(Debug, Error)]
pub enum LineageError {
    /// An OpenLineage event that is not a valid run event.
    #[error("OpenLineage event: {0}")]
    BadEvent(String),
    #[error("unknown {what} `{name}`{hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: String,
    },
    #[error(transparent)]
    Ledger(#[from] LogError),
    /// An edge's entry did not prove against the checkpoint, or its signature did not verify.
    #[error("ledger verification failed: {0}")]
    Verification(String),
}

impl LineageError {
    fn not_found(what: &'static str, name: impl ToString) -> Self {
        LineageError::NotFound {
            what,
            name: name.to_string(),
            hint: String::new(),
        }
    }
}
