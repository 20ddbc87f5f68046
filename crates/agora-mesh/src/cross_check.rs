//! The mesh checked against its ledger (`agora ledger verify`): every change in the catalog and
//! every data version in Delta Lake has its signed entry, and every entry its change. The
//! ledger's own audit (`agora_ledger::audit`) proves the log is intact; this proves it is
//! complete.

use std::collections::{BTreeMap, BTreeSet};

use agora_ledger::SignedEntry;
use agora_model::TableRef;
use agora_storage::TableKind;
use serde_json::Value;

use crate::{Mesh, MeshError};

/// What the ledger's entries say happened, by kind.
#[derive(Default)]
struct Recorded {
    domains: BTreeSet<String>,
    principals: BTreeSet<String>,
    /// `principal access target`, as grants and revocations left them.
    grants: BTreeSet<String>,
    /// `domain.product` → the SHA-256 of the last contract applied.
    contracts: BTreeMap<String, String>,
    /// Scope → the SHA-256 of the last policy applied.
    policies: BTreeMap<String, String>,
    /// Ingest ids, and `table@version` of every ingest that committed rows.
    ingests: BTreeSet<String>,
    versions: BTreeSet<String>,
    /// `table@version` of every other recorded change of a product table's rows: deletes,
    /// erasures, compactions, contract rewrites (each entry's `versions`).
    rewrites: BTreeSet<String>,
}

fn text(body: &Value, field: &str) -> String {
    body[field].as_str().unwrap_or_default().to_string()
}

impl Recorded {
    fn from_entries(entries: &[SignedEntry]) -> Self {
        let mut r = Recorded::default();
        for e in entries {
            let body = &e.entry.body;
            for v in body["versions"].as_array().into_iter().flatten() {
                if v["kind"].as_str().unwrap_or("product") == "product"
                    && let Some(version) = v["version"].as_u64()
                {
                    r.rewrites.insert(format!("{}@{version}", text(v, "table")));
                }
            }
            match e.entry.kind.as_str() {
                "domain.created" => {
                    r.domains.insert(text(body, "domain"));
                }
                "principal.created" => {
                    r.principals.insert(text(body, "principal"));
                }
                "principal.deleted" => {
                    let name = text(body, "principal");
                    let prefix = format!("{name} ");
                    r.grants.retain(|g| !g.starts_with(&prefix));
                    r.principals.remove(&name);
                }
                "grant.added" | "grant.revoked" => {
                    let grant = format!(
                        "{} {} {}",
                        text(body, "principal"),
                        text(body, "access"),
                        text(body, "target")
                    );
                    if e.entry.kind == "grant.added" {
                        r.grants.insert(grant);
                    } else {
                        r.grants.remove(&grant);
                    }
                }
                "contract.applied" => {
                    r.contracts
                        .insert(text(body, "product"), text(body, "contract_sha256"));
                }
                "policy.applied" => {
                    r.policies
                        .insert(text(body, "scope"), text(body, "document_sha256"));
                }
                "ingest.committed" => {
                    r.ingests.insert(text(body, "ingest_id"));
                    if body["rows_accepted"].as_u64().unwrap_or(0) > 0
                        && let Some(v) = body["table_version"].as_u64()
                    {
                        r.versions.insert(format!("{}@{v}", text(body, "table")));
                    }
                }
                _ => {}
            }
        }
        r
    }
}

fn sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Mesh {
    /// Every disagreement between the catalog, the Delta tables and the ledger, one line each
    /// (none when the mesh is complete).
    pub async fn cross_check(&self) -> Result<Vec<String>, MeshError> {
        let mut problems: Vec<String> = self
            .unfinished_changes()
            .await?
            .into_iter()
            .map(|c| format!("a change is not recorded yet: {c}"))
            .collect();
        let log = self.log();
        let size = log.size()?;
        let recorded = Recorded::from_entries(&log.entries(0, size, size)?);
        let mut missing = |what: String| problems.push(what);

        let domains: BTreeSet<String> = self
            .catalog
            .domains()
            .await?
            .iter()
            .map(|d| d.name.to_string())
            .collect();
        for d in domains.symmetric_difference(&recorded.domains) {
            missing(match domains.contains(d) {
                true => format!("domain {d} has no domain.created entry"),
                false => format!("the ledger records domain {d}, the catalog has none"),
            });
        }
        let principals: BTreeSet<String> = self
            .catalog
            .principals()
            .await?
            .iter()
            .filter(|p| !p.is_admin)
            .map(|p| p.name.to_string())
            .collect();
        for p in principals.symmetric_difference(&recorded.principals) {
            missing(match principals.contains(p) {
                true => format!("principal {p} has no principal.created entry"),
                false => format!("the ledger records principal {p}, the catalog has none"),
            });
        }
        let grants: BTreeSet<String> = self
            .catalog
            .grants()
            .await?
            .iter()
            .map(|g| format!("{} {} {}", g.principal, g.access, g.target))
            .collect();
        for g in grants.symmetric_difference(&recorded.grants) {
            missing(match grants.contains(g) {
                true => format!("grant `{g}` is not what the ledger's grant entries leave"),
                false => format!("the ledger's grant entries leave `{g}`, the catalog has none"),
            });
        }
        let products = self.catalog.products().await?;
        for p in &products {
            let id = format!("{}.{}", p.domain, p.name);
            if recorded.contracts.get(&id) != Some(&sha256(&p.contract_yaml)) {
                missing(format!(
                    "product {id}: its contract is not the last one the ledger records"
                ));
            }
        }
        for p in self.catalog.policies().await? {
            let scope = p
                .domain
                .as_ref()
                .map_or("global".to_string(), ToString::to_string);
            if recorded.policies.get(&scope) != Some(&sha256(&p.document)) {
                missing(format!(
                    "the {scope} policy is not the last one the ledger records"
                ));
            }
        }
        let mut versions = BTreeSet::new();
        for i in self.catalog.all_ingests().await? {
            let table = format!("{}.{}", i.domain, i.table);
            let legacy = i.ingest_id.starts_with("before-0003-");
            if i.rows_accepted > 0 {
                versions.insert(format!("{table}@{}", i.table_version));
            }
            if !legacy && !recorded.ingests.contains(&i.ingest_id) {
                missing(format!(
                    "ingest {} into {table} has no ingest.committed entry",
                    i.ingest_id
                ));
            }
        }
        for v in recorded.versions.difference(&versions) {
            missing(format!(
                "the ledger records an ingest of {v}, the catalog has none"
            ));
        }
        for p in &products {
            for t in &p.tables {
                let table = TableRef {
                    domain: p.domain.clone(),
                    table: t.clone(),
                };
                for v in self.store.data_versions(&table, TableKind::Product).await? {
                    let id = format!("{table}@{v}");
                    if !recorded.versions.contains(&id) && !recorded.rewrites.contains(&id) {
                        missing(format!(
                            "Delta version {v} of {table} changed rows that no ledger entry records"
                        ));
                    }
                }
            }
        }
        Ok(problems)
    }
}
