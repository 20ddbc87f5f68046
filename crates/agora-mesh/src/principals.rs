//! API tokens and who a request acts as.
//!
//! Tokens are 256 random bits, shown once. The catalog keeps only their SHA-256: for secrets
//! of this entropy a slow password hash (argon2) adds no protection against guessing, and a
//! fast hash lets every HTTP request and Postgres login look the token up by its hash.

use agora_catalog::{PrincipalKind, PrincipalRecord};
use agora_model::{ADMIN, Name, Principal, Sensitivity};
use agora_query::Viewer;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::scram::ScramVerifier;

use crate::{Mesh, MeshError};

const TOKEN_PREFIX: &str = "agora_";

pub(crate) fn new_token() -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    )
}

/// The SHA-256 of a token, as the catalog keeps it.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Mesh {
    /// The principal a token belongs to, if it is enabled and the token has not expired.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, MeshError> {
        self.authenticate_hash(&token_hash(token.trim())).await
    }

    /// [`Mesh::authenticate`] by the token's hash: what a connection keeps to check its
    /// principal again on every statement (a rotated token, a disabled principal stop it).
    pub async fn authenticate_hash(&self, token_hash: &str) -> Result<Principal, MeshError> {
        let record = self
            .catalog
            .principal_by_token_hash(token_hash)
            .await?
            .ok_or(MeshError::BadToken)?;
        usable(record)
    }

    /// How a Postgres login as `user` proves its token: by SCRAM against the token's verifier,
    /// or, for a principal whose token is older than verifiers, with the token as a cleartext
    /// password. A user that is no principal gets a decoy verifier, so the exchange fails where
    /// a wrong token fails and says nothing of who exists.
    pub async fn pg_login(&self, user: &str) -> Result<PgLogin, MeshError> {
        let record = match Name::strict("principal", user) {
            Ok(name) => self.catalog.principal(&name).await?,
            Err(_) => None,
        };
        Ok(match record {
            Some(PrincipalRecord {
                scram_verifier: None,
                ..
            }) => PgLogin::Cleartext,
            Some(PrincipalRecord {
                scram_verifier: Some(verifier),
                ..
            }) => PgLogin::Scram(verifier.parse().map_err(|e| {
                MeshError::Internal(format!("the catalog's SCRAM verifier of {user}: {e}"))
            })?),
            None => PgLogin::Scram(ScramVerifier::decoy(&self.audit_key, user)),
        })
    }

    /// The principal `user` if `verifier` still is its token's (not rotated since a SCRAM
    /// login), it is enabled and the token has not expired: what a connection that logged in
    /// with SCRAM checks before every statement.
    pub async fn authenticate_verifier(
        &self,
        user: &str,
        verifier: &ScramVerifier,
    ) -> Result<Principal, MeshError> {
        let name = Name::strict("principal", user).map_err(|_| MeshError::BadToken)?;
        let record = self
            .catalog
            .principal(&name)
            .await?
            .ok_or(MeshError::BadToken)?;
        if record.scram_verifier.as_deref() != Some(verifier.to_string().as_str()) {
            return Err(MeshError::BadToken);
        }
        usable(record)
    }

    /// The principal named `name`, for the local CLI's `--as`: refused while disabled.
    pub async fn principal(&self, name: &str) -> Result<Principal, MeshError> {
        match self.named(name).await? {
            Some(record) => active(record),
            None => Ok(Principal::admin()),
        }
    }

    /// The principal named `name`, enabled or not: for the administrator's work on it
    /// (grants, revocations), which must not depend on whether it may act now.
    pub(crate) async fn known_principal(&self, name: &str) -> Result<Principal, MeshError> {
        Ok(self
            .named(name)
            .await?
            .map_or_else(Principal::admin, principal_of))
    }

    /// The catalog row of the principal `name`; `None` for the administrator.
    async fn named(&self, name: &str) -> Result<Option<PrincipalRecord>, MeshError> {
        if name == ADMIN {
            return Ok(None);
        }
        let name = Name::strict("principal", name)?;
        let record = self
            .catalog
            .principal(&name)
            .await?
            .ok_or_else(|| MeshError::NotFound {
                what: "principal",
                name: name.to_string(),
                hint: ": create it with `agora principal create`".into(),
            })?;
        Ok(Some(record))
    }

    /// What `principal` may read and write.
    pub async fn viewer(&self, principal: &Principal) -> Result<Viewer, MeshError> {
        let grants = self.catalog.grants_of(&principal.name).await?;
        let owned_domains = self
            .catalog
            .domains()
            .await?
            .into_iter()
            .filter(|d| d.owner == principal.name)
            .map(|d| d.name)
            .collect();
        Ok(Viewer {
            principal: principal.clone(),
            grants,
            owned_domains,
        })
    }
}

/// How a Postgres login proves its token (see [`Mesh::pg_login`]).
#[derive(Debug, Clone)]
pub enum PgLogin {
    Scram(ScramVerifier),
    Cleartext,
}

/// The principal of `record` for the CLI, the HTTP API and the Postgres interface: not a
/// share's recipient, whose token opens its share only, through the sharing protocol.
fn usable(record: PrincipalRecord) -> Result<Principal, MeshError> {
    let why = match record.kind {
        PrincipalKind::User => return unexpired(record),
        PrincipalKind::Recipient => {
            "is a share's recipient: its token opens the share through a Delta Sharing client, nothing else"
        }
        PrincipalKind::Edge => {
            "is an edge agent: it writes only the batches it signs with its key, through `agora-edge`"
        }
    };
    Err(MeshError::InactivePrincipal {
        principal: record.name.to_string(),
        why: why.into(),
    })
}

/// The principal of `record`, unless it is disabled or its token expired.
pub(crate) fn unexpired(record: PrincipalRecord) -> Result<Principal, MeshError> {
    if let Some(expires) = &record.token_expires_at
        && expires.as_str() <= crate::now().as_str()
    {
        let rotate = match record.kind {
            agora_catalog::PrincipalKind::User => "agora principal rotate-token",
            agora_catalog::PrincipalKind::Recipient => "agora share rotate-token",
            agora_catalog::PrincipalKind::Edge => "agora principal rotate-token",
        };
        return Err(MeshError::InactivePrincipal {
            principal: record.name.to_string(),
            why: format!(
                "has a token that expired at {expires}: an administrator gives it a new one with `{rotate}`"
            ),
        });
    }
    active(record)
}

/// The principal of `record`, unless it is disabled.
pub(crate) fn active(record: PrincipalRecord) -> Result<Principal, MeshError> {
    if record.disabled {
        return Err(MeshError::InactivePrincipal {
            principal: record.name.to_string(),
            why: "is disabled: an administrator enables it with `agora principal enable`".into(),
        });
    }
    Ok(principal_of(record))
}

pub(crate) fn principal_of(record: PrincipalRecord) -> Principal {
    Principal {
        name: record.name,
        is_admin: record.is_admin,
        // The administrator reads everything, whatever an old catalog row says.
        clearance: if record.is_admin {
            Sensitivity::Restricted
        } else {
            record.clearance
        },
        attributes: record.attributes,
    }
}

pub(crate) fn require_admin(actor: &Principal, action: &str) -> Result<(), MeshError> {
    if actor.is_admin {
        Ok(())
    } else {
        Err(MeshError::Denied {
            principal: actor.name.to_string(),
            action: action.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
