//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! A note is UTF-8 text ending in a newline, then a blank line, then one signature line per
//! signer: `— <key name> <base64(key ID ‖ signature)>`. The key ID is the first four bytes of
//! SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key); verifier keys are written
//! `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The signature-type byte of Ed25519 keys in C2SP notes.
const ED25519: u8 = 0x01;
pub(crate) const SIGNATURE_PREFIX: &str = "— ";

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum NoteError {
    #[error("invalid key name `{0}`: it must be non-empty, without spaces or `+`")]
    BadKeyName(String),
    #[error("malformed verifier key `{0}`")]
    BadVerifierKey(String),
    #[error("malformed private key (expected PRIVATE+KEY+<name>+<id>+<key>)")]
    BadSecretKey,
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("the note has no valid signature by {0}")]
    NotSigned(String),
}

/// Splits the key form shared by note keys (type 0x01) and cosigner keys (0x04):
/// `<name>+<hex key ID>+<base64(type ‖ 32 key bytes)>` (after `PRIVATE+KEY+` for secrets).
/// Returns the name, the hex ID (for the caller to check against the key) and the key bytes.
pub(crate) fn split_key(encoded: &str, kind: u8) -> Option<(&str, &str, [u8; 32])> {
    let mut parts = encoded.trim().splitn(3, '+');
    let (name, id_hex, key_b64) = (parts.next()?, parts.next()?, parts.next()?);
    check_name(name).ok()?;
    let key = B64.decode(key_b64).ok()?;
    if key.first() != Some(&kind) || id_hex.len() != 8 {
        return None;
    }
    Some((name, id_hex, <[u8; 32]>::try_from(&key[1..]).ok()?))
}

/// The form [`split_key`] reads.
pub(crate) fn encode_key(name: &str, kind: u8, id: &[u8; 4], bytes: &[u8; 32]) -> String {
    let mut key = vec![kind];
    key.extend_from_slice(bytes);
    format!("{name}+{}+{}", hex_encode(id), B64.encode(key))
}

pub(crate) fn key_id_of(name: &str, kind: u8, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([kind]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    key_id_of(name, ED25519, public)
}

pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
        return Err(NoteError::BadKeyName(name.to_string()));
    }
    Ok(())
}

