//! The mesh's lineage ledger: every change to the mesh (domains and their keys, principals,
//! grants, contracts, ingests) is recorded as an entry signed by the acting domain's key (or the
//! administrator's) in the `agora-ledger` log under `ledger/`.
//!
//! Keys live in `keys/` as C2SP-style private keys, readable only by the mesh's owner (0600):
//! `log.key` signs checkpoints (its name is the log's origin), `admin.key` signs what the
//! administrator does, `domain.<name>.key` what a domain does. A production deployment would
//! hold them in a KMS; the file layout keeps each key separate so that can be swapped in.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use agora_ledger::{
    ADMIN_SIGNER, Appended, Cosigner, CosignerKey, Entry, Leaf, Log, LogError, NoteSigner,
    NoteVerifier, SignedEntry, Witness, genesis, key_registration,
};
use agora_model::Name;
use serde_json::Value;

use crate::{Mesh, MeshError};

const LEDGER_DIR: &str = "ledger";
const KEYS_DIR: &str = "keys";
const LOG_KEY: &str = "log.key";
const WITNESS_KEY: &str = "witness.key";
const WITNESS_DIR: &str = "witness";
const MIRRORS_DIR: &str = "mirrors";

/// One event to record: its kind, who signs it and its body.
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
}

/// The log with the keys that sign for this mesh.
pub(crate) struct MeshLedger {
    log: Log,
    dir: PathBuf,
    keys: PathBuf,
    signers: Mutex<HashMap<String, Arc<NoteSigner>>>,
}

