//! The reference approaches: `pdsh -R ssh` pushing `at` jobs or a Perl sleep-until, with the
//! same key, hosts, strict known_hosts and concurrency as cutover; and what they all share.

use crate::fleet::hostfile;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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
