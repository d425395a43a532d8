//! The `sshd` backend: one real OpenSSH `sshd -D` per lab host, detached, pid recorded.
//!
//! Adapted from the test harness (`tests/support`): each sshd listens on its host's address,
//! uses its host key, trusts the lab's client key, and sets the host's session environment.

use super::LabError;
use super::procs;
use super::spec::{LabHost, LabSpec};
use super::state::Recorded;
use std::time::Duration;

/// How long each sshd gets to start listening.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The sshd_config of a lab host.
pub fn config(spec: &LabSpec, h: &LabHost) -> String {
    let env: Vec<String> = h
        .env(&spec.dir)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "ListenAddress {addr}:{port}\nHostKey {root}/host_key\nPidFile none\n\
         AuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         StrictModes no\nUsePAM no\nMaxStartups 100:30:200\nMaxSessions 20\nLogLevel INFO\n\
         SetEnv {env}\n",
        addr = h.addr,
        port = h.port,
        root = h.root.display(),
        dir = spec.dir.display(),
        env = env.join(" "),
    )
}

/// Starts sshd for every reachable host; returns the recorded pids (already started ones on error too).
pub fn start(
    spec: &LabSpec,
    hosts: &[LabHost],
    started: &mut Vec<Recorded>,
) -> Result<(), LabError> {
    let sshd = procs::find("sshd").ok_or_else(|| LabError::Missing {
        program: "sshd".into(),
        package: "openssh-server".into(),
    })?;
    std::fs::create_dir_all("/run/sshd")
        .map_err(|e| LabError::io(std::path::Path::new("/run/sshd"), e))?;
    let before = started.len();
    for h in hosts {
        let cfg = h.root.join("sshd_config");
        super::tree::write(&cfg, &config(spec, h))?;
        let args = vec![
            "-D".to_string(),
            "-e".into(),
            "-f".into(),
            cfg.display().to_string(),
        ];
        let pid =
            procs::spawn_detached(&sshd, &args, &h.root.join("sshd.log"), &[]).map_err(|e| {
                LabError::Start {
                    what: format!("sshd for {}", h.name),
                    reason: e.to_string(),
                }
            })?;
        started.push(Recorded {
            pid,
            what: format!("sshd {}", h.name),
            marker: format!("{}/", h.root.display()),
        });
    }
    for (h, r) in hosts.iter().zip(started[before..].iter()) {
        wait_ready(h, r.pid)?;
    }
    Ok(())
}

fn wait_ready(h: &LabHost, pid: u32) -> Result<(), LabError> {
    let deadline = crate::clock::instant() + READY_TIMEOUT;
    while crate::clock::instant() < deadline {
        if !procs::alive(pid) {
            let log = std::fs::read_to_string(h.root.join("sshd.log")).unwrap_or_default();
            return Err(LabError::Start {
                what: format!("sshd for {}", h.name),
                reason: format!("exited at start: {}", log.trim()),
            });
        }
        if procs::ssh_ready(&h.addr, h.port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(LabError::Start {
        what: format!("sshd for {}", h.name),
        reason: format!(
            "not listening on {}:{} after {READY_TIMEOUT:?}",
            h.addr, h.port
        ),
    })
}
