//! `verify`: an audit of a whole stored log from scratch. Every entry is parsed, its signature
//! checked against the keys the log itself registered (starting from the genesis entry's
//! administrator key), its hash recomputed and compared with the stored tiles; every upper
//! tile is recomputed; the root must match the signed checkpoint, and every checkpoint in the
//! history must be a prefix of the log (which is what consistency between them means).

use serde::Serialize;
use thiserror::Error;

use crate::entry::{ADMIN_SIGNER, KIND_GENESIS, KIND_KEY, SignedEntry};
use crate::log::Log;
use crate::merkle::{NodeHashes, Tree, leaf_hash};
use crate::note::NoteVerifier;
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH, tile_path};

/// What a successful audit covered.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub checkpoints: usize,
    /// Signers with a registered key, in registration order.
    pub signers: Vec<String>,
}

/// The first problem found: which entry, if it can be pinned to one, and why.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{}{reason}", entry.map(|e| format!("entry {e}: ")).unwrap_or_default())]
pub struct AuditFailure {
    pub entry: Option<u64>,
    pub reason: String,
}

fn fail(entry: Option<u64>, reason: impl Into<String>) -> AuditFailure {
    AuditFailure {
        entry,
        reason: reason.into(),
    }
}

/// Audits `log`. With `admin`, the genesis entry must name that administrator key.
pub fn audit(log: &Log, admin: Option<&NoteVerifier>) -> Result<AuditReport, AuditFailure> {
    let current = log
        .checkpoint()
        .map_err(|e| fail(None, format!("current checkpoint: {e}")))?;
    let size = current.checkpoint.size;
    let files = log.files();
    let mut tree = Tree::new();
    let mut keys = Keyring::pinned(admin);

    for n in 0..size.div_ceil(TILE_WIDTH) {
        let first = n * TILE_WIDTH;
        let width = (size - first).min(TILE_WIDTH);
        let stored = files
            .tile(0, n, width)
            .map_err(|e| fail(Some(first), e.to_string()))?;
        let leaves = files
            .bundle_prefix(n, width)
            .map_err(|e| fail(Some(first), e.to_string()))?;
        for (i, leaf) in leaves.iter().enumerate() {
            let index = first + i as u64;
            let entry =
                SignedEntry::from_leaf(leaf).map_err(|e| fail(Some(index), e.to_string()))?;
            keys.observe(index, &entry)?;
            let hash = leaf_hash(leaf);
            if hash != stored[i] {
                return Err(fail(
                    Some(index),
                    "its hash differs from the one logged at this position: an entry was changed, \
                     removed, inserted or moved here",
                ));
            }
            tree.append(hash);
        }
        if (leaves.len() as u64) < width {
            return Err(fail(
                Some(first + leaves.len() as u64),
                "missing or cut short: the log ends before its checkpoint's size",
            ));
        }
    }

    // Upper tiles: proofs are read from them, so they must agree with the entries.
    let mut level = 1;
    while size >> (TILE_HEIGHT * level) > 0 {
        let count = size >> (TILE_HEIGHT * level);
        for n in 0..count.div_ceil(TILE_WIDTH) {
            let width = (count - n * TILE_WIDTH).min(TILE_WIDTH);
            let stored = files
                .tile(level, n, width)
                .map_err(|e| fail(None, e.to_string()))?;
            for (i, h) in stored.iter().enumerate() {
                let expected = tree
                    .node(TILE_HEIGHT * level, n * TILE_WIDTH + i as u64)
                    .expect("INVARIANT: the node lies inside the rebuilt tree");
                if *h != expected {
                    return Err(fail(
                        None,
                        format!(
                            "hash {i} of tile {} does not match the entries below it",
                            tile_path(level, n, TILE_WIDTH)
                        ),
                    ));
                }
            }
        }
        level += 1;
    }

    if tree.root() != current.checkpoint.root {
        return Err(fail(
            None,
            format!("the {size} entries do not hash to the root of the signed checkpoint"),
        ));
    }

    let history = log.history().map_err(|e| fail(None, e.to_string()))?;
    let mut previous = 0;
    for (i, h) in history.iter().enumerate() {
        let cp = &h.checkpoint;
        if cp.size < previous {
            return Err(fail(
                None,
                format!(
                    "checkpoint {} of the history shrinks the log from {previous} to {} entries",
                    i + 1,
                    cp.size
                ),
            ));
        }
        if cp.size > size {
            return Err(fail(
                None,
                format!(
                    "checkpoint {} of the history has {} entries, more than the current {size}: \
                     the log was rolled back",
                    i + 1,
                    cp.size
                ),
            ));
        }
        if tree.root_at(cp.size).ok() != Some(cp.root) {
            return Err(fail(
                Some(previous),
                format!(
                    "checkpoint {} of the history ({} entries) is not a prefix of the log: \
                     entries {previous}..{} were rewritten after it was published",
                    i + 1,
                    cp.size,
                    cp.size
                ),
            ));
        }
        previous = cp.size;
    }
    match history.last() {
        Some(last) if last.note == current.note => {}
        _ => {
            return Err(fail(
                None,
                "the current checkpoint is not the last one in the history",
            ));
        }
    }

    Ok(AuditReport {
        origin: current.checkpoint.origin,
        size,
        root: hex::encode(current.checkpoint.root),
        checkpoints: history.len(),
        signers: keys.signers(),
    })
}

