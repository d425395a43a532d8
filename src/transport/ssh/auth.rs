//! Public-key authentication: the settings' keys, then the route's own (each with its
//! `KEY-cert.pub` user certificate first, as OpenSSH does), then the agent's keys and
//! certificates (only those matching the route's keys under `IdentitiesOnly`), each offered once.

use super::super::TransportError;
use super::super::route::Route;
use super::super::scan::fingerprint;
use super::super::verify::Client;
use super::{Transport, handshake_error};
use russh::client::{AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{Certificate, PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Transport {
    /// Offers each configured key once, then the agent's keys; never retries a refusal.
    pub(super) async fn authenticate(
        &self,
        handle: &mut Handle<Client>,
        route: &Route,
    ) -> Result<(), TransportError> {
        let ep = &route.endpoint;
        let mut offered = Vec::new();
        for (path, key) in self.keys_for(route) {
            for (cert_path, cert) in certificates_for(&path, &key, &route.certificates) {
                offered.push(cert_path.display().to_string());
                let result = handle
                    .authenticate_openssh_cert(ep.user.clone(), key.clone(), cert)
                    .await;
                if accepted(&result.map_err(|e| handshake_error(ep, &e))?) {
                    return Ok(());
                }
            }
            offered.push(path.display().to_string());
            let hash = match key.algorithm().is_rsa() {
                true => handle
                    .best_supported_rsa_hash()
                    .await
                    .ok()
                    .flatten()
                    .flatten(),
                false => None,
            };
            let key = PrivateKeyWithHashAlg::new(key.clone(), hash);
            let result = handle.authenticate_publickey(ep.user.clone(), key).await;
            if accepted(&result.map_err(|e| handshake_error(ep, &e))?) {
                return Ok(());
            }
        }
        if self.settings.use_agent && self.agent_auth(handle, route, &mut offered).await? {
            return Ok(());
        }
        Err(TransportError::Auth {
            host: ep.name.clone(),
            user: ep.user.clone(),
            offered,
        })
    }

    /// The settings' keys, then the route's own, each once.
    fn keys_for(&self, route: &Route) -> Vec<(PathBuf, Arc<PrivateKey>)> {
        let mut out = self.keys.clone();
        for path in &route.identities {
            if let Some(key) = self.route_keys.get(path)
                && !out.iter().any(|(p, _)| p == path)
            {
                out.push((path.clone(), key.clone()));
            }
        }
        out
    }

    /// Offers each agent key once; `Ok(true)` when one was accepted.
    async fn agent_auth(
        &self,
        handle: &mut Handle<Client>,
        route: &Route,
        offered: &mut Vec<String>,
    ) -> Result<bool, TransportError> {
        let ep = &route.endpoint;
        let only = route
            .identities_only
            .then(|| identity_publics(&route.identities, &self.keys_for(route)));
        let agent_err = |e: russh::keys::Error| TransportError::Agent {
            message: e.to_string(),
        };
        let mut agent = AgentClient::connect_env().await.map_err(agent_err)?;
        for identity in agent.request_identities().await.map_err(agent_err)? {
            let (key_data, comment) = match &identity {
                AgentIdentity::PublicKey { key, comment } => {
                    (key.key_data().clone(), comment.clone())
                }
                AgentIdentity::Certificate {
                    certificate,
                    comment,
                } => (certificate.public_key().clone(), comment.clone()),
            };
            if let Some(only) = &only
                && !only.iter().any(|k| *k.key_data() == key_data)
            {
                continue;
            }
            let key = PublicKey::from(key_data);
            let user = ep.user.clone();
            let result = match identity {
                AgentIdentity::PublicKey { key, .. } => {
                    offered.push(format!("agent:{comment} {}", fingerprint(&key)));
                    handle
                        .authenticate_publickey_with(user, key, None, &mut agent)
                        .await
                }
                AgentIdentity::Certificate { certificate, .. } => {
                    offered.push(format!(
                        "agent:{comment} {} (certificate)",
                        fingerprint(&key)
                    ));
                    handle
                        .authenticate_certificate_with(user, certificate, None, &mut agent)
                        .await
                }
            };
            match result {
                Ok(r) if accepted(&r) => return Ok(true),
                Ok(_) => {}
                Err(e) => {
                    return Err(TransportError::Agent {
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(false)
    }
}

/// The user certificates for a key, as OpenSSH finds them: the route's `CertificateFile`s
/// certifying this key, then `KEY-cert.pub` beside it.
fn certificates_for(
    path: &Path,
    key: &PrivateKey,
    files: &[PathBuf],
) -> Vec<(PathBuf, Certificate)> {
    let mut beside = path.as_os_str().to_owned();
    beside.push("-cert.pub");
    let mut out: Vec<(PathBuf, Certificate)> = Vec::new();
    for file in files.iter().cloned().chain([PathBuf::from(beside)]) {
        let cert = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| Certificate::from_openssh(t.trim()).ok());
        if let Some(cert) = cert
            && cert.public_key() == key.public_key().key_data()
            && !out.iter().any(|(p, _)| *p == file)
        {
            out.push((file, cert));
        }
    }
    out
}

/// Whether the server accepted the key.
fn accepted(result: &AuthResult) -> bool {
    matches!(result, AuthResult::Success)
}

/// Loads one unencrypted private key.
pub(super) fn load_key(path: &PathBuf) -> Result<(PathBuf, Arc<PrivateKey>), TransportError> {
    let key = russh::keys::load_secret_key(path, None).map_err(|e| TransportError::Identity {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok((path.clone(), Arc::new(key)))
}

/// Loads the keys routes (and their bastions) name that the settings do not, skipping the
/// missing and the unusable (encrypted keys stay usable through the agent).
pub(super) fn load_route_keys(
    routes: &[Route],
    explicit: &[(PathBuf, Arc<PrivateKey>)],
) -> HashMap<PathBuf, Arc<PrivateKey>> {
    let mut out = HashMap::new();
    let mut paths = Vec::new();
    for route in routes {
        let mut next = Some(route);
        while let Some(r) = next {
            paths.extend(r.identities.iter().cloned());
            next = r.via.as_deref();
        }
    }
    for path in paths {
        if out.contains_key(&path) || explicit.iter().any(|(p, _)| *p == path) || !path.exists() {
            continue;
        }
        match load_key(&path) {
            Ok((path, key)) => {
                out.insert(path, key);
            }
            Err(e) => tracing::warn!("{e}; skipped"),
        }
    }
    out
}

/// The public keys of a route's identities: from the loaded private key, or the `.pub` file
/// beside an identity that could not be loaded (its private half may live in the agent).
fn identity_publics(paths: &[PathBuf], loaded: &[(PathBuf, Arc<PrivateKey>)]) -> Vec<PublicKey> {
    let mut out: Vec<PublicKey> = loaded.iter().map(|(_, k)| k.public_key().clone()).collect();
    for path in paths {
        let mut pub_path = path.clone().into_os_string();
        pub_path.push(".pub");
        if let Ok(text) = std::fs::read_to_string(&pub_path)
            && let Ok(key) = PublicKey::from_openssh(text.trim())
        {
            out.push(key);
        }
    }
    out
}
