//! `agora`: the command line of an Agora mesh. Each command parses its flags, calls one
//! `agora_mesh::Mesh` operation and prints the result; errors become one line on stderr and a
//! non-zero exit code (2 bad input, 3 not found, 4 denied, 5 conflict, 1 anything else).

mod ledger;
mod progress;
mod sql;
mod witness;

/// Query execution allocates and frees large buffers at a high rate (decoded Parquet pages, hash
/// tables); glibc's allocator returns them to the kernel and takes them back page fault by page
/// fault, which cost a third of a short query's time in a fresh process (docs/benchmarks.md).
/// mimalloc keeps and reuses them, as DataFusion's own CLI does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use agora_mesh::lineage::{Direction, LineageGraph, LineageRequest, PointInTime};
use agora_mesh::output::OutputFormat;
use agora_mesh::{
    ErrorKind, IngestOptions, InputFormat, Mesh, MeshError, ProductDetails, SessionOptions, Source,
};
use agora_model::{ModelError, Name, Principal, Sensitivity, TableRef};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "agora",
    version,
    about = "Agora: a data mesh of governed data products"
)]
struct Cli {
    /// The mesh directory.
    #[arg(long, global = true, env = "AGORA_DATA", default_value = "agora-data")]
    data: PathBuf,
    /// Act as this principal instead of the mesh administrator.
    #[arg(long = "as", global = true, value_name = "PRINCIPAL")]
    as_principal: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an empty mesh.
    Init,
    /// Create a demo mesh with three domains and generated data, then show a tour.
    Demo {
        /// Number of orders to generate (customers and shipments scale with it).
        #[arg(long, default_value_t = 200_000)]
        rows: usize,
    },
    /// Manage domains.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Manage principals.
    #[command(subcommand)]
    Principal(PrincipalCommand),
    /// Give a principal read or write access to a product (all its tables) or one table.
    Grant {
        principal: String,
        access: String,
        target: String,
    },
    /// Take a grant back.
    Revoke {
        principal: String,
        access: String,
        target: String,
    },
    /// Manage data products.
    #[command(subcommand)]
    Product(ProductCommand),
    /// Ingest a CSV, JSON lines, Parquet or Arrow file (or `-` for stdin) into `domain.table`.
    Ingest {
        table: String,
        file: String,
        /// csv, json, parquet or arrow; by default the file extension decides.
        #[arg(long)]
        format: Option<String>,
    },
    /// Run a SQL query; tables are `domain.table`.
    /// Run SQL: one statement, or several separated by `;` (from the argument or --file), in
    /// order in one session; the first that fails stops the run.
    Sql {
        /// The SQL to run; leave out with --file.
        #[arg(required_unless_present = "file")]
        query: Option<String>,
        /// Run the statements of this SQL file (`-` reads standard input).
        #[arg(long, short = 'f', conflicts_with = "query")]
        file: Option<PathBuf>,
        /// Print each statement's elapsed time (planning, audit and output included) to
        /// standard error.
        #[arg(long)]
        timing: bool,
        /// table, csv, json, parquet or arrow (an Arrow IPC stream).
        #[arg(long, default_value = "table")]
        format: String,
        /// Read the tables as of this Delta version (time travel).
        #[arg(long)]
        version: Option<u64>,
        /// A domain whose tables the query may name without `domain.` (like search_path).
        #[arg(long)]
        schema: Option<String>,
    },
    /// Classify the columns of a CSV, JSON lines or Parquet file without ingesting it: category
    /// (email, phone_number, payment_card, iban, national_id, ip_address, person_name,
    /// postal_address, date_of_birth, geolocation, credential or none), sensitivity, confidence
    /// and evidence. Sensitivity by category: payment_card, iban, national_id and credential
    /// are restricted; email, phone_number, person_name, postal_address, date_of_birth and
    /// geolocation confidential; ip_address internal; none public.
    Classify {
        file: PathBuf,
        /// text, or json (one object per column, one per line).
        #[arg(long, default_value = "text")]
        format: String,
        /// csv, json or parquet; by default the file extension decides.
        #[arg(long)]
        input: Option<String>,
    },
    /// Find products by name, description, columns, tags and classified categories.
    Search { query: String },
    /// The graph of what fed a product, table or column (or what it feeds), from the ledger.
    Lineage {
        /// `domain.product`, `domain.table` or `domain.table.column`.
        target: String,
        /// Only what fed the target (the default shows both directions).
        #[arg(long, conflicts_with = "downstream")]
        upstream: bool,
        /// Only what the target feeds.
        #[arg(long)]
        downstream: bool,
        /// At most this many hops from the target.
        #[arg(long)]
        depth: Option<usize>,
        /// text, json or dot.
        #[arg(long, default_value = "text")]
        format: String,
        /// Answer as the ledger stood at this time (RFC 3339).
        #[arg(long, conflicts_with = "checkpoint")]
        as_of: Option<String>,
        /// Answer as of the published checkpoint of this many entries.
        #[arg(long)]
        checkpoint: Option<u64>,
        /// Prove every edge's ledger entry against the checkpoint and check its signature.
        #[arg(long)]
        verify: bool,
    },
    /// Governance policies: masks by category or sensitivity, row filters.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Column classifications: list them, or override one.
    #[command(subcommand)]
    Tag(TagCommand),
    /// The signed, Merkle-logged record of every change: checkpoints, entries, proofs, audit.
    #[command(subcommand)]
    Ledger(ledger::LedgerCommand),
    /// Serve the HTTP API and the PostgreSQL wire protocol.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8765")]
        http: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:6543")]
        pg: SocketAddr,
    },
}

