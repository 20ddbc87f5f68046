//! A DataFusion session for one principal over the tables of the mesh.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use agora_model::{Name, TableRef};
use agora_policy::{Masks, TableGovernance, denied_columns};
use agora_storage::{TableKind, TableStore};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::CatalogProvider;
use datafusion::common::ParamValues;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::pg_catalog::setup_pg_catalog;

use crate::domain_schema::{BatchRows, DomainSchema, SchemaTable};
use crate::grant_check::{GrantCheckRule, check_grants};
use crate::limits::{DeadlineRule, QueryLimits};
use crate::pg_information_schema::PgInformationSchema;
use crate::sorted_catalog::SortedCatalog;
use crate::{ColumnDenied, Interface, QueryAudit, QueryError, QueryRecord, TableRead, Viewer};

/// The SQL catalog name of the mesh (`agora.sales.orders` is `sales.orders`).
const CATALOG: &str = "agora";
/// The schema bare table names resolve to when no default domain is set: it has no tables.
const DEFAULT_SCHEMA: &str = "public";

/// How a session reads.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Read every table at this Delta version (time travel).
    pub as_of: Option<u64>,
    /// Read each product table as the rows its commit of this version changed (Delta's
    /// change data feed: the table's columns and `_change_type`, `_commit_version`,
    /// `_commit_timestamp`), governed like its rows. Recorded as the version read.
    pub changes_of: Option<u64>,
    /// The domain whose tables SQL may name without `domain.` (like PostgreSQL's
    /// `search_path`); by default every table is named `domain.table`.
    pub default_schema: Option<Name>,
    /// Add PostgreSQL's `pg_catalog` (names only; rows stay behind the grant check), so
    /// Postgres clients can list schemas and tables.
    pub pg_catalog: bool,
    /// Memory and time the query may take.
    pub limits: QueryLimits,
    /// Read one product table as a batch of rows that is not committed (an ingest's, whose
    /// quality rules run before its commit) instead of its Delta table.
    pub batch: Option<BatchTable>,
}

/// A product table read as a batch of rows of its own (see [`SessionOptions::batch`]).
#[derive(Debug, Clone)]
pub struct BatchTable {
    pub table: TableRef,
    pub rows: BatchRows,
}

/// A statement's parameters and result, as a client preparing it is told them.
#[derive(Debug, Clone)]
pub struct StatementShape {
    /// The type of `$1`, `$2`, … in order; `None` where the statement does not decide it
    /// (`select $1`).
    pub parameters: Vec<Option<DataType>>,
    /// The columns of the result.
    pub schema: SchemaRef,
}

/// `$3`'s number, 3; placeholders DataFusion names otherwise sort last.
fn parameter_number(id: &str) -> usize {
    id.trim_start_matches('$').parse().unwrap_or(usize::MAX)
}

/// A table of the mesh, the product it belongs to, and what of it the reader may see.
#[derive(Debug, Clone)]
pub struct MeshTable {
    pub table: TableRef,
    pub product: Name,
    pub governance: TableGovernance,
    /// The product table itself, its quarantine (SQL name `table__quarantine`) or its quality
    /// results (`table__quality`).
    pub kind: TableKind,
}

/// What a product table's quarantine is called in SQL: `domain.table__quarantine`.
pub const QUARANTINE_SUFFIX: &str = "__quarantine";
/// What a product table's quality results are called in SQL: `domain.table__quality`.
pub const QUALITY_SUFFIX: &str = "__quality";
/// What a product table's batch metrics are called in SQL: `domain.table__metrics`.
pub const METRICS_SUFFIX: &str = "__metrics";
/// What a product table's flagged events are called in SQL: `domain.table__events`.
pub const EVENTS_SUFFIX: &str = "__events";

