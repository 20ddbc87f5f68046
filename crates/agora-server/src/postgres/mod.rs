//! The PostgreSQL wire protocol: `psql -h 127.0.0.1 -p 6543 -U bob agora`, with bob's API
//! token as the password.
//!
//! pgwire speaks the protocol; Agora provides authentication (the token is checked against its
//! hash, must belong to the user named at login, and is checked again before every statement),
//! the simple and the extended query protocol ([`simple`], [`extended`]) over the governed
//! layer, per-connection settings ([`settings`]) and query cancellation ([`cancel`]), with
//! arrow-pg encoding Arrow results in text or binary. Sessions only read: `BEGIN`, `COMMIT`
//! and `ROLLBACK`, which clients send on their own, are acknowledged and change nothing.

mod cancel;
mod extended;
mod settings;
mod simple;
mod startup;

use std::fmt::Debug;
use std::sync::Arc;

use agora_mesh::{ErrorKind, Interface, Mesh, MeshError, QueryLimits, SessionOptions};
use agora_model::Principal;
use agora_query::GovernedSession;
use datafusion::arrow::datatypes::Schema;
use datafusion::prelude::DataFrame;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::pgwire;
use futures::{Sink, StreamExt};
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::portal::Format;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response};
use pgwire::api::{
    ClientInfo, METADATA_USER, PgWireServerHandlers, RandomPidSecretKeyGenerator, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::DataRow;
use pgwire::messages::startup::ParameterStatus;
use pgwire::types::format::FormatOptions;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::PgTls;
use cancel::Cancels;
use settings::SessionStatement;

/// Accepts connections until the listener fails; with `tls`, clients may (and with
/// `sslmode=require` do) switch to TLS before they log in.
pub async fn serve(mesh: Mesh, listener: TcpListener, tls: Option<PgTls>) -> std::io::Result<()> {
    let end_point = tls.as_ref().and_then(|t| t.end_point.clone());
    let acceptor = tls.map(|t| t.acceptor);
    let backend = Arc::new(Backend {
        mesh,
        end_point,
        cancels: Arc::new(Cancels::default()),
        pids: RandomPidSecretKeyGenerator::default(),
    });
    let handlers = Arc::new(Handlers {
        service: Arc::new(Service {
            backend: backend.clone(),
            parser: Arc::new(extended::Parser {
                backend: backend.clone(),
            }),
        }),
    });
    loop {
        let (socket, peer) = listener.accept().await?;
        let handlers = handlers.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, acceptor, handlers).await {
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

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.service.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.service.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.service.backend.cancels.clone()
    }
}

/// The query handlers of both protocols, and the startup handler.
struct Service {
    backend: Arc<Backend>,
    parser: Arc<extended::Parser>,
}

/// What every handler shares: the mesh, and the connections a cancel request may name.
struct Backend {
    mesh: Mesh,
    /// The TLS certificate's `tls-server-end-point` hash, for SCRAM-SHA-256-PLUS.
    end_point: Option<Vec<u8>>,
    cancels: Arc<Cancels>,
    /// Process ids and secret keys for cancel requests (ids count up, keys are random).
    pids: RandomPidSecretKeyGenerator,
}

/// How a connection logged in, checked again before every statement (kept among the
/// connection's typed extensions, where no `SET` reaches).
enum Login {
    /// With the token itself: its SHA-256.
    Token { hash: String },
    /// By SCRAM: the verifier it proved the token against (a rotation replaces it).
    Scram(agora_mesh::ScramVerifier),
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

/// The user named at start-up.
fn user<C: ClientInfo>(client: &C) -> String {
    client
        .metadata()
        .get(METADATA_USER)
        .cloned()
        .unwrap_or_default()
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

/// A statement of a message, and the names PostgreSQL would give its result's columns.
struct Parsed {
    statement: Statement,
    names: Option<Vec<String>>,
}

/// The statements in `sql`, with PostgreSQL-only syntax clients send (casts to `regclass`,
/// `OPERATOR(pg_catalog.~)`, `to_regtype`, …) rewritten into what DataFusion plans.
fn parse(sql: &str) -> PgWireResult<Vec<Parsed>> {
    let mut statements = PostgresCompatibilityParser::new()
        .parse(sql)
        .map_err(|e| user_error("42601", format!("SQL error: {e}")))?;
    for statement in &mut statements {
        agora_query::rewrite_pg_functions(statement);
        agora_query::name_unnamed_columns(statement);
    }
    // Column names come from the statements as written (the rewrite turns `current_user`
    // into a call of `session_user`).
    let written = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .ok()
        .filter(|w| w.len() == statements.len());
    Ok(statements
        .into_iter()
        .enumerate()
        .map(|(i, statement)| Parsed {
            names: written
                .as_ref()
                .and_then(|w| agora_query::pg_column_names(&w[i])),
            statement,
        })
        .collect())
}

/// `schema` with the fields renamed to `names`, when there is one name for each.
fn named(schema: &Schema, names: Option<&[String]>) -> Schema {
    match names {
        Some(names) if names.len() == schema.fields().len() => Schema::new(
            schema
                .fields()
                .iter()
                .zip(names)
                .map(|(f, name)| f.as_ref().clone().with_name(name))
                .collect::<Vec<_>>(),
        ),
        _ => schema.clone(),
    }
}

impl Backend {
    /// The connection's principal, if its token still is theirs (not rotated, expired, or
    /// disabled since login).
    async fn principal<C: ClientInfo>(&self, client: &C) -> PgWireResult<Principal> {
        let user = user(client);
        let Some(login) = client.session_extensions().get::<Login>() else {
            return Err(pg_error(MeshError::BadToken));
        };
        let principal = match login.as_ref() {
            Login::Token { hash } => self.mesh.authenticate_hash(hash).await,
            Login::Scram(verifier) => self.mesh.authenticate_verifier(&user, verifier).await,
        }
        .map_err(pg_error)?;
        if principal.name.as_str() != user {
            return Err(pg_error(MeshError::BadToken));
        }
        Ok(principal)
    }

    /// A governed session for the connection's next statement, with its `search_path` and
    /// `statement_timeout` (which can shorten the server's timeout, not lengthen it).
    async fn session<C: ClientInfo>(&self, client: &C) -> PgWireResult<GovernedSession> {
        let principal = self.principal(client).await?;
        let default_schema = match settings::value(client, "search_path") {
            Some(path) => settings::default_domain(&path)?,
            None => None,
        };
        let mut limits = self.mesh.query_limits();
        if let Some(timeout) = settings::value(client, "statement_timeout")
            .map(|v| settings::parse_timeout(&v))
            .transpose()?
            .flatten()
        {
            limits.timeout = Some(limits.timeout.map_or(timeout, |t| t.min(timeout)));
        }
        self.session_for(&principal, default_schema, limits).await
    }

    async fn session_for(
        &self,
        principal: &Principal,
        default_schema: Option<agora_model::Name>,
        limits: QueryLimits,
    ) -> PgWireResult<GovernedSession> {
        let options = SessionOptions {
            pg_catalog: true,
            default_schema,
            limits,
            ..Default::default()
        };
        self.mesh
            .session(principal, Interface::Postgres, options)
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => user_error("3F000", format!("search_path: {e}")),
                _ => pg_error(e),
            })
    }

    /// Runs a session statement on the connection, and answers it as PostgreSQL does.
    async fn session_statement<C>(
        &self,
        client: &mut C,
        statement: &SessionStatement,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Even settings wait for a valid token: a disabled principal's connection does nothing.
        let principal = self.principal(client).await?;
        match statement {
            SessionStatement::Set { name, value } => {
                if name == "search_path"
                    && let Some(domain) = settings::default_domain(value)?
                {
                    self.session_for(&principal, Some(domain), QueryLimits::default())
                        .await?;
                }
                settings::set(client, name, value)?;
                report(client, name, value).await?;
            }
            SessionStatement::Reset { name } => settings::reset(client, name.as_deref()),
            SessionStatement::Show { name } => {
                let (column, value) = settings::show(client, name)?;
                return Ok(Response::Query(one_value(column, value)?));
            }
            SessionStatement::SetTransaction | SessionStatement::Savepoint(_) => {}
            SessionStatement::Begin => return Ok(Response::TransactionStart(statement.tag())),
            SessionStatement::Commit | SessionStatement::Rollback => {
                return Ok(Response::TransactionEnd(statement.tag()));
            }
        }
        Ok(Response::Execution(statement.tag()))
    }
}

/// Sends the new value of a setting PostgreSQL reports to clients when it changes.
async fn report<C>(client: &mut C, name: &str, value: &str) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let reported = ["application_name", "DateStyle", "IntervalStyle", "TimeZone"];
    if let Some(shown) = reported.iter().find(|r| r.eq_ignore_ascii_case(name)) {
        futures::SinkExt::feed(
            client,
            PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                shown.to_string(),
                value.to_string(),
            )),
        )
        .await?;
    }
    Ok(())
}

