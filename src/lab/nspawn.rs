//! The `nspawn` backend: real hosts. Each lab host is a `systemd-nspawn` container booting
//! systemd as PID 1 (journald, logind, dbus, sshd, sudo, atd, timesyncd) from one shared,
//! read-only Debian root built once (`rootfs`), with its own overlay, machine-id, host key,
//! cgroup and network namespace on a bridge (`net`), users `root`, `ops` (NOPASSWD sudo) and
//! `dev` (sudo asks a password), all authorizing the lab's client key. With `--etcd`, each
//! member runs etcd as a systemd unit (`member`).
//!
//! Root only. Everything it creates is named from the lab directory (`Names`), so `lab down`
//! removes exactly that: processes by recorded pid and by the lab's own cgroups, mounts,
//! namespaces, links. Facts behind the flags are in `docs/rehearsal.md` ("Real hosts").

pub mod delay;
pub mod host;
pub mod member;
pub mod net;
pub mod rootfs;

use super::faults::Fault;
use super::spec::{LabHost, LabSpec};
use super::state::{LabState, Recorded};
use super::{LabError, procs};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The user the inventory logs in as: NOPASSWD sudo, like a fleet's operator account.
pub const OPERATOR: &str = "ops";
/// `fs.inotify.max_user_instances` the containers need (they share uid 0's 128 by default).
pub const INOTIFY_INSTANCES: u32 = 8192;

/// Every name the lab gives to a system object, derived from its directory (so two labs in two
/// directories never share a bridge, namespace, cgroup or machine name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// 6 hex digits of the lab directory's hash.
    pub id: String,
    /// The bridge (`cvb<id>`).
    pub bridge: String,
    /// The lab's cgroup directory name under each hierarchy.
    pub cgroup: String,
}

impl Names {
    /// The names of the lab in `spec.dir`.
    pub fn of(spec: &LabSpec) -> Names {
        let digest = Sha256::digest(spec.dir.display().to_string().as_bytes());
        let id = hex::encode(&digest[..3]);
        Names {
            bridge: format!("cvb{id}"),
            cgroup: format!("cutover-lab-{id}"),
            id,
        }
    }

    /// Host `i`'s network namespace.
    pub fn netns(&self, i: usize) -> String {
        format!("cutover-{}-lab-{i}", self.id)
    }

    /// Host `i`'s veth on the bridge side (at most 15 characters).
    pub fn veth(&self, i: usize) -> String {
        format!("cv{}h{i}", self.id)
    }

    /// Host `i`'s nspawn machine name.
    pub fn machine(&self, i: usize) -> String {
        format!("cv{}-lab-{i}", self.id)
    }

    /// Host `i`'s cgroups, one per hierarchy in `hierarchies`.
    pub fn cgroups(&self, hierarchies: &[PathBuf], i: usize) -> Vec<PathBuf> {
        hierarchies
            .iter()
            .map(|h| h.join(&self.cgroup).join(format!("lab-{i}")))
            .collect()
    }
}

/// The cgroup hierarchies a process must join to get its own cgroup: the named `systemd` and
/// the `unified` ones on a hybrid machine, the root of a pure cgroup v2 one.
pub fn hierarchies() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    ["systemd", "unified"]
        .iter()
        .map(|h| base.join(h))
        .filter(|p| p.join("cgroup.procs").exists())
        .collect()
}

