//! The hosts of a run as SSH peers: one connection per host, opened on first use and reused
//! for every step, reopened if it dropped (the action may restart sshd or networking).
//!
//! A thin shell over `transport`: it maps inventory hosts to endpoints, keeps the pool, and
//! says apart "could not reach the host" (unreachable) from "the command failed" (failed).

use crate::inventory::Host;
use crate::transport::{
    CommandResult, Connection, Endpoint, RemoteCommand, SshSettings, Transport, TransportError,
};
use std::collections::HashMap;
use std::path::PathBuf;
use tokio::sync::Mutex;

/// Why a step could not get a result from a host.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The host is not part of this fleet (a bug in the caller).
    #[error("host `{0}` is not in the inventory")]
    UnknownHost(String),
    /// No connection could be made: the host is unreachable for this step.
    #[error("{0}")]
    Unreachable(TransportError),
    /// The connection broke while the command ran.
    #[error("{0}")]
    Broken(TransportError),
}

/// The fleet's connections.
pub struct Fleet {
    transport: Transport,
    endpoints: HashMap<String, Endpoint>,
    pool: HashMap<String, Mutex<Option<Connection>>>,
}

impl Fleet {
    /// A fleet of `hosts`; `default_user` applies where the inventory names no user.
    pub fn new(
        settings: SshSettings,
        hosts: &[&Host],
        default_user: &str,
    ) -> Result<Self, TransportError> {
        let endpoints: HashMap<String, Endpoint> = hosts
            .iter()
            .map(|h| (h.name.clone(), endpoint(h, default_user)))
            .collect();
        let pool = endpoints
            .keys()
            .map(|k| (k.clone(), Mutex::new(None)))
            .collect();
        Ok(Self {
            transport: Transport::new(settings)?,
            endpoints,
            pool,
        })
    }

    /// The open connection to `host`, connecting (paced) if there is none or it dropped.
    pub async fn connection(&self, host: &str) -> Result<Connection, FleetError> {
        let slot = self
            .pool
            .get(host)
            .ok_or_else(|| FleetError::UnknownHost(host.into()))?;
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let ep = &self.endpoints[host];
        let conn = self
            .transport
            .connect(ep)
            .await
            .map_err(FleetError::Unreachable)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs a command on `host` over its pooled connection.
    pub async fn run(&self, host: &str, cmd: &RemoteCommand) -> Result<CommandResult, FleetError> {
        let conn = self.connection(host).await?;
        conn.run(cmd).await.map_err(FleetError::Broken)
    }

    /// Closes every open connection.
    pub async fn close(&self) {
        for slot in self.pool.values() {
            if let Some(c) = slot.lock().await.take() {
                c.close().await;
            }
        }
    }
}

/// The endpoint for an inventory host.
pub fn endpoint(h: &Host, default_user: &str) -> Endpoint {
    Endpoint {
        name: h.name.clone(),
        address: h.address.clone(),
        port: h.port,
        user: h.user.clone().unwrap_or_else(|| default_user.to_string()),
    }
}

/// known_hosts files OpenSSH would read: the user's and the system's, if they exist.
pub fn default_known_hosts() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        out.push(PathBuf::from(home).join(".ssh/known_hosts"));
    }
    out.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    out.into_iter().filter(|p| p.exists()).collect()
}

/// Identity files OpenSSH would offer by default, if they exist.
pub fn default_identities() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME") else {
        return Vec::new();
    };
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| PathBuf::from(&home).join(".ssh").join(n))
        .filter(|p| p.exists())
        .collect()
}

/// The local login name, the default remote user.
pub fn local_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".into())
}
