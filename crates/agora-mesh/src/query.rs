//! Governed SQL with an audit trail: every session the mesh opens records each statement that
//! reads mesh tables, or that the grant check refuses, as a `query.run` entry in the ledger —
//! who, through which interface, what SQL, which tables and columns (from the optimised plan),
//! or why it was refused — before any row is returned.

use std::sync::Arc;

use agora_catalog::{Catalog, Change, QueryText};
use agora_model::{Access, Name, Principal, TableRef};
use agora_policy::{Action, TableGovernance};
use agora_query::{
    GovernedSession, Interface, MeshTable, QueryAudit, QueryError, QueryLimits, QueryRecord,
    SessionOptions, sql_shape,
};
use agora_storage::{QUARANTINE_REASON, TableKind};
use async_trait::async_trait;
use datafusion::prelude::DataFrame;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::recorder::{Event, Recorder};
use crate::{Mesh, MeshError};

/// How much of a query's shape the audit entry keeps (its keyed hash covers all of the text).
const SHAPE_KEPT: usize = 4096;

fn kept(sql: &str) -> &str {
    match sql.char_indices().nth(SHAPE_KEPT) {
        Some((i, _)) => &sql[..i],
        None => sql,
    }
}

/// The mesh's query audit: `query.run` entries, signed by the administrator (the mesh itself
/// observed the query). Every principal of the mesh may read the ledger, so an entry carries
/// who, through which interface, which tables and columns, what was masked or refused, the
/// statement's shape (its literals replaced by `?`) and an HMAC of its exact text under the
/// mesh's audit key; the exact text goes to the catalog, where only the administrator reads it
/// (`agora ledger show`), checked against that HMAC.
pub(crate) struct LedgerAudit {
    pub recorder: Arc<Recorder>,
    pub catalog: Arc<dyn Catalog>,
    pub key: [u8; 32],
}

impl std::fmt::Debug for LedgerAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerAudit")
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

