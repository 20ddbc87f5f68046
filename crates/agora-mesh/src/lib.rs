//! An Agora mesh in a directory: the facade every interface (CLI, HTTP, Postgres wire) calls.
//! It wires the catalog, the Delta tables, the write path, the governance decisions, the
//! governed query layer and the recorder, and checks who may do what; the work itself is
//! done by the crates below it.
//!
//! A mesh directory holds `catalog.db` (SQLite, `agora-catalog`), `tables/` and `quarantine/`
//! (Delta Lake, `agora-storage`; `staging/` while a merge or an overwrite runs), `ledger/` (the signed, Merkle-logged record of every change,
//! `agora-ledger`) and `keys/` (the keys that sign it, and the masking secret). Two
//! directories never share anything.
//!
//! - **Changes** — [`Mesh::create_domain`], [`Mesh::create_principal`], [`Mesh::set_grant`],
//!   [`Mesh::apply_contract`], [`Mesh::apply_policy`], [`Mesh::set_tag`], [`Mesh::ingest`]
//!   (the pipeline of `agora-ingest`), [`Mesh::delete_rows`], [`Mesh::erase`],
//!   [`Mesh::optimize`], [`Mesh::vacuum_table`], [`Mesh::record_lineage`] — each end in an entry the
//!   recorder signs with the acting domain's key (or the administrator's) and appends to the
//!   log.
//! - **Reads** — [`Mesh::session`] builds an `agora_query::GovernedSession` for the principal
//!   with the masks and row filters `agora-policy` decides, and an audit that records each
//!   statement in the log before its rows are returned; so every interface gets the same
//!   answer and the same refusals.
//!
//! ```no_run
//! # async fn demo() -> Result<(), agora_mesh::MeshError> {
//! use agora_mesh::{Interface, Mesh};
//! let mesh = Mesh::open("agora-data".as_ref()).await?;
//! let admin = agora_model::Principal::admin();
//! let session = mesh.session(&admin, Interface::Cli, Default::default()).await?;
//! let df = session.sql("select count(*) from sales.orders").await?;
//! # Ok(()) }
//! ```

mod changes;
mod correction_records;
mod cross_check;
mod deletions;
mod domains;
mod edge_agents;
mod error;
mod event_buffer;
mod events;
mod forecasts;
mod governance;
mod grants;
mod ingest;
mod ingest_recovery;
mod ingest_report;
mod keys;
mod lineage;
mod pending;
mod principal_admin;
mod principals;
mod product_details;
mod products;
mod quality_corrections;
mod quality_metrics;
mod quality_predictions;
mod quality_readmission;
mod quality_report;
mod quality_results;
mod quality_sla;
mod quality_sql;
mod quality_suggestions;
mod query;
mod recorder;
mod saved_forecasts;
mod scram;
mod share_changes;
mod share_reads;
mod sharing;
mod sql_quoting;
mod table_changes;
mod vacuum;
mod witnessing;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agora_catalog::{Catalog, Change, PrincipalKind, PrincipalRecord, SqliteCatalog};
use agora_model::Principal;
use agora_storage::TableStore;

