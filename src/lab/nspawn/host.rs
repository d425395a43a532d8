//! One `nspawn` host: its overlay (own upper dir over the shared root), its identity files
//! (hostname, `/etc/hosts`, machine-id, host key, the lab's client key), its own cgroup, and a
//! detached supervisor that boots `systemd-nspawn` and boots it again after a reboot (exit 133).
//!
//! `supervisor_script` and `hosts_file` are pure; the rest writes, mounts, starts and stops.
//! Files of the controller a host needs (the `etcd` binary) are bind-mounted read-only.

use super::{LabError, Names, run};
use crate::lab::procs;
use crate::lab::spec::{LabHost, LabSpec};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long a host gets from start until sshd answers and systemd is up.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a host gets to power off on `lab down` before its cgroup is killed.
pub const POWEROFF_GRACE: Duration = Duration::from_secs(10);

/// The controller-side directories of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    /// Overlay upper dir: everything the host wrote (survives its reboots).
    pub upper: PathBuf,
    /// Overlay work dir.
    pub work: PathBuf,
    /// The mounted root the container boots.
    pub root: PathBuf,
    /// Supervisor files: `nspawn.pid`, `stop`, `console.log`.
    pub state: PathBuf,
}

impl Dirs {
    /// Under the host's lab directory.
    pub fn of(h: &LabHost) -> Dirs {
        Dirs {
            upper: h.root.join("upper"),
            work: h.root.join("work"),
            root: h.root.join("root"),
            state: h.root.join("state"),
        }
    }
}

/// `/etc/hosts` of every host: itself, the controller, and every other host by name.
pub fn hosts_file(spec: &LabSpec, me: &LabHost) -> String {
    let mut out = format!(
        "127.0.0.1 localhost\n127.0.1.1 {}\n{} controller\n",
        me.name,
        spec.bridge_address()
    );
    for h in spec.lab_hosts() {
        out.push_str(&format!("{} {}\n", h.addr, h.name));
    }
    out
}

/// A controller file the container sees read-only at a path of its own (`--bind-ro`), e.g. the
/// machine's `etcd` binary, so the shared root needs no rebuild for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The file on the controller.
    pub source: PathBuf,
    /// Where the host sees it.
    pub target: String,
}

/// The supervisor: joins its own cgroups (else every container shares one), then boots the
/// container, again after a reboot (exit 133) unless `lab down` left a `stop` file.
pub fn supervisor_script(
    names: &Names,
    i: usize,
    h: &LabHost,
    dirs: &Dirs,
    cgroups: &[PathBuf],
    binds: &[Bind],
) -> String {
    let join: String = cgroups
        .iter()
        .map(|c| format!("echo $$ > '{}/cgroup.procs'\n", c.display()))
        .collect();
    let binds: String = binds
        .iter()
        .map(|b| {
            let arg = format!("--bind-ro={}:{}", b.source.display(), b.target);
            format!(" {}", crate::remote::quote(&arg))
        })
        .collect();
    format!(
        "{join}while :; do\n  systemd-nspawn --quiet --boot --directory='{root}' --machine={machine} --hostname={name} --network-namespace-path=/run/netns/{ns} --register=no --keep-unit --resolv-conf=off --timezone=off --link-journal=no --console=pipe{binds} </dev/null &\n  echo $! > '{state}/nspawn.pid'\n  wait $!; rc=$?\n  [ $rc = 133 ] && [ ! -e '{state}/stop' ] || exit $rc\ndone\n",
        root = dirs.root.display(),
        machine = names.machine(i),
        name = h.name,
        ns = names.netns(i),
        state = dirs.state.display(),
    )
}

/// Writes the host's own files into its overlay upper dir and mounts its root.
pub fn prepare(
    spec: &LabSpec,
    h: &LabHost,
    lower: &Path,
    client_pub: &str,
) -> Result<String, LabError> {
    let d = Dirs::of(h);
    for dir in [&d.upper, &d.work, &d.root, &d.state] {
        mkdir(dir)?;
    }
    let etc = d.upper.join("etc");
    mkdir(&etc.join("ssh"))?;
    write(&etc.join("hostname"), &format!("{}\n", h.name), 0o644)?;
    write(&etc.join("hosts"), &hosts_file(spec, h), 0o644)?;
    write(
        &etc.join("machine-id"),
        &format!("{}\n", machine_id()),
        0o444,
    )?;
    let authorized = d
        .upper
        .join(super::rootfs::AUTHORIZED_KEYS.trim_start_matches('/'));
    write(&authorized, &format!("{client_pub}\n"), 0o644)?;
    let host_key = crate::lab::keys::generate(&etc.join("ssh/ssh_host_ed25519_key"))?;
    mount(lower, &d)?;
    Ok(host_key)
}

