//! The extended query protocol (Parse, Bind, Describe, Execute, Sync, Close), which most
//! drivers use for every statement: psycopg 3, asyncpg, pgJDBC, node-postgres with
//! parameters.
//!
//! pgwire keeps the prepared statements and portals (with their row limits and suspension);
//! Agora parses and describes a statement under the connection's principal at Parse, and at
//! Execute checks the token again and plans the statement afresh in a new governed session
//! with the parameters bound, so a grant revoked or a mask added between Parse and Execute
//! holds for the next Execute. If the result's columns changed meanwhile, Execute fails as
//! PostgreSQL fails a cached plan whose result type changed, rather than sending rows that do
//! not match what Describe told the client.

use std::fmt::Debug;

use agora_mesh::StatementShape;
use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters_with_server_types;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use datafusion_postgres::pgwire;
use futures::Sink;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::ExtendedQueryHandler;
use pgwire::api::results::{FieldInfo, Response};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use std::sync::Arc;

use super::settings::SessionStatement;
use super::{
    Backend, Service, encode, named, parse, pg_error, show_field, start_query, user_error,
};

/// A statement as Parse left it.
#[derive(Debug, Clone)]
pub(super) enum Prepared {
    /// `SET`, `SHOW`, `BEGIN`, …: run on the connection at Execute.
    Session(SessionStatement),
    /// A query: its text (as the compatibility parser rewrote it), what Describe answers, and
    /// the names PostgreSQL gives its columns.
    Query {
        sql: String,
        shape: StatementShape,
        names: Option<Vec<String>>,
    },
}

pub(super) struct Parser {
    pub(super) backend: Arc<Backend>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = parse(sql)?;
        if statements.len() > 1 {
            return Err(user_error(
                "42601",
                "cannot insert multiple commands into a prepared statement".to_string(),
            ));
        }
        let Some(parsed) = statements.pop() else {
            return Ok(None);
        };
        if let Some(statement) = SessionStatement::of(&parsed.statement) {
            return Ok(Some(Prepared::Session(statement)));
        }
        let sql = parsed.statement.to_string();
        let session = self.backend.session(client).await?;
        let shape = session
            .describe(&sql)
            .await
            .map_err(|e| pg_error(e.into()))?;
        Ok(Some(Prepared::Query {
            sql,
            shape,
            names: parsed.names,
        }))
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        match statement {
            Prepared::Query { shape, .. } => parameter_types(shape),
            Prepared::Session(_) => Ok(Vec::new()),
        }
    }

    fn get_result_schema(
        &self,
        statement: &Prepared,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match statement {
            Prepared::Query { shape, names, .. } => arrow_schema_to_pg_fields(
                &named(&shape.schema, names.as_deref()),
                format.unwrap_or(&Format::UnifiedText),
                None,
            ),
            Prepared::Session(SessionStatement::Show { name }) => {
                let column = agora_query::pg_setting(name).map_or(name.as_str(), |s| s.name);
                Ok(vec![show_field(column.to_string())])
            }
            Prepared::Session(_) => Ok(Vec::new()),
        }
    }
}

/// The parameter types Describe reports: those the statement decides, and `text` where it
/// decides none (as PostgreSQL reports `select $1`).
fn parameter_types(shape: &StatementShape) -> PgWireResult<Vec<Type>> {
    shape
        .parameters
        .iter()
        .map(|t| t.as_ref().map_or(Ok(Type::TEXT), into_pg_type))
        .collect()
}

#[async_trait]
impl ExtendedQueryHandler for Service {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (sql, shape, names) = match &portal.statement.statement {
            Prepared::Session(statement) => {
                return self.backend.session_statement(client, statement).await;
            }
            Prepared::Query { sql, shape, names } => (sql, shape, names.as_deref()),
        };
        let token = start_query(client);
        let session = self.backend.session(client).await?;
        let inferred: Vec<Option<&DataType>> =
            shape.parameters.iter().map(Option::as_ref).collect();
        let server_types = parameter_types(shape)?;
        let server_types: Vec<Option<&Type>> = server_types.iter().map(Some).collect();
        let params = deserialize_parameters_with_server_types(portal, &inferred, &server_types)?;
        let df = session
            .sql_with_params(sql, params)
            .await
            .map_err(|e| pg_error(e.into()))?;
        let columns = |schema: &datafusion::arrow::datatypes::Schema| {
            schema
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect::<Vec<_>>()
        };
        if columns(df.schema().as_arrow()) != columns(&shape.schema) {
            return Err(user_error(
                "0A000",
                "cached plan must not change result type: the statement's columns changed \
                 since it was prepared (prepare it again)"
                    .to_string(),
            ));
        }
        encode(client, df, names, &portal.result_column_format, token).await
    }
}
