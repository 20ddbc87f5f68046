//! Agora's tamper-evident ledger: a transparency log in the design of Certificate Transparency,
//! Go's checksum database and Sigstore Rekor.
//!
//! - [`Entry`]: an event (an ingest commit, a grant, a contract change, …) as RFC 8785
//!   canonical JSON, signed with Ed25519 by the acting domain's key ([`SignedEntry`]). The log
//!   registers keys itself: its first entry names the administrator's key ([`genesis`]), and the
//!   administrator registers each domain's key ([`key_registration`]).
//! - The Merkle tree of RFC 9162 over the entries ([`leaf_hash`], [`node_hash`]), with
//!   inclusion and consistency proofs and verifiers that need only the proof, the sizes and the
//!   roots. Proofs are computed over any [`NodeHashes`]: an in-memory [`Tree`] or the stored
//!   tiles ([`TiledTree`]).
//! - [`Log`]: the stored log, laid out as C2SP `tlog-tiles` on a local directory so it can be
//!   served as static files; durable, crash-safe, batched appends; a C2SP `tlog-checkpoint`
//!   ([`Checkpoint`]) in an Ed25519 C2SP signed note ([`sign_note`], [`open_note`]) after every
//!   batch, and the history of every checkpoint.
//! - [`audit`]: checks a whole log from scratch and names the first bad entry.
//! - Witnesses: a [`Witness`] cosigns (C2SP `tlog-cosignature`, [`Cosigner`]) only checkpoints
//!   consistent with the last one it saw and keeps evidence of split views; the log stores the
//!   cosignatures it gathers and serves them with its checkpoints, so a verifier can require k
//!   of n witnesses ([`cosignatures`]).
//!
//! Written here rather than taken from a crate: the maintained Rust implementations either
//! hash differently (no RFC 9162 domain separation) or bring their own storage and servers; the
//! algorithms are short and are checked against the transparency-dev conformance vectors.
//!
//! ```
//! use agora_ledger::{Tree, leaf_hash, verify_inclusion, verify_consistency};
//! let mut tree = Tree::new();
//! for entry in [&b"a"[..], b"b", b"c"] {
//!     tree.append(leaf_hash(entry));
//! }
//! let old_root = tree.root_at(2).unwrap();
//! let proof = tree.inclusion_proof(1, 3).unwrap();
//! verify_inclusion(1, 3, &leaf_hash(b"b"), &proof, &tree.root()).unwrap();
//! let consistency = tree.consistency_proof(2, 3).unwrap();
//! verify_consistency(2, 3, &consistency, &old_root, &tree.root()).unwrap();
//! ```

mod audit;
mod checkpoint;
mod cosign;
mod entry;
mod failpoint;
mod files;
mod log;
mod log_error;
mod merkle;
mod mirror;
mod note;
mod proofs;
mod tiles;
mod witness;

pub use audit::{AuditFailure, AuditReport, Keyring, audit};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use cosign::{Cosignature, Cosigner, CosignerKey, cosignatures};
pub use entry::{
    ADMIN_SIGNER, Entry, EntryError, KIND_GENESIS, KIND_KEY, Leaf, MAX_ENTRY_BYTES, SignedEntry,
    genesis, key_registration,
};
pub use failpoint::failpoint;
pub use files::LogFiles;
pub use log::{Appended, Log, SignedCheckpoint, TiledTree};
pub use log_error::LogError;
pub use merkle::{
    Hash, NodeHashes, ProofError, Tree, empty_root, leaf_hash, node_hash, verify_consistency,
    verify_inclusion,
};
pub use mirror::{Mirror, tile_paths};
pub use note::{NoteError, NoteSigner, NoteVerifier, open_note, sign_note};
pub use proofs::{ConsistencyProof, InclusionProof};
pub use tiles::{
    TILE_WIDTH, TileKind, bundle_path, decode_bundle, encode_bundle, encode_tile, parse_tile_path,
    tile_path,
};
pub use witness::{Seen, Witness, WitnessError};
