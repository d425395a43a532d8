//! Processes the lab starts and stops: detached spawns, liveness, and pid-exact termination.
//!
//! The lab never kills by name: it stops the pids it recorded, and only after checking that
//! the process's command line still names the lab's directory (a recycled pid is left alone).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long a stopped process gets between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("Z");
    state != "Z" && state != "X"
}

/// The process's command line, arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&raw).replace('\0', " "))
}

/// Whether `pid` is alive and its command line contains `marker` (the lab's directory).
pub fn is_ours(pid: u32, marker: &str) -> bool {
    alive(pid) && cmdline(pid).is_some_and(|c| c.contains(marker))
}

/// Sends a signal by pid with `kill(1)`.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops `pid` if it is ours, with its descendants: SIGTERM, then SIGKILL after [`GRACE`].
/// Returns whether anything was stopped.
pub fn stop(pid: u32, marker: &str) -> bool {
    if !is_ours(pid, marker) {
        return false;
    }
    let family = descendants(pid);
    signal(pid, "TERM");
    let deadline = crate::clock::instant() + GRACE;
    while alive(pid) && crate::clock::instant() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        signal(pid, "KILL");
    }
    family
        .iter()
        .filter(|p| alive(**p))
        .for_each(|p| signal(*p, "KILL"));
    true
}

/// Starts `program` in its own session (`setsid`), detached from this process's terminal and
/// lifetime, output appended to `log`; returns its pid.
pub fn spawn_detached(
    program: &Path,
    args: &[String],
    log: &Path,
    env: &[(String, String)],
) -> std::io::Result<u32> {
    let setsid =
        find("setsid").ok_or_else(|| std::io::Error::other("setsid not found (util-linux)"))?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let child = Command::new(setsid)
        .arg(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()?;
    Ok(child.id())
}

/// A program on PATH or in the usual system directories.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain([
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// All live descendants of `root`, from /proc parent links.
pub fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter_map(|pid| Some((pid, ppid(pid)?)))
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == p)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether something at `addr:port` answers with an SSH banner.
pub fn ssh_ready(addr: &str, port: u16) -> bool {
    use std::io::Read;
    let Ok(sock) = format!("{addr}:{port}").parse() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_recycled_pid_is_not_ours() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(!is_ours(me, "/no/such/lab/dir"));
        assert!(!alive(u32::MAX - 1));
    }
}