#[derive(Subcommand)]
enum DomainCommand {
    Create {
        name: String,
        #[arg(long)]
        owner: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    List,
}

#[derive(Subcommand)]
enum PrincipalCommand {
    /// Create a principal and print its API token (shown only once).
    Create {
        name: String,
        /// The most sensitive data it reads unmasked: public, internal, confidential or
        /// restricted.
        #[arg(long, default_value = "internal")]
        clearance: String,
        /// An attribute row filters compare against, as NAME=VALUE (repeatable); the global
        /// policy must declare NAME.
        #[arg(long = "attr", value_name = "NAME=VALUE")]
        attributes: Vec<String>,
    },
    /// Show a principal's grants.
    Grants { name: String },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Apply a policy file (the global one, or a domain's), whole or not at all.
    Apply { file: PathBuf },
    /// Print the policies in force.
    Show,
}

#[derive(Subcommand)]
enum TagCommand {
    /// Set a column's classification; no automatic run changes it afterwards.
    Set {
        /// `domain.table.column`.
        column: String,
        /// One of email, phone_number, payment_card, iban, national_id, ip_address,
        /// person_name, postal_address, date_of_birth, geolocation, credential, none.
        category: String,
        /// By default the category's own (see `agora classify --help`).
        #[arg(long)]
        sensitivity: Option<String>,
        /// Why: kept with the tag and in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// The classification of each labelled column of `domain.table`.
    List { table: String },
}

#[derive(Subcommand)]
enum ProductCommand {
    /// Create or update a product from an ODCS v3 contract.
    Apply {
        contract: PathBuf,
        /// The domain, when the contract has no `domain` field.
        #[arg(long)]
        domain: Option<String>,
    },
    List,
    /// Contract, schema, owner, versions, row counts, last ingests.
    Show {
        product: String,
    },
}

fn main() -> ExitCode {
    // Quiet by default: errors reach the user through the one-line message below, and the
    // libraries' own logs are for debugging (AGORA_LOG=debug).
    let filter = tracing_subscriber::EnvFilter::try_from_env("AGORA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("agora_server=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::BadInput => 2,
                ErrorKind::NotFound => 3,
                ErrorKind::Denied | ErrorKind::Unauthenticated => 4,
                ErrorKind::Conflict => 5,
                ErrorKind::Internal => 1,
            })
        }
    }
}

pub(crate) fn print(text: impl std::fmt::Display) -> Result<(), MeshError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| MeshError::Internal(format!("writing to stdout: {e}")))
}

async fn actor(mesh: &Mesh, cli_as: &Option<String>) -> Result<Principal, MeshError> {
    match cli_as {
        Some(name) => mesh.principal(name).await,
        None => Ok(Principal::admin()),
    }
}

