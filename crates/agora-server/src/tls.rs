//! TLS for the PostgreSQL endpoint (rustls), so clients can connect with `sslmode=require` and
//! tokens, which are the passwords, do not cross the network in the clear.
//!
//! The certificate is the operator's (`agora serve --tls-cert/--tls-key`, PEM files) or, by
//! default, one Agora creates in the mesh's directory on first start and reuses afterwards:
//! self-signed, so clients that verify (`sslmode=verify-full`) must be given it, and the
//! fingerprint `agora serve` prints is what they compare.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate and key ready to accept TLS connections.
#[derive(Clone)]
pub struct PgTls {
    pub(crate) acceptor: TlsAcceptor,
    /// The certificate's `tls-server-end-point` hash (RFC 5929), which SCRAM-SHA-256-PLUS
    /// binds logins to; None for a signature whose hash the RFC does not define (Ed25519,
    /// RSASSA-PSS), where only SCRAM-SHA-256 is offered.
    pub(crate) end_point: Option<Vec<u8>>,
    fingerprint: String,
    certificate: PathBuf,
}

/// Why TLS could not be set up, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no {what} in PEM form")]
    Missing { path: PathBuf, what: &'static str },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

impl PgTls {
    /// The certificate chain in `cert` and the private key in `key` (PEM files).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<PgTls, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let cert_pem = read(cert)?;
        let chain = CertificateDer::pem_reader_iter(&mut BufReader::new(&cert_pem[..]))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Invalid {
                path: cert.to_path_buf(),
                message: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::Missing {
                path: cert.to_path_buf(),
                what: "certificate",
            });
        }
        let key_pem = read(key)?;
        let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            tokio_rustls::rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
                path: key.to_path_buf(),
                what: "private key",
            },
            e => TlsError::Invalid {
                path: key.to_path_buf(),
                message: e.to_string(),
            },
        })?;
        let fingerprint = fingerprint(&chain[0]);
        let end_point = end_point(&chain[0]);
        // Both of rustls's providers are compiled in (other crates ask for aws-lc-rs); name one.
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key_der))
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(PgTls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            end_point,
            fingerprint,
            certificate: cert.to_path_buf(),
        })
    }

    /// The self-signed certificate kept in `dir` (`pg-cert.pem`, `pg-key.pem`), made there
    /// first if it is not.
    pub fn self_signed_in(dir: &Path) -> Result<PgTls, TlsError> {
        let cert = dir.join("pg-cert.pem");
        let key = dir.join("pg-key.pem");
        if !cert.exists() || !key.exists() {
            let write_error = |path: &Path| {
                let path = path.to_path_buf();
                move |source| TlsError::Write { path, source }
            };
            std::fs::create_dir_all(dir).map_err(write_error(dir))?;
            let made = rcgen::generate_simple_self_signed(vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
            ])
            .map_err(|e| TlsError::Config(format!("cannot make a certificate: {e}")))?;
            write_private(&key, made.signing_key.serialize_pem().as_bytes())
                .map_err(write_error(&key))?;
            std::fs::write(&cert, made.cert.pem()).map_err(write_error(&cert))?;
        }
        PgTls::from_pem_files(&cert, &key)
    }

    /// The SHA-256 of the certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The certificate's file.
    pub fn certificate(&self) -> &Path {
        &self.certificate
    }
}

/// The `tls-server-end-point` channel binding of `cert` (RFC 5929 §4.1): its hash with the
/// hash function of its signature, SHA-256 where that is MD5 or SHA-1.
fn end_point(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    use sha2::{Sha384, Sha512};
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let der = cert.as_ref();
    match parsed.signature_algorithm.algorithm.to_id_string().as_str() {
        // md5, sha1, sha256 with RSA; ECDSA with SHA-1 and SHA-256
        "1.2.840.113549.1.1.4"
        | "1.2.840.113549.1.1.5"
        | "1.2.840.113549.1.1.11"
        | "1.2.840.10045.4.1"
        | "1.2.840.10045.4.3.2" => Some(Sha256::digest(der).to_vec()),
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => Some(Sha384::digest(der).to_vec()),
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => Some(Sha512::digest(der).to_vec()),
        _ => None,
    }
}

fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Writes a key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = PgTls::self_signed_in(dir.path()).unwrap();
        let again = PgTls::self_signed_in(dir.path()).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.fingerprint().len(), 32 * 3 - 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("pg-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is its owner's only");
    }

    #[test]
    fn the_channel_binding_hash_follows_the_certificates_signature() {
        let cert = |alg: &'static rcgen::SignatureAlgorithm| {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let made = rcgen::CertificateParams::new(vec!["localhost".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            made.der().clone()
        };
        let p256 = cert(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(
            end_point(&p256),
            Some(Sha256::digest(p256.as_ref()).to_vec())
        );
        let p384 = cert(&rcgen::PKCS_ECDSA_P384_SHA384);
        assert_eq!(
            end_point(&p384),
            Some(<sha2::Sha384 as Digest>::digest(p384.as_ref()).to_vec())
        );
        // RFC 5929 defines no hash for Ed25519: no SCRAM-SHA-256-PLUS is offered with it.
        assert_eq!(end_point(&cert(&rcgen::PKCS_ED25519)), None);
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem").unwrap();
        let err = PgTls::from_pem_files(&empty, &empty)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("empty.pem") && err.contains("certificate"),
            "{err}"
        );
        let err = PgTls::from_pem_files(&dir.path().join("nope.pem"), &empty)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("nope.pem"), "{err}");
    }
}
