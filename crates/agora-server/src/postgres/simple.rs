//! The simple query protocol: one message, any number of statements, run in order (a `SET`
//! applies to the statements after it).

use std::fmt::Debug;

use async_trait::async_trait;
use datafusion_postgres::pgwire;
use futures::Sink;
use pgwire::api::portal::Format;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use super::settings::SessionStatement;
use super::{Service, encode, parse, pg_error, start_query};

#[async_trait]
impl SimpleQueryHandler for Service {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let token = start_query(client);
        let mut responses = Vec::new();
        // One session for the statements of the message, made again after a `SET` changes
        // what it is made from.
        let mut session = None;
        for parsed in parse(query)? {
            if let Some(statement) = SessionStatement::of(&parsed.statement) {
                responses.push(self.backend.session_statement(client, &statement).await?);
                session = None;
                continue;
            }
            let current = match session.take() {
                Some(current) => current,
                None => self.backend.session(client).await?,
            };
            let df = current
                .sql(&parsed.statement.to_string())
                .await
                .map_err(|e| pg_error(e.into()))?;
            let names = parsed.names.as_deref();
            responses.push(encode(client, df, names, &Format::UnifiedText, token.clone()).await?);
            session = Some(current);
        }
        Ok(responses)
    }
}