async fn run(cli: Cli) -> Result<(), MeshError> {
    let data = cli.data.clone();
    match cli.command {
        Command::Classify {
            file,
            format,
            input,
        } => {
            let input = input.as_deref().map(InputFormat::parse).transpose()?;
            let results = agora_mesh::ingest::classify_file(&file, input)?;
            return print_classifications(&results, &format);
        }
        Command::Init => {
            let (_, token) = Mesh::init(&data).await?;
            print(format!("Created an empty mesh in {}", data.display()))?;
            print(format!("Administrator API token (shown once): {token}"))?;
            return Ok(());
        }
        Command::Demo { rows } => {
            let tour = Mesh::demo(&data, rows).await?;
            print(format!("Demo mesh created in {}\n", data.display()))?;
            for step in tour.steps {
                print(format!("== {}\n{}", step.title, step.body))?;
            }
            print(format!(
                "Try it yourself:\n  agora --data {d} sql \"select region, sum(amount) from sales.orders group by 1\"\n  agora --data {d} --as bob sql \"select * from customers.profiles\"\n  agora --data {d} serve   # then: PGPASSWORD={t} psql -h 127.0.0.1 -p 6543 -U bob agora",
                d = data.display(),
                t = tour.analyst_token
            ))?;
            return Ok(());
        }
        Command::Ledger(ledger::LedgerCommand::VerifyProof {
            file,
            key,
            checkpoint,
            witnesses,
            min_witnesses,
        }) => {
            return ledger::verify_proof(
                &file,
                &key,
                checkpoint.as_deref(),
                &witnesses,
                min_witnesses,
            );
        }
        _ => {}
    }
    let mesh = Mesh::open(&data).await?;
    let me = actor(&mesh, &cli.as_principal).await?;
    match cli.command {
        Command::Init
        | Command::Classify { .. }
        | Command::Demo { .. }
        | Command::Ledger(ledger::LedgerCommand::VerifyProof { .. }) => {
            unreachable!("handled before the mesh is opened")
        }
        Command::Ledger(command) => ledger::run(&mesh, &me, command).await,
        Command::Lineage {
            target,
            upstream,
            downstream,
            depth,
            format,
            as_of,
            checkpoint,
            verify,
        } => {
            let at = match (as_of, checkpoint) {
                (Some(t), _) => PointInTime::AsOf(
                    chrono::DateTime::parse_from_rfc3339(&t)
                        .map_err(|e| MeshError::BadInput {
                            source_name: "--as-of".into(),
                            message: format!("`{t}` is not an RFC 3339 time: {e}"),
                        })?
                        .to_utc(),
                ),
                (None, Some(size)) => PointInTime::Checkpoint(size),
                (None, None) => PointInTime::Latest,
            };
            let direction = match (upstream, downstream) {
                (true, _) => Direction::Upstream,
                (_, true) => Direction::Downstream,
                _ => Direction::Both,
            };
            if !["text", "json", "dot"].contains(&format.as_str()) {
                return Err(MeshError::BadInput {
                    source_name: "--format".into(),
                    message: format!("`{format}`: expected text, json or dot"),
                });
            }
            let graph = mesh
                .lineage(LineageRequest {
                    target,
                    direction,
                    depth,
                    at,
                    verify,
                })
                .await?;
            match format.as_str() {
                "json" => print(
                    serde_json::to_string_pretty(&graph)
                        .expect("INVARIANT: a lineage graph is plain JSON"),
                ),
                "dot" => print(graph.to_dot().trim_end()),
                _ => print_lineage(&graph),
            }
        }
        Command::Policy(PolicyCommand::Apply { file }) => {
            let yaml = std::fs::read_to_string(&file).map_err(|source| MeshError::Io {
                path: file.display().to_string(),
                source,
            })?;
            let applied = mesh
                .apply_policy(&me, &file.display().to_string(), &yaml)
                .await?;
            print(format!(
                "Applied the {} policy: {} column rules, {} row filters (ledger entry {})",
                applied.scope, applied.column_rules, applied.row_filters, applied.ledger_index
            ))
        }
        Command::Policy(PolicyCommand::Show) => {
            let policies = mesh.policies().await?;
            if policies.is_empty() {
                return print(
                    "No policy applied: confidential and restricted columns are hashed for readers below their level.",
                );
            }
            for p in policies {
                let scope = p.domain.map_or("global".to_string(), |d| d.to_string());
                print(format!(
                    "# {scope} policy, applied by {} at {}\n{}\n",
                    p.applied_by,
                    p.applied_at,
                    p.document.trim_end()
                ))?;
            }
            Ok(())
        }
        Command::Tag(TagCommand::Set {
            column,
            category,
            sensitivity,
            reason,
        }) => {
            let tag = mesh
                .set_tag(&me, &column, &category, sensitivity.as_deref(), &reason)
                .await?;
            print(format!(
                "{column}: {} ({}), set by {}: {}",
                tag.category, tag.sensitivity, me.name, tag.reason
            ))
        }
        Command::Tag(TagCommand::List { table }) => {
            let table = TableRef::parse(&table)?;
            for tag in mesh.column_tags(&table).await? {
                print(format_tag(&tag))?;
            }
            Ok(())
        }
        Command::Domain(DomainCommand::Create {
            name,
            owner,
            description,
        }) => {
            let d = mesh.create_domain(&me, &name, &owner, &description).await?;
            print(format!("Created domain {} (owner {})", d.name, d.owner))
        }
        Command::Domain(DomainCommand::List) => {
            for d in mesh.domains().await? {
                print(format!(
                    "{:<16} owner {:<12} {}",
                    d.name.as_str(),
                    d.owner.as_str(),
                    d.description
                ))?;
            }
            Ok(())
        }
        Command::Principal(PrincipalCommand::Create {
            name,
            clearance,
            attributes,
        }) => {
            let clearance: Sensitivity = clearance.parse()?;
            let mut attrs = BTreeMap::new();
            for a in &attributes {
                let (k, v) = a.split_once('=').ok_or_else(|| MeshError::BadInput {
                    source_name: "--attr".into(),
                    message: format!("`{a}` is not NAME=VALUE"),
                })?;
                attrs.insert(k.trim().to_string(), v.trim().to_string());
            }
            let token = mesh.create_principal(&me, &name, clearance, attrs).await?;
            print(format!(
                "Created principal {name}\nAPI token (shown once; also the Postgres password): {token}"
            ))
        }
        Command::Principal(PrincipalCommand::Grants { name }) => {
            for g in mesh.grants_of(&name).await? {
                print(format!("{} {} on {}", g.principal, g.access, g.target))?;
            }
            Ok(())
        }
        Command::Grant {
            principal,
            access,
            target,
        } => {
            let g = mesh
                .set_grant(&me, &principal, &access, &target, false)
                .await?;
            print(format!(
                "Granted {} {} on {}",
                g.principal, g.access, g.target
            ))
        }
        Command::Revoke {
            principal,
            access,
            target,
        } => {
            let g = mesh
                .set_grant(&me, &principal, &access, &target, true)
                .await?;
            print(format!(
                "Revoked {} {} on {}",
                g.principal, g.access, g.target
            ))
        }
        Command::Product(ProductCommand::Apply { contract, domain }) => {
            let yaml = std::fs::read_to_string(&contract).map_err(|source| MeshError::Io {
                path: contract.display().to_string(),
                source,
            })?;
            let r = mesh
                .apply_contract(&me, &yaml, domain.as_deref())
                .await
                .map_err(|e| match e {
                    // Name the file in contract errors; a refused breaking change keeps its kind.
                    MeshError::Contract(m) if !matches!(m, ModelError::BreakingChange { .. }) => {
                        MeshError::BadInput {
                            source_name: contract.display().to_string(),
                            message: m.to_string(),
                        }
                    }
                    other => other,
                })?;
            for w in &r.warnings {
                eprintln!("warning: {}: {w}", contract.display());
            }
            let verb = if r.created { "Created" } else { "Updated" };
            print(format!(
                "{verb} product {}.{} v{} (tables: {})",
                r.domain,
                r.product,
                r.version,
                r.tables
                    .iter()
                    .map(|t| format!("{}.{t}", r.domain))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))?;
            for c in &r.changes {
                print(format!("  {}", c.description))?;
            }
            Ok(())
        }
        Command::Product(ProductCommand::List) => {
            for p in mesh.products().await? {
                print(format!(
                    "{}.{:<16} v{:<8} {:<10} {}",
                    p.domain,
                    p.name.as_str(),
                    p.version,
                    p.status,
                    p.description
                ))?;
            }
            Ok(())
        }
        Command::Product(ProductCommand::Show { product }) => print_product(
            &mesh
                .product_details(&me, &product, agora_mesh::Interface::Cli)
                .await?,
        ),
        Command::Ingest {
            table,
            file,
            format,
        } => {
            let format = format.as_deref().map(InputFormat::parse).transpose()?;
            let source = if file == "-" {
                Source::Stdin
            } else {
                Source::File(PathBuf::from(&file))
            };
            let bar = progress::for_file(&file);
            let options = IngestOptions {
                format,
                progress: bar.as_ref().map(progress::callback),
            };
            let report = mesh.ingest(&me, &table, source, options).await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let r = report?;
            print(format!(
                "Ingested {} into {}: {} rows read, {} accepted, {} quarantined → version {} (ledger entry {})",
                r.source,
                r.table,
                r.rows_read,
                r.rows_accepted,
                r.rows_quarantined,
                r.version.map_or("-".to_string(), |v| v.to_string()),
                r.ledger_index
            ))?;
            for (reason, n) in &r.quarantine_reasons {
                print(format!("  quarantined {n} × {reason}"))?;
            }
            for c in &r.classified {
                let was = c.previous.map(|p| format!(", was {p}")).unwrap_or_default();
                print(format!(
                    "  classified {}: {} ({}, confidence {:.2}{was})",
                    c.column, c.category, c.sensitivity, c.confidence
                ))?;
            }
            Ok(())
        }
        Command::Sql {
            query,
            file,
            timing,
            format,
            version,
            schema,
        } => {
            let output = sql::SqlOutput {
                format: OutputFormat::parse(&format)?,
                timing,
            };
            let options = SessionOptions {
                as_of: version,
                default_schema: schema.map(|s| Name::strict("domain", &s)).transpose()?,
            };
            let source = match (query, &file) {
                (_, Some(path)) => sql::SqlSource::File(path),
                (Some(query), None) => sql::SqlSource::Argument(query),
                (None, None) => {
                    return Err(MeshError::BadInput {
                        source_name: "agora sql".to_string(),
                        message: "give the SQL to run, or --file FILE".to_string(),
                    });
                }
            };
            sql::run_sql(&mesh, &me, source, options, output).await
        }
        Command::Search { query } => {
            for h in mesh.search(&query, 20).await? {
                print(format!(
                    "{}.{:<16} {}",
                    h.domain,
                    h.product.as_str(),
                    h.snippet
                ))?;
            }
            Ok(())
        }
        Command::Serve { http, pg } => {
            let server = agora_server::Server::bind(mesh, http, pg)
                .await
                .map_err(|e| MeshError::Internal(format!("cannot listen on {http} / {pg}: {e}")))?;
            print(format!("Agora is serving the mesh in {}", data.display()))?;
            print(format!(
                "  HTTP API  http://{}/api/v1 (OpenAPI: /api/openapi.json)",
                server.http_addr()
            ))?;
            print(format!(
                "  Postgres  postgresql://{}/agora (user = principal, password = API token)",
                server.pg_addr()
            ))?;
            server
                .run()
                .await
                .map_err(|e| MeshError::Internal(format!("server stopped: {e}")))
        }
    }
}

