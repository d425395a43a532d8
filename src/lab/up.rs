//! `lab up`: create every host's tree, keys, inventory and known_hosts, start the services
//! (etcd members) and the SSH servers, wait until all answer, record every pid.
//!
//! A failure part-way tears down what was started, so a failed `up` leaves nothing running.

use super::faults::Fault;
use super::shims::Tools;
use super::spec::{Backend, LabHost, LabSpec, server_parts};
use super::state::{LabState, Recorded};
use super::{LabError, etcd, inventory, keys, nspawn, procs, sshd, tree};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Starts a lab described by `spec`; `exe` is the cutover binary (the embedded backend runs
/// `exe lab serve --dir DIR` detached). Returns the recorded state.
pub fn up(spec: LabSpec, exe: &Path) -> Result<LabState, LabError> {
    spec.validate().map_err(LabError::Usage)?;
    if spec.backend == Backend::Nspawn {
        nspawn::check_prerequisites()?;
    }
    let etcd_bin = etcd_binary(&spec)?;
    let tools = match spec.backend {
        Backend::Nspawn => None,
        Backend::Embedded | Backend::Sshd => Some(tree::tools()?),
    };
    prepare_dir(&spec.dir)?;
    let mut state = LabState {
        spec,
        pids: Vec::new(),
    };
    state.save()?;
    let started = match &tools {
        Some(tools) => start(&mut state, exe, tools, etcd_bin.as_deref()),
        None => start_nspawn(&mut state, etcd_bin.as_deref()),
    };
    match started {
        Ok(()) => Ok(state),
        Err(e) => {
            let _ = super::down::down(&state.spec.dir);
            Err(e)
        }
    }
}

/// Refuses a directory holding a running lab or anything that is not a lab; clears a dead lab.
fn prepare_dir(dir: &Path) -> Result<(), LabError> {
    if super::spec::state_path(dir).exists() {
        let old = LabState::load(dir)?;
        if old.pids.iter().any(|r| procs::is_ours(r.pid, &r.marker)) {
            return Err(LabError::AlreadyUp {
                dir: dir.display().to_string(),
            });
        }
        super::down::down(dir)?;
    } else if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(LabError::Usage(format!(
            "{} exists and is not a lab directory; pick another --dir",
            dir.display()
        )));
    }
    tree::mkdir(dir)
}

fn start(
    state: &mut LabState,
    exe: &Path,
    tools: &Tools,
    etcd_bin: Option<&Path>,
) -> Result<(), LabError> {
    let spec = state.spec.clone();
    let hosts = spec.lab_hosts();
    build(&spec, &hosts, tools, etcd_bin)?;
    // Without etcd the service is state only, already active; members start their process.
    hosts
        .iter()
        .filter(|h| h.etcd_member)
        .try_for_each(|h| service(&spec, h, "start"))?;
    let reachable: Vec<LabHost> = hosts
        .iter()
        .filter(|h| !h.has(|f| *f == Fault::Unreachable))
        .cloned()
        .collect();
    let result = match spec.backend {
        Backend::Sshd => sshd::start(&spec, &reachable, &mut state.pids),
        Backend::Embedded => embedded(&spec, &reachable, exe, &mut state.pids),
        Backend::Nspawn => Err(LabError::Usage("internal: nspawn has its own start".into())),
    };
    state.save()?;
    result?;
    wait_etcd(&hosts, "hosts/*/var/log/consul.log")
}

/// The `nspawn` backend: the client key, then the hosts (which bring their own host keys and
/// etcd units), then known_hosts and the inventory, then a healthy etcd cluster.
fn start_nspawn(state: &mut LabState, etcd_bin: Option<&Path>) -> Result<(), LabError> {
    let spec = state.spec.clone();
    let hosts = spec.lab_hosts();
    let client = keys::generate(&spec.client_key_path())?;
    let result = nspawn::start(&spec, &hosts, &client, etcd_bin, &mut state.pids);
    state.save()?;
    let host_keys = result?;
    let known: Vec<(String, String)> = hosts
        .iter()
        .zip(host_keys)
        .map(|(h, k)| {
            (
                crate::transport::known_hosts::lookup_name(&h.addr, h.port),
                k,
            )
        })
        .collect();
    tree::write(&spec.known_hosts_path(), &inventory::known_hosts(&known))?;
    tree::write(&spec.inventory_path(), &inventory::inventory(&spec))?;
    // A blackholed member is out of reach from here; the others must still elect.
    let reachable: Vec<LabHost> = hosts
        .into_iter()
        .filter(|h| !h.has(|f| *f == Fault::Blackhole))
        .collect();
    wait_etcd(
        &reachable,
        &format!("`journalctl -u {}` on the member", etcd::UNIT),
    )
}

/// The `etcd` binary when the lab asks for a cluster; missing etcd fails before anything starts.
fn etcd_binary(spec: &LabSpec) -> Result<Option<PathBuf>, LabError> {
    match spec.etcd {
        Some(_) => procs::find("etcd")
            .map(Some)
            .ok_or_else(|| LabError::Missing {
                program: "etcd".into(),
                package: etcd::INSTALL_HINT.into(),
            }),
        None => Ok(None),
    }
}

