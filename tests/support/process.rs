//! Process helpers for the sshd harness: readiness probe and pid-exact termination.

use std::io::Read;
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

/// Whether something at `addr` answers with an SSH banner.
pub fn banner_ready(addr: &str) -> bool {
    let Ok(addr) = addr.parse() else { return false };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

/// SIGTERM to the sshd and what it spawned, then SIGKILL after a short grace, then reap.
pub fn stop(child: &mut Child) {
    let pid = child.id();
    let family = descendants(pid);
    signal(pid, libc::SIGTERM);
    for _ in 0..100 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(pid, libc::SIGKILL);
    family.iter().for_each(|p| signal(*p, libc::SIGKILL));
    let _ = child.wait();
}

/// Sends `sig` to `pid` and all its descendants (children first listed, then signalled).
pub fn kill_tree(pid: u32, sig: i32) {
    let family = descendants(pid);
    signal(pid, sig);
    family.iter().for_each(|p| signal(*p, sig));
}

fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) has no memory preconditions; the pid is one this harness started or its child.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// All live descendants of a pid (the lab's own /proc walk; one implementation for both).
pub use cutover::lab::procs::descendants;

/// Pids whose command line contains `marker` (reading /proc only).
pub fn pids_with_marker(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .filter(|pid| *pid != std::process::id())
        .collect()
}

/// `list()` until it comes back empty, for at most `within`; the last answer. A disarm
/// signals a waiter and returns (its tombstone already keeps the job from acting), so the
/// process itself is gone a moment later, not at once.
pub fn until_none<T>(within: std::time::Duration, mut list: impl FnMut() -> Vec<T>) -> Vec<T> {
    let end = cutover::clock::instant() + within;
    loop {
        let now = list();
        if now.is_empty() || cutover::clock::instant() >= end {
            return now;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
