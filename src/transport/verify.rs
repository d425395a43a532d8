//! The russh client handler: verifies the server's host key against known_hosts, fail-closed.

use super::host_cert::{CertRefusal, check_certificate};
use super::known_hosts::{self, KnownHosts, Verdict};
use super::scan::fingerprint;
use super::{Endpoint, TransportError};
use russh::client;
use russh::keys::{Certificate, PublicKey, PublicKeyOrCertificate};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The russh handler: checks the host key strictly and records why it refused.
pub struct Client {
    pub(super) endpoint: Endpoint,
    pub(super) known: Arc<KnownHosts>,
    pub(super) searched: Vec<PathBuf>,
    pub(super) missing: Vec<PathBuf>,
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
                missing: self.missing.clone(),
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

impl Client {
    /// A host certificate: vouched for by a `@cert-authority` line, or else (as OpenSSH does)
    /// its key trusted as a plain known_hosts key; refusals say which check failed.
    fn verify_certificate(&self, cert: &Certificate) -> Result<(), TransportError> {
        let ep = &self.endpoint;
        let name = known_hosts::lookup_name(&ep.address, ep.port);
        let now = u64::try_from(crate::clock::now().timestamp()).unwrap_or(0);
        let entries = self.known.entries();
        let refusal = match check_certificate(entries, &name, &ep.address, cert, now) {
            Ok(()) => return Ok(()),
            Err(refusal) => refusal,
        };
        let key = PublicKey::from(cert.public_key().clone());
        if matches!(refusal, CertRefusal::UnknownCa { .. })
            && self.known.check(&name, &key) == Verdict::Trusted
        {
            return Ok(());
        }
        Err(TransportError::HostCertificate {
            host: ep.name.clone(),
            fingerprint: fingerprint(&key),
            reason: refusal.to_string(),
        })
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let verdict = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.verify(key),
            PublicKeyOrCertificate::Certificate(cert) => self.verify_certificate(cert),
        };
        match verdict {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.rejection.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Ok(false)
            }
        }
    }
}
