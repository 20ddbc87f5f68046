//! Governed SQL with an audit trail: every session the mesh opens records each statement that
//! reads mesh tables, or that the grant check refuses, as a `query.run` entry in the ledger —
//! who, through which interface, what SQL, which tables and columns (from the optimised plan),
//! or why it was refused — before any row is returned.

use std::sync::Arc;

use agora_model::{Principal, TableRef};
use agora_query::{
    GovernedSession, Interface, MeshTable, QueryAudit, QueryError, QueryRecord, SessionOptions,
};
use async_trait::async_trait;
use datafusion::prelude::DataFrame;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::recorder::{Event, Recorder};
use crate::{Mesh, MeshError};

/// How much of a query's text the audit entry keeps (its SHA-256 covers all of it).
const SQL_KEPT: usize = 4096;

fn kept(sql: &str) -> &str {
    match sql.char_indices().nth(SQL_KEPT) {
        Some((i, _)) => &sql[..i],
        None => sql,
    }
}

/// The mesh's query audit: `query.run` entries, signed by the administrator (the mesh itself
/// observed the query).
#[derive(Debug)]
struct LedgerAudit {
    recorder: Arc<Recorder>,
}

#[async_trait]
impl QueryAudit for LedgerAudit {
    async fn record(&self, r: QueryRecord) -> Result<(), QueryError> {
        let body = json!({
            "principal": r.principal,
            "interface": r.interface.as_str(),
            "sql": kept(&r.sql),
            "sql_sha256": hex::encode(Sha256::digest(r.sql.as_bytes())),
            "as_of_version": r.as_of,
            "reads": r.reads,
            "masked_columns": r.masked_columns,
            "denied": r.denied,
        });
        self.recorder
            .record(vec![Event::by_admin("query.run", body)])
            .await
            .map(|_| ())
            .map_err(|e| QueryError::Audit(e.to_string()))
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
        let tables = self.mesh_tables(principal).await?;
        if let Some(domain) = &options.default_schema {
            self.domain(domain).await?;
        }
        let audit = Arc::new(LedgerAudit {
            recorder: self.recorder.clone(),
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

    /// Every table of the mesh, with what `reader` may see of it.
    async fn mesh_tables(&self, reader: &Principal) -> Result<Vec<MeshTable>, MeshError> {
        let products = self.catalog.products().await?;
        // The administrator sees everything as it is: no need to read policies and labels.
        let (policies, labels) = if reader.is_admin {
            (Default::default(), Default::default())
        } else {
            (self.policy_set().await?, self.labels(&products).await?)
        };
        Ok(products
            .into_iter()
            .flat_map(|p| {
                let (policies, labels) = (&policies, &labels);
                p.tables.into_iter().map(move |t| {
                    let table = TableRef {
                        domain: p.domain.clone(),
                        table: t,
                    };
                    MeshTable {
                        governance: policies.table_governance(reader, &table, labels.get(&table)),
                        table,
                        product: p.name.clone(),
                    }
                })
            })
            .collect())
    }
}