pub use agora_ingest::{IngestMode, InputFormat, Source, classify_file};
pub use agora_query::{Interface, QueryLimits, SessionOptions, StatementShape};
pub use deletions::{Erasure, ErasureTarget};
pub use edge_agents::{EdgeAgent, EdgeBatch, EdgeBatchReceipt, EdgeContract};
pub use error::{ErrorKind, MeshError};
pub use events::{EventVerdict, EventsReport, FLUSH_AGE, FLUSH_EVENTS, Flag, parse_events};
pub use forecasts::{Forecast, ForecastRequest, GroupForecast, MAX_GROUPS, forecasts_json};
pub use governance::PolicyApplied;
pub use ingest::IngestOptions;
pub use ingest_report::{ColumnClassified, IngestReport, RuleVerdict};
pub use principal_admin::{PrincipalSummary, parse_lifetime};
pub use principals::{PgLogin, token_hash};
pub use product_details::{ProductDetails, SampleRows, TableDetails};
pub use products::ApplyReport;
pub use quality_corrections::CorrectionReport;
pub use quality_predictions::PredictedBreach;
pub use quality_report::{Incident, QualityReport};
pub use quality_results::RuleStatus;
pub use quality_suggestions::{CorrectionPreview, SuggestionList, SuggestionView};
pub use saved_forecasts::SavedForecast;
pub use scram::{ChannelBinding, ScramError, ScramExchange, ScramVerifier, TLS_SERVER_END_POINT};
pub use share_reads::{FILE_URL_LIFETIME, Recipient, SharedAnswer};
pub use sharing::{RecipientToken, ShareSummary, ShareTableOptions, SharedTableSummary};
pub use table_changes::{TableChangeReport, TableChanged};
pub use vacuum::VacuumReport;

/// The catalog file inside a mesh directory; its presence marks a mesh.
const CATALOG_FILE: &str = "catalog.db";

/// An open mesh.
#[derive(Clone)]
pub struct Mesh {
    dir: PathBuf,
    catalog: Arc<dyn Catalog>,
    store: TableStore,
    recorder: Arc<recorder::Recorder>,
    masks: agora_policy::Masks,
    /// The key of the query texts' hashes in the public audit.
    audit_key: [u8; 32],
    /// The limits of every query whose session names none (see [`Mesh::with_query_limits`]).
    query_limits: agora_query::QueryLimits,
    /// Events sent one by one: their detectors and buffers (`events.rs`).
    events: Arc<events::EventHub>,
    /// Delta Sharing's URL signer and file hashes (`share_reads.rs`).
    sharing: Arc<share_reads::Sharing>,
    /// Held by an ingest with an idempotency key from the check of its key to its record
    /// (`ingest.rs`).
    keyed_ingests: Arc<tokio::sync::Mutex<()>>,
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
        let token = principals::new_token();
        let admin = Principal::admin();
        // The log's genesis entry names the administrator: its creation needs no other.
        let record = PrincipalRecord {
            name: admin.name,
            token_hash: principals::token_hash(&token),
            is_admin: true,
            clearance: admin.clearance,
            attributes: admin.attributes,
            created_at: now(),
            disabled: false,
            token_expires_at: None,
            scram_verifier: Some(scram::ScramVerifier::for_token(&token).to_string()),
            kind: PrincipalKind::User,
        };
        mesh.catalog
            .apply(&[Change::CreatePrincipal(record)], None)
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
        let mesh = Self::connect(dir).await?;
        mesh.recover().await?;
        mesh.vacuum_after_failures().await?;
        Ok(mesh)
    }

    async fn connect(dir: &Path) -> Result<Mesh, MeshError> {
        let catalog = SqliteCatalog::open(&dir.join(CATALOG_FILE)).await?;
        let recorder = {
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || recorder::Recorder::open(&dir))
                .await
                .map_err(|e| MeshError::Internal(format!("opening the ledger failed: {e}")))??
        };
        Ok(Mesh {
            dir: dir.to_path_buf(),
            catalog: Arc::new(catalog),
            store: TableStore::new(dir),
            recorder: Arc::new(recorder),
            masks: keys::load_masks(dir)?,
            audit_key: keys::load_audit_key(dir)?,
            query_limits: agora_query::QueryLimits::default(),
            events: Arc::default(),
            sharing: share_reads::Sharing::new(keys::load_share_key(dir)?),
            keyed_ingests: Arc::default(),
        })
    }

    /// This mesh with `limits` on every query whose session options set none: what `agora
    /// serve --memory-limit/--query-timeout` and `agora sql` give every query they run.
    pub fn with_query_limits(mut self, limits: agora_query::QueryLimits) -> Mesh {
        self.query_limits = limits;
        self
    }

    /// The limits of every query whose session names none.
    pub fn query_limits(&self) -> agora_query::QueryLimits {
        self.query_limits
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
