//! Governed SQL with an audit trail: every query that reads mesh tables, and every query the
//! grant check refuses, becomes a `query.run` entry in the ledger — who, through which
//! interface, what SQL, which tables and columns (from the optimised plan), or why it was
//! refused. Recorded before any row is returned, so a read cannot happen unrecorded.

use agora_model::Principal;
use agora_query::{GovernedSession, QueryError, SessionOptions};
use datafusion::prelude::DataFrame;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ledger::Event;
use crate::{Mesh, MeshError};

/// How much of a query's text the audit entry keeps (its SHA-256 covers all of it).
const SQL_KEPT: usize = 4096;

/// The interface a query came through.
#[derive(Debug, Clone, Copy)]
pub enum Interface {
    Cli,
    Http,
    Postgres,
}

impl Interface {
    fn as_str(self) -> &'static str {
        match self {
            Interface::Cli => "cli",
            Interface::Http => "http",
            Interface::Postgres => "postgres",
        }
    }
}

fn kept(sql: &str) -> &str {
    match sql.char_indices().nth(SQL_KEPT) {
        Some((i, _)) => &sql[..i],
        None => sql,
    }
}

impl Mesh {
    /// Plans `sql` for `principal` in a new session and records it (see the module docs).
    pub async fn query(
        &self,
        principal: &Principal,
        options: SessionOptions,
        sql: &str,
        interface: Interface,
    ) -> Result<DataFrame, MeshError> {
        let as_of = options.as_of;
        let session = self.session(principal, options).await?;
        self.audited_sql(&session, principal, sql, interface, as_of)
            .await
    }

    /// Plans `sql` in an existing session and records it: for interfaces that keep one
    /// session for several statements.
    pub async fn audited_sql(
        &self,
        session: &GovernedSession,
        principal: &Principal,
        sql: &str,
        interface: Interface,
        as_of: Option<u64>,
    ) -> Result<DataFrame, MeshError> {
        let (result, reads, denied) = match session.sql(sql).await {
            Ok(df) => {
                let reads = session.reads(&df)?;
                (Ok(df), reads, None)
            }
            Err(QueryError::ColumnDenied(d)) => {
                let message = d.to_string();
                (
                    Err(MeshError::Query(QueryError::ColumnDenied(d))),
                    Vec::new(),
                    Some(message),
                )
            }
            Err(QueryError::PermissionDenied(d)) => {
                let message = d.to_string();
                (
                    Err(MeshError::Query(QueryError::PermissionDenied(d))),
                    Vec::new(),
                    Some(message),
                )
            }
            Err(e) => return Err(e.into()),
        };
        let masked_columns = session.masked_columns(&reads);
        if !reads.is_empty() || denied.is_some() {
            self.record(vec![Event::by_admin(
                "query.run",
                json!({
                    "principal": principal.name.as_str(),
                    "interface": interface.as_str(),
                    "sql": kept(sql),
                    "sql_sha256": hex::encode(Sha256::digest(sql.as_bytes())),
                    "as_of_version": as_of,
                    "reads": reads,
                    "masked_columns": masked_columns,
                    "denied": denied,
                }),
            )])
            .await?;
        }
        result
    }
}
