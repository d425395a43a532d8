//! Each host's route: through the ssh config (`ssh -G`, bastion hops resolved the same way),
//! with the inventory's user, port, key and bastion and the command line's overrides laid
//! over it; or, with the config off, as written. Also where the account's own files are.

use super::endpoint;
use crate::inventory::{DEFAULT_PORT, Host};
use crate::transport::ssh_config::{Resolver, SshConfigError};
use crate::transport::{Endpoint, Route, SshConfigSource, SshSettings, TransportError};
use std::path::PathBuf;

/// The route to an endpoint as written: straight, or through the bastion list `jump`
/// (`[user@]host[:port]`, comma separated, first hop nearest; the endpoint's user where a hop
/// names none).
pub fn direct_route(endpoint: Endpoint, jump: Option<&str>) -> Result<Route, TransportError> {
    let host = endpoint.name.clone();
    Route::through(endpoint, jump)
        .map_err(|(hop, problem)| SshConfigError::BadJump { host, hop, problem }.into())
}

/// Each host's route: through the ssh config when the settings say so (the inventory's user
/// and non-default port, else the settings' user, go to `ssh -G` as `-l`/`-p`), else as written.
/// With `ssh_known_hosts`, the files ssh would search join the settings' (after them).
pub fn routes(
    settings: &mut SshSettings,
    hosts: &[&Host],
    default_user: &str,
) -> Result<Vec<Route>, TransportError> {
    if settings.ssh_config == SshConfigSource::Default && !on_path("ssh") {
        // No OpenSSH client here (a bare container running the demo): no ssh config to honour.
        settings.ssh_config = SshConfigSource::Off;
        if settings.identities.is_empty() {
            settings.identities = default_identities();
        }
    }
    let config = match &settings.ssh_config {
        SshConfigSource::Off => {
            if settings.ssh_known_hosts {
                add_known_hosts(settings, default_known_hosts());
            }
            let user = settings.user.as_deref().unwrap_or(default_user);
            return hosts
                .iter()
                .map(|h| {
                    let mut route = direct_route(endpoint(h, user), jump_for(h, settings))?;
                    route.identities.extend(host_identity(h));
                    Ok(route)
                })
                .collect();
        }
        SshConfigSource::Default => None,
        SshConfigSource::File(path) => Some(path.clone()),
    };
    let mut resolver = Resolver::new(config, account_home());
    let mut out = Vec::with_capacity(hosts.len());
    for h in hosts {
        let user = h.user.as_deref().or(settings.user.as_deref());
        let port = (h.port != DEFAULT_PORT).then_some(h.port);
        let jump = jump_for(h, settings);
        let (mut route, _) = resolver.route(&h.name, &h.address, user, port, jump)?;
        route.identities.splice(0..0, host_identity(h));
        out.push(route);
    }
    if settings.ssh_known_hosts {
        add_known_hosts(settings, resolver.known_hosts_files());
    }
    Ok(out)
}

/// Whether an executable called `name` is on `PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(name))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The bastion list for `h`: the command line's, else its inventory's, else the plan's.
fn jump_for<'a>(h: &'a Host, settings: &'a SshSettings) -> Option<&'a str> {
    match settings.force_proxy_jump {
        true => settings.proxy_jump.as_deref(),
        false => h
            .ssh
            .proxy_jump
            .as_deref()
            .or(settings.proxy_jump.as_deref()),
    }
}

/// The key the inventory names for `h` (`~` is the account's home).
fn host_identity(h: &Host) -> Option<PathBuf> {
    let id = h.ssh.identity.as_deref()?;
    Some(crate::transport::ssh_config::expand(id, &account_home()))
}

/// Appends the files not already listed.
fn add_known_hosts(settings: &mut SshSettings, files: Vec<PathBuf>) {
    for file in files {
        if !settings.known_hosts.contains(&file) {
            settings.known_hosts.push(file);
        }
    }
}

/// The account's home directory from the password database (as OpenSSH finds `~/.ssh`),
/// falling back to `$HOME` only when the account has no entry.
pub fn account_home() -> PathBuf {
    match nix::unistd::User::from_uid(nix::unistd::getuid()) {
        Ok(Some(user)) => user.dir,
        _ => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default(),
    }
}

/// known_hosts files OpenSSH reads by default: the account's own, then the system's. Missing
/// ones are kept, so an unknown-key error can name every place searched.
pub fn default_known_hosts() -> Vec<PathBuf> {
    let ssh = account_home().join(".ssh");
    vec![
        ssh.join("known_hosts"),
        ssh.join("known_hosts2"),
        PathBuf::from("/etc/ssh/ssh_known_hosts"),
        PathBuf::from("/etc/ssh/ssh_known_hosts2"),
    ]
}

/// Identity files OpenSSH would offer by default (under the account's home), if they exist.
pub fn default_identities() -> Vec<PathBuf> {
    let ssh = account_home().join(".ssh");
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|n| ssh.join(n))
        .filter(|p| p.exists())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(user: &str) -> Endpoint {
        Endpoint {
            name: "web1".into(),
            address: "10.0.0.1".into(),
            port: 22,
            user: user.into(),
        }
    }

    #[test]
    fn bastion_lists_parse_like_proxyjump() {
        let r = direct_route(ep("me"), Some("ops@outer.example:2222,inner")).unwrap();
        let hops: Vec<_> = r
            .chain()
            .iter()
            .map(|e| format!("{}@{}:{}", e.user, e.address, e.port))
            .collect();
        assert_eq!(hops, ["ops@outer.example:2222", "me@inner:22"]);
        assert!(direct_route(ep("me"), Some("b:x")).is_err());
        assert!(direct_route(ep("me"), None).unwrap().via.is_none());
    }

    #[test]
    fn the_account_home_comes_from_the_password_database_not_home() {
        let from_db = nix::unistd::User::from_uid(nix::unistd::getuid())
            .unwrap()
            .map(|u| u.dir);
        if let Some(dir) = from_db {
            assert_eq!(account_home(), dir);
        }
    }
}
