//! Edge agents at the node: their registration, the contract they validate against, and the
//! batches they send, each committed exactly once.
//!
//! An agent is a principal of kind edge whose token is never shown: it proves each request
//! with an Ed25519 signature over [`agora_model::edge_batch`]'s messages, by the key whose
//! public half `agora edge register` recorded. It writes what its grants allow, like any
//! writer, and only in its own domain. A batch's id is its idempotency key (`edge/<agent>/<id>`
//! in the ingest record, which commits with the Delta commit through the pending-ingest
//! recovery of `ingest_recovery.rs`, under the keyed-ingest lock of `ingest.rs`): an agent that
//! retries after a crash, a cut or a node restart, even while its first attempt is still being
//! committed, gets the first commit's answer back instead of a second commit.

use std::collections::BTreeMap;

use agora_catalog::{Change, EdgeAgentRecord, PrincipalKind};
use agora_model::edge_batch::{batch_message, contract_message};
use agora_model::{Name, Principal, Sensitivity, TableRef};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::principal_admin::new_principal;
use crate::principals::active;
use crate::recorder::Event;
use crate::{IngestMode, IngestOptions, InputFormat, Mesh, MeshError, Source};

/// How far a contract request's signing time may be from the node's clock.
const CONTRACT_REQUEST_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// A registered agent, as `agora edge list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeAgent {
    pub name: String,
    pub domain: String,
    pub public_key: String,
    pub registered_by: String,
    pub registered_at: String,
}

impl From<EdgeAgentRecord> for EdgeAgent {
    fn from(r: EdgeAgentRecord) -> Self {
        EdgeAgent {
            name: r.name.to_string(),
            domain: r.domain.to_string(),
            public_key: r.public_key,
            registered_by: r.registered_by.to_string(),
            registered_at: r.registered_at,
        }
    }
}

/// The node's answer to a batch: its commit, or the commit of the first time it was sent.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeBatchReceipt {
    pub agent: String,
    pub batch: String,
    pub table: String,
    /// The table's version that holds the batch; none when a blocking rule sent the whole
    /// batch to the quarantine.
    pub version: Option<i64>,
    pub rows_accepted: i64,
    pub rows_quarantined: i64,
    /// True when the batch had been committed before: nothing was written this time.
    pub duplicate: bool,
}

/// What an agent works with: the product's contract and what it must redact on the device.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeContract {
    pub table: String,
    /// The product's contract, ODCS YAML.
    pub contract: String,
    /// The categories the policies in force (global and the domain's `edge.redact`) have agents
    /// redact before anything leaves the device.
    pub redact: Vec<String>,
    /// The table's columns already known to hold one of those categories (from the contract,
    /// the classifier's tags or an owner's override), with the category.
    pub redact_columns: BTreeMap<String, String>,
}

/// One batch as the agent sent it.
pub struct EdgeBatch {
    pub agent: String,
    pub table: String,
    pub batch: String,
    /// The signature header as sent (hex).
    pub signature: String,
    /// An Arrow IPC stream.
    pub body: bytes::Bytes,
}

fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, MeshError> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            MeshError::bad_input(
                "--public-key",
                "expected an Ed25519 public key: 64 hex digits, as `agora-edge keygen` prints",
            )
        })?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| MeshError::bad_input("--public-key", "not a valid Ed25519 public key"))
}

fn bad_signature(agent: &str) -> MeshError {
    MeshError::Denied {
        principal: agent.to_string(),
        action: "send this request: its signature does not verify with the agent's registered key"
            .into(),
    }
}

fn verify(
    key: &VerifyingKey,
    agent: &str,
    message: &str,
    signature: &str,
) -> Result<(), MeshError> {
    let bytes: [u8; 64] = hex::decode(signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad_signature(agent))?;
    key.verify_strict(message.as_bytes(), &Signature::from_bytes(&bytes))
        .map_err(|_| bad_signature(agent))
}

