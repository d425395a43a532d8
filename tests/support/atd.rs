//! A running `atd` for tests and benchmarks: the system's if one runs, else one started here
//! in the foreground and stopped by its pid on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ATD: &str = "/usr/sbin/atd";
/// Where a running atd records its pid.
const PIDFILE: &str = "/run/atd.pid";

/// The atd jobs go to; stops it on drop if this process started it.
pub struct Atd(Option<Child>);

impl Atd {
    /// Uses the running atd, or starts one (`atd -f`) and waits until it wrote its pid file.
    pub fn ensure() -> Self {
        if running() {
            return Atd(None);
        }
        assert!(
            Path::new(ATD).exists(),
            "{ATD} is missing: apt-get install at"
        );
        let child = Command::new(ATD)
            .arg("-f")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn atd");
        for _ in 0..100 {
            if running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Atd(Some(child))
    }

    /// The pid of the atd this process started, if it started one.
    pub fn started_pid(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }
}

/// True when the pid file names a live process.
fn running() -> bool {
    std::fs::read_to_string(PIDFILE)
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

impl Drop for Atd {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Removes the queued at jobs whose script mentions `marker` (e.g. a temp dir), so nothing a
/// test or benchmark queued outlives it; returns how many it removed.
pub fn remove_jobs_mentioning(marker: &str) -> usize {
    let Ok(out) = Command::new("atq").output() else {
        return 0;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    let mut removed = 0;
    for id in ids {
        let script = Command::new("at").arg("-c").arg(&id).output();
        let ours = script.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(marker));
        if ours
            && Command::new("atrm")
                .arg(&id)
                .status()
                .is_ok_and(|s| s.success())
        {
            removed += 1;
        }
    }
    removed
}
