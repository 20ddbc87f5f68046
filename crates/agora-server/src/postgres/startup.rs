//! Login: the principal proves its API token by SCRAM-SHA-256 against the token's verifier
//! (over TLS also SCRAM-SHA-256-PLUS, bound to the server's certificate; or, for a principal
//! whose token is older than verifiers, sends it as a cleartext password, checked against its
//! hash); a token only logs in as its own principal. The connection then
//! gets its process id and secret key for cancel requests.

use std::fmt::Debug;

use async_trait::async_trait;
use datafusion_postgres::pgwire;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PgWireConnectionState, PidSecretKeyGenerator};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use agora_mesh::{ChannelBinding, PgLogin, ScramExchange, ScramVerifier};
use agora_model::Principal;

use super::cancel::ConnectionCancel;
use super::{Login, Service, pg_error, user};

/// Where a SCRAM login is, between its messages.
enum ScramStage {
    /// AuthenticationSASL sent; the client's first message is next.
    AwaitingFirst(ScramVerifier),
    /// The server's first message sent; the client's proof is next.
    AwaitingFinal(ScramExchange),
}

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
                let login = self
                    .backend
                    .mesh
                    .pg_login(&user(client))
                    .await
                    .map_err(pg_error)?;
                let request = match login {
                    PgLogin::Scram(verifier) => {
                        client
                            .session_extensions()
                            .insert(ScramStage::AwaitingFirst(verifier));
                        let mut methods = vec![SCRAM_SHA_256.to_string()];
                        if self.end_point(client).is_some() {
                            methods.insert(0, SCRAM_SHA_256_PLUS.to_string());
                        }
                        Authentication::SASL(methods)
                    }
                    PgLogin::Cleartext => Authentication::CleartextPassword,
                };
                client
                    .send(PgWireBackendMessage::Authentication(request))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let stage = client.session_extensions().get::<ScramStage>();
                match stage.as_deref() {
                    None => {
                        self.cleartext(client, message.into_password()?.password)
                            .await?
                    }
                    Some(ScramStage::AwaitingFirst(verifier)) => {
                        let first = message.into_sasl_initial_response()?;
                        let end_point = self.end_point(client);
                        let offered = match (first.auth_method.as_str(), end_point) {
                            (SCRAM_SHA_256, None) => ChannelBinding::NotOffered,
                            (SCRAM_SHA_256, Some(end_point)) => ChannelBinding::Offered {
                                plus: false,
                                end_point,
                            },
                            (SCRAM_SHA_256_PLUS, Some(end_point)) => ChannelBinding::Offered {
                                plus: true,
                                end_point,
                            },
                            _ => {
                                return Err(PgWireError::UnsupportedSASLAuthMethod(
                                    first.auth_method,
                                ));
                            }
                        };
                        let data = first.data.unwrap_or_default();
                        let (exchange, server_first) =
                            ScramExchange::start(verifier.clone(), &data, offered)
                                .map_err(|e| refused(client, e.to_string()))?;
                        client
                            .session_extensions()
                            .insert(ScramStage::AwaitingFinal(exchange));
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.into_bytes().into()),
                            ))
                            .await?;
                    }
                    Some(ScramStage::AwaitingFinal(exchange)) => {
                        let last = message.into_sasl_response()?;
                        let server_final = exchange
                            .finish(&last.data)
                            .map_err(|e| refused(client, e.to_string()))?;
                        let verifier = exchange.verifier().clone();
                        let principal = self
                            .backend
                            .mesh
                            .authenticate_verifier(&user(client), &verifier)
                            .await
                            .map_err(|e| refused(client, e.to_string()))?;
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(server_final.into_bytes().into()),
                            ))
                            .await?;
                        self.logged_in(client, &principal, Login::Scram(verifier))
                            .await?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// The client is told only that the login failed; the log says why.
fn refused<C: ClientInfo>(client: &C, reason: String) -> PgWireError {
    let user = user(client);
    tracing::warn!(%user, %reason, "postgres login refused");
    PgWireError::InvalidPassword(user)
}

impl Service {
    /// The certificate hash a login on this connection may bind to: only over TLS.
    fn end_point<C: ClientInfo>(&self, client: &C) -> Option<&[u8]> {
        self.backend
            .end_point
            .as_deref()
            .filter(|_| client.is_secure())
    }

    /// A login with the token as a cleartext password (principals without a SCRAM verifier).
    async fn cleartext<C>(&self, client: &mut C, password: String) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let user = user(client);
        match self.backend.mesh.authenticate(&password).await {
            Ok(p) if p.name.as_str() == user => {
                let hash = agora_mesh::token_hash(password.trim());
                self.logged_in(client, &p, Login::Token { hash }).await
            }
            Ok(p) => Err(refused(client, format!("the token belongs to {}", p.name))),
            Err(e) => Err(refused(client, e.to_string())),
        }
    }

    /// Finishes a login: what every statement checks again, the process id and secret key for
    /// cancel requests, and the settings the client is told.
    async fn logged_in<C>(
        &self,
        client: &mut C,
        principal: &Principal,
        login: Login,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.session_extensions().insert(login);
        let (pid, secret) = self.backend.pids.generate(client);
        client.set_pid_and_secret_key(pid, secret);
        let (connection, registration) = self.backend.cancels.register(client);
        client
            .session_extensions()
            .insert(ConnectionCancel(connection));
        client.session_extensions().insert(registration);
        finish_authentication(client, &parameters(principal.name.as_str())).await
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
