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
use serde_json::Value;

use crate::MeshError;
use crate::keys::{KEYS_DIR, LOG_KEY, io, read_secret, write_secret};

const LEDGER_DIR: &str = "ledger";

/// One change to record: its kind, who signs it and its body.
pub(crate) struct Event {
    pub kind: &'static str,
    pub signer: String,
    pub body: Value,
}

impl Event {
    pub(crate) fn by_admin(kind: &'static str, body: Value) -> Self {
        Event {
            kind,
            signer: ADMIN_SIGNER.to_string(),
            body,
        }
    }

    pub(crate) fn by_domain(kind: &'static str, domain: &Name, body: Value) -> Self {
        Event {
            kind,
            signer: domain.to_string(),
            body,
        }
    }

    /// The administrator signs what it does; a domain signs what its owner does.
    pub(crate) fn by(actor_is_admin: bool, kind: &'static str, domain: &Name, body: Value) -> Self {
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
        Ok(Entry::now(event.kind, &event.signer, event.body)
            .sign_leaf(&key)
            .map_err(LogError::from)?)
    }

    /// Generates `domain`'s key and returns the leaf that registers it.
    fn register_domain_key(&self, domain: &Name, context: Value) -> Result<Leaf, MeshError> {
        let key = NoteSigner::generate(domain.as_str())
            .map_err(|e| MeshError::Internal(e.to_string()))?;
        let path = self.keys.join(key_file(domain.as_str()));
        if path.exists() {
            // A key left by a domain creation that failed after writing it: replace it, the
            // log never registered it.
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        write_secret(&path, &key.encode_secret())?;
        let admin = self.signer(ADMIN_SIGNER)?;
        let registration = key_registration(&admin, &key.verifier(), context);
        Ok(Leaf::try_from(&registration).map_err(LogError::from)?)
    }

    /// Signs and appends events; returns where they landed once they are durable.
    pub(crate) async fn record(
        self: &Arc<Self>,
        events: Vec<Event>,
    ) -> Result<Appended, MeshError> {
        let recorder = self.clone();
        tokio::task::spawn_blocking(move || {
            let leaves = events
                .into_iter()
                .map(|e| recorder.sign(e))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(recorder.log.append_leaves(leaves)?)
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ledger writer failed: {e}")))?
    }

    /// Registers a new domain's key and records its creation, in one batch.
    pub(crate) async fn record_domain(
        self: &Arc<Self>,
        domain: &Name,
        body: Value,
    ) -> Result<Appended, MeshError> {
        let recorder = self.clone();
        let domain = domain.clone();
        tokio::task::spawn_blocking(move || {
            let registration = recorder.register_domain_key(&domain, body.clone())?;
            let created = recorder.sign(Event::by_admin("domain.created", body))?;
            Ok(recorder.log.append_leaves(vec![registration, created])?)
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ledger writer failed: {e}")))?
    }
}

impl From<LogError> for MeshError {
    fn from(e: LogError) -> Self {
        MeshError::Ledger(e)
    }
}