impl MeshTable {
    /// The table's name in SQL, within its domain's schema.
    pub fn sql_name(&self) -> Name {
        let suffix = match self.kind {
            TableKind::Product => return self.table.table.clone(),
            TableKind::Quarantine => QUARANTINE_SUFFIX,
            TableKind::Quality => QUALITY_SUFFIX,
            TableKind::Metrics => METRICS_SUFFIX,
            TableKind::Events => EVENTS_SUFFIX,
        };
        Name::strict("table", &format!("{}{suffix}", self.table.table))
            .expect("INVARIANT: a table name with a `__` suffix appended is a name")
    }

    /// The table as SQL names it (for a quarantine, not a table of the catalog).
    fn sql_ref(&self) -> TableRef {
        TableRef {
            domain: self.table.domain.clone(),
            table: self.sql_name(),
        }
    }
}

/// A read-only DataFusion session that enforces one principal's grants, masks and row filters,
/// and audits every statement it runs.
pub struct GovernedSession {
    ctx: SessionContext,
    /// `ctx`'s state without logical optimiser rules, which runs the plans [`Self::sql`] has
    /// already optimised: a query is optimised once, not again when it executes.
    planned: SessionState,
    viewer: Arc<Viewer>,
    /// (domain, SQL table name) → the product and the mesh table the grants name.
    products: Arc<HashMap<(Name, Name), (Name, Name)>>,
    /// The tables the reader sees masked or filtered, by their SQL names.
    governance: HashMap<TableRef, Arc<TableGovernance>>,
    default_schema: String,
    as_of: Option<u64>,
    /// Whether the session has `pg_catalog` (see [`SessionOptions::pg_catalog`]).
    pg_catalog: bool,
    interface: Interface,
    audit: Arc<dyn QueryAudit>,
}

