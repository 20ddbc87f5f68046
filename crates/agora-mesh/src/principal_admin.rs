//! Principals over their life, by the administrator: create, rotate the token, change the
//! clearance and attributes, disable, enable, delete, list. Each is one catalog change with its
//! ledger entry (`changes.rs`); authentication checks the result on every request and every
//! Postgres statement, so a rotated token or a disabled principal stops at once.

use std::collections::BTreeMap;

use agora_catalog::{Change, PrincipalKind, PrincipalRecord};
use agora_model::{Name, Principal, Sensitivity};
use serde::Serialize;
use serde_json::json;

use crate::principals::{new_token, require_admin, token_hash};
use crate::recorder::Event;
use crate::scram::ScramVerifier;
use crate::{Mesh, MeshError};

/// What `agora principal list` shows of a principal (never its token or its hash).
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalSummary {
    pub name: String,
    pub is_admin: bool,
    pub clearance: Sensitivity,
    pub attributes: BTreeMap<String, String>,
    pub disabled: bool,
    pub token_expires_at: Option<String>,
    pub created_at: String,
}

/// How long a token lives: a whole number of days (`90d`), hours (`12h`) or minutes (`30m`);
/// `source` names where it was given (`--expires`, a request's `expires`) in the error.
pub fn parse_lifetime(source: &str, text: &str) -> Result<chrono::Duration, MeshError> {
    let bad = || MeshError::BadInput {
        source_name: source.into(),
        message: format!(
            "`{text}` is not a lifetime: write a whole number with d, h or m (90d, 12h, 30m)"
        ),
    };
    let text = text.trim();
    let Some((last, _)) = text.char_indices().last() else {
        return Err(bad());
    };
    let (number, unit) = text.split_at(last);
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n <= 0 || n > 36_500 * 24 * 60 {
        return Err(bad());
    }
    match unit {
        "d" => Ok(chrono::Duration::days(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        _ => Err(bad()),
    }
    .and_then(|d| {
        if d > chrono::Duration::days(36_500) {
            Err(bad())
        } else {
            Ok(d)
        }
    })
}

/// When a token given now with `lifetime` expires, if it does.
pub(crate) fn expiry(lifetime: Option<chrono::Duration>) -> Option<String> {
    lifetime.map(|d| (chrono::Utc::now() + d).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// A new enabled principal of `kind` with a fresh token (returned beside it, to be shown once).
pub(crate) fn new_principal(
    name: &Name,
    kind: PrincipalKind,
    clearance: Sensitivity,
    attributes: &BTreeMap<String, String>,
    lifetime: Option<chrono::Duration>,
) -> (PrincipalRecord, String) {
    let token = new_token();
    let record = PrincipalRecord {
        name: name.clone(),
        token_hash: token_hash(&token),
        is_admin: false,
        clearance,
        attributes: attributes.clone(),
        created_at: crate::now(),
        disabled: false,
        token_expires_at: expiry(lifetime),
        scram_verifier: Some(ScramVerifier::for_token(&token).to_string()),
        kind,
    };
    (record, token)
}

impl Mesh {
    /// Creates a principal with a clearance and attributes (which the global policy must
    /// declare), and a token that expires after `lifetime` if given; returns the token: the
    /// only time it is shown.
    pub async fn create_principal(
        &self,
        actor: &Principal,
        name: &str,
        clearance: Sensitivity,
        attributes: BTreeMap<String, String>,
        lifetime: Option<chrono::Duration>,
    ) -> Result<String, MeshError> {
        require_admin(actor, "create principals")?;
        let name = Name::strict("principal", name)?;
        self.policy_set()
            .await?
            .check_principal_attributes(&attributes)?;
        let (record, token) =
            new_principal(&name, PrincipalKind::User, clearance, &attributes, lifetime);
        let event = Event::by_admin(
            "principal.created",
            json!({
                "principal": name.as_str(),
                "clearance": clearance.as_str(),
                "attributes": attributes,
                "token_expires_at": record.token_expires_at,
            }),
        );
        self.change(vec![Change::CreatePrincipal(record)], vec![event])
            .await?;
        Ok(token)
    }

    /// Gives a principal a new token (the old one stops working at once); returns it.
    pub async fn rotate_token(
        &self,
        actor: &Principal,
        name: &str,
        lifetime: Option<chrono::Duration>,
    ) -> Result<String, MeshError> {
        require_admin(actor, "rotate tokens")?;
        let mut record = self.principal_record(name).await?;
        let token = new_token();
        record.token_hash = token_hash(&token);
        record.scram_verifier = Some(ScramVerifier::for_token(&token).to_string());
        record.token_expires_at = expiry(lifetime);
        let event = Event::by_admin(
            "principal.token_rotated",
            json!({
                "principal": record.name.as_str(),
                "token_expires_at": record.token_expires_at,
            }),
        );
        self.change(vec![Change::UpdatePrincipal(record)], vec![event])
            .await?;
        Ok(token)
    }

    /// Disables (`enabled: false`) or enables a principal. A disabled principal keeps its
    /// grants, and acts for nothing until enabled.
    pub async fn set_principal_enabled(
        &self,
        actor: &Principal,
        name: &str,
        enabled: bool,
    ) -> Result<(), MeshError> {
        require_admin(actor, "disable or enable principals")?;
        let mut record = self.principal_record(name).await?;
        if record.disabled != enabled {
            let state = if enabled { "enabled" } else { "disabled" };
            return Err(MeshError::Conflict(format!(
                "principal {} is already {state}",
                record.name
            )));
        }
        record.disabled = !enabled;
        let kind = if enabled {
            "principal.enabled"
        } else {
            "principal.disabled"
        };
        let event = Event::by_admin(kind, json!({ "principal": record.name.as_str() }));
        self.change(vec![Change::UpdatePrincipal(record)], vec![event])
            .await?;
        Ok(())
    }

    /// Changes a principal's clearance and attributes: `attributes` are set (an empty value
    /// removes the attribute), the others kept.
    pub async fn update_principal(
        &self,
        actor: &Principal,
        name: &str,
        clearance: Option<Sensitivity>,
        attributes: BTreeMap<String, String>,
    ) -> Result<(), MeshError> {
        require_admin(actor, "change principals")?;
        let mut record = self.principal_record(name).await?;
        if let Some(c) = clearance {
            record.clearance = c;
        }
        for (k, v) in attributes {
            if v.is_empty() {
                record.attributes.remove(&k);
            } else {
                record.attributes.insert(k, v);
            }
        }
        self.policy_set()
            .await?
            .check_principal_attributes(&record.attributes)?;
        let event = Event::by_admin(
            "principal.updated",
            json!({
                "principal": record.name.as_str(),
                "clearance": record.clearance.as_str(),
                "attributes": record.attributes,
            }),
        );
        self.change(vec![Change::UpdatePrincipal(record)], vec![event])
            .await?;
        Ok(())
    }

    /// Deletes a principal and its grants. One that owns a domain is refused: give the domain
    /// another owner first.
    pub async fn delete_principal(&self, actor: &Principal, name: &str) -> Result<(), MeshError> {
        require_admin(actor, "delete principals")?;
        let record = self.principal_record(name).await?;
        let owned: Vec<String> = self
            .catalog
            .domains()
            .await?
            .into_iter()
            .filter(|d| d.owner == record.name)
            .map(|d| d.name.to_string())
            .collect();
        if !owned.is_empty() {
            return Err(MeshError::Conflict(format!(
                "principal {} owns domain {}: it cannot be deleted while it does (disable it instead)",
                record.name,
                owned.join(", ")
            )));
        }
        let revoked = self.catalog.grants_of(&record.name).await?.len();
        let event = Event::by_admin(
            "principal.deleted",
            json!({ "principal": record.name.as_str(), "grants_removed": revoked }),
        );
        self.change(vec![Change::DeletePrincipal(record.name)], vec![event])
            .await?;
        Ok(())
    }

    /// Every principal, the administrator included. Administrators only.
    pub async fn list_principals(
        &self,
        actor: &Principal,
    ) -> Result<Vec<PrincipalSummary>, MeshError> {
        require_admin(actor, "list principals")?;
        Ok(self
            .catalog
            .principals()
            .await?
            .into_iter()
            .map(|p| PrincipalSummary {
                name: p.name.to_string(),
                is_admin: p.is_admin,
                clearance: p.clearance,
                attributes: p.attributes,
                disabled: p.disabled,
                token_expires_at: p.token_expires_at,
                created_at: p.created_at,
            })
            .collect())
    }

    /// A principal's catalog row, enabled or not (the administrator's own row is not for
    /// these operations).
    async fn principal_record(&self, name: &str) -> Result<PrincipalRecord, MeshError> {
        let name = Name::strict("principal", name)?;
        match self.catalog.principal(&name).await? {
            Some(r) if r.is_admin => Err(MeshError::BadInput {
                source_name: "principal".into(),
                message: format!(
                    "{name} is the administrator, whose token `agora init` made and the local CLI does not need"
                ),
            }),
            Some(r) => Ok(r),
            None => Err(MeshError::NotFound {
                what: "principal",
                name: name.to_string(),
                hint: ": create it with `agora principal create`".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_in_days_hours_and_minutes() {
        assert_eq!(
            parse_lifetime("--expires", "90d").unwrap(),
            chrono::Duration::days(90)
        );
        assert_eq!(
            parse_lifetime("--expires", "12h").unwrap(),
            chrono::Duration::hours(12)
        );
        assert_eq!(
            parse_lifetime("--expires", "30m").unwrap(),
            chrono::Duration::minutes(30)
        );
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "90",
            "1w",
            "1.5d",
            "99999999999d",
            "~Â",
            "9é",
        ] {
            let err = parse_lifetime("--expires", bad).unwrap_err().to_string();
            assert!(err.contains("--expires"), "{bad}: {err}");
        }
    }
}
