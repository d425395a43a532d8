//! The SSH shell: paced, timed connects with strict host-key checks and one-shot key auth.

use super::exhaustion::Exhausted;
use super::known_hosts::{self, Entry, KnownHosts, Marker};
use super::pacer::Pacer;
use super::route::Route;
use super::verify::Client;
use super::{Endpoint, SshSettings, TransportError};
use russh::client::{self, Handle};
use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

mod auth;

/// Keepalives that may go unanswered before the connection counts as dead.
const KEEPALIVE_MAX: usize = 3;

/// Connects to hosts with shared settings, keys, known_hosts and handshake pacing.
pub struct Transport {
    settings: SshSettings,
    pacer: Pacer,
    /// The settings' identities, offered to every host in order.
    keys: Vec<(PathBuf, Arc<PrivateKey>)>,
    /// Keys named by routes (ssh config `IdentityFile`), loaded once; unusable ones left out.
    route_keys: HashMap<PathBuf, Arc<PrivateKey>>,
    known: Arc<KnownHosts>,
    /// Whether any `@cert-authority` line is known (then host certificates are asked for).
    knows_a_ca: bool,
    /// The settings' known_hosts files that do not exist, for the unknown-key message.
    missing_known_hosts: Vec<PathBuf>,
    /// One connection (or its failure) per bastion route, shared by every host behind it.
    hops: Mutex<HashMap<String, Arc<AsyncMutex<Hop>>>>,
}

