//! `agora serve`: the HTTP API and the PostgreSQL wire protocol.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agora_mesh::{Mesh, MeshError};
use clap::Args;

use crate::print;

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8765")]
    http: SocketAddr,
    #[arg(long, default_value = "127.0.0.1:6543")]
    pg: SocketAddr,
    /// The Postgres endpoint's TLS certificate chain (PEM); by default a self-signed one kept
    /// in the mesh's directory (`tls/`), made on first start.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// The largest request body `POST /api/v1/tables/{domain}/{table}/batches` takes, as
    /// 512MiB, 4GiB or bytes (default 1GiB); a larger one is refused with 413, nothing ingested.
    #[arg(long, value_name = "SIZE")]
    max_ingest_body: Option<String>,
    /// Limits of every query served (by default each may run 5 minutes).
    #[command(flatten)]
    limits: crate::limits::LimitArgs,
}

/// How long a served query may run unless `--query-timeout` says otherwise.
const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(300);

pub async fn run(mesh: Mesh, data: &Path, args: ServeArgs) -> Result<(), MeshError> {
    let (http, pg) = (args.http, args.pg);
    let mesh = mesh.with_query_limits(args.limits.limits(Some(DEFAULT_QUERY_TIMEOUT))?);
    let max_ingest_body = match &args.max_ingest_body {
        Some(text) => crate::limits::parse_size("--max-ingest-body", text)?,
        None => agora_server::routes::DEFAULT_MAX_INGEST_BODY,
    };
    // Events answered before a stop are in their buffers: they go in before anything else.
    for report in mesh.flush_event_buffers().await? {
        print(format!(
            "Ingested {} buffered event(s) into {} (version {})",
            report.rows_read,
            report.table,
            report.version.map_or("-".to_string(), |v| v.to_string())
        ))?;
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => agora_server::PgTls::from_pem_files(cert, key),
        _ => agora_server::PgTls::self_signed_in(&data.join("tls")),
    }
    .map_err(|e| MeshError::BadInput {
        source_name: "TLS for the Postgres endpoint".to_string(),
        message: e.to_string(),
    })?;
    let server = agora_server::Server::bind(mesh, http, pg)
        .await
        .map_err(|e| MeshError::Internal(format!("cannot listen on {http} / {pg}: {e}")))?
        .with_pg_tls(tls.clone())
        .with_max_ingest_body(max_ingest_body);
    print(format!("Agora is serving the mesh in {}", data.display()))?;
    print(format!(
        "  HTTP API  http://{}/api/v1 (OpenAPI: /api/openapi.json)",
        server.http_addr()
    ))?;
    print(format!(
        "  Postgres  postgresql://{}/agora (user = principal, password = API token)",
        server.pg_addr()
    ))?;
    print(format!(
        "            TLS (sslmode=require) with {}, SHA-256 fingerprint {}",
        tls.certificate().display(),
        tls.fingerprint()
    ))?;
    server
        .run()
        .await
        .map_err(|e| MeshError::Internal(format!("server stopped: {e}")))
}
