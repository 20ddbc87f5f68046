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
    DomainRecord, IngestRecord, PolicyRecord, PrincipalRecord, ProductRecord, SearchHit,
};
pub use sqlite::SqliteCatalog;

use agora_model::{ColumnTag, Grant, Name};
use async_trait::async_trait;

/// The metadata store of a mesh.
#[async_trait]
pub trait Catalog: Send + Sync {
    async fn create_domain(&self, domain: &DomainRecord) -> Result<(), CatalogError>;
    async fn domain(&self, name: &Name) -> Result<Option<DomainRecord>, CatalogError>;
    async fn domains(&self) -> Result<Vec<DomainRecord>, CatalogError>;

    async fn create_principal(&self, principal: &PrincipalRecord) -> Result<(), CatalogError>;
    async fn principal(&self, name: &Name) -> Result<Option<PrincipalRecord>, CatalogError>;
    async fn principal_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<PrincipalRecord>, CatalogError>;

    /// Creates or replaces a product, its tables and its search entry, in one transaction.
    async fn put_product(&self, product: &ProductRecord) -> Result<(), CatalogError>;
    async fn product(
        &self,
        domain: &Name,
        name: &Name,
    ) -> Result<Option<ProductRecord>, CatalogError>;
    async fn products(&self) -> Result<Vec<ProductRecord>, CatalogError>;

    async fn put_grant(&self, grant: &Grant) -> Result<(), CatalogError>;
    /// Removes a grant; returns whether it existed.
    async fn remove_grant(&self, grant: &Grant) -> Result<bool, CatalogError>;
    async fn grants_of(&self, principal: &Name) -> Result<Vec<Grant>, CatalogError>;

    async fn record_ingest(&self, ingest: &IngestRecord) -> Result<(), CatalogError>;
    /// The latest ingests of a product, newest first.
    async fn ingests(
        &self,
        domain: &Name,
        product: &Name,
        limit: u32,
    ) -> Result<Vec<IngestRecord>, CatalogError>;

    /// Products ranked by how well their names, descriptions, columns, tags and the categories
    /// of their classified columns match `query`.
    async fn search(&self, query: &str, limit: u32) -> Result<Vec<SearchHit>, CatalogError>;

    /// Creates or replaces the tag of one column from one source, and refreshes the product's
    /// search entry.
    async fn put_column_tag(&self, tag: &ColumnTag) -> Result<(), CatalogError>;
    /// Every column tag of the mesh (both sources), ordered by table and column.
    async fn column_tags(&self) -> Result<Vec<ColumnTag>, CatalogError>;

    /// Replaces the policy of one scope (the global policy, or one domain's).
    async fn put_policy(&self, policy: &PolicyRecord) -> Result<(), CatalogError>;
    async fn policies(&self) -> Result<Vec<PolicyRecord>, CatalogError>;
}
