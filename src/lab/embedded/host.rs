//! One lab host's listener: accept loop, per-connection sessions, stop and restart.

use super::handler::Conn;
use super::procs::Procs;
use super::{EmbeddedError, HostSpec};
use russh::server::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Failed authentications are answered after this delay; short, since labs live on loopback.
const AUTH_REJECTION_TIME: Duration = Duration::from_millis(20);

/// What every session of a host needs: identity, authorized keys, command environment.
pub(super) struct HostShared {
    /// Host name.
    pub name: String,
    /// Bound address (with the real port).
    pub addr: SocketAddr,
    /// Client keys accepted.
    pub authorized: Vec<russh::keys::PublicKey>,
    /// Full environment of commands.
    pub env: Vec<(String, String)>,
    /// Working directory of commands.
    pub cwd: PathBuf,
    /// Shell running `-c <command>`.
    pub shell: PathBuf,
    /// russh server configuration holding the host key.
    pub config: Arc<Config>,
    /// Process groups of every command this server started.
    pub procs: Arc<Procs>,
}

/// A listening (or stopped) host.
pub(super) struct Host {
    shared: Arc<HostShared>,
    running: Mutex<Option<Running>>,
    /// Tells the accept loop and every session of the current listener to stop.
    stop_tx: std::sync::Mutex<Option<watch::Sender<bool>>>,
}

/// The accept loop of a started host.
struct Running {
    task: JoinHandle<()>,
}

impl Host {
    /// Binds the host's address and starts accepting.
    pub async fn bind(spec: HostSpec, procs: Arc<Procs>) -> Result<Host, EmbeddedError> {
        let listener = listen(&spec.name, spec.addr).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmbeddedError::Bind {
                host: spec.name.clone(),
                addr: spec.addr,
                source,
            })?;
        let shared = Arc::new(HostShared {
            name: spec.name,
            addr,
            authorized: spec.authorized,
            env: spec.env,
            cwd: spec.cwd,
            shell: spec.shell,
            config: Arc::new(config(spec.host_key)),
            procs,
        });
        let host = Host {
            shared,
            running: Mutex::new(None),
            stop_tx: std::sync::Mutex::new(None),
        };
        host.serve(listener).await;
        Ok(host)
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Listens again on the same address; nothing to do when already listening.
    pub async fn start(&self) -> Result<(), EmbeddedError> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let listener = listen(&self.shared.name, self.shared.addr).await?;
        *running = Some(self.spawn_accept(listener));
        Ok(())
    }

    /// Closes the listener and disconnects every session; waits until the listener is closed.
    pub async fn stop(&self) {
        let mut running = self.running.lock().await;
        self.signal_stop();
        if let Some(r) = running.take() {
            let _ = r.task.await;
        }
    }

    /// Tells the accept loop and sessions to stop, without waiting (usable from `Drop`).
    pub fn signal_stop(&self) {
        let tx = self
            .stop_tx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tx) = tx {
            let _ = tx.send(true);
        }
    }

    /// Starts the accept loop on an already bound listener.
    async fn serve(&self, listener: TcpListener) {
        *self.running.lock().await = Some(self.spawn_accept(listener));
    }

    /// Spawns the accept loop with a fresh stop signal.
    fn spawn_accept(&self, listener: TcpListener) -> Running {
        let (tx, rx) = watch::channel(false);
        *self.stop_tx.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        let task = tokio::spawn(accept_loop(listener, self.shared.clone(), rx));
        Running { task }
    }
}

/// Binds `addr` for `host`.
async fn listen(host: &str, addr: SocketAddr) -> Result<TcpListener, EmbeddedError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| EmbeddedError::Bind {
            host: host.to_string(),
            addr,
            source,
        })
}

/// The russh server configuration of one host: its key, publickey only, no idle timeout.
fn config(host_key: russh::keys::PrivateKey) -> Config {
    let methods: &[russh::MethodKind] = &[russh::MethodKind::PublicKey];
    Config {
        keys: vec![host_key],
        methods: methods.into(),
        auth_rejection_time: AUTH_REJECTION_TIME,
        auth_rejection_time_initial: Some(Duration::ZERO),
        // sshd has no idle timeout; clients keep pooled connections open between steps.
        inactivity_timeout: None,
        nodelay: true,
        ..Config::default()
    }
}

/// Accepts connections until told to stop; dropping the listener closes the port.
async fn accept_loop(
    listener: TcpListener,
    host: Arc<HostShared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    tokio::spawn(connection(tcp, peer, host.clone(), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!(host = %host.name, error = %e, "embedded ssh: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
}

/// Runs one SSH connection until it ends or the host stops (then it is disconnected).
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    host: Arc<HostShared>,
    mut stop: watch::Receiver<bool>,
) {
    let handler = Conn::new(host.clone(), peer);
    let session = tokio::select! {
        _ = stop.changed() => return,
        s = russh::server::run_stream(host.config.clone(), tcp, handler) => s,
    };
    let Ok(session) = session else { return };
    let handle = session.handle();
    tokio::select! {
        _ = stop.changed() => {
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, "host stopped".into(), String::new())
                .await;
        }
        _ = session => {}
    }
}