fn mount(lower: &Path, d: &Dirs) -> Result<(), LabError> {
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        d.upper.display(),
        d.work.display()
    );
    run(
        "the host's overlay",
        Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&d.root),
    )
    .map(|_| ())
}

/// Creates the host's cgroups (one per mounted hierarchy that takes processes).
pub fn make_cgroups(cgroups: &[PathBuf]) -> Result<(), LabError> {
    cgroups.iter().try_for_each(|c| mkdir(c))
}

/// Starts the host's supervisor, detached; returns its pid.
pub fn start(
    names: &Names,
    i: usize,
    h: &LabHost,
    cgroups: &[PathBuf],
    binds: &[Bind],
) -> Result<u32, LabError> {
    let d = Dirs::of(h);
    let script = supervisor_script(names, i, h, &d, cgroups, binds);
    let sh = procs::find("sh").unwrap_or_else(|| PathBuf::from("/bin/sh"));
    let args = vec!["-c".to_string(), script];
    procs::spawn_detached(&sh, &args, &d.state.join("console.log"), &[]).map_err(|e| {
        LabError::Start {
            what: format!("systemd-nspawn for {}", h.name),
            reason: e.to_string(),
        }
    })
}

/// The container's PID 1 (the nspawn's child), once it has one.
pub fn init_pid(h: &LabHost) -> Option<u32> {
    let d = Dirs::of(h);
    let nspawn: u32 = std::fs::read_to_string(d.state.join("nspawn.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let marker = d.root.display().to_string();
    if !procs::is_ours(nspawn, &marker) {
        return None;
    }
    procs::descendants(nspawn).into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "systemd")
    })
}

/// Runs `args` inside the host (all its namespaces), as root; returns (success, stdout+stderr).
pub fn exec(h: &LabHost, args: &[&str]) -> Result<(bool, String), LabError> {
    let pid = init_pid(h).ok_or_else(|| LabError::Start {
        what: format!("a command on {}", h.name),
        reason: "the host is not running".into(),
    })?;
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "-u", "-i", "-n", "-p", "--"])
        .args(args)
        .output()
        .map_err(|e| LabError::Start {
            what: "nsenter".into(),
            reason: e.to_string(),
        })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// Waits until the host's sshd answers and its systemd is `running` (or `degraded`).
