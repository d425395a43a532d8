//! Hosts resolved the way the operator's own `ssh` resolves them: by asking OpenSSH (`ssh -G`).
//!
//! `ssh -G ALIAS` prints the configuration ssh would use for ALIAS after every `Include`,
//! `Host` and `Match` block (including `Match exec`, `canonical`, `final` and `%` tokens), so
//! cutover reads OpenSSH's answer instead of re-implementing its config language. The parse of
//! that output is pure ([`parse_ssh_g`]); [`Resolver`] runs it (once per alias, user and port)
//! and builds [`Route`]s whose ProxyJump hops are resolved the same way, recursively.

pub mod uniform;

use super::Endpoint;
use super::route::Route;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// ProxyJump hops followed before a chain counts as a loop (OpenSSH has no limit but recursion).
const MAX_JUMP_DEPTH: usize = 8;

/// What `ssh -G` says about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHost {
    /// HostName, Port and User; `name` is the alias asked for.
    pub endpoint: Endpoint,
    /// IdentityFile entries, `~` expanded (existing or not).
    pub identities: Vec<PathBuf>,
    /// `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// CertificateFile entries, `~` expanded.
    pub certificates: Vec<PathBuf>,
    /// UserKnownHostsFile entries, then GlobalKnownHostsFile entries.
    pub known_hosts: Vec<PathBuf>,
    /// ProxyJump, unless `none`.
    pub proxy_jump: Option<String>,
    /// ProxyCommand, unless `none`: cutover cannot run it.
    pub proxy_command: Option<String>,
    /// PKCS11Provider, unless `none`: cutover cannot use it.
    pub pkcs11_provider: Option<String>,
    /// `StrictHostKeyChecking` is anything but `no`/`false`/`off`.
    pub strict_host_keys: bool,
}

/// Why a host could not be resolved through the ssh config.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SshConfigError {
    /// `ssh` could not be started.
    #[error(
        "cannot run `ssh -G {alias}` to read the ssh config: {source}; install openssh-client or pass --no-ssh-config"
    )]
    Spawn {
        /// The alias asked for.
        alias: String,
        /// The spawn error.
        source: Arc<std::io::Error>,
    },
    /// `ssh -G` refused the config.
    #[error("`ssh -G {alias}` failed: {message}; fix the ssh config (or pass --no-ssh-config)")]
    Refused {
        /// The alias asked for.
        alias: String,
        /// ssh's message, sanitized.
        message: String,
    },
    /// The config asks for something cutover cannot do, and ignoring it would connect elsewhere.
    #[error(
        "host `{host}`: the ssh config sets {keyword} {value:?}, which cutover cannot honour; use ProxyJump instead, or pass --no-ssh-config and name the route yourself"
    )]
    Unsupported {
        /// The host (or bastion) concerned.
        host: String,
        /// The keyword, e.g. `ProxyCommand`.
        keyword: &'static str,
        /// Its value.
        value: String,
    },
    /// A ProxyJump hop is malformed.
    #[error("host `{host}`: ProxyJump hop `{hop}`: {problem}")]
    BadJump {
        /// The host whose route it is.
        host: String,
        /// The hop as written.
        hop: String,
        /// What is wrong.
        problem: String,
    },
    /// ProxyJump hops refer to each other.
    #[error("host `{host}`: ProxyJump chain deeper than {MAX_JUMP_DEPTH} hops (a loop?): {chain}")]
    JumpLoop {
        /// The host whose route it is.
        host: String,
        /// The hops followed.
        chain: String,
    },
}

/// Parses `ssh -G alias` output; `home` expands `~`. Missing fields keep OpenSSH defaults.
pub fn parse_ssh_g(alias: &str, output: &str, home: &Path) -> ResolvedHost {
    let mut host = ResolvedHost {
        endpoint: Endpoint {
            name: alias.into(),
            address: alias.into(),
            port: 22,
            user: "root".into(),
        },
        identities: Vec::new(),
        identities_only: false,
        certificates: Vec::new(),
        known_hosts: Vec::new(),
        proxy_jump: None,
        proxy_command: None,
        pkcs11_provider: None,
        strict_host_keys: true,
    };
    let mut global = Vec::new();
    for line in output.lines() {
        let Some((key, value)) = line.trim().split_once(' ') else {
            continue;
        };
        let value = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "globalknownhostsfile" => global.extend(paths(value, home)),
            key => apply(&mut host, key, value, home),
        }
    }
    host.known_hosts.extend(global);
    host
}

