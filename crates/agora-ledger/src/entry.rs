//! Log entries: what happened, who did it, signed by the actor's key, as RFC 8785 canonical
//! JSON so that one entry has exactly one byte string to hash and sign.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::note::{NoteSigner, NoteVerifier};

/// The signer name of the mesh administrator. A domain signs with its own name; `@` cannot
/// start a domain name, so the two never collide.
pub const ADMIN_SIGNER: &str = "@admin";

/// The entry that opens every log: it names the administrator's key, which signs it.
pub const KIND_GENESIS: &str = "log.created";
/// The entry that registers a signer's public key (signed by the administrator).
pub const KIND_KEY: &str = "key.registered";

/// The largest entry a tile bundle can hold (its length prefix is two bytes).
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EntryError {
    #[error("entry is not JSON: {0}")]
    NotJson(String),
    #[error("entry is not in RFC 8785 canonical form")]
    NotCanonical,
    #[error("entry is {0} bytes; the log takes entries of at most {MAX_ENTRY_BYTES} bytes")]
    TooLarge(usize),
    #[error("the signature of `{signer}` does not verify")]
    BadSignature { signer: String },
    #[error("`{signer}` has no registered key with ID {key_id}")]
    UnknownKey { signer: String, key_id: String },
    #[error("entry signed by `{signer}` has a malformed signature field")]
    MalformedSignature { signer: String },
}

/// One event in the log. `body` is the event's own JSON (an ingest's product and version, a
/// grant, an OpenLineage run event, …); its shape is fixed by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: String,
    /// Who signs: a domain name, or [`ADMIN_SIGNER`].
    pub signer: String,
    /// RFC 3339 UTC time the actor recorded it.
    pub time: String,
    pub body: serde_json::Value,
}

impl Entry {
    /// An entry stamped with the current time.
    pub fn now(kind: &str, signer: &str, body: serde_json::Value) -> Self {
        Entry {
            kind: kind.to_string(),
            signer: signer.to_string(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            body,
        }
    }

    fn canonical(&self) -> Vec<u8> {
        serde_json_canonicalizer::to_vec(self)
            .expect("INVARIANT: an Entry is plain JSON (strings and a serde_json::Value)")
    }

    /// Signs the entry and returns its stored form directly: the entry is canonicalised once,
    /// for the signature, and the leaf is assembled around those bytes (RFC 8785 orders the
    /// envelope's keys `entry` < `key_id` < `signature`).
    pub fn sign_leaf(self, key: &NoteSigner) -> Result<Leaf, EntryError> {
        debug_assert_eq!(
            key.name(),
            self.signer,
            "an entry is signed by its own signer"
        );
        let canonical = self.canonical();
        let signature = B64.encode(key.sign_bytes(&canonical));
        let key_id = key.verifier().key_id();
        // Hex and base64 are plain ASCII: their JSON strings need no escaping.
        let mut bytes = Vec::with_capacity(canonical.len() + signature.len() + 48);
        bytes.extend_from_slice(b"{\"entry\":");
        bytes.extend_from_slice(&canonical);
        bytes.extend_from_slice(
            format!(",\"key_id\":\"{key_id}\",\"signature\":\"{signature}\"}}").as_bytes(),
        );
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        Ok(Leaf(bytes))
    }

    /// Signs the entry with `key`, whose name must be the entry's signer.
    pub fn sign(self, key: &NoteSigner) -> SignedEntry {
        debug_assert_eq!(
            key.name(),
            self.signer,
            "an entry is signed by its own signer"
        );
        let signature = B64.encode(key.sign_bytes(&self.canonical()));
        SignedEntry {
            key_id: key.verifier().key_id(),
            signature,
            entry: self,
        }
    }
}

/// The entry that opens a log: the administrator's public key, signed by it.
pub fn genesis(admin: &NoteSigner) -> SignedEntry {
    Entry::now(
        KIND_GENESIS,
        ADMIN_SIGNER,
        serde_json::json!({ "admin_key": admin.verifier().encode() }),
    )
    .sign(admin)
}

/// The administrator registers `key` for its signer (a new domain, or a rotated key);
/// `context` says why (e.g. the domain and its owner).
pub fn key_registration(
    admin: &NoteSigner,
    key: &NoteVerifier,
    context: serde_json::Value,
) -> SignedEntry {
    Entry::now(
        KIND_KEY,
        ADMIN_SIGNER,
        serde_json::json!({ "signer": key.name, "key": key.encode(), "context": context }),
    )
    .sign(admin)
}

/// The stored bytes of a signed entry: its canonical JSON, within the size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf(Vec<u8>);

impl Leaf {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl TryFrom<&SignedEntry> for Leaf {
    type Error = EntryError;

