//! A witness: remembers the latest checkpoint it cosigned for each log, cosigns a new one only
//! if it is consistent with that one, and keeps evidence when a log shows it a split view (two
//! checkpoints of one size with different roots) or rolls back.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::checkpoint::Checkpoint;
use crate::cosign::Cosigner;
use crate::files::{DurableBatch, LogFiles};
use crate::merkle::{Hash, verify_consistency};
use crate::note::{NoteVerifier, open_note};

#[derive(Debug, Error)]
pub enum WitnessError {
    #[error("the checkpoint does not verify with the log's key: {0}")]
    BadCheckpoint(String),
    #[error(
        "split view: this witness cosigned a checkpoint of {size} entries with root {seen}, and is now shown one of the same size with root {shown}; evidence kept in {evidence}"
    )]
    SplitView {
        size: u64,
        seen: String,
        shown: String,
        evidence: String,
    },
    #[error(
        "rollback: this witness cosigned {seen} entries, the log now shows {shown}; evidence kept in {evidence}"
    )]
    Rollback {
        seen: u64,
        shown: u64,
        evidence: String,
    },
    #[error(
        "the log of {to} entries is not consistent with the one of {from} this witness cosigned: {reason}; evidence kept in {evidence}"
    )]
    Inconsistent {
        from: u64,
        to: u64,
        reason: String,
        evidence: String,
    },
    #[error("witness state: {0}")]
    State(String),
}

/// A witness's key and its memory of the logs it watches, in a directory.
pub struct Witness {
    cosigner: Cosigner,
    files: LogFiles,
}

/// The checkpoint a witness last cosigned for a log.
#[derive(Debug, Clone)]
pub struct Seen {
    pub note: String,
    pub checkpoint: Checkpoint,
}

fn origin_file(origin: &str) -> String {
    hex::encode(&Sha256::digest(origin.as_bytes())[..12])
}

impl Witness {
    pub fn new(cosigner: Cosigner, dir: impl Into<PathBuf>) -> Self {
        Witness {
            cosigner,
            files: LogFiles::new(dir),
        }
    }

    pub fn cosigner(&self) -> &Cosigner {
        &self.cosigner
    }

    /// What this witness last cosigned for the log whose checkpoints `log_key` signs.
    pub fn last_seen(&self, log_key: &NoteVerifier) -> Result<Option<Seen>, WitnessError> {
        let path = format!("logs/{}.checkpoint", origin_file(&log_key.name));
        let Some(bytes) = self
            .files
            .read(&path)
            .map_err(|e| WitnessError::State(e.to_string()))?
        else {
            return Ok(None);
        };
        let note = String::from_utf8(bytes)
            .map_err(|_| WitnessError::State(format!("{path} is not UTF-8")))?;
        let (text, _) = open_note(&note, std::slice::from_ref(log_key))
            .map_err(|e| WitnessError::State(format!("{path}: {e}")))?;
        let checkpoint =
            Checkpoint::parse(&text).map_err(|e| WitnessError::State(e.to_string()))?;
        Ok(Some(Seen { note, checkpoint }))
    }

    /// An exclusive lock on the witness's state, held while the file stays open.
    fn lock(&self) -> Result<std::fs::File, WitnessError> {
        let state = |e: std::io::Error| WitnessError::State(e.to_string());
        std::fs::create_dir_all(self.files.root()).map_err(state)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.files.path(".lock"))
            .map_err(state)?;
        file.lock().map_err(state)?;
        Ok(file)
    }

    fn keep_evidence(
        &self,
        origin: &str,
        size: u64,
        notes: &[&str],
    ) -> Result<String, WitnessError> {
        let rel = format!(
            "evidence/{}-{size}-{}.txt",
            origin_file(origin),
            chrono::Utc::now().timestamp_micros()
        );
        let mut body = format!(
            "Evidence kept by witness {} about log {origin}\n",
            self.cosigner.name()
        );
        for (i, n) in notes.iter().enumerate() {
            body.push_str(&format!("\n--- checkpoint {} ---\n{n}", i + 1));
        }
        let mut batch = DurableBatch::default();
        batch
            .write(&self.files, &rel, body.as_bytes())
            .and_then(|()| batch.sync_dirs())
            .map_err(|e| WitnessError::State(e.to_string()))?;
        Ok(self.files.path(&rel).display().to_string())
    }

    /// Checks `note` (signed by `log_key`) against the last checkpoint this witness cosigned,
    /// using `proof` (the consistency proof from that size) when the log grew; on success
    /// remembers it and returns the cosignature line.
    pub fn witness(
        &self,
        log_key: &NoteVerifier,
        note: &str,
        proof: &[Hash],
        timestamp: u64,
    ) -> Result<String, WitnessError> {
        let (text, _) = open_note(note, std::slice::from_ref(log_key))
            .map_err(|e| WitnessError::BadCheckpoint(e.to_string()))?;
        // Check and remember under one lock: two pushes of a split view, in this process or
        // another, must not both pass the check before either remembers its checkpoint.
        let _lock = self.lock()?;
        let shown =
            Checkpoint::parse(&text).map_err(|e| WitnessError::BadCheckpoint(e.to_string()))?;
        if shown.origin != log_key.name {
            return Err(WitnessError::BadCheckpoint(format!(
                "origin `{}` is not the key's `{}`",
                shown.origin, log_key.name
            )));
        }
        if let Some(seen) = self.last_seen(log_key)? {
            let old = &seen.checkpoint;
            if shown.size < old.size {
                return Err(WitnessError::Rollback {
                    seen: old.size,
                    shown: shown.size,
                    evidence: self.keep_evidence(&shown.origin, shown.size, &[&seen.note, note])?,
                });
            }
            if shown.size == old.size && shown.root != old.root {
                return Err(WitnessError::SplitView {
                    size: shown.size,
                    seen: hex::encode(old.root),
                    shown: hex::encode(shown.root),
                    evidence: self.keep_evidence(&shown.origin, shown.size, &[&seen.note, note])?,
                });
            }
            if shown.size > old.size
                && old.size > 0
                && let Err(e) =
                    verify_consistency(old.size, shown.size, proof, &old.root, &shown.root)
            {
                return Err(WitnessError::Inconsistent {
                    from: old.size,
                    to: shown.size,
                    reason: e.to_string(),
                    evidence: self.keep_evidence(&shown.origin, shown.size, &[&seen.note, note])?,
                });
            }
        }
        let mut batch = DurableBatch::default();
        batch
            .write(
                &self.files,
                &format!("logs/{}.checkpoint", origin_file(&shown.origin)),
                note.as_bytes(),
            )
            .and_then(|()| batch.sync_dirs())
            .map_err(|e| WitnessError::State(e.to_string()))?;
        Ok(self.cosigner.cosign(&text, timestamp))
    }
}