fn key_file(signer: &str) -> String {
    if signer == ADMIN_SIGNER {
        "admin.key".to_string()
    } else {
        format!("domain.{signer}.key")
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> MeshError + '_ {
    move |source| MeshError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_secret(path: &Path, key: &NoteSigner) -> Result<(), MeshError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(format!("{}\n", key.encode_secret()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

fn read_secret(path: &Path) -> Result<NoteSigner, MeshError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    NoteSigner::parse_secret(&text)
        .map_err(|e| MeshError::Internal(format!("{}: {e}", path.display())))
}

impl MeshLedger {
    /// Opens the mesh's ledger, creating its keys and genesis entry the first time (also for
    /// meshes made before the ledger existed).
    pub(crate) fn open(mesh_dir: &Path) -> Result<Self, MeshError> {
        let keys = mesh_dir.join(KEYS_DIR);
        std::fs::create_dir_all(&keys).map_err(io(&keys))?;
        let log_key_path = keys.join(LOG_KEY);
        let fresh = !log_key_path.exists();
        if fresh {
            let origin = format!("agora.local/mesh-{:08x}", rand::random::<u32>());
            let key =
                NoteSigner::generate(&origin).map_err(|e| MeshError::Internal(e.to_string()))?;
            write_secret(&log_key_path, &key)?;
            write_secret(
                &keys.join(key_file(ADMIN_SIGNER)),
                &NoteSigner::generate(ADMIN_SIGNER)
                    .map_err(|e| MeshError::Internal(e.to_string()))?,
            )?;
        }
        let log = Log::open_or_create(mesh_dir.join(LEDGER_DIR), read_secret(&log_key_path)?)?;
        let ledger = MeshLedger {
            log,
            dir: mesh_dir.to_path_buf(),
            keys,
            signers: Mutex::default(),
        };
        if ledger.log.size()? == 0 {
            let admin = ledger.signer(ADMIN_SIGNER)?;
            ledger.log.append(&[genesis(&admin)])?;
        }
        Ok(ledger)
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
        let signer = Arc::new(read_secret(&self.keys.join(key_file(name)))?);
        signers.insert(name.to_string(), signer.clone());
        Ok(signer)
    }

    /// Generates `domain`'s key and returns the entry that registers it.
    fn register_domain_key(&self, domain: &Name, context: Value) -> Result<SignedEntry, MeshError> {
        let key = NoteSigner::generate(domain.as_str())
            .map_err(|e| MeshError::Internal(e.to_string()))?;
        let path = self.keys.join(key_file(domain.as_str()));
        if path.exists() {
            // A key left by a domain creation that failed after writing it: replace it, the
            // log never registered it.
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        write_secret(&path, &key)?;
        let admin = self.signer(ADMIN_SIGNER)?;
        Ok(key_registration(&admin, &key.verifier(), context))
    }

    fn sign(&self, event: Event) -> Result<Leaf, MeshError> {
        let key = self.signer(&event.signer)?;
        Ok(Entry::now(event.kind, &event.signer, event.body)
            .sign_leaf(&key)
            .map_err(LogError::from)?)
    }
}

impl From<LogError> for MeshError {
    fn from(e: LogError) -> Self {
        MeshError::Ledger(e)
    }
}

impl Mesh {
    /// Signs and appends events; returns where they landed once they are durable.
    pub(crate) async fn record(&self, events: Vec<Event>) -> Result<Appended, MeshError> {
        let ledger = self.ledger.clone();
        tokio::task::spawn_blocking(move || {
            let entries = events
                .into_iter()
                .map(|e| ledger.sign(e))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ledger.log.append_leaves(entries)?)
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ledger writer failed: {e}")))?
    }

    /// Registers a new domain's key and records its creation, in one batch.
    pub(crate) async fn record_domain(
        &self,
        domain: &Name,
        body: Value,
    ) -> Result<Appended, MeshError> {
        let ledger = self.ledger.clone();
        let domain = domain.clone();
        tokio::task::spawn_blocking(move || {
            let registration = ledger.register_domain_key(&domain, body.clone())?;
            let registration = Leaf::try_from(&registration).map_err(LogError::from)?;
            let created = ledger.sign(Event::by_admin("domain.created", body))?;
            Ok(ledger.log.append_leaves(vec![registration, created])?)
        })
        .await
        .map_err(|e| MeshError::Internal(format!("the ledger writer failed: {e}")))?
    }

    /// The mesh's log, to read entries, checkpoints and proofs.
    pub fn ledger(&self) -> &Log {
        self.ledger.log()
    }

    /// This mesh acting as a witness of other logs: its cosigning key (`keys/witness.key`,
    /// made on first use, named after this mesh's log) and what it has seen (`witness/`).
    pub fn witness(&self) -> Result<Witness, MeshError> {
        let path = self.ledger.keys.join(WITNESS_KEY);
        let cosigner = if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            Cosigner::parse_secret(&text)
                .map_err(|e| MeshError::Internal(format!("{}: {e}", path.display())))?
        } else {
            let name = format!("{}/witness", self.log_key().name);
            let cosigner =
                Cosigner::generate(&name).map_err(|e| MeshError::Internal(e.to_string()))?;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(io(&path))?;
            f.write_all(format!("{}\n", cosigner.encode_secret()).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(io(&path))?;
            cosigner
        };
        Ok(Witness::new(cosigner, self.ledger.dir.join(WITNESS_DIR)))
    }

    /// The logs this mesh witnesses when they push checkpoints to it (`witness/logs.txt`).
    pub fn watched_logs(&self) -> Result<Vec<NoteVerifier>, MeshError> {
        let path = self.ledger.dir.join(WITNESS_DIR).join("logs.txt");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                NoteVerifier::parse(l)
                    .map_err(|e| MeshError::Internal(format!("{}: {e}", path.display())))
            })
            .collect()
    }

    /// Witnesses the log whose checkpoints `key` signs when it pushes checkpoints here.
    pub fn watch_log(
        &self,
        actor: &agora_model::Principal,
        key: &str,
    ) -> Result<NoteVerifier, MeshError> {
        crate::auth::require_admin(actor, "choose the logs this mesh witnesses")?;
        let key =
            NoteVerifier::parse(key).map_err(|e| MeshError::bad_input("log key", e.to_string()))?;
        let mut keys = self.watched_logs()?;
        keys.retain(|k| k.name != key.name);
        keys.push(key.clone());
        let dir = self.ledger.dir.join(WITNESS_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("logs.txt");
        let tmp = dir.join(".logs.txt.tmp");
        let text: String = keys.iter().map(|k| format!("{}\n", k.encode())).collect();
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io(&path))?;
        Ok(key)
    }

    /// Where this mesh mirrors the log signed by `log_key`.
    pub fn mirror_dir(&self, log_key: &NoteVerifier) -> PathBuf {
        let safe: String = log_key
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.ledger.dir.join(MIRRORS_DIR).join(safe)
    }

    /// Accepts `key`'s cosignatures on this mesh's checkpoints from now on (recorded in the
    /// ledger).
    pub async fn add_witness(
        &self,
        actor: &agora_model::Principal,
        key: &str,
    ) -> Result<CosignerKey, MeshError> {
        crate::auth::require_admin(actor, "register witnesses")?;
        let key = CosignerKey::parse(key)
            .map_err(|e| MeshError::bad_input("witness key", e.to_string()))?;
        self.ledger.log.add_witness(&key)?;
        self.record(vec![Event::by_admin(
            "witness.added",
            serde_json::json!({ "witness": key.name, "key": key.encode() }),
        )])
        .await?;
        Ok(key)
    }

    /// The public key that signs the log's checkpoints.
    pub fn log_key(&self) -> NoteVerifier {
        self.ledger.log().verifier().clone()
    }
}
