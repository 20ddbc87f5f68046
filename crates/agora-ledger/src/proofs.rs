//! Self-contained proofs to hand to an auditor: everything needed to check them is inside,
//! except the log's public key, which the auditor must get from somewhere it trusts.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::LogError;
use crate::cosign::{CosignerKey, cosignatures};
use crate::files::DurableBatch;
use crate::log::{Log, SignedCheckpoint};
use crate::merkle::{Hash, ProofError, leaf_hash, verify_consistency, verify_inclusion};
use crate::note::NoteVerifier;

/// Proof that an entry is in the log as a signed checkpoint commits to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// The entry exactly as stored (its canonical JSON).
    pub entry: String,
    /// base64 SHA-256 hashes, leaf to root (RFC 9162).
    pub proof: Vec<String>,
    /// The signed note of a checkpoint of `tree_size` entries.
    pub checkpoint: String,
}

/// Proof that the log of `second` entries extends the log of `first` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub proof: Vec<String>,
    /// The signed notes of checkpoints of `first` and `second` entries.
    pub first_checkpoint: String,
    pub second_checkpoint: String,
}

fn encode(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

fn decode(hashes: &[String]) -> Result<Vec<Hash>, LogError> {
    hashes
        .iter()
        .map(|h| {
            B64.decode(h)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| ProofError::BadLeafHash(h.len()).into())
        })
        .collect()
}

fn open(key: &NoteVerifier, note: &str, size: u64) -> Result<crate::Checkpoint, LogError> {
    let (text, _) = crate::note::open_note(note, std::slice::from_ref(key))?;
    let checkpoint = crate::Checkpoint::parse(&text)?;
    if checkpoint.size != size {
        return Err(LogError::Corrupt(format!(
            "the checkpoint is for {} entries, the proof for {size}",
            checkpoint.size
        )));
    }
    Ok(checkpoint)
}

const WITNESSES: &str = "witnesses.txt";

fn cosignatures_path(size: u64) -> String {
    format!("cosignatures/{size}")
}

impl Log {
    /// The witnesses whose cosignatures this log accepts.
    pub fn witnesses(&self) -> Result<Vec<CosignerKey>, LogError> {
        let text = self.files().read(WITNESSES)?.unwrap_or_default();
        String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| CosignerKey::parse(l).map_err(LogError::from))
            .collect()
    }

    /// Accepts cosignatures from `key`'s witness from now on.
    pub fn add_witness(&self, key: &CosignerKey) -> Result<(), LogError> {
        let mut keys = self.witnesses()?;
        keys.retain(|k| k.name != key.name);
        keys.push(key.clone());
        let text: String = keys.iter().map(|k| format!("{}\n", k.encode())).collect();
        let mut batch = DurableBatch::default();
        batch.write(self.files(), WITNESSES, text.as_bytes())?;
        batch.sync_dirs()
    }

    /// Stores the cosignatures of registered witnesses on one of this log's checkpoints;
    /// returns the witnesses whose cosignature was accepted.
    pub fn add_cosignatures(&self, note: &str) -> Result<Vec<String>, LogError> {
        let shown = self.open_checkpoint(note)?;
        let ours = self.checkpoint_of_size(Some(shown.checkpoint.size))?;
        if ours.checkpoint != shown.checkpoint {
            return Err(LogError::ForeignCheckpoint(shown.checkpoint.size));
        }
        let found = cosignatures(note, &self.witnesses()?)?;
        if found.is_empty() {
            return Err(LogError::NoCosignature);
        }
        let path = cosignatures_path(shown.checkpoint.size);
        let mut kept: Vec<String> = self
            .files()
            .read(&path)?
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .lines()
                    .map(|l| format!("{l}\n"))
                    .collect()
            })
            .unwrap_or_default();
        kept.retain(|line| {
            !found
                .iter()
                .any(|c| line.starts_with(&format!("— {} ", c.witness)))
        });
        kept.extend(found.iter().map(|c| c.line.clone()));
        let mut batch = DurableBatch::default();
        batch.write(self.files(), &path, kept.concat().as_bytes())?;
        batch.sync_dirs()?;
        Ok(found.into_iter().map(|c| c.witness).collect())
    }

    /// The checkpoint's note with the witness cosignatures gathered for it.
    fn with_cosignatures(&self, mut cp: SignedCheckpoint) -> Result<SignedCheckpoint, LogError> {
        if let Some(lines) = self.files().read(&cosignatures_path(cp.checkpoint.size))? {
            cp.note.push_str(&String::from_utf8_lossy(&lines));
        }
        Ok(cp)
    }

    /// The latest checkpoint with its cosignatures.
    pub fn cosigned_checkpoint(&self) -> Result<SignedCheckpoint, LogError> {
        let cp = self.checkpoint()?;
        self.with_cosignatures(cp)
    }

    /// The published checkpoint of exactly `size` entries; the latest when `size` is `None`.
    pub fn checkpoint_of_size(&self, size: Option<u64>) -> Result<SignedCheckpoint, LogError> {
        let latest = self.checkpoint()?;
        let Some(size) = size.filter(|s| *s != latest.checkpoint.size) else {
            return self.with_cosignatures(latest);
        };
        if size > latest.checkpoint.size {
            return Err(ProofError::SizeBeyondLog {
                requested: size,
                size: latest.checkpoint.size,
            }
            .into());
        }
        let history = self.history()?;
        let found = history
            .into_iter()
            .rev()
            .find(|c| c.checkpoint.size == size)
            .ok_or(LogError::NoCheckpoint(size))?;
        self.with_cosignatures(found)
    }

    /// An inclusion proof of entry `index` against the checkpoint of `size` entries (the
    /// latest by default).
    pub fn prove_inclusion(
        &self,
        index: u64,
        size: Option<u64>,
    ) -> Result<InclusionProof, LogError> {
        let checkpoint = self.checkpoint_of_size(size)?;
        let tree_size = checkpoint.checkpoint.size;
        let proof = self.inclusion_proof(index, tree_size)?;
        let entry = self.leaf(index, tree_size)?;
        Ok(InclusionProof {
            index,
            tree_size,
            entry: String::from_utf8(entry)
                .map_err(|_| LogError::Corrupt(format!("entry {index} is not UTF-8")))?,
            proof: encode(&proof),
            checkpoint: checkpoint.note,
        })
    }

    /// A consistency proof between the checkpoints of `first` and `second` entries.
    pub fn prove_consistency(
        &self,
        first: u64,
        second: Option<u64>,
    ) -> Result<ConsistencyProof, LogError> {
        let second = self.checkpoint_of_size(second)?;
        let first_cp = self.checkpoint_of_size(Some(first))?;
        let proof = self.consistency_proof(first, second.checkpoint.size)?;
        Ok(ConsistencyProof {
            first,
            second: second.checkpoint.size,
            proof: encode(&proof),
            first_checkpoint: first_cp.note,
            second_checkpoint: second.note,
        })
    }
}