/// Applies one `key value` line.
fn apply(host: &mut ResolvedHost, key: &str, value: &str, home: &Path) {
    let set = |v: &str| (v != "none").then(|| v.to_string());
    match key {
        "hostname" => host.endpoint.address = value.into(),
        "user" => host.endpoint.user = value.into(),
        "port" => host.endpoint.port = value.parse().unwrap_or(host.endpoint.port),
        "identityfile" => host.identities.push(expand(value, home)),
        "identitiesonly" => host.identities_only = value == "yes",
        "certificatefile" => host.certificates.push(expand(value, home)),
        "userknownhostsfile" => host.known_hosts.extend(paths(value, home)),
        "proxyjump" => host.proxy_jump = set(value),
        "proxycommand" => host.proxy_command = set(value),
        "pkcs11provider" => host.pkcs11_provider = set(value),
        "stricthostkeychecking" => {
            host.strict_host_keys = !matches!(value, "no" | "false" | "off");
        }
        _ => {}
    }
}

/// A space-separated list of paths, `~` expanded.
fn paths(value: &str, home: &Path) -> Vec<PathBuf> {
    value.split_whitespace().map(|f| expand(f, home)).collect()
}

/// Expands a leading `~/` with the account's home.
pub fn expand(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_path_buf(),
        None => PathBuf::from(path),
    }
}

/// One ProxyJump hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// The host (an alias the config may resolve further).
    pub host: String,
    /// The user, if the hop names one.
    pub user: Option<String>,
    /// The port, if the hop names one.
    pub port: Option<u16>,
}

/// Parses one hop of a ProxyJump list.
pub fn parse_hop(text: &str) -> Result<Hop, String> {
    let rest = text.strip_prefix("ssh://").unwrap_or(text);
    let (user, rest) = match rest.rsplit_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err("the user before `@` is empty".into()),
        None => (None, rest),
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (h, tail) = bracketed
                .split_once(']')
                .ok_or_else(|| "unclosed `[`".to_string())?;
            (h, tail.strip_prefix(':'))
        }
        None => match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (rest, None),
        },
    };
    let port = port
        .map(|p| p.parse::<u16>().map_err(|_| format!("`{p}` is not a port")))
        .transpose()?;
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == ',') {
        return Err("write each hop as [user@]host[:port]".into());
    }
    Ok(Hop {
        host: host.to_string(),
        user,
        port,
    })
}

