//! What can go wrong reading or writing the stored log.

use thiserror::Error;

use crate::checkpoint::CheckpointError;
use crate::entry::EntryError;
use crate::merkle::ProofError;
use crate::note::NoteError;

/// Errors of the stored log: reading, appending, proving.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LogError {
    #[error("ledger I/O error: {0}")]
    Io(String),
    #[error("the ledger is damaged: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("no ledger at {0}")]
    Missing(String),
    #[error(
        "no checkpoint of exactly {0} entries was published: prove against the latest one or a published size"
    )]
    NoCheckpoint(u64),
    #[error("this log never published the checkpoint of {0} entries that was cosigned")]
    ForeignCheckpoint(u64),
    #[error("no valid cosignature by a registered witness on the checkpoint")]
    NoCosignature,
    #[error(
        "the checkpoint carries {found} valid cosignatures of the {of} witnesses given; {required} required"
    )]
    TooFewCosignatures {
        found: usize,
        required: usize,
        of: usize,
    },
    #[error("this ledger was opened read-only")]
    ReadOnly,
}