impl GovernedSession {
    /// Builds a session over `tables` for a reader who came through `interface`; `masks` holds
    /// the mesh's masking functions, `audit` records every statement.
    pub fn new(
        store: TableStore,
        viewer: Viewer,
        tables: Vec<MeshTable>,
        options: SessionOptions,
        masks: Masks,
        interface: Interface,
        audit: Arc<dyn QueryAudit>,
    ) -> Result<Self, QueryError> {
        let default_schema = options
            .default_schema
            .as_ref()
            .map_or(DEFAULT_SCHEMA.to_string(), Name::to_string);
        let viewer = Arc::new(viewer);
        let products: Arc<HashMap<(Name, Name), (Name, Name)>> = Arc::new(
            tables
                .iter()
                .map(|t| {
                    (
                        (t.table.domain.clone(), t.sql_name()),
                        (t.product.clone(), t.table.table.clone()),
                    )
                })
                .collect(),
        );
        // DataFusion's own DATAFUSION_* environment variables tune the engine (batch size,
        // Parquet options, …) as they do in DataFusion's CLI.
        let config = SessionConfig::from_env()
            .map_err(|e| {
                QueryError::Execution(format!(
                    "a DATAFUSION_* environment variable is invalid: {}",
                    e.strip_backtrace()
                ))
            })?
            .with_default_catalog_and_schema(CATALOG, &default_schema)
            // A Postgres session gets its own, with PostgreSQL's type names (below).
            .with_information_schema(!options.pg_catalog);
        let mut state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(config);
        if let Some(bytes) = options.limits.memory_bytes {
            let runtime = RuntimeEnvBuilder::new()
                .with_memory_limit(bytes, 1.0)
                .build_arc()
                .map_err(QueryError::from_datafusion)?;
            state = state.with_runtime_env(runtime);
        }
        if let Some(timeout) = options.limits.timeout {
            state = state.with_physical_optimizer_rule(Arc::new(DeadlineRule { timeout }));
        }
        let state = state.build();
        let ctx = SessionContext::new_with_state(state);
        ctx.add_analyzer_rule(Arc::new(GrantCheckRule {
            viewer: viewer.clone(),
            products: products.clone(),
            default_schema: default_schema.clone(),
        }));
        // The Delta scans take their Parquet options (filter pushdown, view types) from the
        // session; the state's catalog is not used there, so a copy made before it is complete
        // will do.
        let scan_options = Arc::new(ctx.state());
        let catalog = SortedCatalog::default();
        let mut by_domain: BTreeMap<Name, BTreeMap<String, SchemaTable>> = BTreeMap::new();
        let mut governance = HashMap::new();
        for t in tables {
            let sql = t.sql_ref();
            let rules = Arc::new(t.governance);
            if !rules.is_open() {
                governance.insert(sql.clone(), rules.clone());
            }
            by_domain.entry(sql.domain).or_default().insert(
                sql.table.to_string(),
                SchemaTable {
                    table: t.table,
                    kind: t.kind,
                    governance: rules,
                    batch: None,
                },
            );
        }
        // The batch replaces its table, or stands for a table the catalog does not have yet; it
        // is read as it is (the session's principal owns what it checks).
        if let Some(batch) = &options.batch {
            by_domain
                .entry(batch.table.domain.clone())
                .or_default()
                .insert(
                    batch.table.table.to_string(),
                    SchemaTable {
                        table: batch.table.clone(),
                        kind: TableKind::Product,
                        governance: Arc::new(TableGovernance::default()),
                        batch: Some(batch.rows.clone()),
                    },
                );
        }
        for (domain, tables) in by_domain {
            let schema = DomainSchema {
                store: store.clone(),
                tables,
                as_of: options.as_of,
                changes_of: options.changes_of,
                masks: masks.clone(),
                catalog: CATALOG,
                scan_options: scan_options.clone(),
            };
            catalog
                .register_schema(domain.as_str(), Arc::new(schema))
                .map_err(QueryError::from_datafusion)?;
        }
        let catalog = Arc::new(catalog);
        ctx.register_catalog(CATALOG, catalog.clone());
        if options.pg_catalog {
            catalog
                .register_schema(
                    "information_schema",
                    Arc::new(PgInformationSchema::new(ctx.state().catalog_list().clone())),
                )
                .map_err(QueryError::from_datafusion)?;
            setup_pg_catalog(&ctx, CATALOG, EmptyContextProvider).map_err(|e| {
                QueryError::Execution(format!("cannot set up pg_catalog: {}", e.strip_backtrace()))
            })?;
            crate::pg_compat::register(&ctx, viewer.principal.name.as_str());
        }
        let planned = SessionStateBuilder::new_from_existing(ctx.state())
            .with_optimizer_rules(Vec::new())
            .build();
        Ok(GovernedSession {
            ctx,
            planned,
            viewer,
            products,
            governance,
            default_schema,
            as_of: options.as_of.or(options.changes_of),
            pg_catalog: options.pg_catalog,
            interface,
            audit,
        })
    }

    /// Whether SQL in this session can name `domain.table` (a table the reader may be denied
    /// still has a name; one the session leaves out has none).
    pub fn names_table(&self, domain: &str, table: &str) -> bool {
        self.ctx
            .catalog(CATALOG)
            .and_then(|c| c.schema(domain))
            .is_some_and(|s| s.table_exist(table))
    }

