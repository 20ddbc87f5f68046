//! The metadata of a mesh: domains, principals, products and their tables, grants, ingests, and
//! full-text search over products.
//!
//! Everything goes through the [`Catalog`] trait so that a PostgreSQL store can replace the
//! embedded SQLite one ([`SqliteCatalog`]) for a shared deployment. The schema is versioned with
//! sqlx migrations (`migrations/`), applied on open.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_catalog::CatalogError> {
//! use agora_catalog::{Catalog, SqliteCatalog};
//! let catalog = SqliteCatalog::open(std::path::Path::new("agora-data/catalog.db")).await?;
//! for domain in catalog.domains().await? {
//!     println!("{} (owner {})", domain.name, domain.owner);
//! }
//! # Ok(()) }
//! ```

mod error;
mod records;
mod sqlite;

pub use error::CatalogError;
pub use records::{
    CorrectionRecord, DomainRecord, EdgeAgentRecord, IngestRecord, PendingRecord, PolicyRecord,
    PrincipalKind, PrincipalRecord, ProductRecord, QueryText, SearchHit, ShareRecord, SharedTable,
};
pub use sqlite::SqliteCatalog;

use agora_model::{ColumnTag, Grant, Name, TableRef};
use async_trait::async_trait;

/// One change to the catalog; [`Catalog::apply`] makes several in one transaction.
#[derive(Debug, Clone)]
pub enum Change {
    CreateDomain(DomainRecord),
    CreatePrincipal(PrincipalRecord),
    /// Replaces a principal's token, clearance, attributes, disabled flag and token expiry.
    UpdatePrincipal(PrincipalRecord),
    /// Removes a principal and its grants.
    DeletePrincipal(Name),
    /// Creates or replaces a product, its tables and its search entry.
    PutProduct(ProductRecord),
    PutGrant(Grant),
    /// Removes a grant; one that does not exist fails the whole transaction.
    RemoveGrant(Grant),
    RecordIngest(IngestRecord),
    /// Creates or replaces the tag of one column from one source.
    PutColumnTag(ColumnTag),
    /// Replaces the policy of one scope (the global policy, or one domain's).
    PutPolicy(PolicyRecord),
    /// Keeps the exact text of an audited query, which the public entry holds only as a keyed
    /// hash.
    PutQueryText(QueryText),
    /// Creates or replaces the record of one suggestion's application.
    PutCorrection(CorrectionRecord),
    /// Forgets every correction applied to a table: its records hold values an erasure took
    /// out of the table.
    ForgetCorrections(TableRef),
    CreateShare(ShareRecord),
    /// Marks a share revoked.
    RevokeShare {
        share: Name,
        at: String,
    },
    /// Adds a table to a share, or replaces how it is shared.
    PutSharedTable(SharedTable),
    /// Takes a table out of a share; one the share does not hold fails the whole transaction.
    RemoveSharedTable {
        share: Name,
        table: TableRef,
    },
    /// Records an edge agent's public key; its principal must exist.
    RegisterEdgeAgent(EdgeAgentRecord),
}

/// The metadata store of a mesh.
///
/// Changes go through [`Catalog::apply`], with the record of what the ledger must hold about
/// them (a [`PendingRecord`]) in the same transaction: a change is never in the catalog without
/// its pending entry, which the mesh removes once the entry is in the ledger.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Makes `changes` in one transaction, together with `pending` if given; returns the
    /// pending record's id.
    async fn apply(
        &self,
        changes: &[Change],
        pending: Option<&PendingRecord>,
    ) -> Result<Option<i64>, CatalogError>;
    /// Changes whose ledger entries may not be recorded yet, oldest first.
    async fn pending(&self) -> Result<Vec<(i64, PendingRecord)>, CatalogError>;
    /// Forgets a pending record, with `changes` made in the same transaction.
    async fn complete(&self, id: i64, changes: &[Change]) -> Result<(), CatalogError>;

    async fn domain(&self, name: &Name) -> Result<Option<DomainRecord>, CatalogError>;
    async fn domains(&self) -> Result<Vec<DomainRecord>, CatalogError>;

    async fn principal(&self, name: &Name) -> Result<Option<PrincipalRecord>, CatalogError>;
    async fn principals(&self) -> Result<Vec<PrincipalRecord>, CatalogError>;
    async fn principal_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<PrincipalRecord>, CatalogError>;

    async fn product(
        &self,
        domain: &Name,
        name: &Name,
    ) -> Result<Option<ProductRecord>, CatalogError>;
    async fn products(&self) -> Result<Vec<ProductRecord>, CatalogError>;
    /// Every contract version ever applied, oldest first.
    async fn contract_history(&self) -> Result<Vec<ProductRecord>, CatalogError>;

    async fn grants_of(&self, principal: &Name) -> Result<Vec<Grant>, CatalogError>;
    async fn grants(&self) -> Result<Vec<Grant>, CatalogError>;

    /// The latest ingests of a product, newest first.
    async fn ingests(
        &self,
        domain: &Name,
        product: &Name,
        limit: u32,
    ) -> Result<Vec<IngestRecord>, CatalogError>;
    /// Every ingest, oldest first.
    async fn all_ingests(&self) -> Result<Vec<IngestRecord>, CatalogError>;
    /// The ingest of `table` with this id, if it was recorded.
    async fn ingest(
        &self,
        table: &TableRef,
        ingest_id: &str,
    ) -> Result<Option<IngestRecord>, CatalogError>;
    /// An ingest into `table` of input with this SHA-256, or carrying this idempotency key.
    async fn earlier_ingest(
        &self,
        table: &TableRef,
        input_sha256: &str,
        idempotency_key: Option<&str>,
    ) -> Result<Option<IngestRecord>, CatalogError>;

    /// Products ranked by how well their names, descriptions, columns, tags and the categories
    /// of their classified columns match `query`.
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, CatalogError>;

    /// Every column tag of the mesh (both sources), ordered by table and column.
    async fn column_tags(&self) -> Result<Vec<ColumnTag>, CatalogError>;
    /// Every tag ever stored, oldest first.
    async fn tag_history(&self) -> Result<Vec<ColumnTag>, CatalogError>;

    async fn policies(&self) -> Result<Vec<PolicyRecord>, CatalogError>;

    /// The exact text of an audited query, by the keyed hash its ledger entry carries.
    async fn query_text(&self, sql_hmac: &str) -> Result<Option<QueryText>, CatalogError>;

    /// Every application of the suggestion `suggestion_id`, newest first.
    async fn corrections(&self, suggestion_id: &str)
    -> Result<Vec<CorrectionRecord>, CatalogError>;
    /// Every correction applied to `table`, newest first.
    async fn corrections_of(&self, table: &TableRef)
    -> Result<Vec<CorrectionRecord>, CatalogError>;

    async fn share(&self, name: &Name) -> Result<Option<ShareRecord>, CatalogError>;
    /// Every share, revoked ones included, by name.
    async fn shares(&self) -> Result<Vec<ShareRecord>, CatalogError>;
    /// The tables of a share, by domain and name.
    async fn shared_tables(&self, share: &Name) -> Result<Vec<SharedTable>, CatalogError>;

    async fn edge_agent(&self, name: &Name) -> Result<Option<EdgeAgentRecord>, CatalogError>;
    /// Every registered edge agent, by name.
    async fn edge_agents(&self) -> Result<Vec<EdgeAgentRecord>, CatalogError>;
}
