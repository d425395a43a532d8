//! The tools under test: `cutover run` (arming read from its journal, receipts from each
//! host's job dir) and `pdsh -R ssh` pushing `at` jobs or a Perl sleep-until, the reference
//! approaches, with the same key, hosts, strict known_hosts and concurrency.

use crate::fleet::{HostRef, hostfile};
use chrono::{DateTime, Utc};
use cutover::arm::receipt::Receipt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Files and limits every tool uses.
pub struct Setup {
    /// The release-mode cutover binary.
    pub cutover: PathBuf,
    /// Where plans, host lists, runs and output go.
    pub dir: PathBuf,
    /// The client key every host authorizes.
    pub key: PathBuf,
    /// known_hosts with every host's real key.
    pub known_hosts: PathBuf,
    /// pdsh's `-f`; cutover's `batch_size`.
    pub fanout: usize,
    /// The Perl sleep-until script.
    pub perl: PathBuf,
}

/// How long a `cutover run` took to arm: its arm phase (first arm step to the arm phase's
/// end in the journal) and from spawning the process to that end.
#[derive(Debug, Clone, Copy)]
pub struct ArmTimes {
    /// Seconds of the arm phase alone.
    pub phase: f64,
    /// Seconds from spawn to armed, startup and plan loading included.
    pub total: f64,
}

/// A `cutover run` in flight, its run directory alone in `runs`.
pub struct CutoverRun {
    child: Child,
    runs: PathBuf,
    spawned: DateTime<Utc>,
}

/// Starts `cutover run PLAN --at FIRE` (no prompt), output into its runs dir.
pub fn spawn_run(
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
            .find(|p| p.is_dir())
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

    /// Waits for the run to end; it must have succeeded (fired everywhere, receipts in).
    /// Returns each host's receipt as its job wrote it (`None`: no receipt).
    pub fn finish(mut self, hosts: &[HostRef]) -> Result<Vec<Option<Receipt>>, String> {
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("cutover run failed ({status}): {}", self.output()));
        }
        let id = self.job_id().unwrap_or_default();
        let read = |h: &HostRef| {
            let path = h.dir.join("cutover").join(&id).join("receipt");
            Some(cutover::arm::receipt::parse(
                &std::fs::read_to_string(path).ok()?,
            ))
        };
        Ok(hosts.iter().map(read).collect())
    }

    /// Stops the run (SIGKILL, by pid) and the waiter it armed on each host, by the pid in
    /// that host's job dir: for arming-only measurements.
    pub fn abandon(mut self, hosts: &[HostRef]) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let Some(id) = self.job_id() else { return };
        for h in hosts {
            let pidfile = h.dir.join("cutover").join(&id).join("waiter.pid");
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
        }
    }
}

/// `pdsh -R ssh -f F` over the first `n` hosts with strict host keys; `same_kex` makes `ssh`
/// use curve25519-sha256, the key exchange cutover (russh) negotiates.
fn pdsh(s: &Setup, n: usize, same_kex: bool, remote: &str) -> Command {
    let mut append = format!(
        "-F /dev/null -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
         -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes",
        s.key.display(),
        s.known_hosts.display()
    );
    if same_kex {
        append.push_str(" -o KexAlgorithms=curve25519-sha256");
    }
    let mut c = Command::new("pdsh");
    c.args(["-R", "ssh", "-S", "-l", "root", "-f"])
        .arg(s.fanout.to_string())
        .arg("-w")
        .arg(format!("^{}", hostfile(&s.dir, n).display()))
        .arg(remote)
        .env("PDSH_SSH_ARGS_APPEND", append)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null());
    c
}

/// Runs pdsh; returns its wall seconds and stderr (where `at` reports its jobs).
fn run_pdsh(mut cmd: Command) -> Result<(f64, String), String> {
    let start = cutover::clock::instant();
    let out = cmd
        .output()
        .map_err(|e| format!("pdsh: {e} (apt-get install pdsh)"))?;
    let wall = start.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let tail = err.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        return Err(format!("pdsh failed ({}): {tail}", out.status));
    }
    Ok((wall, err))
}

