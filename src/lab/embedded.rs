//! The lab's `embedded` backend: many loopback SSH hosts served by russh in one process.
//!
//! Each [`HostSpec`] gets its own listener (its own `127.x.y.z` address), host key and
//! authorized client keys; every host is served by the same tokio runtime, so an idle host
//! costs one listening socket and a few hundred bytes. Commands run for real:
//! `exec` starts `<shell> -c <command>` in its own process group, with exactly the host's
//! `env` (nothing is inherited from this process) and `cwd`. Only publickey authentication
//! and `exec` are served; `shell`, `subsystem` and pty requests are refused cleanly.
//!
//! Like sshd, a command whose channel or connection goes away has its process group killed;
//! a process that left the group (`setsid`, as the waiter arming mechanism does) survives.
//! Unlike sshd, the login user is not switched: every command runs as this process's user.

mod exec;
mod handler;
mod host;
mod keys;
mod procs;

pub use keys::{generate_key, known_hosts_line, public_line, write_private_key};

use host::Host;
use procs::Procs;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long [`Server::shutdown`] waits for killed commands to be reaped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One host served by the embedded SSH server.
#[derive(Debug, Clone)]
pub struct HostSpec {
    /// Host name, used in errors and by [`Server::stop_host`] / [`Server::start_host`].
    pub name: String,
    /// Address to listen on (`127.x.y.z:port`, one per host); port 0 picks a free port.
    pub addr: SocketAddr,
    /// The host's key, as known_hosts will list it.
    pub host_key: russh::keys::PrivateKey,
    /// Client keys accepted (publickey authentication only).
    pub authorized: Vec<russh::keys::PublicKey>,
    /// The whole environment of every command (HOME, PATH, USER, ...); nothing is inherited.
    pub env: Vec<(String, String)>,
    /// Working directory of every command.
    pub cwd: PathBuf,
    /// Shell that runs commands as `<shell> -c <command>` (usually `/bin/sh`).
    pub shell: PathBuf,
}

/// Why the embedded server could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A host's listener could not be bound.
    #[error(
        "lab host `{host}`: cannot listen on {addr}: {source}; stop what holds the address or give the host another one"
    )]
    Bind {
        /// The host.
        host: String,
        /// The address it wanted.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Two specs share a name.
    #[error("lab host `{host}` is listed twice; give every lab host its own name")]
    DuplicateHost {
        /// The repeated name.
        host: String,
    },
    /// No host of that name is served.
    #[error("no lab host named `{host}` is served here; see `Server::addrs` for the names")]
    UnknownHost {
        /// The name asked for.
        host: String,
    },
}

/// A running embedded SSH server for a set of lab hosts.
pub struct Server {
    hosts: Vec<Arc<Host>>,
    by_name: HashMap<String, usize>,
    procs: Arc<Procs>,
}

impl Server {
    /// Binds every host's listener, then serves them all; an address in use names the host.
    pub async fn start(specs: Vec<HostSpec>) -> Result<Server, EmbeddedError> {
        let procs = Arc::new(Procs::default());
        let mut by_name = HashMap::new();
        let mut hosts = Vec::with_capacity(specs.len());
        for spec in specs {
            if by_name.insert(spec.name.clone(), hosts.len()).is_some() {
                return Err(EmbeddedError::DuplicateHost { host: spec.name });
            }
            hosts.push(Arc::new(Host::bind(spec, procs.clone()).await?));
        }
        Ok(Server {
            hosts,
            by_name,
            procs,
        })
    }

    /// Every host's name and bound address (the real port when the spec asked for port 0).
    pub fn addrs(&self) -> Vec<(String, SocketAddr)> {
        self.hosts
            .iter()
            .map(|h| (h.name().to_string(), h.addr()))
            .collect()
    }

    /// Closes the host's listener and drops its sessions (killing their commands), as when
    /// the host goes down; a stopped host stays stopped until [`Server::start_host`].
    pub async fn stop_host(&self, name: &str) -> Result<(), EmbeddedError> {
        self.host(name)?.stop().await;
        Ok(())
    }

    /// Listens again on the host's address with the same key; a running host is left alone.
    pub async fn start_host(&self, name: &str) -> Result<(), EmbeddedError> {
        self.host(name)?.start().await
    }

    /// Stops every host, kills the process groups of running commands and waits (bounded)
    /// until they are reaped.
    pub async fn shutdown(self) {
        for host in &self.hosts {
            host.stop().await;
        }
        self.procs.kill_all();
        self.procs.wait_idle(SHUTDOWN_GRACE).await;
        self.procs.kill_all();
    }

    /// The host called `name`.
    fn host(&self, name: &str) -> Result<&Arc<Host>, EmbeddedError> {
        self.by_name
            .get(name)
            .map(|&i| &self.hosts[i])
            .ok_or_else(|| EmbeddedError::UnknownHost { host: name.into() })
    }
}

impl Drop for Server {
    /// A server dropped without [`Server::shutdown`] still stops listening and kills its
    /// commands' process groups (their reaping is left to the runtime).
    fn drop(&mut self) {
        for host in &self.hosts {
            host.signal_stop();
        }
        self.procs.kill_all();
    }
}