    /// Plans `sql` as [`Self::plan`] does and records it (see the `audit` module): a statement
    /// that reads mesh tables, and any statement refused — by a grant, a denied column, because
    /// it is not a query, or because it does not plan — is recorded before the result returns.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, QueryError> {
        let result = self.plan(sql, None).await;
        self.audited(sql, result).await
    }

    /// Runs a statement prepared with parameters (`$1`, `$2`, …; PostgreSQL's extended query
    /// protocol) with `params` bound, planned, checked and recorded as [`Self::sql`] does: the
    /// values are bound into the plan as literals, so they cannot change what the statement
    /// reads or how it is governed.
    pub async fn sql_with_params(
        &self,
        sql: &str,
        params: ParamValues,
    ) -> Result<DataFrame, QueryError> {
        let result = self.plan(sql, Some(params)).await;
        self.audited(sql, result).await
    }

    /// What a client preparing `sql` is told before it runs it: the types of its parameters
    /// and the columns of its result. Planned and checked as [`Self::sql`] plans (a refused
    /// statement is refused here, and recorded), but nothing is read.
    pub async fn describe(&self, sql: &str) -> Result<StatementShape, QueryError> {
        let result = self.checked_plan(sql).await.and_then(|plan| {
            let mut types = plan
                .get_parameter_types()
                .map_err(QueryError::from_datafusion)?
                .into_iter()
                .map(|(id, t)| (parameter_number(&id), t))
                .collect::<Vec<_>>();
            types.sort_by_key(|(n, _)| *n);
            Ok(StatementShape {
                parameters: types.into_iter().map(|(_, t)| t).collect(),
                schema: Arc::new(plan.schema().as_arrow().clone()),
            })
        });
        if let Err(e) = &result {
            self.record_refusal(sql, e).await?;
        }
        result
    }

    /// Records `sql` with its outcome, as [`Self::sql`] describes, and returns the outcome.
    async fn audited(
        &self,
        sql: &str,
        result: Result<DataFrame, QueryError>,
    ) -> Result<DataFrame, QueryError> {
        match result {
            Ok(df) => {
                let reads = self.reads(&df)?;
                if !reads.is_empty() {
                    self.record_outcome(sql, reads, None, None).await?;
                }
                Ok(df)
            }
            Err(e) => {
                self.record_refusal(sql, &e).await?;
                Err(e)
            }
        }
    }

    /// Records the refusal or failure `e` of `sql`.
    async fn record_refusal(&self, sql: &str, e: &QueryError) -> Result<(), QueryError> {
        let message = Some(e.to_string());
        match e {
            QueryError::ColumnDenied(_) | QueryError::PermissionDenied(_) => {
                self.record_outcome(sql, Vec::new(), message, None).await
            }
            _ => self.record_outcome(sql, Vec::new(), None, message).await,
        }
    }

    async fn record_outcome(
        &self,
        sql: &str,
        reads: Vec<TableRead>,
        denied: Option<String>,
        error: Option<String>,
    ) -> Result<(), QueryError> {
        let record = QueryRecord {
            principal: self.viewer.principal.name.to_string(),
            interface: self.interface,
            sql: sql.to_string(),
            as_of: self.as_of,
            masked_columns: self.masked_columns(&reads),
            reads,
            denied,
            error,
        };
        self.audit.record(record).await
    }

    /// Parses and plans `sql`, refusing what is too large, what is not a query and what the
    /// reader's grants do not cover.
    async fn checked_plan(&self, sql: &str) -> Result<LogicalPlan, QueryError> {
        crate::statement_limits::check_size(sql)?;
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state
            .sql_to_statement(sql, &dialect)
            .map_err(QueryError::from_datafusion)?;
        crate::statement_limits::check_depth(&statement)?;
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(QueryError::from_datafusion)?;
        refuse_non_queries(&plan)?;
        check_grants(&plan, &self.viewer, &self.products, &self.default_schema)
            .map_err(QueryError::from_datafusion)?;
        Ok(plan)
    }

    /// Plans `sql` as [`Self::checked_plan`] does, binds `params`, optimises the plan and
    /// refuses uses of denied columns; the returned DataFrame holds the optimised plan (but for
    /// `EXPLAIN`, which shows the optimiser's work itself) and streams when executed.
    async fn plan(&self, sql: &str, params: Option<ParamValues>) -> Result<DataFrame, QueryError> {
        let mut plan = self.checked_plan(sql).await?;
        if let Some(params) = params {
            plan = plan
                .replace_params_with_values(&params)
                .map_err(QueryError::from_datafusion)?;
        }
        if self.pg_catalog && reads_pg_catalog(&plan) {
            self.number_relations().await?;
        }
        let state = self.ctx.state();
        let optimized = state.optimize(&plan).map_err(QueryError::from_datafusion)?;
        let columns = denied_columns(&optimized).map_err(QueryError::from_datafusion)?;
        if !columns.is_empty() {
            return Err(QueryError::ColumnDenied(ColumnDenied {
                principal: self.viewer.principal.name.to_string(),
                columns,
            }));
        }
        if matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
            return Ok(DataFrame::new(state, plan));
        }
        Ok(DataFrame::new(self.planned.clone(), optimized))
    }

    /// Numbers the session's relations as `pg_class` numbers them. Each `pg_catalog` table
    /// hands out object ids as it is first read, in its own order; clients look a table's oid
    /// up in `pg_class` in one statement and use it in `pg_attribute` in the next (psql's
    /// `\d`), each in a new session. Reading `pg_class` first in every session gives every
    /// table the same oid in all of them.
    async fn number_relations(&self) -> Result<(), QueryError> {
        self.ctx
            .sql("select oid from pg_catalog.pg_class")
            .await
            .map_err(QueryError::from_datafusion)?
            .collect()
            .await
            .map_err(QueryError::from_datafusion)?;
        Ok(())
    }

    /// The columns among `reads` the reader sees masked, as `domain.table.column`.
    fn masked_columns(&self, reads: &[TableRead]) -> Vec<String> {
        let mut masked = Vec::new();
        for read in reads {
            let Ok(table) = TableRef::parse(&read.table) else {
                continue;
            };
            if let Some(g) = self.governance.get(&table) {
                masked.extend(
                    read.columns
                        .iter()
                        .filter(|c| g.masked.contains_key(*c))
                        .map(|c| format!("{table}.{c}")),
                );
            }
        }
        masked
    }

    /// The mesh tables and columns `df` (from [`Self::plan`]) reads, from its optimised plan
    /// (projection push-down narrows each scan to the columns the query uses).
    fn reads(&self, df: &DataFrame) -> Result<Vec<crate::TableRead>, QueryError> {
        let optimized;
        let plan = match df.logical_plan() {
            // An EXPLAIN's DataFrame holds the plan as written; what it reads is its optimised form.
            plan @ (LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) => {
                optimized = self
                    .ctx
                    .state()
                    .optimize(plan)
                    .map_err(QueryError::from_datafusion)?;
                &optimized
            }
            plan => plan,
        };
        crate::tables_read(plan, &self.default_schema, |t| {
            self.products
                .contains_key(&(t.domain.clone(), t.table.clone()))
        })
        .map_err(QueryError::from_datafusion)
    }
}

