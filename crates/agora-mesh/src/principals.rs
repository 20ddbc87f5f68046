//! API tokens and who a request acts as.
//!
//! Tokens are 256 random bits, shown once. The catalog keeps only their SHA-256: for secrets
//! of this entropy a slow password hash (argon2) adds no protection against guessing, and a
//! fast hash lets every HTTP request and Postgres login look the token up by its hash.

use std::collections::BTreeMap;

use agora_catalog::{Change, PrincipalRecord};
use agora_model::{ADMIN, Name, Principal, Sensitivity};
use agora_query::Viewer;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::recorder::Event;
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

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Mesh {
    /// Creates a principal with a clearance and attributes (which the global policy must
    /// declare) and returns its API token: the only time the token is shown.
    pub async fn create_principal(
        &self,
        actor: &Principal,
        name: &str,
        clearance: Sensitivity,
        attributes: BTreeMap<String, String>,
    ) -> Result<String, MeshError> {
        require_admin(actor, "create principals")?;
        let name = Name::strict("principal", name)?;
        self.policy_set()
            .await?
            .check_principal_attributes(&attributes)?;
        let token = new_token();
        let record = PrincipalRecord {
            name: name.clone(),
            token_hash: token_hash(&token),
            is_admin: false,
            clearance,
            attributes: attributes.clone(),
            created_at: crate::now(),
        };
        let event = Event::by_admin(
            "principal.created",
            serde_json::json!({
                "principal": name.as_str(),
                "clearance": clearance.as_str(),
                "attributes": attributes,
            }),
        );
        self.change(vec![Change::CreatePrincipal(record)], vec![event])
            .await?;
        Ok(token)
    }

    /// The principal a token belongs to.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, MeshError> {
        let record = self
            .catalog
            .principal_by_token_hash(&token_hash(token.trim()))
            .await?
            .ok_or(MeshError::BadToken)?;
        Ok(principal_of(record))
    }

    /// The principal named `name`, for the local CLI's `--as`.
    pub async fn principal(&self, name: &str) -> Result<Principal, MeshError> {
        if name == ADMIN {
            return Ok(Principal::admin());
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
        Ok(principal_of(record))
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

fn principal_of(record: PrincipalRecord) -> Principal {
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
