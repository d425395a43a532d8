//! The lab's `embedded` backend: many loopback SSH hosts served by russh in one process.
//!
//! Each [`HostSpec`] gets its own listener (its own `127.x.y.z` address), host key and
//! authorized client keys; every host is served by the same tokio runtime, so an idle host
//! costs one listening socket and a few KiB. Commands run for real: `exec` starts
//! `<shell> -c <command>` in its own process group, with the host's `env` (plus
//! `SSH_CONNECTION`/`SSH_CLIENT`, nothing inherited from this process) and `cwd`; every
//! socket is close-on-exec, so a command holds only its three pipes. Only publickey
//! authentication and `exec` are served; `shell`, `subsystem` and pty requests are refused.
//!
//! A command whose channel or connection goes away is killed with its process group and
//! the groups its descendants made; a process that left the session with `setsid` (as the
//! waiter arming mechanism does) survives, as it would under sshd. Unlike sshd, the login
//! user is not switched: every command runs as this process's user.
//!
//! ```no_run
//! # async fn lab(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
//! use cutover::lab::embedded::{self, HostSpec, Server};
//! let client = embedded::generate_key();
//! embedded::write_private_key(&dir.join("id_ed25519"), &client)?;
//! let spec = HostSpec {
//!     name: "lab-001".into(),
//!     addr: "127.0.10.1:2222".parse()?,
//!     host_key: embedded::generate_key(),
//!     authorized: vec![client.public_key().clone()],
//!     env: vec![("HOME".into(), "/tmp".into()), ("PATH".into(), "/usr/bin:/bin".into())],
//!     cwd: "/tmp".into(),
//!     shell: "/bin/sh".into(),
//! };
//! let key = spec.host_key.public_key().clone();
//! let server = Server::start(vec![spec]).await?;
//! let (_, addr) = server.addrs()[0];
//! std::fs::write(dir.join("known_hosts"), embedded::known_hosts_line(addr, &key) + "\n")?;
//! server.stop_host("lab-001").await?; // the host goes down ...
//! server.start_host("lab-001").await?; // ... and comes back with the same key
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod exec;
mod handler;
mod host;
mod keys;
mod procs;
mod tree;

pub use keys::{generate_key, known_hosts_line, public_line, read_private_key, write_private_key};

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
    /// The environment of every command (HOME, PATH, USER, ...). Nothing is inherited from
    /// this process; like sshd, the server adds only `SSH_CONNECTION` and `SSH_CLIENT`
    /// (variables here override them).
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

    /// Closes the host's listener and drops its sessions (their commands are killed), as when
    /// the host goes down; returns once they are closed. A stopped host stays stopped until
    /// [`Server::start_host`].
    pub async fn stop_host(&self, name: &str) -> Result<(), EmbeddedError> {
        self.host(name)?.stop().await;
        Ok(())
    }

    /// Listens again on the host's address with the same key; a running host is left alone.
    pub async fn start_host(&self, name: &str) -> Result<(), EmbeddedError> {
        self.host(name)?.start().await
    }

    /// Makes the host slow: each new connection waits `delay` before the SSH banner (open
    /// connections are unaffected). A delay past the client's connect timeout looks like an
    /// unreachable host that drops packets; `Duration::ZERO` restores it.
    pub fn set_delay(&self, name: &str, delay: Duration) -> Result<(), EmbeddedError> {
        self.host(name)?.set_delay(delay);
        Ok(())
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

#[cfg(test)]
mod tests {
    /// The lab shares one server between tasks (e.g. behind an `Arc`).
    #[test]
    fn the_server_can_be_shared_between_tasks() {
        fn shared<T: Send + Sync + 'static>() {}
        shared::<super::Server>();
        shared::<super::HostSpec>();
    }
}
