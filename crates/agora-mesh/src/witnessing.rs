//! This mesh's log as others verify it (its key, the witnesses whose cosignatures it accepts)
//! and this mesh as a witness of other logs: its cosigning key, the logs it watches
//! (`witness/logs.txt`), what it has seen (`witness/`) and its mirrors (`mirrors/`).

use std::path::PathBuf;

use agora_ledger::{Cosigner, CosignerKey, Log, NoteVerifier, Witness};
use agora_model::Principal;

use crate::keys::{KEYS_DIR, WITNESS_KEY, io, read_secret, write_secret};
use crate::principals::require_admin;
use crate::recorder::Event;
use crate::{Mesh, MeshError};

const WITNESS_DIR: &str = "witness";
const MIRRORS_DIR: &str = "mirrors";

impl Mesh {
    /// The mesh's log, to read entries, checkpoints and proofs.
    pub fn log(&self) -> &Log {
        self.recorder.log()
    }

    /// The public key that signs the log's checkpoints.
    pub fn log_key(&self) -> NoteVerifier {
        self.log().verifier().clone()
    }

    /// Accepts `key`'s cosignatures on this mesh's checkpoints from now on (recorded in the
    /// ledger).
    pub async fn add_witness(
        &self,
        actor: &Principal,
        key: &str,
    ) -> Result<CosignerKey, MeshError> {
        require_admin(actor, "register witnesses")?;
        let key = CosignerKey::parse(key)
            .map_err(|e| MeshError::bad_input("witness key", e.to_string()))?;
        self.log().add_witness(&key)?;
        self.recorder
            .record(
                vec![Event::by_admin(
                    "witness.added",
                    serde_json::json!({ "witness": key.name, "key": key.encode() }),
                )],
                None,
            )
            .await?;
        Ok(key)
    }

    /// This mesh acting as a witness of other logs: its cosigning key (made on first use,
    /// named after this mesh's log) and what it has seen.
    pub fn witness(&self) -> Result<Witness, MeshError> {
        let path = self.dir.join(KEYS_DIR).join(WITNESS_KEY);
        if !path.exists() {
            let name = format!("{}/witness", self.log_key().name);
            let cosigner =
                Cosigner::generate(&name).map_err(|e| MeshError::Internal(e.to_string()))?;
            write_secret(&path, &cosigner.encode_secret())?;
        }
        let cosigner = read_secret(&path, Cosigner::parse_secret)?;
        Ok(Witness::new(cosigner, self.dir.join(WITNESS_DIR)))
    }

    /// The logs this mesh witnesses when they push checkpoints to it.
    pub fn watched_logs(&self) -> Result<Vec<NoteVerifier>, MeshError> {
        let path = self.dir.join(WITNESS_DIR).join("logs.txt");
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
    pub fn watch_log(&self, actor: &Principal, key: &str) -> Result<NoteVerifier, MeshError> {
        require_admin(actor, "choose the logs this mesh witnesses")?;
        let key =
            NoteVerifier::parse(key).map_err(|e| MeshError::bad_input("log key", e.to_string()))?;
        let mut keys = self.watched_logs()?;
        keys.retain(|k| k.name != key.name);
        keys.push(key.clone());
        let dir = self.dir.join(WITNESS_DIR);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join("logs.txt");
        let tmp = dir.join(format!(".logs.txt.{:016x}.tmp", rand::random::<u64>()));
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
        self.dir.join(MIRRORS_DIR).join(safe)
    }
}
