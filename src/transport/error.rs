//! Transport errors: each names the host, what failed, and what the operator should do.

use super::exhaustion::Exhausted;
use std::path::PathBuf;
use std::time::Duration;

/// Why talking to a host failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TCP connect failed.
    #[error("{host}: cannot connect to {addr}: {source}; check the address, port and firewall")]
    Connect {
        /// Inventory host name.
        host: String,
        /// `addr:port` dialled.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// This machine, not the host, ran out of a resource while connecting or talking to it.
    #[error("{host}: {kind}")]
    Local {
        /// Inventory host name.
        host: String,
        /// What ran out.
        kind: Exhausted,
        /// The OS error.
        source: std::io::Error,
    },
    /// Connect, handshake or authentication took too long.
    #[error(
        "{host}: no SSH session with {addr} after {after:?}; is sshd up and not overloaded (MaxStartups)?"
    )]
    ConnectTimeout {
        /// Inventory host name.
        host: String,
        /// `addr:port` dialled.
        addr: String,
        /// The limit that passed.
        after: Duration,
    },
    /// The SSH handshake failed for a protocol reason.
    #[error("{host}: SSH handshake with {addr} failed: {message}")]
    Handshake {
        /// Inventory host name.
        host: String,
        /// `addr:port` dialled.
        addr: String,
        /// russh's description.
        message: String,
    },
    /// No known_hosts line names this host.
    #[error(
        "{host}: host key {fingerprint} is not in known_hosts (searched {searched:?}); run `cutover hostkeys scan` and review the fingerprints"
    )]
    HostKeyUnknown {
        /// Inventory host name.
        host: String,
        /// SHA256 fingerprint presented.
        fingerprint: String,
        /// Files searched.
        searched: Vec<PathBuf>,
    },
    /// The host presented a key other than the recorded one.
    #[error("{host}: HOST KEY CHANGED: presented {fingerprint}, expected the key at {}:{line}; this may be an attack; verify with the host's owner before editing that line", file.display())]
    HostKeyChanged {
        /// Inventory host name.
        host: String,
        /// known_hosts file with the recorded key.
        file: PathBuf,
        /// 1-based line of the recorded key.
        line: usize,
        /// SHA256 fingerprint presented.
        fingerprint: String,
    },
    /// The host presented a key marked `@revoked`.
    #[error("{host}: host key {fingerprint} is revoked at {}:{line}; refuse to connect and rotate the host key", file.display())]
    HostKeyRevoked {
        /// Inventory host name.
        host: String,
        /// known_hosts file with the `@revoked` line.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// SHA256 fingerprint presented.
        fingerprint: String,
    },
    /// The server refused every offered key.
    #[error(
        "{host}: authentication as {user} refused; offered {offered:?}; check authorized_keys on the host and `identities` in settings"
    )]
    Auth {
        /// Inventory host name.
        host: String,
        /// Login user.
        user: String,
        /// Keys offered, as `path` or `agent:comment` with fingerprint.
        offered: Vec<String>,
    },
    /// No key to offer at all.
    #[error("no SSH identities: set `identities` or enable the agent")]
    NoIdentities,
    /// An identity file could not be loaded.
    #[error("cannot load identity {}: {message}; cutover needs unencrypted keys or an agent", path.display())]
    Identity {
        /// The key file.
        path: PathBuf,
        /// Why it failed.
        message: String,
    },
    /// A known_hosts file could not be read.
    #[error("cannot read known_hosts {}: {source}", path.display())]
    KnownHostsRead {
        /// The file.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The ssh-agent could not be used.
    #[error("ssh-agent: {message}; check SSH_AUTH_SOCK")]
    Agent {
        /// Why.
        message: String,
    },
    /// Opening or using a channel failed (the connection may be gone).
    #[error("{host}: SSH channel failed: {message}; the host may have dropped the connection")]
    Channel {
        /// Inventory host name.
        host: String,
        /// What failed.
        message: String,
    },
    /// Tunnelling through the bastion failed.
    #[error("{host}: cannot reach {addr} through bastion {bastion}: {message}")]
    Proxy {
        /// Inventory host name.
        host: String,
        /// `addr:port` requested.
        addr: String,
        /// The bastion's name.
        bastion: String,
        /// What failed.
        message: String,
    },
}

impl TransportError {
    /// The local resource that ran out, when the error is about this machine and not the
    /// host: every host failing this way shares one cause, so outputs group on it.
    pub fn exhausted(&self) -> Option<Exhausted> {
        match self {
            TransportError::Local { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// A socket error while connecting to `host` at `addr`: [`TransportError::Local`] when
    /// it is about this machine, else [`TransportError::Connect`].
    pub fn connect(host: &str, addr: String, source: std::io::Error) -> Self {
        match Exhausted::of(&source) {
            Some(kind) => TransportError::Local {
                host: host.to_string(),
                kind,
                source,
            },
            None => TransportError::Connect {
                host: host.to_string(),
                addr,
                source,
            },
        }
    }
}
