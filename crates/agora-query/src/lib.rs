//! The governed query layer: every read of a data product goes through a [`GovernedSession`].
//!
//! A session is a DataFusion `SessionContext` for one principal in which each product table is
//! the SQL table `domain.table` (the domain is the SQL schema). Tables are opened lazily from
//! Delta Lake when a query names them, through `agora_storage::delta_table_provider`, which
//! gives the planner the table's column statistics. [`split_statements`] cuts a SQL script into
//! its statements. Before a plan runs, [`check_grants`] walks the logical
//! plan (subqueries included) and refuses any scan of a product the principal may not read; the
//! same check is installed as a DataFusion analyzer rule, so plans built through the DataFrame
//! API are checked too. Each table the reader may not see whole (masked columns, row filters:
//! [`agora_policy::TableGovernance`]) resolves to a per-reader view built by
//! [`agora_policy::governed_provider`], so masks and filters sit under every operator of every
//! query; a query that still uses a denied column after optimisation is refused. Every
//! statement that reads mesh tables or is refused is handed to the session's [`QueryAudit`]
//! before its plan is returned ([`GovernedSession::sql`]).
//!
//! Sessions only read: DDL, DML and `SET`-style statements are refused, so SQL cannot create
//! external tables over arbitrary files or write with `COPY`.
//!
//! ```no_run
//! # async fn demo(viewer: agora_query::Viewer, tables: Vec<agora_query::MeshTable>, audit: std::sync::Arc<dyn agora_query::QueryAudit>) -> Result<(), agora_query::QueryError> {
//! use agora_query::{GovernedSession, Interface};
//! let store = agora_storage::TableStore::new("agora-data".as_ref());
//! let masks = agora_policy::Masks::new(agora_policy::MaskKey::new([7; 32]));
//! let session =
//!     GovernedSession::new(store, viewer, tables, Default::default(), masks, Interface::Cli, audit)?;
//! let df = session.sql("select count(*) from sales.orders").await?;
//! let batches = df.collect().await.map_err(agora_query::QueryError::from_datafusion)?;
//! # Ok(()) }
//! ```

mod audit;
mod domain_schema;
mod error;
mod grant_check;
mod limits;
mod pg_compat;
mod pg_information_schema;
mod reads;
mod script;
mod session;
mod sorted_catalog;
mod sql_shape;
mod statement_limits;
mod viewer;

pub use audit::{Interface, QueryAudit, QueryRecord};
pub use domain_schema::BatchRows;
pub use error::{ColumnDenied, PermissionDenied, QueryError};
pub use grant_check::check_grants;
pub use limits::QueryLimits;
pub use pg_compat::{
    PgSetting, name_unnamed_columns, pg_column_names, pg_setting, rewrite_pg_functions,
};
pub use reads::{TableRead, tables_read};
pub use script::{ScriptStatement, split_statements};
pub use session::{
    BatchTable, EVENTS_SUFFIX, GovernedSession, METRICS_SUFFIX, MeshTable, QUALITY_SUFFIX,
    QUARANTINE_SUFFIX, SessionOptions, StatementShape,
};
pub use sql_shape::sql_shape;
pub use statement_limits::{MAX_DEPTH, MAX_TOKENS, STACK_BYTES};
pub use viewer::Viewer;

/// Re-exported so that upper crates use exactly the DataFusion version the layer uses.
pub use datafusion;
