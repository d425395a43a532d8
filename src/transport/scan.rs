//! Host-key scanning and known_hosts formatting, for `cutover hostkeys scan` to review.

use super::known_hosts::lookup_name;
use super::{Endpoint, SshSettings, TransportError};
use russh::keys::{HashAlg, PublicKey, PublicKeyOrCertificate};
use std::sync::{Arc, Mutex};

/// The SHA256 fingerprint as OpenSSH prints it (`SHA256:…`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// A known_hosts line for the endpoint: `addr key` or `[addr]:port key` when port is not 22.
pub fn known_hosts_line(ep: &Endpoint, key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    let text = key.to_openssh().unwrap_or_default();
    format!("{} {}", lookup_name(&ep.address, ep.port), text.trim_end())
}

/// Fetches each endpoint's host key without trusting or authenticating; concurrently, paced.
pub async fn scan_host_keys(
    endpoints: &[Endpoint],
    settings: &SshSettings,
) -> Vec<(Endpoint, Result<PublicKey, TransportError>)> {
    let pacer = Arc::new(super::pacer::Pacer::new(
        settings.connect_rate,
        settings.connect_burst,
        crate::clock::instant(),
    ));
    let tasks: Vec<_> = endpoints
        .iter()
        .map(|ep| {
            let (ep, pacer, after) = (ep.clone(), pacer.clone(), settings.connect_timeout);
            tokio::spawn(async move {
                let _slot = pacer.acquire().await;
                let key = tokio::time::timeout(after, fetch_key(&ep))
                    .await
                    .unwrap_or_else(|_| {
                        Err(TransportError::ConnectTimeout {
                            host: ep.name.clone(),
                            addr: addr(&ep),
                            after,
                        })
                    });
                (ep, key)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for (task, ep) in tasks.into_iter().zip(endpoints) {
        out.push(task.await.unwrap_or_else(|e| {
            (
                ep.clone(),
                Err(TransportError::Channel {
                    host: ep.name.clone(),
                    message: e.to_string(),
                }),
            )
        }));
    }
    out
}

/// Runs a handshake only far enough to see the host key, then refuses it.
async fn fetch_key(ep: &Endpoint) -> Result<PublicKey, TransportError> {
    let tcp = tokio::net::TcpStream::connect((ep.address.as_str(), ep.port))
        .await
        .map_err(|source| TransportError::Connect {
            host: ep.name.clone(),
            addr: addr(ep),
            source: Arc::new(source),
        })?;
    let seen = Arc::new(Mutex::new(None));
    let handler = KeyGrabber { seen: seen.clone() };
    let result =
        russh::client::connect_stream(Arc::new(russh::client::Config::default()), tcp, handler)
            .await;
    let key = seen.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (key, result) {
        (Some(key), _) => Ok(key),
        (None, Err(e)) => Err(super::ssh::handshake_error(ep, &e)),
        (None, Ok(_)) => Err(TransportError::Channel {
            host: ep.name.clone(),
            message: "no host key".into(),
        }),
    }
}

/// `addr:port` for messages.
fn addr(ep: &Endpoint) -> String {
    format!("{}:{}", ep.address, ep.port)
}

/// Records the presented host key and refuses it, so the scan never authenticates.
struct KeyGrabber {
    seen: Arc<Mutex<Option<PublicKey>>>,
}

impl russh::client::Handler for KeyGrabber {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        if let PublicKeyOrCertificate::PublicKey { key, .. } = key {
            *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.clone());
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(port: u16) -> Endpoint {
        Endpoint {
            name: "web1".into(),
            address: "10.0.0.1".into(),
            port,
            user: "root".into(),
        }
    }

    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFGfokvMpT4WUCNtVxcRcb9N8BR8AGcBgfJkEaNrNceO";

    #[test]
    fn known_hosts_lines_bracket_non_default_ports() {
        let key = PublicKey::from_openssh(&format!("{K1} some comment")).unwrap();
        assert_eq!(known_hosts_line(&ep(22), &key), format!("10.0.0.1 {K1}"));
        assert_eq!(
            known_hosts_line(&ep(2222), &key),
            format!("[10.0.0.1]:2222 {K1}")
        );
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        let key = PublicKey::from_openssh(K1).unwrap();
        assert_eq!(
            fingerprint(&key),
            "SHA256:Bda6UGmjHWgsvvZZ3Hc6vWQ+gtPmQSumgnJ+irnAfLw"
        );
    }
}