/// The idempotency key of an agent's batch in the ingest record.
fn batch_key(agent: &Name, batch: &str) -> String {
    format!("edge/{agent}/{batch}")
}

impl Mesh {
    /// Registers the edge agent `name` of `domain` with its public key: by the domain's owner
    /// or the administrator. The agent writes what grants give it afterwards.
    pub async fn register_edge_agent(
        &self,
        actor: &Principal,
        name: &str,
        domain: &str,
        public_key: &str,
    ) -> Result<EdgeAgent, MeshError> {
        let name = Name::strict("edge agent", name)?;
        let domain = Name::strict("domain", domain)?;
        self.require_owner(actor, &domain, "register edge agents")
            .await?;
        let key = parse_public_key(public_key)?;
        if self.catalog.principal(&name).await?.is_some() {
            return Err(MeshError::Conflict(format!(
                "a principal named {name} exists: an edge agent is a principal of its own, pick another name"
            )));
        }
        // The token is never shown: the agent authenticates with its signatures only.
        let (principal, _token) = new_principal(
            &name,
            PrincipalKind::Edge,
            Sensitivity::Internal,
            &BTreeMap::new(),
            None,
        );
        let record = EdgeAgentRecord {
            name: name.clone(),
            domain: domain.clone(),
            public_key: hex::encode(key.as_bytes()),
            registered_by: actor.name.clone(),
            registered_at: principal.created_at.clone(),
        };
        let event = Event::by(
            actor.is_admin,
            "edge.registered",
            &domain,
            json!({
                "agent": name.as_str(),
                "domain": domain.as_str(),
                "public_key": record.public_key,
                "by": actor.name.as_str(),
            }),
        );
        self.change(
            vec![
                Change::CreatePrincipal(principal),
                Change::RegisterEdgeAgent(record.clone()),
            ],
            vec![event],
        )
        .await?;
        Ok(record.into())
    }

    /// Every registered agent: all for the administrator, those of the domains it owns for
    /// anyone else.
    pub async fn edge_agents(&self, actor: &Principal) -> Result<Vec<EdgeAgent>, MeshError> {
        let viewer = self.viewer(actor).await?;
        Ok(self
            .catalog
            .edge_agents()
            .await?
            .into_iter()
            .filter(|a| actor.is_admin || viewer.owned_domains.contains(&a.domain))
            .map(EdgeAgent::from)
            .collect())
    }

    /// The agent `name`, its key and its principal, unless it is unknown or disabled.
    async fn edge_agent(&self, name: &str) -> Result<(EdgeAgentRecord, Principal), MeshError> {
        let unknown = || MeshError::not_found("edge agent", name);
        let name = Name::strict("edge agent", name).map_err(|_| unknown())?;
        let record = self.catalog.edge_agent(&name).await?.ok_or_else(unknown)?;
        let principal = self.catalog.principal(&name).await?.ok_or_else(unknown)?;
        Ok((record, active(principal)?))
    }

    /// The table `table` names, refused unless it is in the agent's domain.
    fn agent_table(agent: &EdgeAgentRecord, table: &str) -> Result<TableRef, MeshError> {
        let t = TableRef::parse(table)?;
        if t.domain != agent.domain {
            return Err(MeshError::Denied {
                principal: agent.name.to_string(),
                action: format!(
                    "write {t}: an edge agent writes only tables of its domain, {}",
                    agent.domain
                ),
            });
        }
        Ok(t)
    }

