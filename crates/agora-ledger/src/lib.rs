//! The tamper-evident log under Agora's lineage ledger.
//!
//! So far: the Merkle tree of RFC 9162 (Certificate Transparency v2) — leaf and node hashing, a
//! [`Tree`] that appends leaves and answers inclusion and consistency proofs in O(log n) node
//! look-ups, and verifiers that need only the proof, the sizes and the roots — and the C2SP
//! formats that publish it: [`Checkpoint`]s (`tlog-checkpoint`) inside Ed25519 signed notes
//! ([`sign_note`], [`open_note`]). Signed entries, tiles and witnesses build on these.
//!
//! Written here rather than taken from a crate: the maintained Rust implementations either
//! hash differently (no RFC 9162 domain separation) or bring their own storage; the algorithms
//! are short and are checked against the transparency-dev conformance vectors.
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

mod checkpoint;
mod merkle;
mod note;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use merkle::{
    Hash, ProofError, Tree, empty_root, leaf_hash, node_hash, verify_consistency, verify_inclusion,
};
pub use note::{NoteError, NoteSigner, NoteVerifier, open_note, sign_note};