/// `echo CMD | at` on every host for the whole minute `fire` (UTC), as the reference team
/// did; returns pdsh's wall seconds and the queued job numbers (one per host, checked).
pub fn push_at(
    s: &Setup,
    n: usize,
    fire: DateTime<Utc>,
    cmd: &str,
    same_kex: bool,
) -> Result<(f64, Vec<String>), String> {
    let remote = format!("echo '{cmd}' | TZ=UTC at -t {}", fire.format("%Y%m%d%H%M"));
    let (wall, err) = run_pdsh(pdsh(s, n, same_kex, &remote))?;
    let jobs: Vec<String> = err
        .lines()
        .filter_map(|l| {
            l.split_once(": job ")?
                .1
                .split_whitespace()
                .next()
                .map(str::to_string)
        })
        .collect();
    if jobs.len() != n {
        return Err(format!(
            "at queued {} job(s) on {n} hosts: {err}",
            jobs.len()
        ));
    }
    Ok((wall, jobs))
}

/// Starts the Perl sleep-until on every host, detached, writing its wake time (ns) to
/// `$HOME/<name>-woke`; with `action`, it then execs [`PERL_JOB`] (the same work after waking
/// as cutover's job wrapper), which writes the start time to `$HOME/<name>-started`.
/// Returns pdsh's wall seconds.
pub fn push_perl(
    s: &Setup,
    n: usize,
    fire_ns: i64,
    name: &str,
    action: bool,
) -> Result<f64, String> {
    let job = if action {
        format!(" {}", s.perl.with_extension("job.sh").display())
    } else {
        String::new()
    };
    let remote = format!(
        "setsid perl {} {fire_ns} \"$HOME/{name}-woke\"{job} </dev/null >/dev/null 2>&1 &",
        s.perl.display()
    );
    run_pdsh(pdsh(s, n, false, &remote)).map(|(wall, _)| wall)
}

/// Removes at jobs by number (the machine's one spool: every loopback host is this machine).
pub fn atrm(jobs: &[String]) {
    for chunk in jobs.chunks(200) {
        let _ = Command::new("atrm").args(chunk).status();
    }
}

/// The Perl sleep-until: sleeps (Time::HiRes, nanosleep) until the fire time, then writes
/// its wake time in ns; no fork or exec between waking and reading the clock.
pub const PERL_SLEEP_UNTIL: &str = r#"use strict; use Time::HiRes qw(gettimeofday sleep);
my ($fire_ns, $out) = @ARGV;
my $fire = $fire_ns / 1e9;
while (1) { my ($s, $us) = gettimeofday; my $left = $fire - ($s + $us / 1e6); last if $left <= 0; sleep($left); }
my ($s, $us) = gettimeofday;
open(my $f, '>', $out) or die "$out: $!"; print $f $s * 1000000000 + $us * 1000, "\n"; close $f;
exec('/bin/sh', $ARGV[2]) if @ARGV > 2;
"#;

/// What the Perl peer with an action runs after waking: the same steps as cutover's job
/// wrapper (receipt renamed into place, start time, the action `true` in a subshell with its
/// output kept, end time, output tail), so both pay the same CPU right after waking.
pub const PERL_JOB: &str = r#"d=$HOME
echo "planned" > "$d/perl-job.tmp"
mv "$d/perl-job.tmp" "$d/perl-job"
echo "$(date +%s%N)" > "$d/perl-action-started"
(
true
) > "$d/perl-job.out" 2>&1
echo "ended_ns=$(date +%s%N)" >> "$d/perl-job"
tail -c 4096 "$d/perl-job.out" > /dev/null 2>&1
"#;

/// A wake time in ns written to `path`, if there is one.
pub fn read_ns(path: &Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