    /// The contract of the product holding `table` and what to redact, for the agent that
    /// signed the request at `signed_at` (RFC 3339, within five minutes of the node's clock).
    pub async fn edge_contract(
        &self,
        agent: &str,
        table: &str,
        signed_at: &str,
        signature: &str,
    ) -> Result<EdgeContract, MeshError> {
        let (record, _) = self.edge_agent(agent).await?;
        let key = parse_public_key(&record.public_key)?;
        verify(
            &key,
            agent,
            &contract_message(agent, table, signed_at),
            signature,
        )?;
        let at = chrono::DateTime::parse_from_rfc3339(signed_at).map_err(|e| {
            MeshError::bad_input("agora-signed-at", format!("not an RFC 3339 time: {e}"))
        })?;
        let skew = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).abs();
        if skew > CONTRACT_REQUEST_SKEW {
            return Err(MeshError::bad_input(
                "agora-signed-at",
                format!(
                    "signed at {signed_at}, more than five minutes from the node's clock: check the device's clock"
                ),
            ));
        }
        let t = Self::agent_table(&record, table)?;
        let (product, _) = self.product_of_table(&t).await?;
        let redact = self.policy_set().await?.edge_redactions(&t.domain);
        let redact_columns = self
            .column_labels(&t)
            .await?
            .into_iter()
            .filter(|l| redact.contains(&l.category))
            .map(|l| (l.column, l.category.as_str().to_string()))
            .collect();
        Ok(EdgeContract {
            table: t.to_string(),
            contract: product.contract_yaml,
            redact: redact.iter().map(|c| c.as_str().to_string()).collect(),
            redact_columns,
        })
    }

    /// Commits one signed batch of an agent, once: a batch whose id was committed before
    /// gets that commit's receipt back, marked duplicate.
    pub async fn commit_edge_batch(&self, batch: EdgeBatch) -> Result<EdgeBatchReceipt, MeshError> {
        let (record, principal) = self.edge_agent(&batch.agent).await?;
        let key = parse_public_key(&record.public_key)?;
        if batch.batch.is_empty()
            || batch.batch.len() > 200
            || !batch.batch.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(MeshError::bad_input(
                "idempotency-key",
                "a batch id is 1 to 200 visible ASCII characters",
            ));
        }
        let sha = hex::encode(Sha256::digest(&batch.body));
        let message = batch_message(&batch.agent, &batch.table, &batch.batch, &sha);
        verify(&key, &batch.agent, &message, &batch.signature)?;
        let table = Self::agent_table(&record, &batch.table)?;
        let idempotency_key = batch_key(&record.name, &batch.batch);
        let receipt = |version, rows_accepted, rows_quarantined, duplicate| EdgeBatchReceipt {
            agent: record.name.to_string(),
            batch: batch.batch.clone(),
            table: table.to_string(),
            version,
            rows_accepted,
            rows_quarantined,
            duplicate,
        };
        let earlier_receipt = |r: agora_catalog::IngestRecord| {
            receipt(
                Some(r.table_version),
                r.rows_accepted,
                r.rows_quarantined,
                true,
            )
        };
        let earlier = || async {
            self.catalog
                .earlier_ingest(&table, "", Some(&idempotency_key))
                .await
        };
        if let Some(e) = earlier().await? {
            return Ok(earlier_receipt(e));
        }
        let ingested = self
            .ingest(
                &principal,
                &table.to_string(),
                Source::Bytes {
                    name: format!("edge agent {} batch {}", record.name, batch.batch),
                    bytes: batch.body,
                },
                IngestOptions {
                    format: Some(InputFormat::ArrowIpc),
                    progress: None,
                    // Two batches may hold the same readings; the batch id tells them apart.
                    allow_duplicate: true,
                    idempotency_key: Some(idempotency_key.clone()),
                    mode: IngestMode::Append,
                },
            )
            .await;
        // A delivery of the batch that raced this one and committed first: its receipt.
        let report = match ingested {
            Err(MeshError::Conflict(why)) => match earlier().await? {
                Some(e) => return Ok(earlier_receipt(e)),
                None => return Err(MeshError::Conflict(why)),
            },
            other => other?,
        };
        Ok(receipt(
            report.version.map(|v| v as i64),
            report.rows_accepted as i64,
            report.rows_quarantined as i64,
            false,
        ))
    }
}
