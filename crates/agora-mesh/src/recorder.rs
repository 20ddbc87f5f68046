//! The recorder: every change to the mesh (domains and their keys, principals, grants,
//! contracts, policies, tags, ingests, lineage events, queries) becomes an entry signed by the
//! acting domain's key (or the administrator's) and appended to the mesh's log (`agora-ledger`,
//! under `ledger/`). Nothing else in the mesh signs or appends.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use agora_ledger::{
    ADMIN_SIGNER, Appended, Entry, Leaf, Log, LogError, NoteSigner, genesis, key_registration,
};
use agora_model::Name;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::MeshError;
use crate::keys::{KEYS_DIR, LOG_KEY, io, read_secret, write_secret};

const LEDGER_DIR: &str = "ledger";

/// One change to record: its kind, who signs it and its body. Kept as JSON with a change that
/// is not recorded yet (`changes.rs`), so it is plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Event {
    pub kind: String,
    pub signer: String,
    pub body: Value,
    /// For a domain's creation: the domain whose key (already in `keys/`) the administrator
    /// registers in the same batch, before this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registers_key_of: Option<String>,
}

impl Event {
    pub(crate) fn by_admin(kind: &str, body: Value) -> Self {
        Event {
            kind: kind.to_string(),
            signer: ADMIN_SIGNER.to_string(),
            body,
            registers_key_of: None,
        }
    }

    pub(crate) fn by_domain(kind: &str, domain: &Name, body: Value) -> Self {
        Event {
            kind: kind.to_string(),
            signer: domain.to_string(),
            body,
            registers_key_of: None,
        }
    }

    /// The administrator signs what it does; a domain signs what its owner does.
    pub(crate) fn by(actor_is_admin: bool, kind: &str, domain: &Name, body: Value) -> Self {
        if actor_is_admin {
            Event::by_admin(kind, body)
        } else {
            Event::by_domain(kind, domain, body)
        }
    }
}

fn key_file(signer: &str) -> String {
    if signer == ADMIN_SIGNER {
        "admin.key".to_string()
    } else {
        format!("domain.{signer}.key")
    }
}

fn parse_signer(text: &str) -> Result<NoteSigner, agora_ledger::NoteError> {
    NoteSigner::parse_secret(text)
}

/// The mesh's log and the keys that sign for the mesh.
pub(crate) struct Recorder {
    log: Log,
    keys: std::path::PathBuf,
    signers: Mutex<HashMap<String, Arc<NoteSigner>>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Opens the mesh's log, creating its keys and genesis entry the first time (also for
    /// meshes made before the ledger existed).
    pub(crate) fn open(mesh_dir: &Path) -> Result<Self, MeshError> {
        let keys = mesh_dir.join(KEYS_DIR);
        std::fs::create_dir_all(&keys).map_err(io(&keys))?;
        let log_key_path = keys.join(LOG_KEY);
        if !log_key_path.exists() {
            let origin = format!("agora.local/mesh-{:08x}", rand::random::<u32>());
            let generate = |name: &str| {
                NoteSigner::generate(name).map_err(|e| MeshError::Internal(e.to_string()))
            };
            write_secret(&log_key_path, &generate(&origin)?.encode_secret())?;
            write_secret(
                &keys.join(key_file(ADMIN_SIGNER)),
                &generate(ADMIN_SIGNER)?.encode_secret(),
            )?;
        }
        let log = Log::open_or_create(
            mesh_dir.join(LEDGER_DIR),
            read_secret(&log_key_path, parse_signer)?,
        )?;
        let recorder = Recorder {
            log,
            keys,
            signers: Mutex::default(),
        };
        if recorder.log.size()? == 0 {
            let admin = recorder.signer(ADMIN_SIGNER)?;
            recorder.log.append(&[genesis(&admin)])?;
        }
        Ok(recorder)
    }

    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    fn signer(&self, name: &str) -> Result<Arc<NoteSigner>, MeshError> {
        let mut signers = self
            .signers
            .lock()
            .expect("INVARIANT: no panic while holding the key cache");
        if let Some(s) = signers.get(name) {
            return Ok(s.clone());
        }
        let signer = Arc::new(read_secret(&self.keys.join(key_file(name)), parse_signer)?);
        signers.insert(name.to_string(), signer.clone());
        Ok(signer)
    }

    fn sign(&self, event: Event) -> Result<Leaf, MeshError> {
        let key = self.signer(&event.signer)?;
        Ok(Entry::now(&event.kind, &event.signer, event.body)
            .sign_leaf(&key)
            .map_err(LogError::from)?)
    }

    /// Generates a new domain's signing key in `keys/`; the log registers it when the domain's
    /// creation is recorded.
    pub(crate) fn create_domain_key(&self, domain: &Name) -> Result<(), MeshError> {
        let key = NoteSigner::generate(domain.as_str())
            .map_err(|e| MeshError::Internal(e.to_string()))?;
        let path = self.keys.join(key_file(domain.as_str()));
        if path.exists() {
            // A key left by a domain creation that failed after writing it: replace it, the
            // log never registered it.
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        write_secret(&path, &key.encode_secret())
    }

    /// The leaves of `event`: the key registration it asks for, then the entry itself.
    fn leaves(&self, mut event: Event, intent: Option<&str>) -> Result<Vec<Leaf>, MeshError> {
        if let (Some(intent), Some(body)) = (intent, event.body.as_object_mut()) {
            body.insert("intent".into(), Value::String(intent.to_string()));
        }
        let mut leaves = Vec::new();
        if let Some(domain) = &event.registers_key_of {
            let key = self.signer(domain)?;
            let admin = self.signer(ADMIN_SIGNER)?;
            let registration = key_registration(&admin, &key.verifier(), event.body.clone());
            leaves.push(Leaf::try_from(&registration).map_err(LogError::from)?);
        }
        leaves.push(self.sign(event)?);
        Ok(leaves)
    }

    /// Signs and appends events in one batch, each carrying `intent` (the pending change they
    /// record) if given; returns where they landed once they are durable.
    pub(crate) async fn record(
        self: &Arc<Self>,
        events: Vec<Event>,
        intent: Option<String>,
    ) -> Result<Appended, MeshError> {
        let recorder = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut leaves = Vec::new();
            for e in events {
                leaves.extend(recorder.leaves(e, intent.as_deref())?);
            }
            Ok(recorder.log.append_leaves(leaves)?)
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ledger writer failed: {e}")))?
    }

    /// Whether an entry recorded at or after `from` carries `intent`.
    pub(crate) async fn has_intent(
        self: &Arc<Self>,
        from: u64,
        intent: &str,
    ) -> Result<bool, MeshError> {
        let recorder = self.clone();
        let intent = intent.to_string();
        tokio::task::spawn_blocking(move || {
            let size = recorder.log.size()?;
            if from >= size {
                return Ok(false);
            }
            let entries = recorder.log.entries(from, size, size)?;
            Ok(entries.iter().any(|e| {
                e.entry.body.get("intent").and_then(Value::as_str) == Some(intent.as_str())
            }))
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ledger reader failed: {e}")))?
    }
}

impl From<LogError> for MeshError {
    fn from(e: LogError) -> Self {
        MeshError::Ledger(e)
    }
}
