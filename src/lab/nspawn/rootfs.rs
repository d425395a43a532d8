//! The one read-only Debian root file system every `nspawn` host boots from.
//!
//! Built once with `mmdebstrap` from the machine's own apt sources, then set up in a chroot
//! (users, sudoers, sshd, drop-ins), and cached under [`CACHE_DIR`] by a hash of its recipe:
//! a changed recipe (packages, setup, sources, suite) builds a new one; the same recipe reuses
//! it. The lab's services are real units: `consul` (a small daemon that refuses to start with
//! a bad `/etc/consul.json`), `chef-client` (a config agent stand-in), and `lab-service` maps the
//! lab plans' verbs to `systemctl`. Nothing host-specific lives here: hostname, machine-id, host keys and the lab's client
//! key are written into each host's overlay by `nspawn::host`.

use super::{LabError, run};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where built root file systems are cached.
pub const CACHE_DIR: &str = "/var/cache/cutover-lab";

/// Packages on every host: systemd as PID 1 with journald, logind and dbus; sshd, sudo, at.
pub const PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "sudo",
    "at",
    "iproute2",
    "procps",
    "systemd-timesyncd",
    "python3-minimal",
    "jq",
];

/// Where every host's `sshd` reads the lab's client key (written per host into its overlay).
pub const AUTHORIZED_KEYS: &str = "/etc/ssh/lab_authorized_keys";

/// The setup run in a chroot of the fresh root: users, sudo rules, sshd and systemd drop-ins.
/// `ops` has NOPASSWD sudo; `dev`'s sudo asks for a password (`dev`), so `sudo -n` fails.
pub const SETUP: &str = r#"set -eu
useradd -m -s /bin/bash ops
useradd -m -s /bin/bash dev
echo ops:ops | chpasswd
echo dev:dev | chpasswd
echo 'ops ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/ops
echo 'dev ALL=(ALL) ALL' > /etc/sudoers.d/dev
chmod 440 /etc/sudoers.d/ops /etc/sudoers.d/dev
printf 'UseDNS no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nHostKey /etc/ssh/ssh_host_ed25519_key\nAuthorizedKeysFile .ssh/authorized_keys /etc/ssh/lab_authorized_keys\nMaxStartups 100:30:200\nMaxSessions 50\n' > /etc/ssh/sshd_config.d/lab.conf
rm -f /etc/ssh/ssh_host_* /etc/hostname
: > /etc/resolv.conf
: > /etc/machine-id
echo LANG=C.UTF-8 > /etc/default/locale
mkdir -p /etc/systemd/system/systemd-timesyncd.service.d /etc/systemd/journald.conf.d
printf '[Unit]\nConditionVirtualization=\n' > /etc/systemd/system/systemd-timesyncd.service.d/lab.conf
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n' > /etc/systemd/journald.conf.d/lab.conf
printf '{\n  "datacenter": "lab",\n  "verify_incoming": true,\n  "verify_outgoing": true\n}\n' > /etc/consul.json
printf '#!/bin/sh\n# Refuses to start with a config that is not JSON, like the real agent.\njq -e . /etc/consul.json >/dev/null || { echo "consul-lab: bad /etc/consul.json" >&2; exit 1; }\nexec sleep infinity\n' > /usr/local/bin/consul-lab
chmod 755 /usr/local/bin/consul-lab
printf '[Unit]\nDescription=consul-like lab service (refuses a bad /etc/consul.json)\n[Service]\nExecStart=/usr/local/bin/consul-lab\n[Install]\nWantedBy=multi-user.target\n' > /etc/systemd/system/consul.service
printf '[Unit]\nDescription=config agent stand-in\n[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n' > /etc/systemd/system/chef-client.service
printf '#!/bin/sh\n# The lab plans'"'"' service verbs, on real systemd.\ncase "$1" in\n  status) exec systemctl is-active --quiet "$2" ;;\n  *) exec systemctl "$1" "$2" ;;\nesac\n' > /usr/local/bin/lab-service
chmod 755 /usr/local/bin/lab-service
systemctl enable consul.service chef-client.service
"#;

/// What a root file system is built from; its hash names the cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// Debian suite, e.g. `bookworm` (the machine's own).
    pub suite: String,
    /// The apt sources file handed to `mmdebstrap` (deb822 or one-line).
    pub sources: PathBuf,
    /// That file's content (part of the hash).
    pub sources_text: String,
}

