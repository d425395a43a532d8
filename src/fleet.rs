//! The hosts of a run as SSH peers: one connection per host, opened on first use and reused
//! for every step, reopened if it dropped (the action may restart sshd or networking).
//!
//! A thin shell over `transport`: it maps inventory hosts to endpoints, keeps the pool, and
//! says apart "could not reach the host" (unreachable) from "the command failed" (failed).

use crate::inventory::{DEFAULT_PORT, Host};
use crate::transport::ssh_config::{Resolver, SshConfigError, parse_hop};
use crate::transport::{
    CommandResult, Connection, Endpoint, RemoteCommand, Route, SshConfigSource, SshSettings,
    Transport, TransportError,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
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
    routes: HashMap<String, Route>,
    pool: HashMap<String, Mutex<Slot>>,
}

/// One host's place in the pool.
#[derive(Default)]
struct Slot {
    /// The open connection, if any.
    conn: Option<Connection>,
    /// Whether a connection was ever made: a host that drops later (sshd restarted by the
    /// action) is retried; one never reached is not.
    reached: bool,
    /// The failure every later step gets at once.
    failed: Option<Arc<TransportError>>,
}

impl Fleet {
    /// A fleet of `hosts`, each resolved through the ssh config the settings name (or, with it
    /// off, as written); `default_user` applies where neither the inventory, the settings nor
    /// (when on) the ssh config name a user.
    pub fn new(
        mut settings: SshSettings,
        hosts: &[&Host],
        default_user: &str,
    ) -> Result<Self, TransportError> {
        let routes = routes(&mut settings, hosts, default_user)?;
        Self::with_routes(settings, routes)
    }

    /// A fleet of already resolved endpoints, reached directly or through the settings' bastion.
    pub fn with_endpoints(
        settings: SshSettings,
        endpoints: Vec<Endpoint>,
    ) -> Result<Self, TransportError> {
        let routes = endpoints
            .into_iter()
            .map(|ep| direct_route(ep, settings.proxy_jump.as_deref()))
            .collect::<Result<_, _>>()?;
        Self::with_routes(settings, routes)
    }

    /// A fleet of routes (endpoints with their keys and bastion chains).
    pub fn with_routes(settings: SshSettings, routes: Vec<Route>) -> Result<Self, TransportError> {
        let transport = Transport::with_routes(settings, &routes)?;
        let routes: HashMap<String, Route> = routes
            .into_iter()
            .map(|r| (r.endpoint.name.clone(), r))
            .collect();
        let pool = routes
            .keys()
            .map(|k| (k.clone(), Mutex::new(Slot::default())))
            .collect();
        Ok(Self {
            transport,
            routes,
            pool,
        })
    }

    /// How `host` is reached, if it is in the fleet.
    pub fn route(&self, host: &str) -> Option<&Route> {
        self.routes.get(host)
    }

