//! One module per command group, each with its clap arguments and the function that runs
//! them; [`run`] opens the mesh (but for the commands that need none) and dispatches.

mod access;
mod classify;
mod demo;
mod domain;
mod edge;
mod forecast;
mod forecast_plot;
mod ingest;
mod init;
mod ledger;
mod lineage;
mod policy;
mod principal;
mod product;
mod quality;
mod search;
mod serve;
mod share;
mod sql;
mod table_change;
mod tag;
mod vacuum;
mod witness;

use std::path::Path;

use agora_mesh::{Mesh, MeshError};
use agora_model::Principal;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Command {
    /// Create an empty mesh.
    Init,
    /// Create a demo mesh with three domains and generated data, then show a tour.
    Demo(demo::DemoArgs),
    /// Manage domains.
    #[command(subcommand)]
    Domain(domain::DomainCommand),
    /// Register and list edge agents, which send signed batches from devices.
    #[command(subcommand)]
    Edge(edge::EdgeCommand),
    /// Share products with other domains and organisations over Delta Sharing.
    #[command(subcommand)]
    Share(share::ShareCommand),
    /// Manage principals.
    #[command(subcommand)]
    Principal(principal::PrincipalCommand),
    /// Give a principal read or write access to a product (all its tables) or one table; `agora
    /// grant list` lists grants.
    Grant(access::GrantCommand),
    /// Take a grant back.
    Revoke(access::GrantArgs),
    /// Manage data products.
    #[command(subcommand)]
    Product(product::ProductCommand),
    /// Ingest a CSV, JSON lines, Parquet or Arrow file (or `-` for stdin) into `domain.table`.
    Ingest(ingest::IngestArgs),
    /// Run SQL: one statement, or several separated by `;` (from the argument or --file), in
    /// order in one session; the first that fails stops the run. Tables are `domain.table`.
    Sql(sql::SqlArgs),
    /// Classify the columns of a CSV, JSON lines or Parquet file without ingesting it: category
    /// (email, phone_number, payment_card, iban, national_id, ip_address, person_name,
    /// postal_address, date_of_birth, geolocation, credential or none), sensitivity, confidence
    /// and evidence. Sensitivity by category: payment_card, iban, national_id and credential
    /// are restricted; email, phone_number, person_name, postal_address, date_of_birth and
    /// geolocation confidential; ip_address internal; none public.
    Classify(classify::ClassifyArgs),
    /// Find products by name, description, columns, tags and classified categories.
    Search { query: String },
    /// The graph of what fed a product, table or column (or what it feeds), from the ledger.
    Lineage(lineage::LineageArgs),
    /// Governance policies: masks by category or sensitivity, row filters.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Column classifications: list them, override one, or confirm or reject the classifier's.
    #[command(subcommand)]
    Tag(tag::TagCommand),
    /// The signed, Merkle-logged record of every change: checkpoints, entries, proofs, audit.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Serve the HTTP API and the PostgreSQL wire protocol.
    Serve(serve::ServeArgs),
    /// Delete the rows of a table that match a condition, in one commit (write grant needed;
    /// your row filters narrow what you delete). Earlier versions keep them until a vacuum.
    Delete(table_change::DeleteArgs),
    /// Right to erasure: remove a data subject's rows from every product table and quarantine
    /// table that holds them, as new versions; with --purge, from earlier versions too. The
    /// ledger records what was erased, where and when, naming the value only by its keyed
    /// hash. Administrators only.
    Erase(table_change::EraseArgs),
    /// Compact a table's small files (and its quarantine's) into larger ones; rows do not
    /// change. Write grant needed.
    Optimize(table_change::OptimizeArgs),
    /// Remove the data files of ingests that failed or crashed before their commit (no version
    /// references them), waiting for running ingests; with a table, also the files its
    /// versions older than --retain need. Administrators only.
    Vacuum(vacuum::VacuumArgs),
    /// Data quality: `agora quality TABLE [--format json]` shows a table's latest rule results,
    /// quality score and incidents; `agora quality detect --series FILE.csv` scores a recorded
    /// series with the streaming anomaly detector.
    Quality(quality::QualityArgs),
    /// Forecast a metric of a table (`--value "sum(amount)"` per `--every 1d`) `--horizon`
    /// periods ahead with prediction intervals, through your governed view of it: the model
    /// (seasonal naive, ETS or MSTL) is chosen by rolling-origin cross-validation.
    Forecast(forecast::ForecastArgs),
}

/// Runs `command` on the mesh in `data`, as the principal `as_principal` (the administrator by
/// default).
pub async fn run(
    command: Command,
    data: &Path,
    as_principal: Option<&str>,
) -> Result<(), MeshError> {
    // Commands that make a mesh, or need none.
    let command = match command {
        Command::Init => return init::run(data).await,
        Command::Demo(args) => return demo::run(data, args).await,
        Command::Classify(args) => return classify::run(args),
        Command::Quality(quality::QualityArgs {
            command: Some(quality::QualityCommand::Detect(args)),
            ..
        }) => return quality::detect(args),
        Command::Ledger(ledger::LedgerCommand::VerifyProof(args)) => {
            return ledger::verify_proof(args);
        }
        other => other,
    };
    let mesh = Mesh::open(data).await?;
    let me = match as_principal {
        Some(name) => mesh.principal(name).await?,
        None => Principal::admin(),
    };
    match command {
        Command::Init | Command::Demo(_) | Command::Classify(_) => {
            unreachable!("handled before the mesh is opened")
        }
        Command::Quality(quality::QualityArgs {
            command: Some(c), ..
        }) => quality::run_on_mesh(&mesh, &me, c).await,
        Command::Quality(args) => quality::report(&mesh, &me, args).await,
        Command::Domain(c) => domain::run(&mesh, &me, c).await,
        Command::Principal(c) => principal::run(&mesh, &me, c).await,
        Command::Share(c) => share::run(&mesh, &me, c).await,
        Command::Edge(c) => edge::run(&mesh, &me, c).await,
        Command::Grant(command) => access::run_grant(&mesh, &me, command).await,
        Command::Revoke(args) => access::run(&mesh, &me, args, true).await,
        Command::Product(c) => product::run(&mesh, &me, c).await,
        Command::Ingest(args) => ingest::run(&mesh, &me, args).await,
        Command::Sql(args) => sql::run(&mesh, &me, args).await,
        Command::Search { query } => search::run(&mesh, &me, &query).await,
        Command::Lineage(args) => lineage::run(&mesh, &me, args).await,
        Command::Policy(c) => policy::run(&mesh, &me, c).await,
        Command::Tag(c) => tag::run(&mesh, &me, c).await,
        Command::Ledger(c) => ledger::run(&mesh, &me, c).await,
        Command::Serve(args) => serve::run(mesh, data, args).await,
        Command::Delete(args) => table_change::delete(&mesh, &me, args).await,
        Command::Erase(args) => table_change::erase(&mesh, &me, args).await,
        Command::Optimize(args) => table_change::optimize(&mesh, &me, args).await,
        Command::Vacuum(args) => vacuum::run(&mesh, &me, args).await,
        Command::Forecast(args) => forecast::run(&mesh, &me, args).await,
    }
}
