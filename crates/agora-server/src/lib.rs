//! Agora's network interfaces, in one process: the HTTP API ([`routes`], axum, OpenAPI document
//! at `/api/openapi.json`, bearer tokens; one module per area, sharing the leaf `api` module for
//! errors and authentication) and the PostgreSQL wire protocol ([`postgres`], on pgwire, the
//! API token as password, TLS with [`PgTls`]). Both act through `agora_mesh::Mesh`, so both get the same governed
//! answers as the CLI.
//!
//! ```no_run
//! # async fn demo(mesh: agora_mesh::Mesh) -> std::io::Result<()> {
//! let server = agora_server::Server::bind(mesh, "127.0.0.1:8765".parse().unwrap(), "127.0.0.1:6543".parse().unwrap()).await?;
//! println!("HTTP on {}, Postgres on {}", server.http_addr(), server.pg_addr());
//! server.run().await
//! # }
//! ```

mod api;
pub mod postgres;
pub mod routes;
pub mod sharing;
mod tls;

pub use tls::{PgTls, TlsError};

use std::net::SocketAddr;

use agora_mesh::Mesh;
use tokio::net::TcpListener;

/// Both listeners, bound and ready to serve.
pub struct Server {
    mesh: Mesh,
    http: TcpListener,
    pg: TcpListener,
    pg_tls: Option<PgTls>,
    max_ingest_body: usize,
}

impl Server {
    /// Binds both addresses (port 0 picks a free port).
    pub async fn bind(mesh: Mesh, http: SocketAddr, pg: SocketAddr) -> std::io::Result<Server> {
        let http = TcpListener::bind(http).await?;
        let pg = TcpListener::bind(pg).await?;
        Ok(Server {
            mesh,
            http,
            pg,
            pg_tls: None,
            max_ingest_body: routes::DEFAULT_MAX_INGEST_BODY,
        })
    }

    /// Offers TLS on the Postgres listener with `tls`.
    pub fn with_pg_tls(mut self, tls: PgTls) -> Server {
        self.pg_tls = Some(tls);
        self
    }

    /// Accepts ingest request bodies of up to `bytes` (by default
    /// [`routes::DEFAULT_MAX_INGEST_BODY`]); a larger one is refused with 413.
    pub fn with_max_ingest_body(mut self, bytes: usize) -> Server {
        self.max_ingest_body = bytes;
        self
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http
            .local_addr()
            .expect("INVARIANT: a bound listener has an address")
    }

    pub fn pg_addr(&self) -> SocketAddr {
        self.pg
            .local_addr()
            .expect("INVARIANT: a bound listener has an address")
    }

    /// Serves until the process stops or either listener fails.
    pub async fn run(self) -> std::io::Result<()> {
        let app = routes::router(self.mesh.clone(), self.max_ingest_body);
        let http = async move { axum::serve(self.http, app).await };
        let pg = postgres::serve(self.mesh, self.pg, self.pg_tls);
        tokio::try_join!(http, pg)?;
        Ok(())
    }
}
