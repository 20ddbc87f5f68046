//! The rows of the catalog, as plain data.

use std::collections::BTreeMap;

use agora_model::{Name, Sensitivity, TableRef};

#[derive(Debug, Clone, PartialEq)]
pub struct DomainRecord {
    pub name: Name,
    pub owner: Name,
    pub description: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalRecord {
    pub name: Name,
    /// SHA-256 of the API token, hex. The token itself is never stored.
    pub token_hash: String,
    pub is_admin: bool,
    /// The most sensitive data this principal reads unmasked.
    pub clearance: Sensitivity,
    /// Attributes row filters compare against (`region` → `EU`).
    pub attributes: BTreeMap<String, String>,
    pub created_at: String,
    /// A disabled principal's token and name act for nothing until it is enabled again.
    pub disabled: bool,
    /// When the token stops working (RFC 3339), if it expires.
    pub token_expires_at: Option<String>,
    /// The token's SCRAM-SHA-256 verifier, for Postgres logins (PostgreSQL's format); none for
    /// principals whose token is older than verifiers.
    pub scram_verifier: Option<String>,
    pub kind: PrincipalKind,
}

/// What a principal's token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrincipalKind {
    /// The CLI, the HTTP API and the Postgres interface, as its grants allow.
    #[default]
    User,
    /// Only its share, through the Delta Sharing protocol.
    Recipient,
    /// An edge agent: only the batches it signs, into its domain's tables.
    Edge,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Recipient => "recipient",
            PrincipalKind::Edge => "edge",
        }
    }

    pub fn parse(text: &str) -> Option<PrincipalKind> {
        match text {
            "user" => Some(PrincipalKind::User),
            "recipient" => Some(PrincipalKind::Recipient),
            "edge" => Some(PrincipalKind::Edge),
            _ => None,
        }
    }
}

/// An edge agent and the public half of the key it signs its batches with.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeAgentRecord {
    /// The agent, also a principal of kind edge.
    pub name: Name,
    /// The domain whose tables it writes.
    pub domain: Name,
    /// Its Ed25519 public key, 32 bytes as hex.
    pub public_key: String,
    pub registered_by: Name,
    pub registered_at: String,
}

/// A Delta Sharing share and the recipient it is for.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRecord {
    pub name: Name,
    /// Stable across the share's life (the protocol's `id`), a UUID.
    pub id: String,
    pub recipient: Name,
    pub created_by: Name,
    pub created_at: String,
    /// When the share stopped opening anything, if it was revoked.
    pub revoked_at: Option<String>,
}

/// One table of a share.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedTable {
    pub share: Name,
    pub table: TableRef,
    /// The protocol's table `id`, a UUID.
    pub id: String,
    /// The version the share pins, if it pins one: the recipient reads that version only.
    pub as_of_version: Option<i64>,
    /// Whether the recipient may read earlier versions and the table's changes.
    pub history: bool,
    /// The condition (SQL, over the table's columns) a row must meet to be shared, if the
    /// share holds only part of the table (`agora share add --partition`).
    pub partition: Option<String>,
    pub added_by: Name,
    pub added_at: String,
}

/// A product as the catalog keeps it: the contract document and what search needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRecord {
    pub domain: Name,
    pub name: Name,
    pub contract_id: String,
    pub version: String,
    pub status: String,
    pub description: String,
    /// The contract exactly as applied.
    pub contract_yaml: String,
    /// The SQL names of the product's tables.
    pub tables: Vec<Name>,
    /// Column names and descriptions, for search.
    pub search_columns: String,
    /// Tags of the contract, its tables and columns, for search.
    pub search_tags: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IngestRecord {
    pub domain: Name,
    pub product: Name,
    pub table: Name,
    pub table_version: i64,
    pub rows_accepted: i64,
    pub rows_quarantined: i64,
    pub source: String,
    pub input_sha256: String,
    pub principal: Name,
    pub at: String,
    /// The ingest's own id, which its Delta commit carries too.
    pub ingest_id: String,
    /// The key a client sent so that a retried request is not ingested twice.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub domain: Name,
    pub product: Name,
    pub description: String,
    /// Lower is better (SQLite FTS5 bm25).
    pub rank: f64,
    /// The matching text with the matched words in `[brackets]`.
    pub snippet: String,
}

/// An applied policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRecord {
    /// `None` for the global policy, else the domain the policy belongs to.
    pub domain: Option<Name>,
    /// The YAML exactly as applied.
    pub document: String,
    pub applied_by: Name,
    pub applied_at: String,
}

/// The exact text of an audited query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryText {
    /// The keyed hash the public `query.run` entry carries.
    pub sql_hmac: String,
    pub sql: String,
    pub principal: Name,
    pub first_seen: String,
}

/// What the ledger must record about a change, kept with the change until it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRecord {
    /// Unique; the ledger entries carry it, so a recovery can tell whether they were appended.
    pub intent: String,
    /// The entries to record and anything recovery needs, as JSON (the mesh's format).
    pub payload: String,
    /// The log's size when the change was made: its entries can only be after it.
    pub log_size: u64,
    /// The process that made the change and when it started, so that recovery leaves alone
    /// what a live process is still finishing.
    pub pid: u32,
    pub process_start: u64,
    pub created_at: String,
}

/// A suggested correction as applied to a table (and perhaps reverted since).
#[derive(Debug, Clone, PartialEq)]
pub struct CorrectionRecord {
    /// The change that applied it; one application may apply several suggestions.
    pub application_id: String,
    pub suggestion_id: String,
    pub table: TableRef,
    pub applied_at: String,
    pub reverted_at: Option<String>,
    /// What was applied and what it made, as JSON (the mesh's format).
    pub record: String,
}
