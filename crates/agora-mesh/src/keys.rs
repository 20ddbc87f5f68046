//! The mesh's secrets in `keys/`, each readable only by the mesh's owner (0600): `log.key`
//! signs checkpoints (its name is the log's origin), `admin.key` what the administrator does,
//! `domain.<name>.key` what a domain does, `witness.key` this mesh's cosignatures of other
//! logs, `mask.key` the secret of the `hash` masking action, `audit.key` the key of the
//! hashes that stand for query texts in the public audit, and `share.key` the key that signs the
//! file URLs handed to share recipients. A production deployment
//! would hold them in a KMS; one file per key keeps each separate so that can be swapped in.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use agora_policy::{MaskKey, Masks};
use rand::RngCore;

use crate::MeshError;

pub(crate) const KEYS_DIR: &str = "keys";
pub(crate) const LOG_KEY: &str = "log.key";
pub(crate) const WITNESS_KEY: &str = "witness.key";
const MASK_KEY: &str = "mask.key";
const AUDIT_KEY: &str = "audit.key";
const SHARE_KEY: &str = "share.key";

/// Names the file in an I/O error.
pub(crate) fn io(path: &Path) -> impl Fn(std::io::Error) -> MeshError + '_ {
    move |source| MeshError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a new secret file (never over an existing one), durably, readable by the owner only.
pub(crate) fn write_secret(path: &Path, text: &str) -> Result<(), MeshError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

/// Reads a secret file and parses it with `parse`; a file that does not parse is the mesh's
/// fault, not the caller's.
pub(crate) fn read_secret<T, E: std::fmt::Display>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, MeshError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    parse(&text).map_err(|e| MeshError::Internal(format!("{}: {e}", path.display())))
}

/// A 256-bit secret of the mesh in `keys/`, made the first time it is read.
fn secret(mesh_dir: &Path, file: &str) -> Result<[u8; 32], MeshError> {
    let path = mesh_dir.join(KEYS_DIR).join(file);
    if !path.exists() {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        write_secret(&path, &hex::encode(secret))?;
    }
    read_secret(&path, |text| {
        hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or("expected 64 hex digits (a 256-bit secret)")
    })
}

/// The mesh's masking secret (`mask.key`).
pub(crate) fn load_masks(mesh_dir: &Path) -> Result<Masks, MeshError> {
    Ok(Masks::new(MaskKey::new(secret(mesh_dir, MASK_KEY)?)))
}

/// The key of the hashes that stand for query texts in public audit entries (`audit.key`):
/// without it, nobody can test a guessed query against an entry.
pub(crate) fn load_audit_key(mesh_dir: &Path) -> Result<[u8; 32], MeshError> {
    secret(mesh_dir, AUDIT_KEY)
}

/// The key that signs the file URLs of Delta Sharing responses (`share.key`).
pub(crate) fn load_share_key(mesh_dir: &Path) -> Result<[u8; 32], MeshError> {
    secret(mesh_dir, SHARE_KEY)
}