/// The one-row, one-column answer of `SHOW`.
fn one_value(column: String, value: String) -> PgWireResult<QueryResponse> {
    let fields = Arc::new(vec![show_field(column)]);
    let mut encoder = DataRowEncoder::new(fields.clone());
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(QueryResponse::new(
        fields,
        futures::stream::once(async move { Ok(row) }),
    ))
}

fn show_field(column: String) -> FieldInfo {
    FieldInfo::new(column, None, None, Type::TEXT, FieldFormat::Text)
}

/// The token of the query starting on `client`'s connection, for [`cancel::until_cancelled`].
fn start_query<C: ClientInfo>(client: &C) -> CancellationToken {
    match client
        .session_extensions()
        .get::<cancel::ConnectionCancel>()
    {
        Some(connection) => connection.0.start_query(),
        // A connection registers at login; one that did not cannot be named by a request.
        None => CancellationToken::new(),
    }
}

/// `df`'s rows, encoded as the client asked (text, or binary per column) under the column
/// `names` PostgreSQL would give them, streamed as they are computed and stopped by a cancel
/// request.
async fn encode<C: ClientInfo>(
    client: &C,
    df: DataFrame,
    names: Option<&[String]>,
    format: &Format,
    token: CancellationToken,
) -> PgWireResult<Response> {
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let schema = named(df.schema().as_arrow(), names);
    let fields = Arc::new(arrow_schema_to_pg_fields(&schema, format, Some(options))?);
    let batches = df
        .execute_stream()
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    let row_fields = fields.clone();
    let rows = batches.flat_map(move |batch| {
        let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send + Sync> = match batch {
            Ok(batch) => encode_recordbatch(row_fields.clone(), batch),
            Err(e) => Box::new(std::iter::once(Err(PgWireError::ApiError(Box::new(e))))),
        };
        futures::stream::iter(rows)
    });
    Ok(Response::Query(QueryResponse::new(
        fields,
        cancel::until_cancelled(rows, token),
    )))
}
