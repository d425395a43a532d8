//! Pure checks of a CA-signed host certificate against known_hosts, as OpenSSH makes them:
//! a `@cert-authority` line for the host holding the signing key, a host (not user)
//! certificate, a good signature, the validity window, the host among the principals, no
//! critical options, and neither the CA nor the certified key `@revoked`.

use super::known_hosts::{Entry, Marker, host_matches};
use super::scan::fingerprint;
use russh::keys::{Certificate, HashAlg, PublicKey, ssh_key::certificate::CertType};
use std::path::PathBuf;

/// Why a host certificate is refused; each says which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertRefusal {
    /// A user certificate presented as a host's.
    #[error("it is a user certificate, not a host certificate")]
    NotHost,
    /// No `@cert-authority` line for this host names the signing key.
    #[error(
        "unknown CA: signed by {ca}, which no @cert-authority line for `{name}` names; add `@cert-authority PATTERN <CA public key>` to known_hosts after checking the CA's fingerprint"
    )]
    UnknownCa {
        /// The CA key's fingerprint.
        ca: String,
        /// The name looked up.
        name: String,
    },
    /// The CA key or the certified key is `@revoked`.
    #[error("revoked: {what} is marked @revoked at {}:{line}", file.display())]
    Revoked {
        /// `the CA key` or `the host key`.
        what: &'static str,
        /// File holding the `@revoked` line.
        file: PathBuf,
        /// Its line.
        line: usize,
    },
    /// The current time is before `valid_after`.
    #[error("not yet valid: valid from {from} (unix time), now {now}; check both clocks")]
    NotYetValid {
        /// Start of validity.
        from: u64,
        /// The time checked.
        now: u64,
    },
    /// The current time is at or after `valid_before`.
    #[error(
        "expired: valid until {until} (unix time), now {now}; the host needs a fresh certificate"
    )]
    Expired {
        /// End of validity.
        until: u64,
        /// The time checked.
        now: u64,
    },
    /// The host's name is not among the principals.
    #[error("wrong principal: issued for {principals:?}, not for `{name}`")]
    WrongPrincipal {
        /// The name checked.
        name: String,
        /// The certificate's principals.
        principals: Vec<String>,
    },
    /// The certificate carries a critical option host certificates cannot have.
    #[error("unsupported critical option `{0}`")]
    CriticalOption(String),
    /// The CA's signature does not verify.
    #[error("bad signature from its CA")]
    BadSignature,
}

/// Checks `cert`, presented by the host known as `lookup` (`addr` or `[addr]:port`) whose
/// principal must be `principal`, at unix time `now`.
pub fn check_certificate(
    entries: &[Entry],
    lookup: &str,
    principal: &str,
    cert: &Certificate,
    now: u64,
) -> Result<(), CertRefusal> {
    if cert.cert_type() != CertType::Host {
        return Err(CertRefusal::NotHost);
    }
    let ca = cert.signature_key();
    let host_key = cert.public_key();
    for e in entries.iter().filter(|e| e.marker == Marker::Revoked) {
        let what = match e.key.key_data() {
            k if k == ca => "the CA key",
            k if k == host_key => "the host key",
            _ => continue,
        };
        return Err(CertRefusal::Revoked {
            what,
            file: e.file.clone(),
            line: e.line,
        });
    }
    let trusted = entries.iter().any(|e| {
        e.marker == Marker::CertAuthority
            && e.key.key_data() == ca
            && host_matches(&e.hosts, lookup)
    });
    if !trusted {
        return Err(CertRefusal::UnknownCa {
            ca: fingerprint(&PublicKey::from(ca.clone())),
            name: lookup.to_string(),
        });
    }
    if now < cert.valid_after() {
        return Err(CertRefusal::NotYetValid {
            from: cert.valid_after(),
            now,
        });
    }
    if now >= cert.valid_before() {
        return Err(CertRefusal::Expired {
            until: cert.valid_before(),
            now,
        });
    }
    let principals = cert.valid_principals();
    if !principals.is_empty() && !principals.iter().any(|p| p.eq_ignore_ascii_case(principal)) {
        return Err(CertRefusal::WrongPrincipal {
            name: principal.to_string(),
            principals: principals.to_vec(),
        });
    }
    if let Some((option, _)) = cert.critical_options().iter().next() {
        return Err(CertRefusal::CriticalOption(option.clone()));
    }
    let ca_fingerprint = ca.fingerprint(HashAlg::Sha256);
    cert.validate_at(now, [&ca_fingerprint])
        .map_err(|_| CertRefusal::BadSignature)
}

#[cfg(test)]
#[path = "host_cert_tests.rs"]
mod tests;
