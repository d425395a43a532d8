//! The russh client handler: verifies the server's host key against known_hosts, fail-closed.

use super::known_hosts::{self, KnownHosts, Verdict};
use super::scan::fingerprint;
use super::{Endpoint, TransportError};
use russh::client;
use russh::keys::PublicKey;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The russh handler: checks the host key strictly and records why it refused.
pub struct Client {
    pub(super) endpoint: Endpoint,
    pub(super) known: Arc<KnownHosts>,
    pub(super) searched: Vec<PathBuf>,
    pub(super) strict: bool,
    pub(super) rejection: Arc<Mutex<Option<TransportError>>>,
}

impl Client {
    /// The verdict for a presented key, as an error when it must be refused.
    fn verify(&self, key: &PublicKey) -> Result<(), TransportError> {
        let ep = &self.endpoint;
        let name = known_hosts::lookup_name(&ep.address, ep.port);
        let (host, fingerprint) = (ep.name.clone(), fingerprint(key));
        match self.known.check(&name, key) {
            Verdict::Trusted => Ok(()),
            Verdict::Unknown if !self.strict => {
                tracing::warn!(
                    host,
                    fingerprint,
                    "accepting unknown host key (strict_host_keys = false)"
                );
                Ok(())
            }
            Verdict::Unknown => Err(TransportError::HostKeyUnknown {
                host,
                fingerprint,
                searched: self.searched.clone(),
            }),
            Verdict::Changed { file, line } => Err(TransportError::HostKeyChanged {
                host,
                file,
                line,
                fingerprint,
            }),
            Verdict::Revoked { file, line } => Err(TransportError::HostKeyRevoked {
                host,
                file,
                line,
                fingerprint,
            }),
        }
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false); // host certificates are not trusted: cutover has no CA config yet
        };
        match self.verify(key) {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.rejection.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}
