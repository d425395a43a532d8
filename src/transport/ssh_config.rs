//! `~/.ssh/config` resolution through `ssh -G alias`: a pure parser of its `key value` lines.

use super::Endpoint;
use std::path::{Path, PathBuf};

/// What OpenSSH's own config says about one alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedHost {
    /// The alias as an endpoint (name = alias; address, port, user from the config).
    pub endpoint: Endpoint,
    /// `IdentityFile` entries, `~` expanded.
    pub identities: Vec<PathBuf>,
    /// `UserKnownHostsFile` entries, `~` expanded.
    pub known_hosts: Vec<PathBuf>,
    /// `ProxyJump`, verbatim (`[user@]host[:port]`), if set.
    pub proxy_jump: Option<String>,
    /// `StrictHostKeyChecking` is anything but `no`/`false`/`off`.
    pub strict_host_keys: bool,
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
        known_hosts: Vec::new(),
        proxy_jump: None,
        strict_host_keys: true,
    };
    for line in output.lines() {
        let Some((key, value)) = line.trim().split_once(' ') else {
            continue;
        };
        apply(&mut host, &key.to_ascii_lowercase(), value.trim(), home);
    }
    host
}

/// Applies one `key value` line.
fn apply(host: &mut ResolvedHost, key: &str, value: &str, home: &Path) {
    match key {
        "hostname" => host.endpoint.address = value.into(),
        "user" => host.endpoint.user = value.into(),
        "port" => host.endpoint.port = value.parse().unwrap_or(host.endpoint.port),
        "identityfile" => host.identities.push(expand(value, home)),
        "userknownhostsfile" => {
            host.known_hosts
                .extend(value.split_whitespace().map(|f| expand(f, home)));
        }
        "proxyjump" if value != "none" => host.proxy_jump = Some(value.into()),
        "stricthostkeychecking" => {
            host.strict_host_keys = !matches!(value, "no" | "false" | "off");
        }
        _ => {}
    }
}

/// Expands a leading `~/`.
fn expand(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(path),
    }
}

/// Runs `ssh -G alias` (optionally with `-F config`) and parses it (the shell).
pub fn resolve(alias: &str, config: Option<&Path>) -> std::io::Result<ResolvedHost> {
    let mut cmd = std::process::Command::new("ssh");
    if let Some(config) = config {
        cmd.arg("-F").arg(config);
    }
    let out = cmd.arg("-G").arg("--").arg(alias).output()?;
    if !out.status.success() {
        let msg = crate::sanitize::clean(&out.stderr);
        return Err(std::io::Error::other(format!("ssh -G {alias}: {msg}")));
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    Ok(parse_ssh_g(
        alias,
        &String::from_utf8_lossy(&out.stdout),
        &home,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "host web1\nuser deploy\nhostname 10.1.2.3\nport 2222\n\
        identityfile ~/.ssh/id_ed25519\nidentityfile /etc/keys/fleet\nproxyjump bastion.example\n\
        userknownhostsfile ~/.ssh/known_hosts /etc/ssh/fleet_known_hosts\nstricthostkeychecking ask\n";

    #[test]
    fn ssh_g_output_becomes_endpoint_keys_and_jump() {
        let host = parse_ssh_g("web1", OUTPUT, Path::new("/home/op"));
        assert_eq!(
            host.endpoint,
            Endpoint {
                name: "web1".into(),
                address: "10.1.2.3".into(),
                port: 2222,
                user: "deploy".into()
            }
        );
        assert_eq!(
            host.identities,
            vec![
                PathBuf::from("/home/op/.ssh/id_ed25519"),
                PathBuf::from("/etc/keys/fleet")
            ]
        );
        assert_eq!(host.known_hosts.len(), 2);
        assert_eq!(host.proxy_jump.as_deref(), Some("bastion.example"));
        assert!(host.strict_host_keys);
    }

    #[test]
    fn real_ssh_g_reads_a_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            "Host db1\n  HostName 127.0.0.9\n  Port 2200\n  User ops\n",
        )
        .unwrap();
        let host =
            resolve("db1", Some(&config)).expect("ssh -G works (apt-get install openssh-client)");
        assert_eq!(host.endpoint.address, "127.0.0.9");
        assert_eq!(
            (host.endpoint.port, host.endpoint.user.as_str()),
            (2200, "ops")
        );
        assert_eq!(host.proxy_jump, None);
    }
}
