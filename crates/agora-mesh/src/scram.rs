//! SCRAM-SHA-256 (RFC 5802, RFC 7677) for Postgres logins, so a token need not cross the
//! network in the clear where TLS is not used; over TLS also SCRAM-SHA-256-PLUS, which binds
//! the login to the server's certificate (`tls-server-end-point`, RFC 5929), so a man in the
//! middle who terminates TLS with a certificate of its own cannot relay the exchange.
//!
//! The catalog keeps what PostgreSQL keeps, a verifier (`SCRAM-SHA-256$4096:salt$StoredKey:
//! ServerKey`), not the salted password: someone who reads the catalog can pose as the server
//! but cannot log in as the principal. pgwire's own SCRAM handler asks for the salted password,
//! which would let a catalog reader log in, so the server side of the exchange is here, on the
//! RustCrypto primitives (HMAC, SHA-256, PBKDF2).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// PostgreSQL's default iteration count.
const ITERATIONS: u32 = 4096;
const SALT_BYTES: usize = 16;
const NONCE_BYTES: usize = 18;

/// What the server keeps to check a SCRAM login.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScramVerifier(..)")
    }
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("INVARIANT: HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

impl ScramVerifier {
    /// A verifier of `token` with a new random salt.
    pub fn for_token(token: &str) -> ScramVerifier {
        let mut salt = vec![0u8; SALT_BYTES];
        rand::rng().fill_bytes(&mut salt);
        Self::derive(token, salt, ITERATIONS)
    }

    fn derive(token: &str, salt: Vec<u8>, iterations: u32) -> ScramVerifier {
        // SASLprep of a token (URL-safe base64 after `agora_`) leaves it as it is.
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(token.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        ScramVerifier {
            iterations,
            salt,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// A verifier no token matches, with a salt that is the same on every attempt for `user`:
    /// a login as a principal that does not exist goes through the same exchange and fails at
    /// the same step as one with a wrong token.
    pub fn decoy(secret: &[u8], user: &str) -> ScramVerifier {
        let salt =
            hmac(secret, format!("scram decoy salt {user}").as_bytes())[..SALT_BYTES].to_vec();
        let mut stored_key = [0u8; 32];
        rand::rng().fill_bytes(&mut stored_key);
        ScramVerifier {
            iterations: ITERATIONS,
            salt,
            stored_key,
            server_key: hmac(secret, format!("scram decoy key {user}").as_bytes()),
        }
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(self.stored_key),
            STANDARD.encode(self.server_key)
        )
    }
}

impl FromStr for ScramVerifier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || "not a SCRAM-SHA-256 verifier".to_string();
        let rest = s.strip_prefix("SCRAM-SHA-256$").ok_or_else(bad)?;
        let (params, keys) = rest.split_once('$').ok_or_else(bad)?;
        let (iterations, salt) = params.split_once(':').ok_or_else(bad)?;
        let (stored, server) = keys.split_once(':').ok_or_else(bad)?;
        let key = |k: &str| -> Result<[u8; 32], String> {
            STANDARD
                .decode(k)
                .map_err(|_| bad())?
                .try_into()
                .map_err(|_| bad())
        };
        Ok(ScramVerifier {
            iterations: iterations.parse().map_err(|_| bad())?,
            salt: STANDARD.decode(salt).map_err(|_| bad())?,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }
}

/// The server's half of one exchange, between its first message and the client's last.
#[derive(Debug, Clone)]
pub struct ScramExchange {
    verifier: ScramVerifier,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    /// The `c=` the client's last message must carry: the gs2 header, and with channel binding
    /// the certificate's hash, in base64.
    binding: String,
}

/// What the server offered the client to bind its login to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBinding<'a> {
    /// No binding offered (no TLS, or a certificate whose hash RFC 5929 does not define).
    NotOffered,
    /// SCRAM-SHA-256-PLUS was offered; the client chose `plus` or not, and the certificate's
    /// `tls-server-end-point` hash is `end_point`.
    Offered { plus: bool, end_point: &'a [u8] },
}

/// The channel binding type Agora supports.
pub const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// Why an exchange failed; the client is told only that the login failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("the channel binding does not match what the server offered")]
    ChannelBinding,
    #[error("the proof does not match")]
    WrongProof,
}

impl ScramExchange {
    /// Answers the client's first message (`n,,n=user,r=nonce`, or with channel binding
    /// `p=tls-server-end-point,,n=user,r=nonce`) with the server's (`r=nonce,s=salt,i=…`).
    pub fn start(
        verifier: ScramVerifier,
        client_first: &[u8],
        offered: ChannelBinding<'_>,
    ) -> Result<(ScramExchange, String), ScramError> {
        let text =
            std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let bound = format!("p={TLS_SERVER_END_POINT},,");
        // gs2 header: `n,,` (the client binds nothing), `y,,` (it could, but thinks the
        // server cannot: with a binding offered, that is a downgrade by someone in between,
        // RFC 5802 §6), or `p=…,,` (it binds, which only SCRAM-SHA-256-PLUS does).
        let (header, binding) = match (text, offered) {
            (t, ChannelBinding::NotOffered | ChannelBinding::Offered { plus: false, .. })
                if t.starts_with("n,,") =>
            {
                ("n,,", STANDARD.encode("n,,"))
            }
            (t, ChannelBinding::NotOffered) if t.starts_with("y,,") => {
                ("y,,", STANDARD.encode("y,,"))
            }
            (
                t,
                ChannelBinding::Offered {
                    plus: true,
                    end_point,
                },
            ) if t.starts_with(&bound) => {
                let mut data = bound.as_bytes().to_vec();
                data.extend_from_slice(end_point);
                (bound.as_str(), STANDARD.encode(data))
            }
            (t, _) if ["n,,", "y,,", "p="].iter().any(|h| t.starts_with(h)) => {
                return Err(ScramError::ChannelBinding);
            }
            _ => return Err(ScramError::Malformed("gs2 header")),
        };
        let bare = &text[header.len()..];
        let client_nonce = bare
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
            .ok_or(ScramError::Malformed("client nonce"))?;
        let mut server_nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut server_nonce);
        let nonce = format!("{client_nonce}{}", STANDARD.encode(server_nonce));
        let server_first = format!(
            "r={nonce},s={},i={}",
            STANDARD.encode(&verifier.salt),
            verifier.iterations
        );
        Ok((
            ScramExchange {
                verifier,
                client_first_bare: bare.to_string(),
                server_first: server_first.clone(),
                nonce,
                binding,
            },
            server_first,
        ))
    }

    /// The verifier the exchange checks against.
    pub fn verifier(&self) -> &ScramVerifier {
        &self.verifier
    }

    /// Checks the client's last message (`c=biws,r=nonce,p=proof`); on success, the server's
    /// last (`v=signature`), which proves to the client that the server knew the verifier.
    pub fn finish(&self, client_final: &[u8]) -> Result<String, ScramError> {
        let text =
            std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("client proof"))?;
        let mut attributes = without_proof.split(',');
        let binding = attributes
            .next()
            .and_then(|a| a.strip_prefix("c="))
            .ok_or(ScramError::Malformed("channel binding"))?;
        // What the first message announced (`biws` is base64 of `n,,`), and with a binding the
        // hash of the certificate the client saw: another one means another TLS endpoint.
        if binding != self.binding {
            return Err(ScramError::ChannelBinding);
        }
        let nonce = attributes
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .ok_or(ScramError::Malformed("nonce"))?;
        if nonce != self.nonce {
            return Err(ScramError::WrongProof);
        }
        let proof: [u8; 32] = STANDARD
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(ScramError::Malformed("client proof"))?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let signature = hmac(&self.verifier.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof.iter().zip(signature).map(|(p, s)| p ^ s).collect();
        let stored_key: [u8; 32] = Sha256::digest(&client_key).into();
        // Compared as HMACs under a key the client does not know (the signature is keyed by the
        // stored key), so the comparison's timing tells nothing of the stored key.
        if hmac(&signature, &stored_key) != hmac(&signature, &self.verifier.stored_key) {
            return Err(ScramError::WrongProof);
        }
        let server_signature = hmac(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The client's side, as RFC 5802 defines it (what libpq computes).
    fn client_final(token: &str, client_first_bare: &str, server_first: &str) -> String {
        client_final_with(token, client_first_bare, server_first, "biws")
    }

    /// The same with channel binding data `c` (base64).
    fn client_final_with(
        token: &str,
        client_first_bare: &str,
        server_first: &str,
        c: &str,
    ) -> String {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let nonce = attrs[0].strip_prefix("r=").unwrap();
        let salt = STANDARD
            .decode(attrs[1].strip_prefix("s=").unwrap())
            .unwrap();
        let iterations: u32 = attrs[2].strip_prefix("i=").unwrap().parse().unwrap();
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(token.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c={c},r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac(&stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        format!("{without_proof},p={}", STANDARD.encode(proof))
    }

    #[test]
    fn the_right_token_logs_in_and_a_wrong_one_does_not() {
        let verifier = ScramVerifier::for_token("agora_right");
        let stored: ScramVerifier = verifier.to_string().parse().unwrap();
        assert_eq!(stored, verifier);
        let first = "n=carol,r=abcdefgh";
        let (exchange, server_first) =
            ScramExchange::start(stored.clone(), format!("n,,{first}").as_bytes(), NONE).unwrap();
        assert!(server_first.starts_with("r=abcdefgh"));
        let answer = exchange.finish(client_final("agora_right", first, &server_first).as_bytes());
        assert!(answer.unwrap().starts_with("v="));
        let (exchange, server_first) =
            ScramExchange::start(stored, format!("n,,{first}").as_bytes(), NONE).unwrap();
        let wrong = exchange.finish(client_final("agora_wrong", first, &server_first).as_bytes());
        assert_eq!(wrong, Err(ScramError::WrongProof));
    }

    #[test]
    fn a_decoy_refuses_every_token_with_a_salt_stable_per_user() {
        let a = ScramVerifier::decoy(b"secret", "nobody");
        let b = ScramVerifier::decoy(b"secret", "nobody");
        assert_eq!(a.salt, b.salt);
        let first = "n=nobody,r=xyz";
        let (exchange, server_first) =
            ScramExchange::start(a, format!("n,,{first}").as_bytes(), NONE).unwrap();
        assert!(
            exchange
                .finish(client_final("anything", first, &server_first).as_bytes())
                .is_err()
        );
    }

    const NONE: ChannelBinding<'static> = ChannelBinding::NotOffered;

    #[test]
    fn a_binding_to_the_servers_certificate_logs_in_and_any_other_does_not() {
        let verifier = ScramVerifier::for_token("agora_right");
        let end_point = [7u8; 32];
        let plus = ChannelBinding::Offered {
            plus: true,
            end_point: &end_point,
        };
        let header = "p=tls-server-end-point,,";
        let first = "n=carol,r=abcdefgh";
        let login = |seen: &[u8]| {
            let (exchange, server_first) = ScramExchange::start(
                verifier.clone(),
                format!("{header}{first}").as_bytes(),
                plus,
            )
            .unwrap();
            let mut data = header.as_bytes().to_vec();
            data.extend_from_slice(seen);
            // The client binds to the certificate it saw, `seen`; its proof covers that.
            let c = STANDARD.encode(data);
            exchange.finish(client_final_with("agora_right", first, &server_first, &c).as_bytes())
        };
        assert!(login(&end_point).unwrap().starts_with("v="));
        assert_eq!(login(&[9u8; 32]), Err(ScramError::ChannelBinding));
    }

    #[test]
    fn channel_binding_and_replayed_nonces_are_refused() {
        let verifier = ScramVerifier::for_token("t");
        let end_point = [7u8; 32];
        // A binding the server did not offer, or not on the method that binds.
        assert_eq!(
            ScramExchange::start(verifier.clone(), b"p=tls-server-end-point,,n=a,r=x", NONE).err(),
            Some(ScramError::ChannelBinding)
        );
        let without = ChannelBinding::Offered {
            plus: false,
            end_point: &end_point,
        };
        assert_eq!(
            ScramExchange::start(
                verifier.clone(),
                b"p=tls-server-end-point,,n=a,r=x",
                without
            )
            .err(),
            Some(ScramError::ChannelBinding)
        );
        // `y,,` where a binding was offered: someone in between hid it from the client.
        assert_eq!(
            ScramExchange::start(verifier.clone(), b"y,,n=a,r=x", without).err(),
            Some(ScramError::ChannelBinding)
        );
        // SCRAM-SHA-256-PLUS chosen without binding.
        let plus = ChannelBinding::Offered {
            plus: true,
            end_point: &end_point,
        };
        assert_eq!(
            ScramExchange::start(verifier.clone(), b"n,,n=a,r=x", plus).err(),
            Some(ScramError::ChannelBinding)
        );
        let (exchange, _) = ScramExchange::start(verifier, b"n,,n=a,r=x", NONE).unwrap();
        assert_eq!(
            exchange.finish(b"c=biws,r=xOTHER,p=AAAA").err(),
            Some(ScramError::WrongProof)
        );
    }

    proptest! {
        #[test]
        fn no_message_panics(first in proptest::collection::vec(any::<u8>(), 0..200),
                             last in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok((exchange, _)) = ScramExchange::start(ScramVerifier::for_token("t"), &first, NONE) {
                let _ = exchange.finish(&last);
            }
            let _ = String::from_utf8_lossy(&first).parse::<ScramVerifier>();
        }
    }
}
