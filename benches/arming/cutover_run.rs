//! `cutover run` under test: spawned with `--at`, its arming read from its journal, its
//! receipts from each host's job dir.

use crate::fleet::HostRef;
use crate::tools::Setup;
use chrono::{DateTime, Utc};
use cutover::arm::receipt::Receipt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a `cutover run` took to arm: its arm phase (first arm step to the arm phase's
/// end in the journal) and from spawning the process to that end.
#[derive(Debug, Clone, Copy)]
pub struct ArmTimes {
    /// Seconds of the arm phase alone.
    pub phase: f64,
    /// Seconds from spawn to armed, startup and plan loading included.
    pub total: f64,
}

/// A `cutover run` in flight, its run directory (the one with a journal) in `runs`, beside
/// its own state directory.
pub struct CutoverRun {
    child: Child,
    runs: PathBuf,
    spawned: DateTime<Utc>,
}

/// Starts `cutover run PLAN --at FIRE` (no prompt), output into its runs dir.
pub fn spawn(
    s: &Setup,
    plan: &Path,
    fire: DateTime<Utc>,
    label: &str,
) -> std::io::Result<CutoverRun> {
    let runs = s.dir.join("runs").join(label);
    std::fs::create_dir_all(&runs)?;
    let out = std::fs::File::create(runs.join("stdout"))?;
    let err = std::fs::File::create(runs.join("stderr"))?;
    let spawned = cutover::clock::now();
    let child = Command::new(&s.cutover)
        .arg("run")
        .arg(plan)
        .args(["--yes", "--break-lock", "--at"])
        .arg(fire.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .arg("--runs-dir")
        .arg(&runs)
        // Its own run-lock directory: the fire benchmark's two cutover runs share the hosts.
        .env("CUTOVER_STATE_DIR", runs.join("state"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()?;
    Ok(CutoverRun {
        child,
        runs,
        spawned,
    })
}

impl CutoverRun {
    /// The run directory's name (the run id), once the run created it.
    fn run_dir(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.runs)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("journal.jsonl").exists())
    }

    /// The id jobs are named by on hosts.
    pub fn job_id(&self) -> Option<String> {
        let dir = self.run_dir()?;
        Some(cutover::arm::safe_run_id(
            &dir.file_name()?.to_string_lossy(),
        ))
    }

    fn output(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.runs.join(f)).unwrap_or_default();
        let tail = |t: String| t.lines().rev().take(8).collect::<Vec<_>>().join(" | ");
        format!(
            "stdout: {}; stderr: {}",
            tail(read("stdout")),
            tail(read("stderr"))
        )
    }

    /// Waits until the journal records the end of the arm phase; fails if arming failed or
    /// the run exited first.
    pub fn wait_armed(&mut self, timeout: Duration) -> Result<ArmTimes, String> {
        let deadline = cutover::clock::instant() + timeout;
        while cutover::clock::instant() < deadline {
            if let Some(t) = self.arm_times()? {
                return Ok(t);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "cutover run exited ({status}) before arming: {}",
                    self.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "cutover run did not arm within {timeout:?}: {}",
            self.output()
        ))
    }

    fn arm_times(&self) -> Result<Option<ArmTimes>, String> {
        let Some(dir) = self.run_dir() else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default();
        let mut start = None;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let ts = v["ts"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            let (kind, phase) = (&v["event"]["kind"], &v["event"]["phase"]);
            if kind == "step" && phase == "arm" && start.is_none() {
                start = ts;
            }
            if kind == "phase_done" && phase == "arm" {
                if v["event"]["ok"] != true {
                    return Err(format!("arming failed: {}", v["event"]["summary"]));
                }
                let (Some(s), Some(e)) = (start, ts) else {
                    return Ok(None);
                };
                let secs = |d: chrono::TimeDelta| d.num_microseconds().unwrap_or(0) as f64 / 1e6;
                return Ok(Some(ArmTimes {
                    phase: secs(e - s),
                    total: secs(e.to_utc() - self.spawned),
                }));
            }
        }
        Ok(None)
    }

    /// The commit round's window from the journal, ms.
    fn commit_ms(&self) -> Option<f64> {
        let text = std::fs::read_to_string(self.run_dir()?.join("journal.jsonl")).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"]["kind"] == "commit_window")
            .and_then(|v| v["event"]["window_ns"].as_i64())
            .map(|ns| ns as f64 / 1e6)
    }

    /// Waits for the run to end; it must have succeeded (fired everywhere, receipts in).
    /// Returns each host's receipt as its job wrote it (`None`: no receipt), and the commit
    /// round's window (ms).
    pub fn finish(
        mut self,
        hosts: &[HostRef],
        mechanism: &str,
    ) -> Result<(Vec<Option<Receipt>>, Option<f64>), String> {
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("cutover run failed ({status}): {}", self.output()));
        }
        let commit = self.commit_ms();
        let id = self.job_id().unwrap_or_default();
        let read = |h: &HostRef| {
            let path = h
                .dir
                .join(crate::fleet::cutover_dir(mechanism))
                .join(&id)
                .join("receipt");
            Some(cutover::arm::receipt::parse(
                &std::fs::read_to_string(path).ok()?,
            ))
        };
        Ok((hosts.iter().map(read).collect(), commit))
    }

    /// Stops the run (SIGKILL, by pid) and the waiter it armed on each host, by the pid in
    /// that host's job dir: for arming-only measurements.
    pub fn abandon(mut self, hosts: &[HostRef], mechanism: &str) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let Some(id) = self.job_id() else { return };
        for h in hosts {
            let jobs = h.dir.join(crate::fleet::cutover_dir(mechanism));
            let pidfile = jobs.join(&id).join("waiter.pid");
            let pid = std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok());
            if let Some(pid) = pid {
                // SAFETY: kill(2) has no memory preconditions; the pid is a waiter this run armed.
                #[allow(unsafe_code)]
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            // The abandoned run's ownership lease would refuse the next run on this host.
            let _ = std::fs::remove_file(jobs.join("lease"));
        }
    }
}