/// The keyed hash of a query's exact text.
pub(crate) fn sql_hmac(key: &[u8; 32], sql: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("INVARIANT: HMAC takes any key");
    mac.update(sql.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[async_trait]
impl QueryAudit for LedgerAudit {
    async fn record(&self, r: QueryRecord) -> Result<(), QueryError> {
        let failed = |e: MeshError| QueryError::Audit(e.to_string());
        let hmac = sql_hmac(&self.key, &r.sql);
        // The text first: a text without its entry records nothing, an entry without its text
        // would leave the administrator unable to read what ran.
        if self
            .catalog
            .query_text(&hmac)
            .await
            .map_err(|e| failed(e.into()))?
            .is_none()
        {
            let text = QueryText {
                sql_hmac: hmac.clone(),
                sql: r.sql.clone(),
                principal: Name::strict("principal", &r.principal).map_err(|e| failed(e.into()))?,
                first_seen: crate::now(),
            };
            self.catalog
                .apply(&[Change::PutQueryText(text)], None)
                .await
                .map_err(|e| failed(e.into()))?;
        }
        let body = json!({
            "principal": r.principal,
            "interface": r.interface.as_str(),
            "sql_shape": sql_shape(&r.sql).map(|s| kept(&s).to_string()),
            "sql_hmac": hmac,
            "as_of_version": r.as_of,
            "reads": r.reads,
            "masked_columns": r.masked_columns,
            "denied": r.denied,
            "refused": r.error.is_some(),
        });
        self.recorder
            .record(vec![Event::by_admin("query.run", body)], None)
            .await
            .map(|_| ())
            .map_err(failed)
    }
}

impl Mesh {
    /// A read-only, audited SQL session for `principal`, who came through `interface`.
    pub async fn session(
        &self,
        principal: &Principal,
        interface: Interface,
        options: SessionOptions,
    ) -> Result<GovernedSession, MeshError> {
        let viewer = self.viewer(principal).await?;
        self.session_of(viewer, interface, options).await
    }

    /// A read-only, audited SQL session for what `viewer` may read: [`Mesh::session`] for a
    /// principal's grants, or a share's tables for its recipient (`share_reads.rs`).
    pub(crate) async fn session_of(
        &self,
        viewer: agora_query::Viewer,
        interface: Interface,
        mut options: SessionOptions,
    ) -> Result<GovernedSession, MeshError> {
        if options.limits == QueryLimits::default() {
            options.limits = self.query_limits;
        }
        let tables = self.mesh_tables(&viewer, options.as_of.is_some()).await?;
        if let Some(domain) = &options.default_schema {
            self.domain(domain).await?;
        }
        let audit = Arc::new(LedgerAudit {
            recorder: self.recorder.clone(),
            catalog: self.catalog.clone(),
            key: self.audit_key,
        });
        Ok(GovernedSession::new(
            self.store.clone(),
            viewer,
            tables,
            options,
            self.masks.clone(),
            interface,
            audit,
        )?)
    }

    /// The exact text of the query a `query.run` entry records (administrator only): the
    /// catalog's copy, checked against the entry's keyed hash.
    pub async fn query_text(
        &self,
        actor: &Principal,
        entry: &agora_ledger::SignedEntry,
    ) -> Result<Option<String>, MeshError> {
        crate::principals::require_admin(actor, "read the exact text of audited queries")?;
        let Some(hmac) = entry.entry.body["sql_hmac"].as_str() else {
            return Ok(None);
        };
        let Some(text) = self.catalog.query_text(hmac).await? else {
            return Ok(None);
        };
        if sql_hmac(&self.audit_key, &text.sql) != hmac {
            return Err(MeshError::LedgerAudit(format!(
                "the catalog's text for query hash {hmac} does not match it"
            )));
        }
        Ok(Some(text.sql))
    }

    /// Plans `sql` for `principal` in a new session and records it.
    pub async fn query(
        &self,
        principal: &Principal,
        interface: Interface,
        options: SessionOptions,
        sql: &str,
    ) -> Result<DataFrame, MeshError> {
        let session = self.session(principal, interface, options).await?;
        Ok(session.sql(sql).await?)
    }

    /// Every table of the mesh, with what `viewer` may see of it: masks decided on the
    /// labels, or for a read of old versions (`time_travel`) on the labels that protected
    /// each column most; and no `hash` tokens of a domain the viewer may write to, since a
    /// writer could ingest guesses and match their tokens.
    pub(crate) async fn mesh_tables(
        &self,
        viewer: &agora_query::Viewer,
        time_travel: bool,
    ) -> Result<Vec<MeshTable>, MeshError> {
        let reader = &viewer.principal;
        let products = self.catalog.products().await?;
        // The administrator sees everything as it is: no need to read policies and labels.
        let (policies, labels) = if reader.is_admin {
            (Default::default(), Default::default())
        } else {
            let labels = self.labels(&products).await?;
            let labels = if time_travel {
                self.labels_of_every_version(labels).await?
            } else {
                labels
            };
            (self.policy_set().await?, labels)
        };
        let writes = |domain: &Name| {
            products.iter().any(|p| {
                &p.domain == domain
                    && p.tables
                        .iter()
                        .any(|t| viewer.may(Access::Write, &p.domain, &p.name, t))
            })
        };
        let mut tables = Vec::new();
        for p in &products {
            let tokens = !writes(&p.domain);
            for t in &p.tables {
                let table = TableRef {
                    domain: p.domain.clone(),
                    table: t.clone(),
                };
                let governance =
                    policies.table_governance(reader, &table, labels.get(&table), tokens);
                // A quarantine and the quality results have no versions of the product's: time
                // travel leaves them out.
                if !time_travel {
                    let fixes_it = viewer.may(Access::Write, &p.domain, &p.name, t);
                    tables.push(MeshTable {
                        governance: quarantine_governance(&governance, fixes_it),
                        table: table.clone(),
                        product: p.name.clone(),
                        kind: TableKind::Quarantine,
                    });
                    // Results and metrics describe whole batches (counts, and for metrics the
                    // values' bounds and quantiles): for the table's owners and writers, and for
                    // readers who see the table as it is, not for one it is masked or
                    // filtered for.
                    if fixes_it || governance.is_open() {
                        for kind in [TableKind::Quality, TableKind::Metrics, TableKind::Events] {
                            tables.push(MeshTable {
                                governance: TableGovernance::default(),
                                table: table.clone(),
                                product: p.name.clone(),
                                kind,
                            });
                        }
                    }
                }
                tables.push(MeshTable {
                    governance,
                    table,
                    product: p.name.clone(),
                    kind: TableKind::Product,
                });
            }
        }
        Ok(tables)
    }
}

/// How a reader sees a table's quarantine. Its owners and writers, whose work is to fix the
/// rows, see them as they came. Any other reader sees it as the table itself (same masks, same
/// row filter, over the values as text), and without the reasons if any column is masked,
/// since a reason quotes the value that failed (`` `email`: `x@y` is not one of … ``).
fn quarantine_governance(table: &TableGovernance, fixes_it: bool) -> TableGovernance {
    if fixes_it {
        return TableGovernance::default();
    }
    let mut quarantine = table.clone();
    if let Some((_, (category, _))) = table.masked.iter().next() {
        quarantine.masked.insert(
            QUARANTINE_REASON.to_string(),
            (
                *category,
                Action::Redact {
                    marker: Some("(hidden: the reason may quote masked values)".to_string()),
                },
            ),
        );
    }
    quarantine
}