/// Every file of the lab: binary farms, host trees and shims, member scripts, keys, inventory.
fn build(
    spec: &LabSpec,
    hosts: &[LabHost],
    tools: &Tools,
    etcd_bin: Option<&Path>,
) -> Result<(), LabError> {
    let nosched = hosts.iter().any(|h| h.has(|f| *f == Fault::NoScheduler));
    tree::farms(&spec.dir, nosched)?;
    for h in hosts {
        tree::host(h, tools)?;
        if let (Some(bin), true) = (etcd_bin, h.etcd_member) {
            let script = etcd::member_script(spec, h, bin);
            tree::write(&h.root.join("consul.sh"), &script)?;
        }
    }
    write_keys_and_inventory(spec, hosts)
}

fn wait_etcd(hosts: &[LabHost], logs: &str) -> Result<(), LabError> {
    let members: Vec<&LabHost> = hosts.iter().filter(|h| h.etcd_member).collect();
    let sick = etcd::wait_healthy(&members);
    if sick.is_empty() {
        return Ok(());
    }
    Err(LabError::Start {
        what: "the etcd cluster".into(),
        reason: format!(
            "not healthy after {:?}: {} (logs: {logs})",
            etcd::READY_TIMEOUT,
            sick.join(", ")
        ),
    })
}

fn write_keys_and_inventory(spec: &LabSpec, hosts: &[LabHost]) -> Result<(), LabError> {
    let client = keys::generate(&spec.client_key_path())?;
    tree::write(&spec.dir.join("authorized_keys"), &format!("{client}\n"))?;
    let mut known = Vec::new();
    for h in hosts {
        let name = crate::transport::known_hosts::lookup_name(&h.addr, h.port);
        known.push((name, keys::generate(&h.root.join("host_key"))?));
    }
    tree::write(&spec.known_hosts_path(), &inventory::known_hosts(&known))?;
    tree::write(&spec.inventory_path(), &inventory::inventory(spec))
}

/// Runs the host's own `lab-service ACTION consul` here, with the host's environment.
pub fn service(spec: &LabSpec, h: &LabHost, action: &str) -> Result<(), LabError> {
    let status = Command::new("sh")
        .arg(h.bin().join("lab-service"))
        .args([action, "consul"])
        .env_clear()
        .envs(h.env(&spec.dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| LabError::io(&h.bin().join("lab-service"), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(LabError::Start {
            what: format!("the consul-like service on {}", h.name),
            reason: status.to_string(),
        })
    }
}

fn embedded(
    spec: &LabSpec,
    hosts: &[LabHost],
    exe: &Path,
    started: &mut Vec<Recorded>,
) -> Result<(), LabError> {
    let dir = spec.dir.display().to_string();
    let mut pids = Vec::new();
    for (part, (first, end)) in server_parts(spec.hosts).into_iter().enumerate() {
        let args = vec![
            "lab".to_string(),
            "serve".into(),
            "--part".into(),
            part.to_string(),
            "--dir".into(),
            dir.clone(),
        ];
        let log = spec.dir.join(serve_log(part));
        let pid = procs::spawn_detached(exe, &args, &log, &[]).map_err(|e| LabError::Start {
            what: format!("the embedded SSH servers of lab-{}..lab-{end}", first + 1),
            reason: e.to_string(),
        })?;
        started.push(Recorded {
            pid,
            what: "embedded servers (cutover lab serve)".into(),
            marker: format!("--part {part} --dir {dir}"),
        });
        pids.push(pid);
    }
    let deadline = crate::clock::instant() + sshd::READY_TIMEOUT;
    // Each check is a connection the server answers with its banner: a few ms each, so
    // 10,000 hosts are checked by several threads at once.
    let chunk = hosts.len().div_ceil(READY_CHECKERS).max(1);
    let pids = &pids;
    let late = std::thread::scope(|s| {
        let checkers: Vec<_> = hosts
            .chunks(chunk)
            .map(|part| s.spawn(move || first_not_ready(part, pids, deadline)))
            .collect();
        checkers.into_iter().find_map(|c| c.join().ok().flatten())
    });
    match late {
        None => Ok(()),
        Some(h) => {
            let log: String = (0..pids.len())
                .map(|k| std::fs::read_to_string(spec.dir.join(serve_log(k))).unwrap_or_default())
                .collect();
            Err(LabError::Start {
                what: format!("the embedded server for {h}"),
                reason: format!("not listening: {}", log.trim()),
            })
        }
    }
}

/// The log of server process `part` (`serve.log` for the first, as before there were parts).
fn serve_log(part: usize) -> String {
    match part {
        0 => "serve.log".into(),
        k => format!("serve-{k}.log"),
    }
}

/// Threads checking that the embedded hosts answer.
const READY_CHECKERS: usize = 8;

/// The first of `hosts` that does not answer before `deadline` (or before a server dies).
fn first_not_ready(
    hosts: &[LabHost],
    pids: &[u32],
    deadline: std::time::Instant,
) -> Option<String> {
    for h in hosts {
        while !procs::ssh_ready(&h.addr, h.port) {
            if !pids.iter().all(|p| procs::alive(*p)) || crate::clock::instant() > deadline {
                return Some(h.name.clone());
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    None
}