/// A bastion's state: never tried, connected, or failed for the rest of the run.
#[derive(Default)]
enum Hop {
    #[default]
    Untried,
    Up(Connection),
    Failed(Arc<TransportError>),
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
    /// The account's login shell, once a command has reported it (see [`super::login`]).
    pub(super) login: std::sync::OnceLock<super::login::LoginShell>,
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
        Self::with_routes(settings, &[])
    }

    /// Like [`Transport::new`], also loading the keys `routes` name (and their bastions');
    /// a route key that is missing or cannot be loaded (encrypted) is left out, as ssh would
    /// skip it without a passphrase.
    pub fn with_routes(settings: SshSettings, routes: &[Route]) -> Result<Self, TransportError> {
        let keys: Vec<_> = settings
            .identities
            .iter()
            .map(auth::load_key)
            .collect::<Result<_, _>>()?;
        let route_keys = auth::load_route_keys(routes, &keys);
        if keys.is_empty() && route_keys.is_empty() && !settings.use_agent {
            return Err(TransportError::NoIdentities);
        }
        let known = load_known_hosts(&settings.known_hosts)?;
        let missing_known_hosts = settings
            .known_hosts
            .iter()
            .filter(|p| !p.exists())
            .cloned()
            .collect();
        let pacer = Pacer::new(
            settings.connect_rate,
            settings.connect_burst,
            crate::clock::instant(),
        );
        Ok(Self {
            settings,
            pacer,
            keys,
            route_keys,
            knows_a_ca: known.iter().any(|e| e.marker == Marker::CertAuthority),
            known: Arc::new(KnownHosts::new(known)),
            missing_known_hosts,
            hops: Mutex::new(HashMap::new()),
        })
    }

    /// The settings this transport was built with.
    pub fn settings(&self) -> &SshSettings {
        &self.settings
    }

    /// Opens a verified, authenticated connection to `ep` (through the settings' bastions, if
    /// set, written as `ssh -J` does; no ssh config is read here).
    pub async fn connect(&self, ep: &Endpoint) -> Result<Connection, TransportError> {
        let jump = self.settings.proxy_jump.as_deref();
        let route = Route::through(ep.clone(), jump).map_err(|(hop, problem)| {
            TransportError::SshConfig(super::ssh_config::SshConfigError::BadJump {
                host: ep.name.clone(),
                hop,
                problem,
            })
        })?;
        self.connect_route(&route).await
    }

    /// Opens a verified, authenticated connection along `route`: its bastions are connected
    /// once and shared; a bastion that failed is not tried again (one failed login on it, not
    /// one per host behind it), and every host behind it gets that failure at once.
    pub async fn connect_route(&self, route: &Route) -> Result<Connection, TransportError> {
        match &route.via {
            None => self.connect_direct(route).await,
            Some(via) => {
                let jump = self
                    .hop(via)
                    .await
                    .map_err(|reason| TransportError::Bastion {
                        host: route.endpoint.name.clone(),
                        bastion: via.endpoint.name.clone(),
                        reason,
                    })?;
                self.connect_via(&jump, route).await
            }
        }
    }

    /// The shared connection to a bastion, connecting it (once) if needed.
    fn hop<'a>(
        &'a self,
        route: &'a Route,
    ) -> Pin<Box<dyn Future<Output = Result<Connection, Arc<TransportError>>> + Send + 'a>> {
        Box::pin(async move {
            let cell = {
                let mut hops = self.hops.lock().unwrap_or_else(|p| p.into_inner());
                hops.entry(route.key()).or_default().clone()
            };
            let mut state = cell.lock().await;
            match &*state {
                Hop::Up(c) if !c.is_closed() => return Ok(c.clone()),
                Hop::Failed(e) => return Err(e.clone()),
                Hop::Up(_) | Hop::Untried => {}
            }
            match self.connect_route(route).await {
                Ok(c) => {
                    *state = Hop::Up(c.clone());
                    Ok(c)
                }
                Err(e) => {
                    let e = Arc::new(e);
                    *state = Hop::Failed(e.clone());
                    Err(e)
                }
            }
        })
    }

    /// Paced TCP connect, then handshake and auth, all under the connect timeout.
    async fn connect_direct(&self, route: &Route) -> Result<Connection, TransportError> {
        let ep = &route.endpoint;
        let _slot = self.pacer.acquire().await;
        let work = async {
            let addr = (ep.address.as_str(), ep.port);
            let tcp = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|source| TransportError::connect(&ep.name, addr_of(ep), source))?;
            let _ = tcp.set_nodelay(true);
            self.session(route, tcp).await
        };
        self.timed(ep, work).await
    }

    /// Tunnels to `ep` with direct-tcpip over the bastion connection.
    async fn connect_via(
        &self,
        jump: &Connection,
        route: &Route,
    ) -> Result<Connection, TransportError> {
        let ep = &route.endpoint;
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
            self.session(route, channel.into_stream()).await
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
    async fn session<S>(&self, route: &Route, stream: S) -> Result<Connection, TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let ep = &route.endpoint;
        let verdict = Arc::new(Mutex::new(None));
        let handler = Client {
            endpoint: ep.clone(),
            known: self.known.clone(),
            searched: self.settings.known_hosts.clone(),
            missing: self.missing_known_hosts.clone(),
            strict: self.settings.strict_host_keys,
            rejection: verdict.clone(),
        };
        let config = Arc::new(client_config(&self.settings, self.knows_a_ca));
        let mut handle = match client::connect_stream(config, stream, handler).await {
            Ok(handle) => handle,
            Err(e) => return Err(take(&verdict).unwrap_or_else(|| handshake_error(ep, &e))),
        };
        self.authenticate(&mut handle, route).await?;
        let channels = Semaphore::new(self.settings.max_channels_per_host.max(1));
        Ok(Connection {
            inner: Arc::new(ConnInner {
                endpoint: ep.clone(),
                handle,
                channels,
                login: std::sync::OnceLock::new(),
            }),
        })
    }
}
/// Reads every known_hosts file that exists; a missing file is no error.
fn load_known_hosts(paths: &[PathBuf]) -> Result<Vec<Entry>, TransportError> {
    let mut known = Vec::new();
    for path in paths {
        match std::fs::read_to_string(path) {
            Ok(text) => known.extend(known_hosts::parse(path, &text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(TransportError::KnownHostsRead {
                    path: path.clone(),
                    source: Arc::new(source),
                });
            }
        }
    }
    Ok(known)
}

/// Host certificate types asked for when a `@cert-authority` line exists, best first.
const HOST_CERTIFICATES: &[Algorithm] = &[
    Algorithm::Ed25519,
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP384,
    },
    Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP521,
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha512),
    },
    Algorithm::Rsa {
        hash: Some(HashAlg::Sha256),
    },
];

/// russh client config from the settings: keepalive on, Nagle off; host certificates asked
/// for only when known_hosts trusts a CA (otherwise a plain key is the only thing checkable).
fn client_config(settings: &SshSettings, certificates: bool) -> client::Config {
    let mut config = client::Config {
        keepalive_interval: Some(settings.keepalive),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        ..client::Config::default()
    };
    if certificates {
        config.preferred.host_key_certificates = Cow::Borrowed(HOST_CERTIFICATES);
    }
    config
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
            source: Arc::new(io.raw_os_error().map_or_else(
                || std::io::Error::from(io.kind()),
                std::io::Error::from_raw_os_error,
            )),
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
