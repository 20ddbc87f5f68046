//! Query cancellation (`CancelRequest`, what `pg_cancel_backend`-less clients send on Ctrl-C
//! or a driver's `cancel()`): a request naming a connection's process id and secret key stops
//! the query that connection is running.
//!
//! pgwire's own cancel hook only races the planning of a query; the rows stream afterwards,
//! and a long aggregation does its work while they do. So the cancellation token is also
//! carried into the row stream, and dropping that stream stops DataFusion's execution.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion_postgres::pgwire;
use futures::{Stream, StreamExt};
use pgwire::api::ClientInfo;
use pgwire::api::cancel::CancelHandler;
use pgwire::error::PgWireResult;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::data::DataRow;
use tokio_util::sync::CancellationToken;

use super::user_error;

/// The connections a cancel request may name, by process id and secret key.
#[derive(Default)]
pub(super) struct Cancels {
    connections: Mutex<HashMap<(i32, Bytes), Arc<Connection>>>,
}

/// One connection's running query.
#[derive(Default)]
pub(super) struct Connection {
    current: Mutex<CancellationToken>,
}

impl Connection {
    /// A token for the query starting now; a cancel request that arrived before stays with the
    /// query it was meant for.
    pub(super) fn start_query(&self) -> CancellationToken {
        let token = CancellationToken::new();
        *lock(&self.current) = token.clone();
        token
    }
}

/// A connection's [`Connection`], among its typed extensions.
pub(super) struct ConnectionCancel(pub(super) Arc<Connection>);

/// Removes its connection from [`Cancels`] when the connection ends.
pub(super) struct Registration {
    cancels: Arc<Cancels>,
    key: (i32, Bytes),
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.cancels.connections).remove(&self.key);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves a map or a token, both whole.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cancels {
    /// Registers `client`'s connection under its process id and secret key.
    pub(super) fn register<C: ClientInfo>(
        self: &Arc<Self>,
        client: &C,
    ) -> (Arc<Connection>, Registration) {
        let (pid, secret) = client.pid_and_secret_key();
        let key = (pid, secret.to_bytes());
        let connection = Arc::new(Connection::default());
        lock(&self.connections).insert(key.clone(), connection.clone());
        (
            connection,
            Registration {
                cancels: self.clone(),
                key,
            },
        )
    }
}

#[async_trait]
impl CancelHandler for Cancels {
    async fn on_cancel_request(&self, request: CancelRequest) {
        let key = (request.pid, request.secret_key.to_bytes());
        let connection = lock(&self.connections).get(&key).cloned();
        match connection {
            Some(connection) => {
                tracing::info!(pid = request.pid, "postgres query cancelled by request");
                lock(&connection.current).cancel();
            }
            None => tracing::warn!(pid = request.pid, "cancel request for no known connection"),
        }
    }
}

/// The error PostgreSQL answers a cancelled query with.
pub(super) fn cancelled() -> pgwire::error::PgWireError {
    user_error(
        "57014",
        "canceling statement due to user request".to_string(),
    )
}

/// `rows`, ending with [`cancelled`] as soon as `token` is cancelled (the rest of `rows`, and
/// the execution behind it, is dropped).
pub(super) fn until_cancelled(
    rows: impl Stream<Item = PgWireResult<DataRow>> + Send + 'static,
    token: CancellationToken,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    futures::stream::unfold(Some((Box::pin(rows), token)), |state| async move {
        let (mut rows, token) = state?;
        tokio::select! {
            biased;
            () = token.cancelled() => Some((Err(cancelled()), None)),
            row = rows.next() => row.map(|row| (row, Some((rows, token)))),
        }
    })
}