pub fn wait_ready(
    h: &LabHost,
    supervisor: u32,
    deadline: std::time::Instant,
) -> Result<(), LabError> {
    let fail = |reason: String| LabError::Start {
        what: format!("host {}", h.name),
        reason,
    };
    let console = || {
        let text =
            std::fs::read_to_string(Dirs::of(h).state.join("console.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    while !procs::ssh_ready(&h.addr, h.port) {
        if !procs::alive(supervisor) {
            return Err(fail(format!("systemd-nspawn exited:\n{}", console())));
        }
        if crate::clock::instant() > deadline {
            return Err(fail(format!(
                "sshd not answering on {}:22 after {BOOT_TIMEOUT:?}:\n{}",
                h.addr,
                console()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    loop {
        let (_, state) = exec(h, &["systemctl", "is-system-running"])?;
        let state = state.trim();
        if state == "running" || state == "degraded" {
            return Ok(());
        }
        if crate::clock::instant() > deadline {
            return Err(fail(format!("systemd is `{state}` after {BOOT_TIMEOUT:?}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asks the host to power off (SIGTERM to its nspawn; no reboot loop after `stop`).
pub fn request_stop(h: &LabHost) {
    let d = Dirs::of(h);
    let _ = std::fs::write(d.state.join("stop"), "");
    if let Some(pid) = std::fs::read_to_string(d.state.join("nspawn.pid"))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        && procs::is_ours(pid, &d.root.display().to_string())
    {
        procs::signal(pid, "TERM");
    }
}

/// Every pid in the cgroups (and their children cgroups).
pub fn cgroup_pids(cgroups: &[PathBuf]) -> Vec<u32> {
    let mut out = Vec::new();
    for c in cgroups {
        walk(c, &mut |dir| {
            if let Ok(t) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                out.extend(t.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
            }
        });
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Kills what is left in the host's cgroups (they hold only what the lab started there), then
/// removes them, deepest first. Returns how many processes were killed.
pub fn kill_and_remove_cgroups(cgroups: &[PathBuf]) -> usize {
    let mut killed = 0;
    let deadline = crate::clock::instant() + Duration::from_secs(5);
    loop {
        let pids = cgroup_pids(cgroups);
        if pids.is_empty() || crate::clock::instant() > deadline {
            break;
        }
        for p in &pids {
            procs::signal(*p, "KILL");
        }
        killed += pids.len();
        std::thread::sleep(Duration::from_millis(50));
    }
    for c in cgroups {
        let mut dirs = Vec::new();
        walk(c, &mut |d| dirs.push(d.to_path_buf()));
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    killed
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    if !dir.is_dir() {
        return;
    }
    f(dir);
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), f);
            }
        }
    }
}

/// Unmounts the host's root if it is mounted (lazily if it is still busy).
pub fn unmount(h: &LabHost) -> Result<(), LabError> {
    let root = Dirs::of(h).root;
    if !is_mounted(&root) {
        return Ok(());
    }
    if run("unmounting", Command::new("umount").arg(&root)).is_err() {
        run(
            "unmounting (lazily)",
            Command::new("umount").arg("-l").arg(&root),
        )?;
    }
    Ok(())
}

/// Whether `path` is a mount point (from /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let p = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split_whitespace().nth(4) == Some(p.as_str()))
    })
}

fn machine_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

fn mkdir(p: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(p).map_err(|e| LabError::io(p, e))
}

fn write(p: &Path, text: &str, mode: u32) -> Result<(), LabError> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = p.parent() {
        mkdir(parent)?;
    }
    std::fs::write(p, text).map_err(|e| LabError::io(p, e))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| LabError::io(p, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Faults;
    use crate::lab::spec::Backend;

    fn spec() -> LabSpec {
        LabSpec {
            hosts: 2,
            etcd: None,
            backend: Backend::Nspawn,
            dir: "/tmp/l".into(),
            subnet: "10.253.0".into(),
            port: 22,
            faults: Faults::new(),
        }
    }

    #[test]
    fn every_host_knows_itself_the_controller_and_the_others() {
        let s = spec();
        let hosts = s.lab_hosts();
        let f = hosts_file(&s, &hosts[1]);
        assert!(f.contains("127.0.1.1 lab-2\n"));
        assert!(f.contains("10.253.0.254 controller\n"));
        assert!(f.contains("10.253.0.1 lab-1\n") && f.contains("10.253.0.2 lab-2\n"));
    }

    #[test]
    fn the_supervisor_joins_its_cgroups_first_and_reboots_until_stopped() {
        let s = spec();
        let names = Names::of(&s);
        let h = &s.lab_hosts()[0];
        let cg = vec![PathBuf::from("/sys/fs/cgroup/unified/x/lab-1")];
        let etcd = Bind {
            source: "/usr/bin/etcd".into(),
            target: "/usr/local/bin/etcd".into(),
        };
        let script = supervisor_script(&names, 1, h, &Dirs::of(h), &cg, &[etcd]);
        assert!(script.starts_with("echo $$ > '/sys/fs/cgroup/unified/x/lab-1/cgroup.procs'\n"));
        assert!(script.contains("--register=no --keep-unit"));
        assert!(script.contains(" '--bind-ro=/usr/bin/etcd:/usr/local/bin/etcd' </dev/null &"));
        assert!(script.contains("--directory='/tmp/l/hosts/lab-1/root'"));
        assert!(script.contains(&format!("/run/netns/{}", names.netns(1))));
        assert!(
            script
                .contains("[ $rc = 133 ] && [ ! -e '/tmp/l/hosts/lab-1/state/stop' ] || exit $rc")
        );
    }
}
