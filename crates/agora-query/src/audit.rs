//! The audit every statement of a governed session passes through: each statement that reads
//! mesh tables, and each one the grant check or a denied column refuses, is a [`QueryRecord`]
//! handed to the session's [`QueryAudit`] before the statement's plan is returned, so no row
//! can be read unrecorded. Where records go (the mesh's ledger) is the auditor's business.

use std::fmt;

use async_trait::async_trait;
use serde::Serialize;

use crate::{QueryError, TableRead};

/// The interface a query came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    Cli,
    Http,
    Postgres,
    /// A contract's `type: sql` quality rule, run by the mesh as the domain's owner.
    Quality,
    /// A share's recipient, through the Delta Sharing protocol.
    Sharing,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Cli => "cli",
            Interface::Http => "http",
            Interface::Postgres => "postgres",
            Interface::Quality => "quality",
            Interface::Sharing => "delta-sharing",
        }
    }
}

/// What the audit keeps of one statement.
#[derive(Debug, Clone)]
pub struct QueryRecord {
    pub principal: String,
    pub interface: Interface,
    /// The statement exactly as received.
    pub sql: String,
    /// The Delta version every table was read at (time travel), if one was asked for.
    pub as_of: Option<u64>,
    /// The mesh tables and columns the optimised plan reads.
    pub reads: Vec<TableRead>,
    /// The columns among `reads` the reader sees masked, as `domain.table.column`.
    pub masked_columns: Vec<String>,
    /// Why the statement was refused by a grant or a denied column, if it was.
    pub denied: Option<String>,
    /// Why the statement was otherwise refused (not a query, does not plan), if it was.
    pub error: Option<String>,
}

/// Where a session's records go.
#[async_trait]
pub trait QueryAudit: Send + Sync + fmt::Debug {
    /// Records one statement durably: the session returns its plan only once this succeeds.
    async fn record(&self, record: QueryRecord) -> Result<(), QueryError>;
}