/// Runs a system command; its stdout, or an error naming `what` with its stderr.
pub fn run(what: &str, cmd: &mut Command) -> Result<String, LabError> {
    let out = cmd.output().map_err(|e| LabError::Start {
        what: what.into(),
        reason: format!("{:?}: {e}", cmd.get_program()),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(LabError::Start {
            what: what.into(),
            reason: format!(
                "{} {}: {}",
                cmd.get_program().to_string_lossy(),
                cmd.get_args()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Root, and the programs the backend runs; a clear error naming what to install otherwise.
pub fn check_prerequisites() -> Result<(), LabError> {
    use std::os::unix::fs::MetadataExt as _;
    if !std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return Err(LabError::Usage(
            "--backend nspawn needs root (it creates namespaces, mounts and cgroups): run it with sudo, or use --backend sshd".into(),
        ));
    }
    for (program, package) in [
        (
            "systemd-nspawn",
            "--no-install-recommends systemd-container",
        ),
        ("mmdebstrap", "--no-install-recommends mmdebstrap"),
        ("nft", "nftables"),
        ("ip", "iproute2"),
        ("nsenter", "util-linux"),
    ] {
        if procs::find(program).is_none() {
            return Err(LabError::Missing {
                program: program.into(),
                package: package.into(),
            });
        }
    }
    Ok(())
}

/// Builds (or reuses) the root, then creates the network and boots every host (etcd members
/// with their unit and `etcd`, the controller's binary); records each supervisor in `started`.
/// Returns every host's public host key line, in order.
pub fn start(
    spec: &LabSpec,
    hosts: &[LabHost],
    client_pub: &str,
    etcd: Option<&Path>,
    started: &mut Vec<Recorded>,
) -> Result<Vec<String>, LabError> {
    let etcd_bind = etcd.map(member::bind).transpose()?;
    check_prerequisites()?;
    net::check_subnet_free(spec)?;
    let lower = rootfs::ensure(&rootfs::Recipe::local()?)?;
    raise_inotify_limit()?;
    let names = Names::of(spec);
    let hier = hierarchies();
    net::bridge(spec, &names)?;
    let mut keys = Vec::new();
    for (n, h) in hosts.iter().enumerate() {
        let i = n + 1;
        net::host(&names, i, h)?;
        keys.push(host::prepare(spec, h, &lower, client_pub)?);
        let binds: Vec<host::Bind> = match (&etcd_bind, h.etcd_member) {
            (Some(b), true) => {
                member::install(spec, h)?;
                vec![b.clone()]
            }
            _ => Vec::new(),
        };
        apply_faults(spec, &names, i, h, &h.faults, started)?;
        let cgroups = names.cgroups(&hier, i);
        host::make_cgroups(&cgroups)?;
        let pid = host::start(&names, i, h, &cgroups, &binds)?;
        started.push(Recorded {
            pid,
            what: format!("systemd-nspawn {}", h.name),
            marker: format!("{}/", h.root.display()),
        });
    }
    let deadline = crate::clock::instant() + host::BOOT_TIMEOUT;
    for (h, r) in hosts.iter().zip(
        started
            .iter()
            .filter(|r| r.what.starts_with("systemd-nspawn")),
    ) {
        if h.has(|f| *f == Fault::Blackhole) {
            continue;
        }
        host::wait_ready(h, r.pid, deadline)?;
    }
    Ok(keys)
}

fn raise_inotify_limit() -> Result<(), LabError> {
    let path = Path::new("/proc/sys/fs/inotify/max_user_instances");
    let now: u32 = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    if now >= INOTIFY_INSTANCES {
        return Ok(());
    }
    std::fs::write(path, INOTIFY_INSTANCES.to_string()).map_err(|e| LabError::io(path, e))
}

/// Replaces host `i`'s network faults with `faults`: its nftables table, and its delayer
/// (started for a `delay` or a `rate`, stopped otherwise).
pub fn apply_faults(
    spec: &LabSpec,
    names: &Names,
    i: usize,
    h: &LabHost,
    faults: &[Fault],
    started: &mut Vec<Recorded>,
) -> Result<(), LabError> {
    let what = format!("delayer {}", h.name);
    if let Some(pos) = started.iter().position(|r| r.what == what) {
        let r = started.remove(pos);
        net::set_delay_rules(names, i, h, None)?;
        procs::stop(r.pid, &r.marker);
    }
    if let Some(shaping) = delay::Shaping::of(faults) {
        if procs::find("iptables").is_none() {
            return Err(LabError::Missing {
                program:
                    "iptables (for delay and rate faults: this kernel's nftables has no `queue`)"
                        .into(),
                package: "--no-install-recommends iptables".into(),
            });
        }
        let pid = delay::start(names, i, h, shaping)?;
        started.push(Recorded {
            pid,
            what,
            marker: names.netns(i),
        });
        net::set_delay_rules(names, i, h, Some(shaping.inbound()))?;
    }
    net::apply(names, i, h, &net::ruleset(spec, faults))
}

/// `lab fault HOST KIND|clear` on a running lab: replaces the host's network faults and records
/// them in the lab's state.
pub fn set_fault(
    dir: &Path,
    host_name: &str,
    fault: Option<Fault>,
) -> Result<Vec<Fault>, LabError> {
    let mut state = LabState::load(dir)?;
    let spec = state.spec.clone();
    if spec.backend != super::spec::Backend::Nspawn {
        return Err(LabError::Usage(format!(
            "the lab in {} is a {} lab: `lab fault` changes the network of nspawn labs; give a loopback lab its faults with `lab up --fault`",
            dir.display(),
            spec.backend.as_str()
        )));
    }
    let hosts = spec.lab_hosts();
    let Some(i) = hosts
        .iter()
        .position(|h| h.name == host_name)
        .map(|n| n + 1)
    else {
        return Err(LabError::Usage(format!(
            "`{host_name}` is not a host of this lab (lab-1..lab-{})",
            spec.hosts
        )));
    };
    let mut faults = spec.faults.get(host_name).cloned().unwrap_or_default();
    match fault {
        None => faults.clear(),
        Some(f) => {
            if !f.is_network() {
                return Err(LabError::Usage(format!(
                    "`{f}` is not a network fault; nspawn hosts take {}",
                    super::faults::NETWORK_KINDS
                )));
            }
            if let Some(p) = f
                .peers()
                .iter()
                .find(|p| !hosts.iter().any(|h| &h.name == *p))
            {
                return Err(LabError::Usage(format!("`{p}` is not a host of this lab")));
            }
            faults.retain(|old| std::mem::discriminant(old) != std::mem::discriminant(&f));
            faults.push(f);
        }
    }
    let names = Names::of(&spec);
    let result = apply_faults(&spec, &names, i, &hosts[i - 1], &faults, &mut state.pids);
    if faults.is_empty() {
        state.spec.faults.remove(host_name);
    } else {
        state
            .spec
            .faults
            .insert(host_name.to_string(), faults.clone());
    }
    state.save()?;
    result.map(|()| faults)
}

/// Tears down an `nspawn` lab: powers every host off, kills what is left in the lab's cgroups,
/// stops delayers, unmounts, removes namespaces and the bridge. Returns one line per host.
pub fn down(state: &LabState) -> Vec<String> {
    let spec = &state.spec;
    let names = Names::of(spec);
    let hier = hierarchies();
    let hosts = spec.lab_hosts();
    let mut lines = Vec::new();
    hosts.iter().for_each(host::request_stop);
    let deadline = crate::clock::instant() + host::POWEROFF_GRACE;
    for r in state
        .pids
        .iter()
        .filter(|r| r.what.starts_with("systemd-nspawn"))
    {
        while procs::is_ours(r.pid, &r.marker) && crate::clock::instant() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    for r in state.pids.iter().filter(|r| r.what.starts_with("delayer")) {
        if procs::stop(r.pid, &r.marker) {
            lines.push(format!("{} (pid {})", r.what, r.pid));
        }
    }
    for (n, h) in hosts.iter().enumerate() {
        let i = n + 1;
        let killed = host::kill_and_remove_cgroups(&names.cgroups(&hier, i));
        let mut line = format!("{} ({})", h.name, names.machine(i));
        if killed > 0 {
            line.push_str(&format!(
                ", {killed} processes killed after the power-off grace"
            ));
        }
        if let Err(e) = host::unmount(h) {
            line.push_str(&format!(", unmount FAILED: {e}"));
        }
        if let Err(e) = net::remove_host(&names, i) {
            line.push_str(&format!(", namespace FAILED: {e}"));
        }
        let _ = std::fs::remove_dir_all(
            Path::new("/run/systemd/nspawn/propagate").join(names.machine(i)),
        );
        lines.push(line);
    }
    for c in hier {
        let _ = std::fs::remove_dir(c.join(&names.cgroup));
    }
    if let Err(e) = net::remove_bridge(&names) {
        lines.push(format!("bridge {} FAILED: {e}", names.bridge));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Faults;
    use crate::lab::spec::Backend;

    #[test]
    fn names_are_short_enough_and_differ_per_lab() {
        let spec = |dir: &str| LabSpec {
            hosts: 200,
            etcd: None,
            backend: Backend::Nspawn,
            dir: dir.into(),
            subnet: "10.253.0".into(),
            port: 22,
            faults: Faults::new(),
        };
        let (a, b) = (Names::of(&spec("/tmp/a")), Names::of(&spec("/tmp/b")));
        assert_ne!(a.bridge, b.bridge);
        assert!(
            a.veth(200).len() <= 15 && a.bridge.len() <= 15,
            "{}",
            a.veth(200)
        );
        assert_eq!(
            a.cgroups(&[PathBuf::from("/sys/fs/cgroup/unified")], 3)[0],
            PathBuf::from(format!("/sys/fs/cgroup/unified/cutover-lab-{}/lab-3", a.id))
        );
    }
}