/// The signers' keys as the log registers them, entry by entry: the genesis entry names the
/// administrator's key, and key registrations (signed by the administrator) add the others.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<NoteVerifier>,
    admin: Option<NoteVerifier>,
    next: u64,
}

impl Keyring {
    /// A keyring that requires the genesis entry to name `admin`.
    pub fn pinned(admin: Option<&NoteVerifier>) -> Self {
        Keyring {
            admin: admin.cloned(),
            ..Keyring::default()
        }
    }

    /// Checks the signature of entry `index` (entries must come in log order from 0) and learns
    /// the keys it registers.
    pub fn observe(&mut self, index: u64, entry: &SignedEntry) -> Result<(), AuditFailure> {
        if index != self.next {
            return Err(fail(
                Some(index),
                format!(
                    "keys are learnt in log order: entry {} comes first",
                    self.next
                ),
            ));
        }
        self.next += 1;
        let body_key = |field: &str| -> Result<NoteVerifier, AuditFailure> {
            let text = entry.entry.body[field]
                .as_str()
                .ok_or_else(|| fail(Some(index), format!("`{field}` is missing")))?;
            NoteVerifier::parse(text).map_err(|e| fail(Some(index), e.to_string()))
        };
        if index == 0 {
            if entry.entry.kind != KIND_GENESIS || entry.entry.signer != ADMIN_SIGNER {
                return Err(fail(
                    Some(0),
                    format!(
                        "the log must open with a `{KIND_GENESIS}` entry signed by {ADMIN_SIGNER}"
                    ),
                ));
            }
            let key = body_key("admin_key")?;
            if key.name != ADMIN_SIGNER {
                return Err(fail(
                    Some(0),
                    "the genesis key is not named for the administrator",
                ));
            }
            if self.admin.as_ref().is_some_and(|a| *a != key) {
                return Err(fail(
                    Some(0),
                    "the genesis entry names another administrator key than the one given",
                ));
            }
            self.keys.push(key);
        } else if entry.entry.kind == KIND_GENESIS {
            return Err(fail(Some(index), "a second genesis entry"));
        }
        entry
            .verify(&self.keys)
            .map_err(|e| fail(Some(index), e.to_string()))?;
        if index > 0 && entry.entry.kind == KIND_KEY {
            if entry.entry.signer != ADMIN_SIGNER {
                return Err(fail(
                    Some(index),
                    format!(
                        "only {ADMIN_SIGNER} registers keys, not `{}`",
                        entry.entry.signer
                    ),
                ));
            }
            self.keys.push(body_key("key")?);
        }
        Ok(())
    }

    /// Signers with a registered key, in registration order.
    pub fn signers(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.name.clone()).collect()
    }
}
