//! Domains and grants.

use agora_catalog::{DomainRecord, SearchHit};
use agora_model::{Access, Grant, GrantTarget, Name, Principal};

use crate::auth::require_admin;
use crate::ledger::Event;
use crate::{Mesh, MeshError};

impl Mesh {
    pub async fn create_domain(
        &self,
        actor: &Principal,
        name: &str,
        owner: &str,
        description: &str,
    ) -> Result<DomainRecord, MeshError> {
        require_admin(actor, "create domains")?;
        let owner = self.principal(owner).await?;
        let record = DomainRecord {
            name: Name::strict("domain", name)?,
            owner: owner.name,
            description: description.to_string(),
            created_at: crate::now(),
        };
        self.catalog.create_domain(&record).await?;
        self.record_domain(
            &record.name,
            serde_json::json!({
                "domain": record.name.as_str(),
                "owner": record.owner.as_str(),
                "description": record.description,
            }),
        )
        .await?;
        Ok(record)
    }

    pub async fn domains(&self) -> Result<Vec<DomainRecord>, MeshError> {
        Ok(self.catalog.domains().await?)
    }

    pub(crate) async fn domain(&self, name: &Name) -> Result<DomainRecord, MeshError> {
        self.catalog
            .domain(name)
            .await?
            .ok_or_else(|| MeshError::NotFound {
                what: "domain",
                name: name.to_string(),
                hint: ": create it with `agora domain create`".into(),
            })
    }

    /// Whether `actor` administers `domain`: the mesh administrator or the domain's owner.
    pub(crate) async fn require_owner(
        &self,
        actor: &Principal,
        domain: &Name,
        action: &str,
    ) -> Result<(), MeshError> {
        let d = self.domain(domain).await?;
        if actor.is_admin || d.owner == actor.name {
            Ok(())
        } else {
            Err(MeshError::Denied {
                principal: actor.name.to_string(),
                action: format!("{action} in domain {domain} (owner: {})", d.owner),
            })
        }
    }

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
        let grantee = self.principal(principal).await?;
        let access = Access::parse(access)?;
        let target = self.grant_target(target).await?;
        self.require_owner(actor, target.domain(), "grant access")
            .await?;
        let grant = Grant {
            principal: grantee.name,
            access,
            target,
        };
        if revoke {
            if !self.catalog.remove_grant(&grant).await? {
                return Err(MeshError::not_found(
                    "grant",
                    format!("{} {} on {}", grant.principal, grant.access, grant.target),
                ));
            }
        } else {
            self.catalog.put_grant(&grant).await?;
        }
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
        // The domain signs what its owner does; the administrator signs for itself.
        let event = if actor.is_admin {
            Event::by_admin(kind, body)
        } else {
            Event::by_domain(kind, grant.target.domain(), body)
        };
        self.record(vec![event]).await?;
        Ok(grant)
    }

    pub async fn grants_of(&self, principal: &str) -> Result<Vec<Grant>, MeshError> {
        let p = self.principal(principal).await?;
        Ok(self.catalog.grants_of(&p.name).await?)
    }

    /// Products ranked by how well they match `query`.
    pub async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, MeshError> {
        Ok(self.catalog.search(query, limit).await?)
    }
}
