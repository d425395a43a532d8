//! After the fire: the watch judges the changed cluster, not the instant of the fire, and
//! receipt collection waits for a job that wakes late instead of calling it "did not fire".

use super::{PREFLIGHT, journal_text, run, setup, waiter_of};
use std::io::BufRead;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The journal's records of one kind, as JSON.
fn events(journal: &str, kind: &str) -> Vec<serde_json::Value> {
    journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"]["kind"] == kind)
        .map(|v| v["event"].clone())
        .collect()
}

#[test]
fn the_watch_counts_stable_for_only_after_every_action_finished() {
    let s = setup(3, PREFLIGHT);
    // The probe passes the moment the action starts; on host-02 the action then runs 6 s more.
    let plan = std::fs::read_to_string(&s.plan)
        .unwrap()
        .replace(
            "run = \"echo fired >> \\\"$HOME/fired\\\"\"",
            "run = 'echo fired >> \"$HOME/fired\"; if [ \"$CUTOVER_HOST\" = host-02 ]; then sleep 6; fi'",
        )
        // The probe samples two of the three hosts, on its own interval.
        .replace(
            "targets = \"all\"\n",
            "targets = \"all\"\nsample = 2\ninterval = \"250ms\"\n",
        );
    std::fs::write(&s.plan, plan).unwrap();
    let out = run(&s, &["--yes", "--at", "now+10s"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // The watch says what it asks of the fleet, and at the end how long its polls took.
    assert!(
        out.stdout.contains(
            "   watch: polling probe up on 2 of 3 hosts over SSH every 250ms: 8 SSH requests a second\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(" polls, the slowest "),
        "{}",
        out.stdout
    );
    let journal = journal_text(&s);
    let slowest = events(&journal, "receipt")
        .iter()
        .filter_map(|e| e["receipt"]["ended_ns"].as_i64())
        .max()
        .expect("receipts with an end");
    let finished = events(&journal, "watch")
        .into_iter()
        .find(|e| e["milestone"] == "finished")
        .expect("the watch finished");
    assert_eq!(finished["outcome"]["outcome"], "complete", "{finished}");
    let at = chrono::DateTime::parse_from_rfc3339(finished["outcome"]["at"].as_str().unwrap())
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap();
    // stable_for is 2 s: counted from the slowest action's end, not from the fire.
    assert!(
        at >= slowest + 2_000_000_000,
        "complete {} ms after the slowest action ended; stable_for is 2 s",
        (at - slowest) / 1_000_000
    );
}

/// Stops a process and continues it on drop, so a failing test never leaves it stopped.
struct Stopped(i32);

impl Stopped {
    fn new(pid: u32) -> Self {
        let pid = pid as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGSTOP)
            .expect("SIGSTOP the waiter");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0),
            nix::sys::signal::SIGCONT,
        );
    }
}

#[test]
fn a_job_that_wakes_four_seconds_late_is_reported_late_then_fired() {
    let s = setup(3, "");
    let runs = s.fleet.dir().join("runs");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
        .arg("run")
        .arg(&s.plan)
        .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at", "now+12s"])
        .arg("--runs-dir")
        .arg(&runs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut child = Reap(child);
    let mut lines = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok);
    let mut seen = String::new();
    for l in lines.by_ref() {
        seen.push_str(&l);
        seen.push('\n');
        if l.starts_with("arm: ok") {
            break;
        }
    }
    assert!(seen.contains("arm: ok"), "the run never armed:\n{seen}");
    // host-02's waiter: stopped across the fire time, continued 4 s after it (a busy or
    // briefly paused host), within the job's 5 s lateness bound, so it fires late.
    let host = &s.fleet.hosts[1];
    let pid = crate::support::process::pids_with_marker("cutover-waiter-")
        .into_iter()
        .find(|p| {
            waiter_of(&s, *p)
                && String::from_utf8_lossy(
                    &std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default(),
                )
                .contains(&format!("{}/", host.dir.display()))
        })
        .expect("host-02's waiter");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let fire_ns: i64 = args
        .iter()
        .rev()
        .filter_map(|a| a.parse::<i64>().ok())
        .find(|n| *n > 1_000_000_000_000_000_000)
        .expect("the fire time on the waiter's command line");
    let stopped = Stopped::new(pid);
    #[allow(
        clippy::disallowed_methods,
        reason = "the test times a real process against the hosts' real clock"
    )]
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    std::thread::sleep(Duration::from_nanos(
        (fire_ns + 4_000_000_000 - now).max(0) as u64
    ));
    drop(stopped);
    for l in lines {
        seen.push_str(&l);
        seen.push('\n');
    }
    let status = child.0.wait().unwrap();
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err);
    assert!(status.success(), "{seen}{err}");
    assert!(
        seen.contains("host-02: its job has not woken yet (late)"),
        "{seen}"
    );
    let journal = journal_text(&s);
    let late = events(&journal, "receipt")
        .into_iter()
        .find(|e| e["host"] == "host-02")
        .expect("host-02's receipt");
    let r = &late["receipt"];
    let started = r["started_ns"].as_i64().expect("host-02 fired");
    assert!(
        started - fire_ns >= 3_500_000_000,
        "host-02 should have fired about 4 s late: {r}"
    );
    assert_eq!(r["exit"], 0, "{r}");
}