/// A named Ed25519 signing key.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 secret.
    pub fn new(name: &str, secret: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(NoteSigner {
            name: name.to_string(),
            key: SigningKey::from_bytes(&secret),
        })
    }

    /// A signer with a fresh random key.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        Self::new(name, rand::random())
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private key in the form Go's `note` package uses:
    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ secret)>`. Keep it secret.
    pub fn encode_secret(&self) -> String {
        let id = key_id(&self.name, &self.key.verifying_key());
        format!(
            "PRIVATE+KEY+{}",
            encode_key(&self.name, ED25519, &id, self.key.as_bytes())
        )
    }

    /// Parses [`NoteSigner::encode_secret`]'s form.
    pub fn parse_secret(encoded: &str) -> Result<Self, NoteError> {
        let (name, id_hex, secret) = encoded
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .and_then(|rest| split_key(rest, ED25519))
            .ok_or(NoteError::BadSecretKey)?;
        let signer = NoteSigner::new(name, secret)?;
        if !id_hex.eq_ignore_ascii_case(&hex_encode(&key_id(name, &signer.key.verifying_key()))) {
            return Err(NoteError::BadSecretKey);
        }
        Ok(signer)
    }

    /// An Ed25519 signature of `message` (used for log entries, outside any note).
    pub(crate) fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        let public = self.key.verifying_key();
        NoteVerifier {
            name: self.name.clone(),
            id: key_id(&self.name, &public),
            public,
        }
    }

    /// One signature line for `text`.
    fn signature_line(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A named Ed25519 public key that checks note signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    id: [u8; 4],
    public: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
    pub fn parse(encoded: &str) -> Result<Self, NoteError> {
        let bad = || NoteError::BadVerifierKey(encoded.to_string());
        let (name, id_hex, bytes) = split_key(encoded, ED25519).ok_or_else(bad)?;
        let public = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
        let id = key_id(name, &public);
        if !id_hex.eq_ignore_ascii_case(&hex_encode(&id)) {
            return Err(bad());
        }
        Ok(NoteVerifier {
            name: name.to_string(),
            id,
            public,
        })
    }

    /// The four-byte key ID, in hex.
    pub fn key_id(&self) -> String {
        hex_encode(&self.id)
    }

    /// Checks an Ed25519 signature of `message` made by [`NoteSigner::sign_bytes`].
    pub(crate) fn verify_bytes(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|s| self.public.verify_strict(message, &s).is_ok())
    }

    /// The `<name>+<hex key ID>+<base64 key>` form, to publish.
    pub fn encode(&self) -> String {
        encode_key(&self.name, ED25519, &self.id, self.public.as_bytes())
    }
}

pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Signs `text` (which must end with a newline) by every signer.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, NoteError> {
    if !text.ends_with('\n') || text.contains("\n\n") {
        return Err(NoteError::Malformed(
            "the text must end with a newline and contain no blank line".into(),
        ));
    }
    let mut note = format!("{text}\n");
    for s in signers {
        note.push_str(&s.signature_line(text));
    }
    Ok(note)
}

/// A signature line: the key name and the decoded blob (key ID ‖ signature).
pub(crate) type SignatureLine<'a> = (&'a str, Vec<u8>);

/// A signed note split into its text (ending in a newline) and its signature lines as
/// (key name, decoded blob: key ID ‖ signature).
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let text = &note[..split + 1];
    let mut lines = Vec::new();
    for line in note[split + 2..].lines() {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| NoteError::Malformed(format!("`{line}` is not a signature line")))?;
        let (name, blob) = rest
            .rsplit_once(' ')
            .ok_or_else(|| NoteError::Malformed(format!("`{line}` has no signature")))?;
        let blob = B64
            .decode(blob)
            .map_err(|_| NoteError::Malformed(format!("`{line}`: signature is not base64")))?;
        if blob.len() < 4 {
            return Err(NoteError::Malformed(format!(
                "`{line}`: signature too short"
            )));
        }
        lines.push((name, blob));
    }
    Ok((text, lines))
}

/// Splits a signed note, checks its signatures against `verifiers`, and returns the text and
/// the names of the verifiers whose signature is valid. Signatures by unknown keys are ignored,
/// as the format requires; a note no known key signed is an error.
pub fn open_note(
    note: &str,
    verifiers: &[NoteVerifier],
) -> Result<(String, Vec<String>), NoteError> {
    let (text, lines) = split_note(note)?;
    let mut verified = Vec::new();
    for (name, blob) in lines {
        let Some(v) = verifiers
            .iter()
            .find(|v| v.name == name && v.id[..] == blob[..4])
        else {
            continue;
        };
        let Ok(signature) = Signature::from_slice(&blob[4..]) else {
            continue;
        };
        if v.public.verify_strict(text.as_bytes(), &signature).is_ok()
            && !verified.contains(&v.name)
        {
            verified.push(v.name.clone());
        }
    }
    if verified.is_empty() {
        let names: Vec<&str> = verifiers.iter().map(|v| v.name.as_str()).collect();
        return Err(NoteError::NotSigned(names.join(", ")));
    }
    Ok((text.to_string(), verified))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::new(name, [seed; 32]).unwrap()
    }

    #[test]
    fn signed_notes_open_with_the_right_key_only() {
        let log = signer("agora.example/log", 1);
        let note = sign_note("agora.example/log\n3\nAAAA\n", &[&log]).unwrap();
        let (text, by) = open_note(&note, &[log.verifier()]).unwrap();
        assert_eq!(text, "agora.example/log\n3\nAAAA\n");
        assert_eq!(by, vec!["agora.example/log".to_string()]);
        let stranger = signer("agora.example/log", 2);
        assert!(open_note(&note, &[stranger.verifier()]).is_err());
        let tampered = note.replacen("3\n", "4\n", 1);
        assert!(open_note(&tampered, &[log.verifier()]).is_err());
    }

    #[test]
    fn secret_keys_round_trip_and_reject_a_wrong_id() {
        let s = NoteSigner::generate("sales").unwrap();
        let back = NoteSigner::parse_secret(&s.encode_secret()).unwrap();
        assert_eq!(back.verifier(), s.verifier());
        let tampered = s.encode_secret().replacen("+sales+", "+other+", 1);
        assert!(NoteSigner::parse_secret(&tampered).is_err());
        assert!(NoteSigner::parse_secret("sales+1234").is_err());
    }

    #[test]
    fn verifier_keys_round_trip_and_reject_garbage() {
        let v = signer("witness", 9).verifier();
        assert_eq!(NoteVerifier::parse(&v.encode()).unwrap(), v);
        assert!(NoteVerifier::parse("witness+00000000+AQ==").is_err());
        let wrong_id = v.encode().replacen('+', "+f", 1);
        assert!(NoteVerifier::parse(&wrong_id).is_err());
    }

    proptest! {
        #[test]
        fn any_change_to_a_signed_note_is_detected(body in "[a-z0-9 ]{1,40}", flip in 0usize..200) {
            let s = signer("log", 3);
            let text = format!("{body}\n");
            let note = sign_note(&text, &[&s]).unwrap();
            let mut bytes = note.clone().into_bytes();
            let i = flip % text.len();
            bytes[i] ^= 0x01;
            if let Ok(changed) = String::from_utf8(bytes) {
                prop_assert!(open_note(&changed, &[s.verifier()]).is_err());
            }
        }
    }
}
