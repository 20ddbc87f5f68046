//! An Agora mesh in a directory, and the operations every interface (CLI, HTTP, Postgres wire)
//! shares: domains, principals and grants, products from contracts, the write path (ingest) and
//! the read path (governed SQL).
//!
//! A mesh directory holds `catalog.db` (SQLite, see `agora-catalog`), `tables/` and
//! `quarantine/` (Delta Lake, see `agora-storage`), `ledger/` (the signed, Merkle-logged record
//! of every change, see `agora-ledger`) and `keys/` (the keys that sign it). Two directories
//! never share anything.
//!
//! The **write path** ([`Mesh::ingest`]) is a pipeline: decode the source into Arrow batches →
//! [`ingest::BatchStage`]s (validation against the contract today; classification and quality
//! checks plug in as further stages) → stream accepted rows into the product's Delta table and
//! rejected rows, with their reason and position, into its quarantine table → one Delta commit
//! each → one catalog record of the ingest → one signed entry in the ledger.
//!
//! The **read path** ([`Mesh::session`]) builds an `agora_query::GovernedSession` for the
//! principal, so every interface gets the same answer and the same refusals.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_mesh::MeshError> {
//! use agora_mesh::Mesh;
//! let mesh = Mesh::open("agora-data".as_ref()).await?;
//! let admin = agora_model::Principal::admin();
//! let session = mesh.session(&admin, Default::default()).await?;
//! let df = session.sql("select count(*) from sales.orders").await?;
//! # Ok(()) }
//! ```

mod auth;
pub mod demo;
mod domains;
mod error;
mod governance;
pub mod ingest;
mod ledger;
pub mod lineage;
pub mod output;
mod products;
mod query_audit;

use std::path::Path;
use std::sync::Arc;

use agora_catalog::{Catalog, PrincipalRecord, SqliteCatalog};
use agora_model::{Principal, TableRef};
pub use agora_query::SessionOptions;
use agora_query::{GovernedSession, MeshTable};
use agora_storage::TableStore;

pub use error::{ErrorKind, MeshError};
pub use governance::{ColumnTag, PolicyApplied};
pub use ingest::{ColumnClassified, IngestOptions, IngestReport, InputFormat, Source};
pub use products::{ApplyReport, ProductDetails, TableDetails};
pub use query_audit::Interface;

/// The catalog file inside a mesh directory; its presence marks a mesh.
const CATALOG_FILE: &str = "catalog.db";

/// An open mesh.
#[derive(Clone)]
pub struct Mesh {
    catalog: Arc<dyn Catalog>,
    store: TableStore,
    ledger: Arc<ledger::MeshLedger>,
    masks: agora_policy::Masks,
}

impl Mesh {
    /// Creates an empty mesh in `dir`; returns it with the administrator's API token, which is
    /// shown only this once.
    pub async fn init(dir: &Path) -> Result<(Mesh, String), MeshError> {
        if dir.join(CATALOG_FILE).exists() {
            return Err(MeshError::MeshExists {
                dir: dir.display().to_string(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| MeshError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mesh = Self::connect(dir).await?;
        let token = auth::new_token();
        let admin = Principal::admin();
        mesh.catalog
            .create_principal(&PrincipalRecord {
                name: admin.name,
                token_hash: auth::token_hash(&token),
                is_admin: true,
                clearance: admin.clearance,
                attributes: admin.attributes,
                created_at: now(),
            })
            .await?;
        Ok((mesh, token))
    }

    /// Opens the mesh in `dir`.
    pub async fn open(dir: &Path) -> Result<Mesh, MeshError> {
        if !dir.join(CATALOG_FILE).exists() {
            return Err(MeshError::NotAMesh {
                dir: dir.display().to_string(),
            });
        }
        Self::connect(dir).await
    }

    async fn connect(dir: &Path) -> Result<Mesh, MeshError> {
        let catalog = SqliteCatalog::open(&dir.join(CATALOG_FILE)).await?;
        let ledger = {
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || ledger::MeshLedger::open(&dir))
                .await
                .map_err(|e| MeshError::Internal(format!("opening the ledger failed: {e}")))??
        };
        Ok(Mesh {
            catalog: Arc::new(catalog),
            store: TableStore::new(dir),
            ledger: Arc::new(ledger),
            masks: governance::load_masks(dir)?,
        })
    }

    /// A read-only SQL session for `principal`.
    pub async fn session(
        &self,
        principal: &Principal,
        options: SessionOptions,
    ) -> Result<GovernedSession, MeshError> {
        let viewer = self.viewer(principal).await?;
        let tables = self.mesh_tables(principal).await?;
        if let Some(domain) = &options.default_schema {
            self.domain(domain).await?;
        }
        Ok(GovernedSession::new(
            self.store.clone(),
            viewer,
            tables,
            options,
            self.masks.clone(),
        )?)
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
                        governance: Mesh::governance_for(reader, &table, policies, labels),
                        table,
                        product: p.name.clone(),
                    }
                })
            })
            .collect())
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
