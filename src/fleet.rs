//! The hosts of a run as SSH peers: one connection per host, opened on first use and reused
//! for every step, reopened if it dropped (the action may restart sshd or networking).
//!
//! A thin shell over `transport`: it maps inventory hosts to endpoints, keeps the pool, and
//! says apart "could not reach the host" (unreachable) from "the command failed" (failed).

use crate::inventory::Host;
use crate::transport::fd_limit;
use crate::transport::{
    CommandResult, Connection, Endpoint, RemoteCommand, Route, SshSettings, Transport,
    TransportError,
};
use std::collections::HashMap;
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
        let need = fd_limit::Need::fleet(routes.len(), settings.connect_burst);
        fd_limit::raise_and_warn(need);
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
                // This machine running out of something (open files) is no fact about the host.
                let local = e.exhausted().is_some();
                if (!slot.reached && !local) || for_good(&e) {
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

    /// Closes `host`'s pooled connection now: its last command is done (`exec` runs one per
    /// host), so a fleet of thousands holds only the connections still in use, not one per
    /// host until the end (each costs the SSH library about 100 KiB).
    pub async fn release(&self, host: &str) {
        let Some(slot) = self.pool.get(host) else {
            return;
        };
        let conn = slot.lock().await.conn.take();
        if let Some(c) = conn {
            c.close().await;
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

mod routes;

pub use routes::{account_home, default_identities, default_known_hosts, direct_route, routes};

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
}
