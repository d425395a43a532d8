//! How to reach one host: its endpoint, the keys to offer it, and the bastion chain in front.
//!
//! Pure data: built by `fleet` (from the inventory, or through `ssh -G` and ProxyJump hops),
//! carried out by [`super::Transport::connect_route`].

use super::Endpoint;
use super::ssh_config::parse_hop;
use std::path::PathBuf;
use std::sync::Arc;

/// One hop-by-hop path to a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The host itself.
    pub endpoint: Endpoint,
    /// Keys to offer this host after the transport's own (from its ssh config `IdentityFile`).
    pub identities: Vec<PathBuf>,
    /// Offer only `identities` (and agent keys that match them), as `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// User certificates to present with the matching key (`CertificateFile`).
    pub certificates: Vec<PathBuf>,
    /// The bastion to tunnel through, itself a route (ProxyJump chains).
    pub via: Option<Arc<Route>>,
}

impl Route {
    /// A route straight to `endpoint` with no extra keys.
    pub fn direct(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            identities: Vec::new(),
            identities_only: false,
            certificates: Vec::new(),
            via: None,
        }
    }

    /// The route to `endpoint` as written: straight, or through the bastion list `jump`
    /// (`[user@]host[:port]`, comma separated, first hop nearest; the endpoint's user where a
    /// hop names none). A malformed hop comes back with what is wrong with it.
    pub fn through(endpoint: Endpoint, jump: Option<&str>) -> Result<Route, (String, String)> {
        let mut via: Option<Arc<Route>> = None;
        for text in jump.into_iter().flat_map(|j| j.split(',')) {
            let hop = parse_hop(text.trim()).map_err(|problem| (text.to_string(), problem))?;
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

    /// A stable key naming this hop and everything in front of it: `user@addr:port<-…`.
    pub fn key(&self) -> String {
        let ep = &self.endpoint;
        let mut key = format!("{}@{}:{}", ep.user, ep.address, ep.port);
        if let Some(via) = &self.via {
            key.push_str(" via ");
            key.push_str(&via.key());
        }
        key
    }

    /// The hops in front of the host, nearest to us first (`bastion1 -> bastion2`).
    pub fn chain(&self) -> Vec<&Endpoint> {
        let mut hops = Vec::new();
        let mut next = self.via.as_deref();
        while let Some(hop) = next {
            hops.push(&hop.endpoint);
            next = hop.via.as_deref();
        }
        hops.reverse();
        hops
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(name: &str, user: &str) -> Endpoint {
        Endpoint {
            name: name.into(),
            address: format!("{name}.example"),
            port: 22,
            user: user.into(),
        }
    }

    #[test]
    fn keys_name_the_whole_chain_and_chain_lists_the_nearest_hop_first() {
        let outer = Arc::new(Route::direct(ep("outer", "ops")));
        let inner = Arc::new(Route {
            via: Some(outer),
            ..Route::direct(ep("inner", "ops"))
        });
        let host = Route {
            via: Some(inner),
            ..Route::direct(ep("web1", "deploy"))
        };
        assert_eq!(
            host.key(),
            "deploy@web1.example:22 via ops@inner.example:22 via ops@outer.example:22"
        );
        let names: Vec<_> = host.chain().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["outer", "inner"]);
    }
}
