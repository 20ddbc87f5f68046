//! Grants: who may read or write which product or table.

use agora_catalog::Change;
use agora_model::{Access, Grant, GrantTarget, Name, Principal};

use crate::recorder::Event;
use crate::{Mesh, MeshError};

impl Mesh {
    /// Resolves `domain.name` to a grant target: the product of that name, else the table.
    pub async fn grant_target(&self, target: &str) -> Result<GrantTarget, MeshError> {
        let (domain, name) = target.split_once('.').ok_or_else(|| {
            MeshError::bad_input(target, "expected `domain.product` or `domain.table`")
        })?;
        let domain = Name::strict("domain", domain)?;
        let name = Name::strict("product or table", name)?;
        self.domain(&domain).await?;
        if self.catalog.product(&domain, &name).await?.is_some() {
            return Ok(GrantTarget::Product {
                domain,
                product: name,
            });
        }
        let owner = self
            .catalog
            .products()
            .await?
            .into_iter()
            .find(|p| p.domain == domain && p.tables.contains(&name));
        match owner {
            Some(p) => Ok(GrantTarget::Table {
                domain,
                product: p.name,
                table: name,
            }),
            None => Err(MeshError::not_found("product or table", target)),
        }
    }

    /// Grants (or with `revoke`, removes) `access` on `target` to `principal`.
    pub async fn set_grant(
        &self,
        actor: &Principal,
        principal: &str,
        access: &str,
        target: &str,
        revoke: bool,
    ) -> Result<Grant, MeshError> {
        let grantee = self.known_principal(principal).await?;
        let access = Access::parse(access)?;
        let target = self.grant_target(target).await?;
        self.require_owner(actor, target.domain(), "grant access")
            .await?;
        let grant = Grant {
            principal: grantee.name,
            access,
            target,
        };
        let change = if revoke {
            Change::RemoveGrant(grant.clone())
        } else {
            Change::PutGrant(grant.clone())
        };
        let body = serde_json::json!({
            "principal": grant.principal.as_str(),
            "access": grant.access.as_str(),
            "target": grant.target.to_string(),
            "by": actor.name.as_str(),
        });
        let kind = if revoke {
            "grant.revoked"
        } else {
            "grant.added"
        };
        let event = Event::by(actor.is_admin, kind, grant.target.domain(), body);
        self.change(vec![change], vec![event]).await?;
        Ok(grant)
    }

    pub async fn grants_of(&self, principal: &str) -> Result<Vec<Grant>, MeshError> {
        let p = self.known_principal(principal).await?;
        Ok(self.catalog.grants_of(&p.name).await?)
    }

    /// Grants, of one principal and on one product (`domain.product`) if given: all of them for
    /// the administrator; for anyone else, its own and those on the domains it owns.
    pub async fn list_grants(
        &self,
        actor: &Principal,
        principal: Option<&str>,
        product: Option<&str>,
    ) -> Result<Vec<Grant>, MeshError> {
        let principal = match principal {
            Some(p) => Some(self.known_principal(p).await?.name),
            None => None,
        };
        let product = match product {
            Some(p) => {
                let record = self.product(p).await?;
                Some((record.domain, record.name))
            }
            None => None,
        };
        let owned = self.viewer(actor).await?.owned_domains;
        Ok(self
            .catalog
            .grants()
            .await?
            .into_iter()
            .filter(|g| principal.as_ref().is_none_or(|p| &g.principal == p))
            .filter(|g| {
                product
                    .as_ref()
                    .is_none_or(|(d, n)| g.target.domain() == d && g.target.product() == n)
            })
            .filter(|g| {
                actor.is_admin || g.principal == actor.name || owned.contains(g.target.domain())
            })
            .collect())
    }
}
