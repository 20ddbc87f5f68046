//! C2SP `tlog-cosignature` (<https://c2sp.org/tlog-cosignature>), Ed25519 type: a witness's
//! timestamped statement that a checkpoint is the largest consistent one it has seen.
//!
//! The signature line is `— <name> base64(key ID ‖ u64 timestamp ‖ Ed25519 signature)` over
//! `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint text; the key ID is
//! SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4], and public keys are vkeys of type 0x04.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::note::{
    NoteError, SIGNATURE_PREFIX, check_name, encode_key, hex_encode, key_id_of, split_key,
    split_note,
};

/// The signature-type byte of Ed25519 cosignatures.
const COSIGNATURE_V1: u8 = 0x04;

fn message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// A witness's signing key.
pub struct Cosigner {
    name: String,
    key: SigningKey,
}

impl Cosigner {
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Cosigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&rand::random()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x04 ‖ secret)>`. Keep it secret.
    pub fn encode_secret(&self) -> String {
        let id = key_id_of(&self.name, COSIGNATURE_V1, &self.key.verifying_key());
        format!(
            "PRIVATE+KEY+{}",
            encode_key(&self.name, COSIGNATURE_V1, &id, self.key.as_bytes())
        )
    }

    pub fn parse_secret(encoded: &str) -> Result<Self, NoteError> {
        let (name, id_hex, secret) = encoded
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .and_then(|rest| split_key(rest, COSIGNATURE_V1))
            .ok_or(NoteError::BadSecretKey)?;
        let signer = Cosigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&secret),
        };
        let id = key_id_of(name, COSIGNATURE_V1, &signer.key.verifying_key());
        if !id_hex.eq_ignore_ascii_case(&hex_encode(&id)) {
            return Err(NoteError::BadSecretKey);
        }
        Ok(signer)
    }

    pub fn verifier(&self) -> CosignerKey {
        let public = self.key.verifying_key();
        CosignerKey {
            id: key_id_of(&self.name, COSIGNATURE_V1, &public),
            name: self.name.clone(),
            public,
        }
    }

    /// The cosignature line (ending in a newline) for a checkpoint's text.
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> String {
        let signature = self
            .key
            .sign(message(checkpoint_text, timestamp).as_bytes());
        let mut blob = key_id_of(&self.name, COSIGNATURE_V1, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&signature.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A witness's public key: `<name>+<hex key ID>+<base64(0x04 ‖ public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    pub name: String,
    id: [u8; 4],
    public: VerifyingKey,
}

impl CosignerKey {
    pub fn parse(encoded: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::BadVerifierKey(encoded.to_string());
        let (name, id_hex, bytes) = split_key(encoded, COSIGNATURE_V1).ok_or_else(bad)?;
        let public = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        let id = key_id_of(name, COSIGNATURE_V1, &public);
        if !id_hex.eq_ignore_ascii_case(&hex_encode(&id)) {
            return Err(bad());
        }
        Ok(CosignerKey {
            name: name.to_string(),
            id,
            public,
        })
    }

    pub fn encode(&self) -> String {
        encode_key(&self.name, COSIGNATURE_V1, &self.id, self.public.as_bytes())
    }
}

/// A valid cosignature found on a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: String,
    pub timestamp: u64,
    /// The signature line as it appears in the note.
    pub line: String,
}

/// The cosignatures on `note` that verify under one of `witnesses` (one per witness; lines by
/// unknown keys or with bad signatures are ignored, as for any note signature).
pub fn cosignatures(note: &str, witnesses: &[CosignerKey]) -> Result<Vec<Cosignature>, NoteError> {
    let (text, lines) = split_note(note)?;
    let mut found: Vec<Cosignature> = Vec::new();
    for (name, blob) in lines {
        let Some(w) = witnesses
            .iter()
            .find(|w| w.name == name && w.id[..] == blob[..4])
        else {
            continue;
        };
        if blob.len() != 4 + 8 + 64 || found.iter().any(|c| c.witness == w.name) {
            continue;
        }
        let timestamp = u64::from_be_bytes(blob[4..12].try_into().expect("INVARIANT: 8 bytes"));
        let Ok(signature) = Signature::from_slice(&blob[12..]) else {
            continue;
        };
        if w.public
            .verify_strict(message(text, timestamp).as_bytes(), &signature)
            .is_ok()
        {
            found.push(Cosignature {
                witness: w.name.clone(),
                timestamp,
                line: format!("{SIGNATURE_PREFIX}{name} {}\n", B64.encode(&blob)),
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoteSigner, sign_note};

    #[test]
    fn cosignatures_verify_for_their_witness_and_checkpoint_only() {
        let log = NoteSigner::new("example.com/log", [1; 32]).unwrap();
        let text = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let note = sign_note(text, &[&log]).unwrap();
        let w1 = Cosigner::generate("witness.example/w1").unwrap();
        let w2 = Cosigner::generate("witness.example/w2").unwrap();
        let cosigned = format!("{note}{}", w1.cosign(text, 1_700_000_000));
        let keys = [w1.verifier(), w2.verifier()];
        let found = cosignatures(&cosigned, &keys).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].witness, "witness.example/w1");
        assert_eq!(found[0].timestamp, 1_700_000_000);
        // The log's own signature still opens the note.
        crate::open_note(&cosigned, &[log.verifier()]).unwrap();
        // Moved to another checkpoint, the cosignature no longer verifies.
        let other = cosigned.replacen("\n5\n", "\n6\n", 1);
        assert!(cosignatures(&other, &keys).unwrap().is_empty());
        // Keys and secrets round-trip; a note key is not a cosigner key.
        assert_eq!(
            CosignerKey::parse(&w1.verifier().encode()).unwrap(),
            w1.verifier()
        );
        assert!(CosignerKey::parse(&log.verifier().encode()).is_err());
        let back = Cosigner::parse_secret(&w2.encode_secret()).unwrap();
        assert_eq!(back.verifier(), w2.verifier());
    }
}
