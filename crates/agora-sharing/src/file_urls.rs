//! Pre-signed file URLs. The protocol hands a recipient one URL per data file, which its
//! client fetches without the bearer token (as it would an S3 pre-signed URL); Agora serves
//! those files itself, so the URL's last segment is a ticket: which share may read which file
//! under the mesh directory until when, and an HMAC-SHA256 of that under a key of the mesh.
//! Changing any part of it, or using it after it expired, fails the check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a file URL lets its holder read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTicket {
    /// The share the URL was handed out for: a revoked share's URLs stop working.
    #[serde(rename = "s")]
    pub share: String,
    /// The file, relative to the mesh directory (`tables/sales/orders/part-….parquet`).
    #[serde(rename = "p")]
    pub path: String,
    /// When the URL stops working, in seconds since the Unix epoch.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Why a file URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the file URL is malformed: {0}")]
    Malformed(&'static str),
    #[error("the file URL's signature does not match it: it was changed or not made here")]
    BadSignature,
    #[error(
        "the file URL expired at {0} (seconds since the epoch): query the table again for new URLs"
    )]
    Expired(i64),
}

/// Signs and checks [`FileTicket`]s with one key.
#[derive(Clone)]
pub struct UrlSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

/// Separates these signatures from any other use of an HMAC under the same key.
const CONTEXT: &[u8] = b"agora delta-sharing file url v1\n";

impl UrlSigner {
    pub fn new(key: [u8; 32]) -> UrlSigner {
        UrlSigner { key }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("INVARIANT: HMAC takes any key");
        mac.update(CONTEXT);
        mac.update(payload.as_bytes());
        mac
    }

    /// The ticket as one URL path segment: `<payload>.<signature>`, both base64url.
    pub fn sign(&self, ticket: &FileTicket) -> String {
        let payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(ticket).expect("INVARIANT: a ticket is plain data and serialises"),
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The URL of `ticket` under `files_url` (the server's `…/delta-sharing/files`).
    ///
    /// Its query, `sp=r` ("signed permission: read", as Azure's SAS URLs say it), marks it as
    /// pre-signed for Delta readers: delta-kernel's default engine fetches a file over HTTP only
    /// when its URL carries such a query key, and otherwise looks for it in the local table
    /// directory the client wrote. The server reads the ticket from the path and ignores the
    /// query.
    pub fn url(&self, files_url: &str, ticket: &FileTicket) -> String {
        format!(
            "{}/{}?sp=r",
            files_url.trim_end_matches('/'),
            self.sign(ticket)
        )
    }

    /// The ticket `segment` carries, if this signer made it, it has not expired at `now`
    /// (seconds since the epoch) and its path stays inside the mesh directory.
    pub fn verify(&self, segment: &str, now: i64) -> Result<FileTicket, TicketError> {
        let (payload, signature) = segment
            .split_once('.')
            .ok_or(TicketError::Malformed("no signature"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TicketError::Malformed("the signature is not base64url"))?;
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| TicketError::BadSignature)?;
        let ticket: FileTicket = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TicketError::Malformed("the payload is not a ticket"))?;
        if !is_inside(&ticket.path) {
            return Err(TicketError::Malformed("the path leaves the mesh directory"));
        }
        if ticket.expires_at <= now {
            return Err(TicketError::Expired(ticket.expires_at));
        }
        Ok(ticket)
    }
}

/// Whether `path` is relative and names no parent: a signed ticket only ever holds such
/// paths, and the check stays in case a key leaks.
pub fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ticket() -> FileTicket {
        FileTicket {
            share: "partner_x".into(),
            path: "tables/sales/orders/part-0.parquet".into(),
            expires_at: 2_000,
        }
    }

    #[test]
    fn a_url_holds_the_signed_ticket_as_its_last_segment_and_says_it_is_pre_signed() {
        let signer = UrlSigner::new([7; 32]);
        let url = signer.url("http://h/delta-sharing/files/", &ticket());
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(query, "sp=r");
        let segment = path.strip_prefix("http://h/delta-sharing/files/").unwrap();
        assert_eq!(signer.verify(segment, 0), Ok(ticket()));
    }

    #[test]
    fn a_ticket_reads_back_until_it_expires() {
        let signer = UrlSigner::new([7; 32]);
        let segment = signer.sign(&ticket());
        assert_eq!(signer.verify(&segment, 1_999), Ok(ticket()));
        assert_eq!(
            signer.verify(&segment, 2_000),
            Err(TicketError::Expired(2_000))
        );
    }

    #[test]
    fn another_key_or_a_changed_path_fails_the_signature() {
        let segment = UrlSigner::new([7; 32]).sign(&ticket());
        assert_eq!(
            UrlSigner::new([8; 32]).verify(&segment, 0),
            Err(TicketError::BadSignature)
        );
        let (_, signature) = segment.split_once('.').unwrap();
        let mut changed = ticket();
        changed.path = "keys/mask.key".into();
        let forged = format!(
            "{}.{signature}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap())
        );
        assert_eq!(
            UrlSigner::new([7; 32]).verify(&forged, 0),
            Err(TicketError::BadSignature)
        );
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused_even_when_signed() {
        let signer = UrlSigner::new([7; 32]);
        for path in [
            "../catalog.db",
            "/etc/passwd",
            "tables/../keys/mask.key",
            "a//b",
            "",
        ] {
            let mut t = ticket();
            t.path = path.into();
            assert!(
                matches!(
                    signer.verify(&signer.sign(&t), 0),
                    Err(TicketError::Malformed(_))
                ),
                "{path}"
            );
        }
    }

    proptest! {
        /// Flipping any character of a URL segment never yields a ticket.
        #[test]
        fn no_changed_segment_verifies(index in 0usize..400, replacement in "[A-Za-z0-9_.-]") {
            let signer = UrlSigner::new([7; 32]);
            let segment = signer.sign(&ticket());
            let index = index % segment.len();
            let mut changed: Vec<char> = segment.chars().collect();
            let c = replacement.chars().next().unwrap();
            prop_assume!(changed[index] != c);
            changed[index] = c;
            let changed: String = changed.into_iter().collect();
            prop_assert!(signer.verify(&changed, 0).is_err());
        }

        /// Whatever bytes arrive, the check answers without panicking.
        #[test]
        fn any_segment_gets_an_answer(segment in ".{0,200}") {
            let _ = UrlSigner::new([7; 32]).verify(&segment, 0);
        }
    }
}
