//! The PostgreSQL wire protocol: `psql -h 127.0.0.1 -p 6543 -U bob agora`, with bob's API
//! token as the password.
//!
//! pgwire speaks the protocol; Agora provides authentication (the token is checked against its
//! hash, and must belong to the user named at login) and query handling through the governed
//! layer, with arrow-pg encoding Arrow results. Sessions only read: `SET`, `BEGIN`, `COMMIT`
//! and `ROLLBACK`, which clients send on their own, are acknowledged and change nothing.

use std::fmt::Debug;
use std::sync::Arc;

use agora_mesh::Interface;
use agora_mesh::{ErrorKind, Mesh, MeshError, SessionOptions};
use agora_model::Principal;
use async_trait::async_trait;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::portal::Format;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, METADATA_USER, PgWireConnectionState, PgWireServerHandlers,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;
use tokio::net::TcpListener;

/// Accepts connections until the listener fails.
pub async fn serve(mesh: Mesh, listener: TcpListener) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers {
        service: Arc::new(Service { mesh }),
    });
    loop {
        let (socket, peer) = listener.accept().await?;
        let handlers = handlers.clone();
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                tracing::warn!(%peer, error = %e, "postgres connection ended with an error");
            }
        });
    }
}

struct Handlers {
    service: Arc<Service>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.service.clone()
    }
}

struct Service {
    mesh: Mesh,
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

/// SQLSTATE codes by error kind.
fn pg_error(e: MeshError) -> PgWireError {
    let code = match e.kind() {
        ErrorKind::Denied => "42501",
        ErrorKind::Unauthenticated => "28P01",
        ErrorKind::NotFound => "42P01",
        ErrorKind::BadInput => "42601",
        ErrorKind::Conflict => "23505",
        ErrorKind::Internal => "XX000",
    };
    user_error(code, e.to_string())
}

/// The connection's metadata key for the SHA-256 of the token it logged in with.
const METADATA_TOKEN_HASH: &str = "agora.token_hash";

#[async_trait]
impl StartupHandler for Service {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let pwd = pwd.into_password()?;
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let principal = self.mesh.authenticate(&pwd.password).await;
                match principal {
                    Ok(p) if p.name.as_str() == user => {
                        // Every statement checks the token again (rotated, expired, disabled).
                        client.metadata_mut().insert(
                            METADATA_TOKEN_HASH.to_string(),
                            agora_mesh::token_hash(pwd.password.trim()),
                        );
                        finish_authentication(client, &DefaultServerParameterProvider::default())
                            .await?;
                    }
                    other => {
                        let reason = match other {
                            Ok(p) => format!("the token belongs to {}", p.name),
                            Err(e) => e.to_string(),
                        };
                        tracing::warn!(%user, %reason, "postgres login refused");
                        return Err(PgWireError::InvalidPassword(user));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Service {
    async fn principal<C: ClientInfo>(&self, client: &C) -> PgWireResult<Principal> {
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default();
        let token_hash = client
            .metadata()
            .get(METADATA_TOKEN_HASH)
            .cloned()
            .unwrap_or_default();
        let principal = self
            .mesh
            .authenticate_hash(&token_hash)
            .await
            .map_err(pg_error)?;
        if principal.name.as_str() != user {
            return Err(pg_error(agora_mesh::MeshError::BadToken));
        }
        Ok(principal)
    }
}

/// Statements clients send by habit that a read-only session acknowledges without effect.
fn session_statement(sql: &str) -> Option<Response> {
    let first = sql.split_whitespace().next()?.to_ascii_uppercase();
    match first.as_str() {
        "SET" | "RESET" | "DISCARD" => Some(Response::Execution(Tag::new(&first))),
        "BEGIN" | "START" => Some(Response::TransactionStart(Tag::new("BEGIN"))),
        "COMMIT" | "END" => Some(Response::TransactionEnd(Tag::new("COMMIT"))),
        "ROLLBACK" | "ABORT" => Some(Response::TransactionEnd(Tag::new("ROLLBACK"))),
        _ => None,
    }
}

#[async_trait]
impl SimpleQueryHandler for Service {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let principal = self.principal(client).await?;
        let span = tracing::info_span!("pg_query", principal = %principal.name);
        let _guard = span.enter();
        let session = self
            .mesh
            .session(
                &principal,
                Interface::Postgres,
                SessionOptions {
                    pg_catalog: true,
                    ..Default::default()
                },
            )
            .await
            .map_err(pg_error)?;
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let mut responses = Vec::new();
        // The compatibility parser rewrites PostgreSQL-only syntax clients send (casts to
        // regclass, OPERATOR(pg_catalog.~), …) into what DataFusion plans.
        let statements = PostgresCompatibilityParser::new()
            .parse(query)
            .map_err(|e| user_error("42601", format!("SQL error: {e}")))?;
        for statement in statements {
            let statement = statement.to_string();
            let statement = agora_query::show_as_select(&statement).unwrap_or(statement);
            if let Some(r) = session_statement(&statement) {
                responses.push(r);
                continue;
            }
            let df = session
                .sql(&statement)
                .await
                .map_err(|e| pg_error(e.into()))?;
            let encoded = encode_dataframe(df, &Format::UnifiedText, Some(options.clone())).await?;
            responses.push(Response::Query(encoded));
        }
        Ok(responses)
    }
}