/// Requires `min` of `witnesses` to have cosigned `note`.
fn check_witnesses(note: &str, witnesses: &[CosignerKey], min: usize) -> Result<(), LogError> {
    let found = cosignatures(note, witnesses)?.len();
    if found < min {
        return Err(LogError::TooFewCosignatures {
            found,
            required: min,
            of: witnesses.len(),
        });
    }
    Ok(())
}

impl InclusionProof {
    /// [`InclusionProof::verify`], and at least `min` of `witnesses` cosigned the checkpoint.
    pub fn verify_witnessed(
        &self,
        key: &NoteVerifier,
        witnesses: &[CosignerKey],
        min: usize,
    ) -> Result<(), LogError> {
        self.verify(key)?;
        check_witnesses(&self.checkpoint, witnesses, min)
    }

    /// Checks the proof with only the log's public key.
    pub fn verify(&self, key: &NoteVerifier) -> Result<(), LogError> {
        let checkpoint = open(key, &self.checkpoint, self.tree_size)?;
        let proof = decode(&self.proof)?;
        verify_inclusion(
            self.index,
            self.tree_size,
            &leaf_hash(self.entry.as_bytes()),
            &proof,
            &checkpoint.root,
        )?;
        Ok(())
    }
}

impl ConsistencyProof {
    /// The proof's hashes, decoded.
    pub fn hashes(&self) -> Result<Vec<Hash>, LogError> {
        decode(&self.proof)
    }

    /// [`ConsistencyProof::verify`], and at least `min` of `witnesses` cosigned the newer
    /// checkpoint.
    pub fn verify_witnessed(
        &self,
        key: &NoteVerifier,
        trusted_first: Option<&str>,
        witnesses: &[CosignerKey],
        min: usize,
    ) -> Result<(), LogError> {
        self.verify(key, trusted_first)?;
        check_witnesses(&self.second_checkpoint, witnesses, min)
    }

    /// Checks the proof with only the log's public key. An auditor who kept an earlier
    /// checkpoint passes it as `trusted_first`: it must be the one the proof starts from.
    pub fn verify(&self, key: &NoteVerifier, trusted_first: Option<&str>) -> Result<(), LogError> {
        let first_note = trusted_first.unwrap_or(&self.first_checkpoint);
        let first = open(key, first_note, self.first)?;
        let second = open(key, &self.second_checkpoint, self.second)?;
        verify_consistency(
            self.first,
            self.second,
            &decode(&self.proof)?,
            &first.root,
            &second.root,
        )?;
        Ok(())
    }
}