/// The text form of a lineage graph: one edge per line with its ledger entry.
fn print_lineage(g: &LineageGraph) -> Result<(), MeshError> {
    print(format!(
        "lineage of {}{} — ledger checkpoint {} (root {}){}",
        g.target,
        if g.columns { " (columns)" } else { "" },
        g.checkpoint.size,
        &g.checkpoint.root[..16],
        if g.verified {
            ", every edge proven"
        } else {
            ""
        }
    ))?;
    if g.edges.is_empty() {
        return print("  no lineage recorded");
    }
    for e in &g.edges {
        let transformations = if e.transformations.is_empty() {
            String::new()
        } else {
            format!(" [{}]", e.transformations.join("; "))
        };
        print(format!(
            "  {} → {}  via {}{}  (entry {}, {}, signed by {})",
            e.from, e.to, e.via, transformations, e.entry, e.time, e.signer
        ))?;
    }
    Ok(())
}

/// `agora classify` output: a table, or one JSON object per column and line.
fn print_classifications(
    results: &[agora_classify::Classification],
    format: &str,
) -> Result<(), MeshError> {
    match format {
        "json" => {
            for r in results {
                print(
                    serde_json::to_string(r).expect("INVARIANT: a classification is plain JSON"),
                )?;
            }
            Ok(())
        }
        "text" => {
            for r in results {
                let evidence = r
                    .evidence
                    .iter()
                    .map(|e| format!("{} {:.0}%", e.detector, e.share * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ");
                print(format!(
                    "{:<24} {:<15} {:<13} {:>5.2}  {evidence}",
                    r.column,
                    r.category.as_str(),
                    r.sensitivity.as_str(),
                    r.confidence
                ))?;
            }
            Ok(())
        }
        other => Err(MeshError::BadInput {
            source_name: "--format".into(),
            message: format!("`{other}`: expected text or json"),
        }),
    }
}

/// `email, confidential, 0.97 by the classifier`.
fn tag_summary(tag: &agora_mesh::ColumnTag) -> String {
    let by = match tag.source {
        "override" => format!("override: {}", tag.reason),
        "contract" => "from the contract".to_string(),
        _ => format!("{:.2} by the classifier", tag.confidence),
    };
    format!("{}, {}, {by}", tag.category, tag.sensitivity)
}

fn format_tag(tag: &agora_mesh::ColumnTag) -> String {
    let evidence = tag
        .evidence
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|e| {
                    Some(format!(
                        "{} {:.0}%",
                        e.get("detector")?.as_str()?,
                        e.get("share")?.as_f64()? * 100.0
                    ))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let evidence = if evidence.is_empty() {
        String::new()
    } else {
        format!("  evidence: {evidence}")
    };
    format!("{:<24} {}{evidence}", tag.column, tag_summary(tag))
}

/// Prints what `product show` reports: header, tables with columns and versions, ingests, contract.
fn print_product(d: &ProductDetails) -> Result<(), MeshError> {
    let r = &d.record;
    print(format!(
        "{}.{}  v{}  ({})  owner: {}",
        r.domain, r.name, r.version, r.status, d.owner
    ))?;
    if !r.description.is_empty() {
        print(format!("  {}", r.description))?;
    }
    for t in &d.tables {
        print(format!(
            "\ntable {}  version {}  rows {}  quarantined {}",
            t.table,
            t.version.map_or("-".to_string(), |v| v.to_string()),
            t.rows,
            t.quarantined_rows
        ))?;
        for (name, ty, required) in &t.columns {
            let tag = t
                .tags
                .iter()
                .find(|tag| &tag.column == name)
                .map(|tag| format!("  [{}]", tag_summary(tag)))
                .unwrap_or_default();
            print(format!(
                "  {name:<24} {ty:<32}{}{tag}",
                if *required { " required" } else { "" }
            ))?;
        }
        for v in &t.history {
            print(format!(
                "  version {:<4} {}",
                v.version,
                v.operation.as_deref().unwrap_or("")
            ))?;
        }
        if let Some(sample) = &t.sample {
            print("  sample rows, as the reader sees them:")?;
            print(format!("    {}", sample.columns.join(" | ")))?;
            for row in &sample.rows {
                let cells: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
                print(format!("    {}", cells.join(" | ")))?;
            }
        }
    }
    if !d.ingests.is_empty() {
        print("\nlast ingests:")?;
        for i in &d.ingests {
            print(format!(
                "  {} {} → version {}: {} accepted, {} quarantined, from {} by {}",
                i.at,
                i.table,
                i.table_version,
                i.rows_accepted,
                i.rows_quarantined,
                i.source,
                i.principal
            ))?;
        }
    }
    print(format!("\ncontract:\n{}", r.contract_yaml.trim_end()))
}