/// Whether `plan` reads a table of `pg_catalog`.
fn reads_pg_catalog(plan: &LogicalPlan) -> bool {
    let mut reads = false;
    // The walk only fails if the closure does, and it does not.
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && scan.table_name.schema() == Some("pg_catalog")
        {
            reads = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    reads
}

/// Refuses DDL, DML, `COPY` and session statements anywhere in `plan`: sessions only read, so
/// SQL cannot create external tables over arbitrary files or write with `COPY`.
fn refuse_non_queries(plan: &LogicalPlan) -> Result<(), QueryError> {
    let mut refused = None;
    plan.apply_with_subqueries(|node| {
        refused = match node {
            LogicalPlan::Ddl(ddl) => Some(format!("DDL ({})", ddl.name())),
            LogicalPlan::Dml(dml) => Some(format!("DML ({})", dml.op)),
            LogicalPlan::Copy(_) => Some("COPY".to_string()),
            LogicalPlan::Statement(statement) => {
                Some(format!("the statement {}", statement.name()))
            }
            _ => None,
        };
        Ok(if refused.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })
    .map_err(QueryError::from_datafusion)?;
    match refused {
        Some(what) => Err(QueryError::NotAQuery(format!("{what} is not run here"))),
        None => Ok(()),
    }
}