/// Runs `ssh -G` (the shell) and returns its output.
pub fn ssh_g(
    alias: &str,
    config: Option<&Path>,
    user: Option<&str>,
    port: Option<u16>,
) -> Result<String, SshConfigError> {
    let mut cmd = std::process::Command::new("ssh");
    if let Some(config) = config {
        cmd.arg("-F").arg(config);
    }
    if let Some(user) = user {
        cmd.arg("-l").arg(user);
    }
    if let Some(port) = port {
        cmd.arg("-p").arg(port.to_string());
    }
    let out = cmd
        .arg("-G")
        .arg("--")
        .arg(alias)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| SshConfigError::Spawn {
            alias: alias.into(),
            source: Arc::new(source),
        })?;
    if !out.status.success() {
        return Err(SshConfigError::Refused {
            alias: alias.into(),
            message: crate::sanitize::clean(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An alias `ssh -G` hands back unchanged as the host name (it lowercases names).
fn plain_alias(alias: &str) -> bool {
    !alias.is_empty() && !alias.bytes().any(|b| b.is_ascii_uppercase())
}

/// What `ssh -G` says for `alias` under a config that resolves every alias alike, given what
/// it said for another alias with the same user and port: the same, with `alias` as the name.
pub fn from_template(template: &ResolvedHost, alias: &str) -> ResolvedHost {
    let mut host = template.clone();
    host.endpoint.name = alias.to_string();
    host.endpoint.address = alias.to_string();
    host
}

/// Resolves hosts and their ProxyJump hops through one ssh config, asking `ssh -G` once per
/// distinct (alias, user, port), or once per (user, port) when the config cannot tell hosts
/// apart ([`uniform`]).
pub struct Resolver {
    config: Option<PathBuf>,
    home: PathBuf,
    cache: HashMap<(String, Option<String>, Option<u16>), ResolvedHost>,
    known_hosts: Vec<PathBuf>,
    /// Whether the config resolves every alias alike (read once, on the first lookup).
    uniform: Option<bool>,
    /// Per (user, port) under a uniform config: what `ssh -G` said for one alias.
    templates: HashMap<(Option<String>, Option<u16>), ResolvedHost>,
}

impl Resolver {
    /// A resolver reading `config` (`None`: ssh's own default files), expanding `~` as `home`.
    pub fn new(config: Option<PathBuf>, home: PathBuf) -> Self {
        Self {
            config,
            home,
            cache: HashMap::new(),
            known_hosts: Vec::new(),
            uniform: None,
            templates: HashMap::new(),
        }
    }

    /// Every known_hosts file the hosts and bastions resolved so far name, first seen first.
    pub fn known_hosts_files(&self) -> Vec<PathBuf> {
        self.known_hosts.clone()
    }

    /// What ssh would use for `alias`, with `-l user` / `-p port` when given.
    pub fn resolve(
        &mut self,
        alias: &str,
        user: Option<&str>,
        port: Option<u16>,
    ) -> Result<ResolvedHost, SshConfigError> {
        let key = (alias.to_string(), user.map(str::to_string), port);
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let uniform = *self
            .uniform
            .get_or_insert_with(|| uniform::config_is_uniform(self.config.as_deref(), &self.home));
        let shape = (user.map(str::to_string), port);
        let host = match self.templates.get(&shape) {
            Some(template) if uniform && plain_alias(alias) => from_template(template, alias),
            _ => {
                let output = ssh_g(alias, self.config.as_deref(), user, port)?;
                let host = parse_ssh_g(alias, &output, &self.home);
                if uniform && plain_alias(alias) && host.endpoint.address == alias {
                    self.templates.insert(shape, host.clone());
                }
                host
            }
        };
        for file in &host.known_hosts {
            if !self.known_hosts.contains(file) {
                self.known_hosts.push(file.clone());
            }
        }
        self.cache.insert(key, host.clone());
        Ok(host)
    }

    /// The route to `alias` (shown as `name`): its endpoint and keys from the config, and
    /// `jump` (or else the config's ProxyJump) resolved hop by hop.
    pub fn route(
        &mut self,
        name: &str,
        alias: &str,
        user: Option<&str>,
        port: Option<u16>,
        jump: Option<&str>,
    ) -> Result<(Route, ResolvedHost), SshConfigError> {
        self.route_at(name, alias, user, port, jump, &mut Vec::new())
    }

    fn route_at(
        &mut self,
        name: &str,
        alias: &str,
        user: Option<&str>,
        port: Option<u16>,
        jump: Option<&str>,
        chain: &mut Vec<String>,
    ) -> Result<(Route, ResolvedHost), SshConfigError> {
        let r = self.resolve(alias, user, port)?;
        let jump = jump.map(str::to_string).or_else(|| r.proxy_jump.clone());
        if jump.is_none()
            && let Some(command) = &r.proxy_command
        {
            return Err(unsupported(name, "ProxyCommand", command));
        }
        if let Some(provider) = &r.pkcs11_provider {
            return Err(unsupported(name, "PKCS11Provider", provider));
        }
        let via = match jump.as_deref() {
            None | Some("none") => None,
            Some(list) => Some(Arc::new(self.jump_route(name, list, chain)?)),
        };
        let route = Route {
            endpoint: Endpoint {
                name: name.to_string(),
                ..r.endpoint.clone()
            },
            identities: r.identities.clone(),
            identities_only: r.identities_only,
            certificates: r.certificates.clone(),
            via,
        };
        Ok((route, r))
    }

    /// The route to the last hop of `list`, through the hops before it (as `ssh -J a,b`).
    fn jump_route(
        &mut self,
        host: &str,
        list: &str,
        chain: &mut Vec<String>,
    ) -> Result<Route, SshConfigError> {
        chain.push(list.to_string());
        if chain.len() > MAX_JUMP_DEPTH {
            return Err(SshConfigError::JumpLoop {
                host: host.into(),
                chain: chain.join(" -> "),
            });
        }
        let (before, last) = match list.rsplit_once(',') {
            Some((before, last)) => (Some(before), last),
            None => (None, list),
        };
        let hop = parse_hop(last.trim()).map_err(|problem| SshConfigError::BadJump {
            host: host.into(),
            hop: last.into(),
            problem,
        })?;
        let (route, _) = self.route_at(
            last.trim(),
            &hop.host,
            hop.user.as_deref(),
            hop.port,
            before,
            chain,
        )?;
        chain.pop();
        Ok(route)
    }
}

fn unsupported(host: &str, keyword: &'static str, value: &str) -> SshConfigError {
    SshConfigError::Unsupported {
        host: host.into(),
        keyword,
        value: value.into(),
    }
}

#[cfg(test)]
#[path = "ssh_config_tests.rs"]
mod tests;
