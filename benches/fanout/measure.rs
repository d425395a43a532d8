//! One measured client run: wall time, CPU and peak RSS of the client's process tree (wait4),
//! and the CPU the fleet's sshd listeners and the session processes they reaped spent meanwhile.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

/// How long sshd gets to reap the sessions of a finished client before the "after" reading.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// What one run cost.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds from spawn to exit of the client.
    pub wall: f64,
    /// User + system seconds of the client and every descendant it waited for.
    pub client_cpu: f64,
    /// User + system seconds of the sshd listeners and their reaped children during the run.
    pub sshd_cpu: f64,
    /// Peak resident set of the largest single process of the client tree, KiB.
    pub max_rss_kib: u64,
}

/// A finished client: its exit code and cost.
#[derive(Debug)]
pub struct Finished {
    /// Exit code, or 128 + signal.
    pub code: i32,
    /// What it cost.
    pub sample: Sample,
}

/// Spawns `cmd`, waits for it with wait4, and reads the listeners' CPU before and after.
pub fn run(cmd: &mut Command, listeners: &[u32]) -> std::io::Result<Finished> {
    let before = sshd_seconds(listeners);
    let start = cutover::clock::instant();
    let child = cmd.spawn()?;
    let (status, usage) = wait4(child.id())?;
    let wall = start.elapsed().as_secs_f64();
    wait_reaped(listeners);
    let sshd_cpu = sshd_seconds(listeners) - before;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let sample = Sample {
        wall,
        client_cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
        sshd_cpu,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    };
    Ok(Finished { code, sample })
}

/// wait4(2) on `pid`: Linux reports the child's own usage plus that of every descendant it
/// waited for (RUSAGE_BOTH), and the largest maxrss among them.
#[allow(unsafe_code)]
fn wait4(pid: u32) -> std::io::Result<(i32, libc::rusage)> {
    let pid = i32::try_from(pid).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers point at live, writable locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Clock ticks per second of /proc/<pid>/stat times.
#[allow(unsafe_code)]
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no memory preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Sum of utime+stime+cutime+cstime over `pids`, in seconds.
pub fn sshd_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 = pids.iter().filter_map(|p| stat_ticks(*p)).sum();
    ticks as f64 / ticks_per_second()
}

fn stat_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Fields 14..=17 of proc(5) (utime stime cutime cstime); index 0 here is field 3.
    fields
        .get(11..15)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

/// Waits until no listener has a child left, so their CPU is in the listeners' cutime.
fn wait_reaped(listeners: &[u32]) {
    let set: HashSet<u32> = listeners.iter().copied().collect();
    let deadline = cutover::clock::instant() + REAP_TIMEOUT;
    while cutover::clock::instant() < deadline && children_of(&set) > 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn children_of(parents: &HashSet<u32>) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(ppid)
        .filter(|pp| parents.contains(pp))
        .count()
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
