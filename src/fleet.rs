//! The hosts of a run as SSH peers: one connection per host, opened on first use and reused
//! for every step, reopened if it dropped (the action may restart sshd or networking).
//!
//! A thin shell over `transport`: it maps inventory hosts to endpoints, keeps the pool, and
//! says apart "could not reach the host" (unreachable) from "the command failed" (failed).

use crate::inventory::Host;
use crate::transport::fd_limit;
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
        Self::with_endpoints(
            settings,
            hosts.iter().map(|h| endpoint(h, default_user)).collect(),
        )
    }

    /// A fleet of already resolved endpoints (e.g. through `~/.ssh/config`).
    pub fn with_endpoints(
        settings: SshSettings,
        endpoints: Vec<Endpoint>,
    ) -> Result<Self, TransportError> {
        let need = fd_limit::Need::fleet(endpoints.len(), settings.connect_burst);
        fd_limit::raise_and_warn(need);
        let endpoints: HashMap<String, Endpoint> =
            endpoints.into_iter().map(|e| (e.name.clone(), e)).collect();
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
        let result = conn.run(cmd).await;
        if result.is_err() {
            // A broken connection is dropped, so the next command reconnects even if the
            // transport has not noticed yet that its peer is gone.
            self.forget(host, &conn).await;
        }
        result.map_err(FleetError::Broken)
    }

    /// Drops `host`'s pooled connection if it is still `conn`.
    async fn forget(&self, host: &str, conn: &Connection) {
        if let Some(slot) = self.pool.get(host) {
            let mut slot = slot.lock().await;
            if slot.as_ref().is_some_and(|c| c.same_as(conn)) {
                *slot = None;
            }
        }
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

/// A bastion written `[user@]host[:port]`, as in `ProxyJump`.
pub fn parse_jump(text: &str, default_user: &str) -> Result<Endpoint, String> {
    let (user, rest) = match text.split_once('@') {
        Some((u, r)) => (u.to_string(), r),
        None => (default_user.to_string(), text),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("proxy jump `{text}`: `{p}` is not a port"))?,
        ),
        None => (rest, 22),
    };
    if host.is_empty() || host.contains(',') {
        return Err(format!(
            "proxy jump `{text}`: write one bastion as [user@]host[:port]"
        ));
    }
    Ok(Endpoint {
        name: text.to_string(),
        address: host.to_string(),
        port,
        user,
    })
}

/// Resolves each host the way `ssh` would (`ssh -G ADDRESS`): HostName, Port and User from
/// the SSH config (User only where the inventory names none); IdentityFile and
/// UserKnownHostsFile entries join the settings; a ProxyJump is used when no bastion is set.
pub fn resolve_ssh_config(
    hosts: &[&Host],
    default_user: &str,
    settings: &mut SshSettings,
    config: Option<&std::path::Path>,
) -> Result<Vec<Endpoint>, String> {
    let mut out = Vec::with_capacity(hosts.len());
    for h in hosts {
        let r =
            crate::transport::ssh_config::resolve(&h.address, config).map_err(|e| e.to_string())?;
        let user = h.user.clone().unwrap_or(r.endpoint.user.clone());
        let user = if user.is_empty() {
            default_user.to_string()
        } else {
            user
        };
        out.push(Endpoint {
            name: h.name.clone(),
            address: r.endpoint.address,
            port: r.endpoint.port,
            user,
        });
        for id in r.identities.into_iter().filter(|p| p.exists()) {
            if !settings.identities.contains(&id) {
                settings.identities.push(id);
            }
        }
        for kh in r.known_hosts.into_iter().filter(|p| p.exists()) {
            if !settings.known_hosts.contains(&kh) {
                settings.known_hosts.push(kh);
            }
        }
        if settings.proxy_jump.is_none()
            && let Some(j) = r.proxy_jump.filter(|j| j != "none")
        {
            settings.proxy_jump = Some(parse_jump(&j, default_user)?);
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bastions_parse_like_proxyjump() {
        let e = parse_jump("ops@bastion.example:2222", "root").unwrap();
        assert_eq!(
            (e.user.as_str(), e.address.as_str(), e.port),
            ("ops", "bastion.example", 2222)
        );
        let e = parse_jump("bastion", "me").unwrap();
        assert_eq!((e.user.as_str(), e.port), ("me", 22));
        assert!(parse_jump("a,b", "me").is_err());
        assert!(parse_jump("b:x", "me").is_err());
    }
}
