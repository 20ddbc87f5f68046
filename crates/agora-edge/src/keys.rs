//! The agent's Ed25519 key: `agora-edge keygen` writes it (hex, readable by its owner only)
//! and prints the public half for `agora edge register`; every request to the node is signed
//! with it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ed25519_dalek::{Signer, SigningKey};

use crate::EdgeError;

pub struct AgentKey(SigningKey);

impl AgentKey {
    /// Writes a new key to `path`, which must not exist; returns it.
    pub fn generate(path: &Path) -> Result<AgentKey, EdgeError> {
        let key = SigningKey::from_bytes(&rand::random());
        let io = |e: std::io::Error| EdgeError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        writeln!(file, "{}", hex::encode(key.to_bytes())).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(AgentKey(key))
    }

    pub fn load(path: &Path) -> Result<AgentKey, EdgeError> {
        let text = std::fs::read_to_string(path).map_err(|e| EdgeError::Io {
            path: path.display().to_string(),
            message: format!("{e}: create the key with `agora-edge keygen --key FILE`"),
        })?;
        let bytes: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| EdgeError::Io {
                path: path.display().to_string(),
                message: "not an agent key (64 hex digits, as `agora-edge keygen` writes)".into(),
            })?;
        Ok(AgentKey(SigningKey::from_bytes(&bytes)))
    }

    /// The public key as hex, for `agora edge register --public-key`.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// The signature of `message`, as hex.
    pub fn sign(&self, message: &str) -> String {
        hex::encode(self.0.sign(message.as_bytes()).to_bytes())
    }
}