impl Recipe {
    /// The machine's own: its suite from `/etc/os-release`, its sources
    /// (`CUTOVER_LAB_SOURCES`, else the Debian deb822 file, else `/etc/apt/sources.list`).
    pub fn local() -> Result<Recipe, LabError> {
        let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let suite = os
            .lines()
            .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
            .map(|s| s.trim_matches('"').to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "bookworm".into());
        let sources = std::env::var_os("CUTOVER_LAB_SOURCES")
            .map(PathBuf::from)
            .or_else(|| {
                [
                    "/etc/apt/sources.list.d/debian.sources",
                    "/etc/apt/sources.list",
                ]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
            })
            .ok_or_else(|| {
                LabError::Usage(
                    "no apt sources found for mmdebstrap: set CUTOVER_LAB_SOURCES to a sources file"
                        .into(),
                )
            })?;
        let sources_text =
            std::fs::read_to_string(&sources).map_err(|e| LabError::io(&sources, e))?;
        Ok(Recipe {
            suite,
            sources,
            sources_text,
        })
    }

    /// 16 hex digits of the hash of everything the root is built from.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.suite.as_str(),
            &PACKAGES.join(","),
            SETUP,
            &self.sources_text,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..8])
    }

    /// The cached root for this recipe.
    pub fn path(&self) -> PathBuf {
        Path::new(CACHE_DIR).join(format!("rootfs-{}", self.id()))
    }
}

/// The root for `recipe`, built now if it is not cached (under a lock: concurrent `lab up`s
/// build it once).
pub fn ensure(recipe: &Recipe) -> Result<PathBuf, LabError> {
    let root = recipe.path();
    if is_complete(&root) {
        return Ok(root);
    }
    let cache = Path::new(CACHE_DIR);
    std::fs::create_dir_all(cache).map_err(|e| LabError::io(cache, e))?;
    let lock_path = cache.join("build.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| LabError::io(&lock_path, e))?;
    lock.lock().map_err(|e| LabError::io(&lock_path, e))?;
    if is_complete(&root) {
        return Ok(root);
    }
    let tmp = root.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    build(recipe, &tmp)?;
    std::fs::rename(&tmp, &root).map_err(|e| LabError::io(&root, e))?;
    Ok(root)
}

/// A finished build leaves `sshd` and the lab's sshd config behind; a half-built one does not.
fn is_complete(root: &Path) -> bool {
    root.join("usr/sbin/sshd").is_file() && root.join("etc/ssh/sshd_config.d/lab.conf").is_file()
}

fn build(recipe: &Recipe, target: &Path) -> Result<(), LabError> {
    let log = target.with_extension("log");
    let out = std::fs::File::create(&log).map_err(|e| LabError::io(&log, e))?;
    let err = out.try_clone().map_err(|e| LabError::io(&log, e))?;
    let status = Command::new("mmdebstrap")
        .args(["--variant=minbase", "--quiet"])
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(&recipe.suite)
        .arg(target)
        .arg(&recipe.sources)
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| LabError::Start {
            what: "mmdebstrap".into(),
            reason: e.to_string(),
        })?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(LabError::Start {
            what: format!("the lab's root file system ({})", target.display()),
            reason: format!("mmdebstrap {status}:\n{}", tail.join("\n")),
        });
    }
    run(
        "the root file system's setup",
        Command::new("chroot")
            .arg(target)
            .args(["/bin/sh", "-c", SETUP]),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(sources_text: &str) -> Recipe {
        Recipe {
            suite: "bookworm".into(),
            sources: "/etc/apt/sources.list".into(),
            sources_text: sources_text.into(),
        }
    }

    #[test]
    fn the_cache_entry_follows_the_recipe() {
        assert_eq!(recipe("a").id(), recipe("a").id());
        assert_ne!(recipe("a").id(), recipe("b").id());
        let path = recipe("a").path().display().to_string();
        assert!(path.starts_with("/var/cache/cutover-lab/rootfs-"), "{path}");
    }

    #[test]
    fn the_setup_makes_both_users_and_the_sudo_rules() {
        assert!(SETUP.contains("'ops ALL=(ALL) NOPASSWD:ALL'"));
        assert!(SETUP.contains("'dev ALL=(ALL) ALL'"));
        assert!(SETUP.contains(AUTHORIZED_KEYS));
    }
}