    /// The open connection to `host`, connecting (paced) if there is none or it dropped. A host
    /// never reached, or refused for good (keys, host key), fails again at once with its first
    /// error: one connect timeout per run for a blackholed host, one refused login per key.
    pub async fn connection(&self, host: &str) -> Result<Connection, FleetError> {
        let slot = self
            .pool
            .get(host)
            .ok_or_else(|| FleetError::UnknownHost(host.into()))?;
        let mut slot = slot.lock().await;
        if let Some(c) = slot.conn.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        if let Some(reason) = &slot.failed {
            return Err(FleetError::Unreachable(TransportError::Earlier {
                host: host.into(),
                reason: reason.clone(),
            }));
        }
        match self.transport.connect_route(&self.routes[host]).await {
            Ok(conn) => {
                slot.conn = Some(conn.clone());
                slot.reached = true;
                Ok(conn)
            }
            Err(e) => {
                if !slot.reached || for_good(&e) {
                    slot.failed = Some(Arc::new(e.clone()));
                }
                Err(FleetError::Unreachable(e))
            }
        }
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
            if slot.conn.as_ref().is_some_and(|c| c.same_as(conn)) {
                slot.conn = None;
            }
        }
    }

    /// Closes every open connection.
    pub async fn close(&self) {
        for slot in self.pool.values() {
            if let Some(c) = slot.lock().await.conn.take() {
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

/// Whether a connect failure will not go away by retrying within a run: a refused key or host
/// key (retrying would only add failed logins on the host or its bastion's sshguard).
fn for_good(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Auth { .. }
            | TransportError::HostKeyUnknown { .. }
            | TransportError::HostKeyChanged { .. }
            | TransportError::HostKeyRevoked { .. }
            | TransportError::HostCertificate { .. }
            | TransportError::Bastion { .. }
            | TransportError::SshConfig(_)
    )
}

/// The route to an endpoint as written: straight, or through the bastion list `jump`
/// (`[user@]host[:port]`, comma separated, first hop nearest; the endpoint's user where a hop
/// names none).
pub fn direct_route(endpoint: Endpoint, jump: Option<&str>) -> Result<Route, TransportError> {
    let mut via: Option<Arc<Route>> = None;
    for text in jump.into_iter().flat_map(|j| j.split(',')) {
        let hop = parse_hop(text.trim()).map_err(|problem| SshConfigError::BadJump {
            host: endpoint.name.clone(),
            hop: text.into(),
            problem,
        })?;
        let ep = Endpoint {
            name: text.trim().to_string(),
            address: hop.host,
            port: hop.port.unwrap_or(22),
            user: hop.user.unwrap_or_else(|| endpoint.user.clone()),
        };
        via = Some(Arc::new(Route {
            via,
            ..Route::direct(ep)
        }));
    }
    Ok(Route {
        via,
        ..Route::direct(endpoint)
    })
}

/// Each host's route: through the ssh config when the settings say so (the inventory's user
/// and non-default port, else the settings' user, go to `ssh -G` as `-l`/`-p`), else as written.
/// With `ssh_known_hosts`, the files ssh would search join the settings' (after them).
pub fn routes(
    settings: &mut SshSettings,
    hosts: &[&Host],
    default_user: &str,
) -> Result<Vec<Route>, TransportError> {
    if settings.ssh_config == SshConfigSource::Default && !on_path("ssh") {
        // No OpenSSH client here (a bare container running the demo): no ssh config to honour.
        settings.ssh_config = SshConfigSource::Off;
        if settings.identities.is_empty() {
            settings.identities = default_identities();
        }
    }
    let config = match &settings.ssh_config {
        SshConfigSource::Off => {
            if settings.ssh_known_hosts {
                add_known_hosts(settings, default_known_hosts());
            }
            let user = settings.user.as_deref().unwrap_or(default_user);
            return hosts
                .iter()
                .map(|h| {
                    let mut route = direct_route(endpoint(h, user), jump_for(h, settings))?;
                    route.identities.extend(host_identity(h));
                    Ok(route)
                })
                .collect();
        }
        SshConfigSource::Default => None,
        SshConfigSource::File(path) => Some(path.clone()),
    };
    let mut resolver = Resolver::new(config, account_home());
    let mut out = Vec::with_capacity(hosts.len());
    for h in hosts {
        let user = h.user.as_deref().or(settings.user.as_deref());
        let port = (h.port != DEFAULT_PORT).then_some(h.port);
        let jump = jump_for(h, settings);
        let (mut route, _) = resolver.route(&h.name, &h.address, user, port, jump)?;
        route.identities.splice(0..0, host_identity(h));
        out.push(route);
    }
    if settings.ssh_known_hosts {
        add_known_hosts(settings, resolver.known_hosts_files());
    }
    Ok(out)
}

/// Whether an executable called `name` is on `PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(name))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The bastion list for `h`: the command line's, else its inventory's, else the plan's.
fn jump_for<'a>(h: &'a Host, settings: &'a SshSettings) -> Option<&'a str> {
    match settings.force_proxy_jump {
        true => settings.proxy_jump.as_deref(),
        false => h
            .ssh
            .proxy_jump
            .as_deref()
            .or(settings.proxy_jump.as_deref()),
    }
}

/// The key the inventory names for `h` (`~` is the account's home).
fn host_identity(h: &Host) -> Option<PathBuf> {
    let id = h.ssh.identity.as_deref()?;
    Some(crate::transport::ssh_config::expand(id, &account_home()))
}

/// Appends the files not already listed.
fn add_known_hosts(settings: &mut SshSettings, files: Vec<PathBuf>) {
    for file in files {
        if !settings.known_hosts.contains(&file) {
            settings.known_hosts.push(file);
        }
    }
}

/// The account's home directory from the password database (as OpenSSH finds `~/.ssh`),
/// falling back to `$HOME` only when the account has no entry.
pub fn account_home() -> PathBuf {
    match nix::unistd::User::from_uid(nix::unistd::getuid()) {
        Ok(Some(user)) => user.dir,
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
    }
}

/// known_hosts files OpenSSH reads by default: the account's own, then the system's. Missing
/// ones are kept, so an unknown-key error can name every place searched.
pub fn default_known_hosts() -> Vec<PathBuf> {
    let ssh = account_home().join(".ssh");
    vec![
        ssh.join("known_hosts"),
        ssh.join("known_hosts2"),
        PathBuf::from("/etc/ssh/ssh_known_hosts"),
        PathBuf::from("/etc/ssh/ssh_known_hosts2"),
    ]
}

/// Identity files OpenSSH would offer by default (under the account's home), if they exist.
pub fn default_identities() -> Vec<PathBuf> {
    let ssh = account_home().join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| ssh.join(n))
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

    fn ep(user: &str) -> Endpoint {
        Endpoint {
            name: "web1".into(),
            address: "10.0.0.1".into(),
            port: 22,
            user: user.into(),
        }
    }

    #[test]
    fn bastion_lists_parse_like_proxyjump() {
        let r = direct_route(ep("me"), Some("ops@outer.example:2222,inner")).unwrap();
        let hops: Vec<_> = r
            .chain()
            .iter()
            .map(|e| format!("{}@{}:{}", e.user, e.address, e.port))
            .collect();
        assert_eq!(hops, ["ops@outer.example:2222", "me@inner:22"]);
        assert!(direct_route(ep("me"), Some("b:x")).is_err());
        assert!(direct_route(ep("me"), None).unwrap().via.is_none());
    }

    #[test]
    fn refusals_are_remembered_and_drops_after_a_success_are_not() {
        let auth = TransportError::Auth {
            host: "h".into(),
            user: "u".into(),
            offered: vec![],
        };
        let dropped = TransportError::Channel {
            host: "h".into(),
            message: "gone".into(),
        };
        assert!(for_good(&auth));
        assert!(!for_good(&dropped));
    }

    #[test]
    fn the_account_home_comes_from_the_password_database_not_home() {
        let from_db = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .map(|u| u.dir);
        if let Some(dir) = from_db {
            assert_eq!(account_home(), dir);
        }
    }
}
