//! `agora ledger witness`: this mesh witnesses another node's log over HTTP — fetch its
//! checkpoint, check it is consistent with the last one this mesh cosigned, cosign it and hand
//! the cosignature back; with `--mirror`, copy the log's tiles too and audit the copy.

use std::path::Path;

use agora_ledger::{ConsistencyProof, Mirror, NoteVerifier, audit, open_note, tile_paths};
use agora_mesh::{Mesh, MeshError};

use crate::print;

/// Where the log is and how to reach it.
pub struct Remote {
    pub base: String,
    pub token: Option<String>,
    client: reqwest::Client,
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> MeshError {
    MeshError::Internal(format!("cannot reach the log at {url}: {e}"))
}

impl Remote {
    pub fn new(base: &str, token: Option<String>) -> Self {
        Remote {
            base: base.trim_end_matches('/').to_string(),
            token,
            client: reqwest::Client::new(),
        }
    }

    fn request(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, MeshError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .request(self.client.get(&url))
            .send()
            .await
            .map_err(|e| unreachable(&url, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| unreachable(&url, e))?;
        if !status.is_success() {
            return Err(MeshError::Internal(format!(
                "the log answered {status} to GET {url}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(body.to_vec())
    }

    async fn post(&self, path: &str, body: String) -> Result<String, MeshError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .request(self.client.post(&url))
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(&url, e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| unreachable(&url, e))?;
        if !status.is_success() {
            return Err(MeshError::Internal(format!(
                "the log answered {status} to POST {url}: {text}"
            )));
        }
        Ok(text)
    }
}

/// One witnessing round against `remote`, whose checkpoints `key` signs.
pub async fn witness(
    mesh: &Mesh,
    remote: &Remote,
    key: &str,
    mirror: bool,
) -> Result<(), MeshError> {
    let key = NoteVerifier::parse(key).map_err(|e| MeshError::BadInput {
        source_name: "--key".into(),
        message: e.to_string(),
    })?;
    let witness = mesh.witness()?;
    let note = String::from_utf8(remote.get("/api/v1/ledger/checkpoint").await?)
        .map_err(|_| MeshError::Internal("the log's checkpoint is not UTF-8".into()))?;
    let (text, _) = open_note(&note, std::slice::from_ref(&key)).map_err(|e| {
        MeshError::WitnessRefused(format!("the log's checkpoint does not verify: {e}"))
    })?;
    let size: u64 = text
        .lines()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| MeshError::WitnessRefused("the log's checkpoint has no size".into()))?;
    let seen = witness
        .last_seen(&key)
        .map_err(|e| MeshError::Internal(e.to_string()))?;
    let seen_size = seen.as_ref().map_or(0, |s| s.checkpoint.size);
    let proof = if seen_size > 0 && size > seen_size {
        let json = remote
            .get(&format!(
                "/api/v1/ledger/proofs/consistency?first={seen_size}&size={size}"
            ))
            .await?;
        let proof: ConsistencyProof = serde_json::from_slice(&json).map_err(|e| {
            MeshError::Internal(format!("the log's consistency proof is malformed: {e}"))
        })?;
        proof.hashes().map_err(|e| {
            MeshError::WitnessRefused(format!("the consistency proof is malformed: {e}"))
        })?
    } else {
        Vec::new()
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    // The mirror is filled before cosigning, so "mirrored" holds whenever a cosignature exists.
    if mirror {
        mirror_log(mesh, remote, &key, &note, seen_size.min(size), size).await?;
    }
    let line = witness
        .witness(&key, &note, &proof, now)
        .map_err(|e| MeshError::WitnessRefused(e.to_string()))?;
    let cosigned = format!("{note}{line}");
    remote.post("/api/v1/ledger/cosignatures", cosigned).await?;
    print(format!(
        "Cosigned checkpoint {size} of {} as {}{}\n{}",
        key.name,
        witness.cosigner().name(),
        if mirror {
            " (mirrored and audited)"
        } else {
            ""
        },
        line.trim_end()
    ))
}

/// Copies the tiles for entries `from..size`, records the checkpoint and audits the mirror.
async fn mirror_log(
    mesh: &Mesh,
    remote: &Remote,
    key: &NoteVerifier,
    note: &str,
    from: u64,
    size: u64,
) -> Result<(), MeshError> {
    let dir = mesh.mirror_dir(key);
    let mirror = Mirror::new(&dir);
    let mut fetched = Vec::new();
    for rel in tile_paths(from, size) {
        fetched.push((rel.clone(), remote.get(&format!("/ledger/{rel}")).await?));
    }
    mirror
        .store(&fetched)
        .and_then(|()| mirror.publish(note))
        .map_err(MeshError::Ledger)?;
    verify_mirror(&dir, key).map(|_| ())
}

/// Audits a mirror on its own.
pub fn verify_mirror(
    dir: &Path,
    key: &NoteVerifier,
) -> Result<agora_ledger::AuditReport, MeshError> {
    let log = agora_ledger::Log::open_reader(dir, key.clone()).map_err(MeshError::Ledger)?;
    audit(&log, None).map_err(|f| MeshError::LedgerAudit(format!("mirror {}: {f}", dir.display())))
}