    fn try_from(e: &SignedEntry) -> Result<Leaf, EntryError> {
        e.to_leaf().map(Leaf)
    }
}

/// An [`Entry`] with its signer's Ed25519 signature over the entry's canonical JSON. Its own
/// canonical JSON is the leaf of the Merkle tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEntry {
    pub entry: Entry,
    /// The signer key's four-byte C2SP key ID, hex.
    pub key_id: String,
    /// base64 Ed25519 signature.
    pub signature: String,
}

impl SignedEntry {
    /// The bytes stored in the log and hashed into the tree.
    pub fn to_leaf(&self) -> Result<Vec<u8>, EntryError> {
        let bytes =
            serde_json_canonicalizer::to_vec(self).expect("INVARIANT: a SignedEntry is plain JSON");
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Parses a stored leaf, refusing any form but the canonical one: two byte strings for
    /// one entry would let a log show different leaves for the same event.
    pub fn from_leaf(bytes: &[u8]) -> Result<Self, EntryError> {
        let entry: SignedEntry =
            serde_json::from_slice(bytes).map_err(|e| EntryError::NotJson(e.to_string()))?;
        if entry.to_leaf()? != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// Checks the signature against the signer's registered keys.
    pub fn verify(&self, keys: &[NoteVerifier]) -> Result<(), EntryError> {
        let signer = &self.entry.signer;
        let key = keys
            .iter()
            .find(|k| &k.name == signer && k.key_id() == self.key_id)
            .ok_or_else(|| EntryError::UnknownKey {
                signer: signer.clone(),
                key_id: self.key_id.clone(),
            })?;
        let signature =
            B64.decode(&self.signature)
                .map_err(|_| EntryError::MalformedSignature {
                    signer: signer.clone(),
                })?;
        if !key.verify_bytes(&self.entry.canonical(), &signature) {
            return Err(EntryError::BadSignature {
                signer: signer.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_signature_binds_the_signer() {
        let sales = NoteSigner::generate("sales").unwrap();
        let e = Entry {
            kind: "ingest.committed".into(),
            signer: "sales".into(),
            time: "2026-11-26T00:00:00.000000Z".into(),
            body: json!({"z": 1, "a": "é", "n": 1.5}),
        }
        .sign(&sales);
        let leaf = e.to_leaf().unwrap();
        let text = String::from_utf8(leaf.clone()).unwrap();
        assert!(text.starts_with(r#"{"entry":{"body":{"a":"é","n":1.5,"z":1},"kind":"#));
        assert_eq!(SignedEntry::from_leaf(&leaf).unwrap(), e);
        e.verify(&[sales.verifier()]).unwrap();

        // Another domain's key, even under the same name, does not verify.
        let impostor = NoteSigner::generate("sales").unwrap();
        assert!(e.verify(&[impostor.verifier()]).is_err());
        // Claiming another signer breaks the signature.
        let mut forged = e.clone();
        forged.entry.signer = "logistics".into();
        let logistics = NoteSigner::generate("logistics").unwrap();
        forged.key_id = logistics.verifier().key_id();
        assert_eq!(
            forged.verify(&[logistics.verifier()]),
            Err(EntryError::BadSignature {
                signer: "logistics".into()
            })
        );
    }

    #[test]
    fn sign_leaf_gives_the_canonical_bytes_of_the_signed_entry() {
        let k = NoteSigner::new("sales", [4; 32]).unwrap();
        let e = Entry::now(
            "x",
            "sales",
            json!({"b": [1, 2.5, "é\u{1F600}"], "a": null}),
        );
        let leaf = e.clone().sign_leaf(&k).unwrap();
        assert_eq!(leaf.as_bytes(), e.sign(&k).to_leaf().unwrap());
        SignedEntry::from_leaf(leaf.as_bytes()).unwrap();
    }

    #[test]
    fn non_canonical_leaves_are_refused() {
        let k = NoteSigner::generate("sales").unwrap();
        let e = Entry::now("x", "sales", json!({})).sign(&k);
        let pretty = serde_json::to_vec_pretty(&e).unwrap();
        assert_eq!(
            SignedEntry::from_leaf(&pretty),
            Err(EntryError::NotCanonical)
        );
        assert!(matches!(
            SignedEntry::from_leaf(b"{not json"),
            Err(EntryError::NotJson(_))
        ));
    }

    #[test]
    fn oversized_entries_are_refused() {
        let k = NoteSigner::generate("sales").unwrap();
        let e = Entry::now("x", "sales", json!({"blob": "a".repeat(70_000)})).sign(&k);
        assert!(matches!(e.to_leaf(), Err(EntryError::TooLarge(_))));
    }

    proptest! {
        #[test]
        fn leaves_round_trip_and_any_body_change_breaks_the_signature(
            body in proptest::collection::btree_map("[a-zA-Z0-9_ ]{1,8}", "[^\u{0}]{0,20}", 0..6),
            extra in "[a-z]{1,5}",
        ) {
            let k = NoteSigner::generate("sales").unwrap();
            let e = Entry::now("k", "sales", serde_json::to_value(&body).unwrap()).sign(&k);
            let leaf = e.to_leaf().unwrap();
            prop_assert_eq!(&SignedEntry::from_leaf(&leaf).unwrap(), &e);
            prop_assert!(e.verify(&[k.verifier()]).is_ok());
            let mut changed = e.clone();
            changed.entry.body["\u{1}added"] = json!(extra);
            prop_assert!(changed.verify(&[k.verifier()]).is_err());
        }
    }
}
