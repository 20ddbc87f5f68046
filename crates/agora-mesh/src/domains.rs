//! Domains: who owns which part of the mesh.

use agora_catalog::{Change, DomainRecord};
use agora_model::{Name, Principal};

use crate::principals::require_admin;
use crate::recorder::Event;
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
        // One creation at a time: a second creation of the same name must find the first in the
        // catalog before it could replace its signing key.
        let _lock = crate::changes::lock(&self.dir.join(".domains.lock"))?;
        if self.catalog.domain(&record.name).await?.is_some() {
            return Err(agora_catalog::CatalogError::AlreadyExists {
                what: "domain",
                name: record.name.to_string(),
            }
            .into());
        }
        self.recorder.create_domain_key(&record.name)?;
        let mut event = Event::by_admin(
            "domain.created",
            serde_json::json!({
                "domain": record.name.as_str(),
                "owner": record.owner.as_str(),
                "description": record.description,
            }),
        );
        event.registers_key_of = Some(record.name.to_string());
        self.change(vec![Change::CreateDomain(record.clone())], vec![event])
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
}
