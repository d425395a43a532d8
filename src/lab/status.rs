//! `lab status`: the lab's hosts, backend, recorded processes (alive or not) and etcd health.

use super::spec::LabHost;
use super::state::LabState;
use super::{LabError, etcd, procs};
use std::path::Path;

/// The lab's files and processes, then one line per host: address, group, SSH, service,
/// etcd health and faults.
pub fn status(dir: &Path) -> Result<String, LabError> {
    let state = LabState::load(dir)?;
    let mut out = header(&state);
    let services = state.service_pids();
    for h in state.spec.lab_hosts() {
        out.push_str(&host_line(&h, &services));
    }
    Ok(out)
}

fn header(state: &LabState) -> String {
    let spec = &state.spec;
    let mut out = format!(
        "lab in {}: {} hosts, {} backend{}\n  inventory   {}\n  known_hosts {}\n  client key  {}\n",
        spec.dir.display(),
        spec.hosts,
        spec.backend.as_str(),
        spec.etcd
            .map_or(String::new(), |n| format!(", etcd on {n}")),
        spec.inventory_path().display(),
        spec.known_hosts_path().display(),
        spec.client_key_path().display(),
    );
    for r in &state.pids {
        let alive = if procs::is_ours(r.pid, &r.marker) {
            "alive"
        } else {
            "DEAD"
        };
        out.push_str(&format!("  {:<40} pid {:<8} {alive}\n", r.what, r.pid));
    }
    out
}

fn host_line(h: &LabHost, services: &[(u32, String, String)]) -> String {
    let ssh = if procs::ssh_ready(&h.addr, h.port) {
        "ssh up"
    } else {
        "ssh DOWN"
    };
    let own = format!("consul on {}", h.name);
    let nspawn_state = (h.port == 22 && h.root.join("state/nspawn.pid").exists()).then(|| {
        match super::nspawn::host::exec(h, &["systemctl", "is-system-running"]) {
            Ok((_, state)) => format!("systemd {}", state.trim()),
            Err(_) => "systemd DOWN".to_string(),
        }
    });
    let svc = match services.iter().find(|(_, what, _)| *what == own) {
        _ if nspawn_state.is_some() => nspawn_state.unwrap_or_default(),
        Some((pid, _, marker)) if procs::is_ours(*pid, marker) => format!("service pid {pid}"),
        Some((pid, _, _)) => format!("service pid {pid} DEAD"),
        None => "service (state only)".into(),
    };
    let health = match (h.etcd_member, h.etcd_member && etcd::healthy(&h.addr)) {
        (true, true) => "etcd healthy",
        (true, false) => "etcd UNHEALTHY",
        _ => "",
    };
    let faults: Vec<String> = h.faults.iter().map(ToString::to_string).collect();
    format!(
        "  {:<8} {:<15} {:<8} {:<9} {:<22} {:<15} {}\n",
        h.name,
        h.addr,
        h.group,
        ssh,
        svc,
        health,
        faults.join(" ")
    )
}
