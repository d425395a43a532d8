//! Creating a lab host's own tree (`etc/`, units, shims) and the shared system-binary farms.
//!
//! A lab host's PATH is its shim dir, then a "farm" of symlinks to the machine's binaries
//! minus the schedulers the host should not have: no `at` or `systemd-run` on any lab host (the
//! lab's scheduler is the waiter), and no `setsid` either on a host with the `no-scheduler` fault.

use super::LabError;
use super::shims::{self, Tools};
use super::spec::LabHost;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// System directories linked into the farms, in PATH order (the first name found wins).
const SYSTEM_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];
/// Schedulers no lab host has: the lab's `systemctl` is not systemd, and atd is not running.
const NEVER: [&str; 5] = ["systemd-run", "at", "atq", "atrm", "batch"];

/// The real tools the shims wrap, found on this machine.
pub fn tools() -> Result<Tools, LabError> {
    let find = |name: &str| {
        super::procs::find(name)
            .map(|p| p.display().to_string())
            .ok_or_else(|| LabError::Missing {
                program: name.into(),
                package: "coreutils / util-linux".into(),
            })
    };
    Ok(Tools {
        date: find("date")?,
        timeout: find("timeout")?,
        setsid: find("setsid")?,
    })
}

/// Writes `DIR/sysbin` (and `DIR/sysbin-nosched` when `nosched`).
pub fn farms(dir: &Path, nosched: bool) -> Result<(), LabError> {
    farm(&dir.join("sysbin"), &NEVER)?;
    if nosched {
        let mut hidden = NEVER.to_vec();
        hidden.push("setsid");
        farm(&dir.join("sysbin-nosched"), &hidden)?;
    }
    Ok(())
}

fn farm(dest: &Path, hidden: &[&str]) -> Result<(), LabError> {
    std::fs::create_dir_all(dest).map_err(|e| LabError::io(dest, e))?;
    for sys in SYSTEM_DIRS {
        let Ok(entries) = std::fs::read_dir(sys) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let link = dest.join(&name);
            if hidden.iter().any(|h| name == **h) || link.symlink_metadata().is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), &link).map_err(|err| LabError::io(&link, err))?;
        }
    }
    Ok(())
}

/// Creates the host's tree: `etc/consul.json`, `etc/timezone`, units `chef-client` (enabled,
/// running) and `consul` (enabled, active; run by `lab-service`), `var/`, `run/`, and its shims.
pub fn host(h: &LabHost, tools: &Tools) -> Result<(), LabError> {
    for d in [
        "bin",
        "etc",
        "run",
        "var/log",
        "var/cutover",
        "units/chef-client",
        "units/consul",
    ] {
        mkdir(&h.root.join(d))?;
    }
    let consul = serde_json::json!({
        "datacenter": "lab",
        "node_name": h.name,
        "server": h.group == "servers",
        "bind_addr": h.addr,
        "verify_incoming": true,
        "verify_outgoing": true,
    });
    write(&h.root.join("etc/consul.json"), &format!("{consul:#}\n"))?;
    write(&h.root.join("etc/timezone"), "Etc/UTC\n")?;
    for f in [
        "units/chef-client/enabled",
        "units/chef-client/active",
        "units/consul/enabled",
        "units/consul/managed",
        "units/consul/active",
    ] {
        write(&h.root.join(f), "")?;
    }
    for (name, script) in shims::all(h, tools) {
        let path = h.bin().join(name);
        write(&path, &script)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| LabError::io(&path, e))?;
    }
    Ok(())
}

/// Creates a directory and its parents.
pub fn mkdir(p: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(p).map_err(|e| LabError::io(p, e))
}

/// Writes a file, naming it in the error.
pub fn write(p: &Path, text: &str) -> Result<(), LabError> {
    std::fs::write(p, text).map_err(|e| LabError::io(p, e))
}
