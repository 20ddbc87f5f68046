//! Login: the password is the principal's API token, checked against its hash and against the
//! user named at start-up; the connection then gets its process id and secret key for cancel
//! requests.

use std::fmt::Debug;

use async_trait::async_trait;
use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_USER, PgWireConnectionState, PidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::cancel::ConnectionCancel;
use super::{LoginToken, Service};

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
                let principal = self.backend.mesh.authenticate(&pwd.password).await;
                match principal {
                    Ok(p) if p.name.as_str() == user => {
                        client.session_extensions().insert(LoginToken {
                            hash: agora_mesh::token_hash(pwd.password.trim()),
                        });
                        let (pid, secret) = self.backend.pids.generate(client);
                        client.set_pid_and_secret_key(pid, secret);
                        let (connection, registration) = self.backend.cancels.register(client);
                        client
                            .session_extensions()
                            .insert(ConnectionCancel(connection));
                        client.session_extensions().insert(registration);
                        finish_authentication(client, &parameters(p.name.as_str())).await?;
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

/// The settings a client is told at login, as `SHOW` answers them afterwards.
fn parameters(principal: &str) -> DefaultServerParameterProvider {
    let setting = |name: &str| {
        agora_query::pg_setting(name)
            .map(|s| s.value.to_string())
            .unwrap_or_default()
    };
    let mut parameters = DefaultServerParameterProvider::default();
    parameters.server_version = setting("server_version");
    parameters.time_zone = setting("timezone");
    parameters.date_style = setting("datestyle");
    parameters.interval_style = setting("intervalstyle");
    parameters.search_path = setting("search_path");
    parameters.default_transaction_read_only = true;
    parameters.is_superuser = false;
    parameters.session_authorization = Some(principal.to_string());
    parameters
}
