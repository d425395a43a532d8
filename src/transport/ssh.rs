//! The SSH shell: paced, timed connects with strict host-key checks and one-shot key auth.

use super::exhaustion::Exhausted;
use super::known_hosts::{self, KnownHosts};
use super::pacer::Pacer;
use super::scan::fingerprint;
use super::verify::Client;
use super::{Endpoint, SshSettings, TransportError};
use russh::client::{self, AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OnceCell, Semaphore};

/// Keepalives that may go unanswered before the connection counts as dead.
const KEEPALIVE_MAX: usize = 3;

/// Connects to hosts with shared settings, keys, known_hosts and handshake pacing.
pub struct Transport {
    settings: SshSettings,
    pacer: Pacer,
    keys: Vec<(PathBuf, Arc<PrivateKey>)>,
    known: Arc<KnownHosts>,
    bastion: OnceCell<Connection>,
}

/// One authenticated SSH connection to a host, shared by every step; cheap to clone.
#[derive(Clone)]
pub struct Connection {
    pub(super) inner: Arc<ConnInner>,
}

/// The shared state behind a [`Connection`].
pub(super) struct ConnInner {
    pub(super) endpoint: Endpoint,
    pub(super) handle: Handle<Client>,
    pub(super) channels: Semaphore,
}

impl Connection {
    /// The host this connection reaches.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// Says goodbye to the server; later commands fail with a channel error.
    pub async fn close(&self) {
        let bye = self
            .inner
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en");
        let _ = bye.await;
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    /// Whether both are clones of one connection.
    pub fn same_as(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Transport {
    /// Loads identity and known_hosts files; fails if a key cannot be used.
    pub fn new(settings: SshSettings) -> Result<Self, TransportError> {
        if settings.identities.is_empty() && !settings.use_agent {
            return Err(TransportError::NoIdentities);
        }
        let keys = settings
            .identities
            .iter()
            .map(load_key)
            .collect::<Result<_, _>>()?;
        let mut known = Vec::new();
        for path in &settings.known_hosts {
            match std::fs::read_to_string(path) {
                Ok(text) => known.extend(known_hosts::parse(path, &text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(TransportError::KnownHostsRead {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
        let pacer = Pacer::new(
            settings.connect_rate,
            settings.connect_burst,
            crate::clock::instant(),
        );
        Ok(Self {
            settings,
            pacer,
            keys,
            known: Arc::new(KnownHosts::new(known)),
            bastion: OnceCell::new(),
        })
    }

    /// The settings this transport was built with.
    pub fn settings(&self) -> &SshSettings {
        &self.settings
    }

    /// Opens a verified, authenticated connection (through the bastion if one is set).
    pub async fn connect(&self, ep: &Endpoint) -> Result<Connection, TransportError> {
        match &self.settings.proxy_jump {
            None => self.connect_direct(ep).await,
            Some(bastion) => {
                let jump = self
                    .bastion
                    .get_or_try_init(|| self.connect_direct(bastion))
                    .await?;
                self.connect_via(jump, ep).await
            }
        }
    }

    /// Paced TCP connect, then handshake and auth, all under the connect timeout.
    async fn connect_direct(&self, ep: &Endpoint) -> Result<Connection, TransportError> {
        let _slot = self.pacer.acquire().await;
        let work = async {
            let addr = (ep.address.as_str(), ep.port);
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|source| TransportError::connect(&ep.name, addr_of(ep), source))?;
            let _ = tcp.set_nodelay(true);
            self.session(ep, tcp).await
        };
        self.timed(ep, work).await
    }

    /// Tunnels to `ep` with direct-tcpip over the bastion connection.
    async fn connect_via(
        &self,
        jump: &Connection,
        ep: &Endpoint,
    ) -> Result<Connection, TransportError> {
        let _slot = self.pacer.acquire().await;
        let work = async {
            let channel = jump
                .inner
                .handle
                .channel_open_direct_tcpip(ep.address.clone(), u32::from(ep.port), "127.0.0.1", 0)
                .await
                .map_err(|e| TransportError::Proxy {
                    host: ep.name.clone(),
                    addr: addr_of(ep),
                    bastion: jump.endpoint().name.clone(),
                    message: e.to_string(),
                })?;
            self.session(ep, channel.into_stream()).await
        };
        self.timed(ep, work).await
    }

    /// Applies the connect timeout.
    async fn timed<F>(&self, ep: &Endpoint, work: F) -> Result<Connection, TransportError>
    where
        F: Future<Output = Result<Connection, TransportError>>,
    {
        let after = self.settings.connect_timeout;
        tokio::time::timeout(after, work).await.unwrap_or_else(|_| {
            Err(TransportError::ConnectTimeout {
                host: ep.name.clone(),
                addr: addr_of(ep),
                after,
            })
        })
    }

    /// SSH handshake with host-key check, then authentication.
    async fn session<S>(&self, ep: &Endpoint, stream: S) -> Result<Connection, TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let verdict = Arc::new(Mutex::new(None));
        let handler = Client {
            endpoint: ep.clone(),
            known: self.known.clone(),
            searched: self.settings.known_hosts.clone(),
            strict: self.settings.strict_host_keys,
            rejection: verdict.clone(),
        };
        let config = Arc::new(client_config(&self.settings));
        let mut handle = match client::connect_stream(config, stream, handler).await {
            Ok(handle) => handle,
            Err(e) => return Err(take(&verdict).unwrap_or_else(|| handshake_error(ep, &e))),
        };
        self.authenticate(&mut handle, ep).await?;
        let channels = Semaphore::new(self.settings.max_channels_per_host.max(1));
        Ok(Connection {
            inner: Arc::new(ConnInner {
                endpoint: ep.clone(),
                handle,
                channels,
            }),
        })
    }

    /// Offers each configured key once, then the agent's keys; never retries a refusal.
    async fn authenticate(
        &self,
        handle: &mut Handle<Client>,
        ep: &Endpoint,
    ) -> Result<(), TransportError> {
        let mut offered = Vec::new();
        for (path, key) in &self.keys {
            offered.push(path.display().to_string());
            let hash = match key.algorithm().is_rsa() {
                true => handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten(),
                false => None,
            };
            let key = PrivateKeyWithHashAlg::new(key.clone(), hash);
            let result = handle.authenticate_publickey(ep.user.clone(), key).await;
            if accepted(&result.map_err(|e| handshake_error(ep, &e))?) {
                return Ok(());
            }
        }
        if self.settings.use_agent && self.agent_auth(handle, ep, &mut offered).await? {
            return Ok(());
        }
        Err(TransportError::Auth {
            host: ep.name.clone(),
            user: ep.user.clone(),
            offered,
        })
    }

    /// Offers each agent key once; `Ok(true)` when one was accepted.
    async fn agent_auth(
        &self,
        handle: &mut Handle<Client>,
        ep: &Endpoint,
        offered: &mut Vec<String>,
    ) -> Result<bool, TransportError> {
        let agent_err = |e: russh::keys::Error| TransportError::Agent {
            message: e.to_string(),
        };
        let mut agent = AgentClient::connect_env().await.map_err(agent_err)?;
        for identity in agent.request_identities().await.map_err(agent_err)? {
            let AgentIdentity::PublicKey { key, comment } = identity else {
                continue;
            };
            offered.push(format!("agent:{comment} {}", fingerprint(&key)));
            let result = handle
                .authenticate_publickey_with(ep.user.clone(), key, None, &mut agent)
                .await;
            match result {
                Ok(r) if accepted(&r) => return Ok(true),
                Ok(_) => {}
                Err(e) => {
                    return Err(TransportError::Agent {
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(false)
    }
}

/// Whether the server accepted the key.
fn accepted(result: &AuthResult) -> bool {
    matches!(result, AuthResult::Success)
}

/// Loads one unencrypted private key.
fn load_key(path: &PathBuf) -> Result<(PathBuf, Arc<PrivateKey>), TransportError> {
    let key = russh::keys::load_secret_key(path, None).map_err(|e| TransportError::Identity {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok((path.clone(), Arc::new(key)))
}

/// russh client config from the settings: keepalive on, Nagle off.
fn client_config(settings: &SshSettings) -> client::Config {
    client::Config {
        keepalive_interval: Some(settings.keepalive),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        ..client::Config::default()
    }
}

/// `addr:port` for messages.
fn addr_of(ep: &Endpoint) -> String {
    format!("{}:{}", ep.address, ep.port)
}

/// A handshake-level error naming the host ([`TransportError::Local`] when this machine ran
/// out of a resource).
pub(super) fn handshake_error(ep: &Endpoint, e: &russh::Error) -> TransportError {
    if let russh::Error::IO(io) = e
        && let Some(kind) = Exhausted::of(io)
    {
        return TransportError::Local {
            host: ep.name.clone(),
            kind,
            source: io.raw_os_error().map_or_else(
                || std::io::Error::from(io.kind()),
                std::io::Error::from_raw_os_error,
            ),
        };
    }
    TransportError::Handshake {
        host: ep.name.clone(),
        addr: addr_of(ep),
        message: e.to_string(),
    }
}

/// Takes the host-key rejection recorded by the handler.
fn take(slot: &Mutex<Option<TransportError>>) -> Option<TransportError> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}
