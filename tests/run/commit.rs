//! All or nothing for real, on real sshd hosts: the orchestrator SIGKILLed at random instants
//! of arming never fires a strict subset of the fleet (outside the measured commit round);
//! `disarm` after a crash finds every job; a disarm from another terminal stops a live run;
//! a second operator's run of the same plan from another directory is refused.

use super::*;
use std::io::BufRead;
use std::process::{Child, Stdio};
use std::time::Duration;

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn spawn_run(s: &Setup, runs: &Path, fire_in: u32) -> Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
        .arg("run")
        .arg(&s.plan)
        .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--plain"])
        .args(["--at", &format!("now+{fire_in}s")])
        .arg("--runs-dir")
        .arg(runs)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn journal_in(runs: &Path) -> String {
    std::fs::read_dir(runs)
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok()).find(|e| e.path().is_dir()))
        .and_then(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
        .unwrap_or_default()
}

fn kinds(journal: &str, kind: &str) -> usize {
    journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"]["kind"] == kind)
        .count()
}

fn run_id(runs: &Path) -> String {
    std::fs::read_dir(runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned()
}

fn disarm(runs: &Path) -> (i32, String) {
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .arg("disarm")
        .arg(run_id(runs))
        .arg("--runs-dir")
        .arg(runs)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn fired(s: &Setup) -> usize {
    s.fleet
        .hosts
        .iter()
        .filter(|h| h.dir.join("fired").exists())
        .count()
}

fn clear_fired(s: &Setup) {
    for h in &s.fleet.hosts {
        let _ = std::fs::remove_file(h.dir.join("fired"));
    }
}

/// A tiny deterministic generator (no crate needed): the kill instants of the trials.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_at_random_instants_during_arming_never_fires_a_strict_subset() {
    const HOSTS: usize = 20;
    const TRIALS: usize = 6;
    let s = setup(HOSTS, "");
    let mut seed = cutover::clock::now().timestamp_nanos_opt().unwrap_or(7) as u64 | 1;
    let (mut in_window, mut windows) = (0, Vec::new());
    for trial in 0..TRIALS {
        clear_fired(&s);
        let runs = s.fleet.dir().join(format!("runs-{trial}"));
        let fire_in = 18;
        let started = cutover::clock::instant();
        let fire = started + Duration::from_secs(fire_in);
        let child = spawn_run(&s, &runs, fire_in as u32);
        let guard = KillOnDrop(child.id());
        // Wait for arming to begin, then kill at a random instant from there to just past
        // the commit round (T-minus is 3 s before the fire).
        let deadline = started + Duration::from_secs(fire_in - 5);
        while kinds(&journal_in(&runs), "step") == 0
            || !journal_in(&runs).contains("\"phase\":\"arm\"")
        {
            assert!(
                cutover::clock::instant() < deadline,
                "trial {trial}: arming never began"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let arming = cutover::clock::instant();
        // Even trials: anywhere from arming to just past the commit round; odd trials: the
        // last 1.1 s before that, around the T-minus check (3 s before the fire) and the commit.
        let end = fire.saturating_duration_since(arming) - Duration::from_millis(2200);
        let from = if trial % 2 == 1 {
            end.saturating_sub(Duration::from_millis(1100))
        } else {
            Duration::ZERO
        };
        let span = (end - from).as_millis().max(1) as u64;
        let kill_after = from + Duration::from_millis(next(&mut seed) % span);
        std::thread::sleep(kill_after);
        drop(guard);
        let mut child = child;
        let _ = child.wait();
        let journal = journal_in(&runs);
        let commit_started = journal.contains("\"phase\":\"commit\"");
        let committed = kinds(&journal, "committed");
        let commit_done = journal.contains("\"kind\":\"commit_window\"");
        if let Some(w) = journal
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["event"]["kind"] == "commit_window")
        {
            windows.push(w["event"]["window_ns"].as_i64().unwrap_or(0));
        }
        std::thread::sleep(
            fire.saturating_duration_since(cutover::clock::instant()) + Duration::from_secs(3),
        );
        let n = fired(&s);
        let split = commit_started && !commit_done && committed < HOSTS;
        in_window += usize::from(split);
        println!(
            "trial {trial}: killed {} ms into arming; armed {}, committed {committed}, fired {n}{}",
            kill_after.as_millis(),
            kinds(&journal, "armed"),
            if split {
                " (inside the commit round)"
            } else {
                ""
            }
        );
        assert!(
            n == 0 || n == HOSTS || split,
            "trial {trial}: {n} of {HOSTS} hosts fired after a kill outside the commit round:\n{journal}"
        );
        // Take back whatever the killed run left (and its host leases) before the next trial.
        let (code, text) = disarm(&runs);
        assert_eq!(code, 0, "trial {trial}: {text}");
    }
    windows.sort_unstable();
    println!(
        "{TRIALS} trials, {in_window} inside the commit round; commit windows measured (ms): {:?}",
        windows.iter().map(|w| *w as f64 / 1e6).collect::<Vec<_>>()
    );
}

#[test]
fn sigkill_after_the_first_armed_record_then_disarm_takes_back_every_host() {
    let s = setup(8, "");
    let runs = s.fleet.dir().join("runs");
    let fire = cutover::clock::instant() + Duration::from_secs(25);
    let child = spawn_run(&s, &runs, 25);
    let guard = KillOnDrop(child.id());
    let deadline = cutover::clock::instant() + Duration::from_secs(20);
    while kinds(&journal_in(&runs), "armed") == 0 {
        assert!(cutover::clock::instant() < deadline, "never armed");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(guard);
    let mut child = child;
    let _ = child.wait();
    let (code, text) = disarm(&runs);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("visiting 8 that may hold a job"), "{text}");
    assert!(text.contains("8 disarmed"), "{text}");
    std::thread::sleep(
        fire.saturating_duration_since(cutover::clock::instant()) + Duration::from_secs(3),
    );
    assert_eq!(fired(&s), 0, "a host fired after the disarm");
    let report = Command::cargo_bin("cutover")
        .unwrap()
        .args(["report", "--runs-dir"])
        .arg(&runs)
        .arg(run_id(&runs))
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&report.stdout);
    assert!(
        md.contains("## Hosts") && md.contains("| disarmed |"),
        "{md}"
    );
}

#[test]
fn a_disarm_from_another_terminal_stops_the_live_run_within_two_seconds() {
    let s = setup(4, "");
    let runs = s.fleet.dir().join("runs");
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
        .arg("run")
        .arg(&s.plan)
        .args([
            "--now",
            "2029-12-31T23:00:00Z",
            "--yes",
            "--plain",
            "--at",
            "now+40s",
        ])
        .arg("--runs-dir")
        .arg(&runs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        if line.starts_with("arm: ok") {
            break;
        }
        line.clear();
    }
    assert!(line.starts_with("arm: ok"), "never armed");
    let (code, text) = disarm(&runs);
    assert_eq!(code, 0, "{text}");
    let asked = cutover::clock::instant();
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut rest);
        rest
    });
    let status = child.wait().unwrap();
    let stopped = asked.elapsed();
    let rest = rest.join().unwrap();
    assert!(
        stopped < Duration::from_secs(6),
        "the run took {stopped:?} to stop"
    );
    assert_eq!(status.code(), Some(3), "{rest}");
    assert!(rest.contains("from another terminal"), "{rest}");
    let journal = journal_in(&runs);
    let stop_at = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["event"]["kind"] == "operator"
                && v["event"]["action"]
                    .as_str()
                    .is_some_and(|a| a.contains("from another terminal"))
        })
        .expect("the live run journals who disarmed it");
    let _ = stop_at;
    std::thread::sleep(
        fire.saturating_duration_since(cutover::clock::instant()) + Duration::from_secs(3),
    );
    assert_eq!(fired(&s), 0, "a host fired after the disarm");
}

#[test]
fn a_second_run_of_the_same_plan_from_another_directory_is_refused_naming_the_first() {
    let s = setup(3, "");
    let first_runs = s.fleet.dir().join("operator-a");
    let second_runs = s.fleet.dir().join("operator-b");
    let first = spawn_run(&s, &first_runs, 30);
    let _g = KillOnDrop(first.id());
    let deadline = cutover::clock::instant() + Duration::from_secs(25);
    while kinds(&journal_in(&first_runs), "armed") < 3 {
        assert!(
            cutover::clock::instant() < deadline,
            "the first run never armed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = |state: Option<&std::path::Path>| {
        let mut c = Command::cargo_bin("cutover").unwrap();
        if let Some(dir) = state {
            c.env("CUTOVER_STATE_DIR", dir);
        }
        c.arg("run")
            .arg(&s.plan)
            .args([
                "--now",
                "2029-12-31T23:00:00Z",
                "--yes",
                "--plain",
                "--at",
                "now+30s",
            ])
            .arg("--runs-dir")
            .arg(&second_runs)
            .output()
            .unwrap()
    };
    let first_id = run_id(&first_runs);
    // The same user from another directory meets the local lock (keyed by the hosts, in the
    // state directory), before any host is touched.
    let local = second(None);
    let err = String::from_utf8_lossy(&local.stderr);
    assert_eq!(local.status.code(), Some(2), "{err}");
    assert!(
        err.contains("another run holds") && err.contains(&format!("run {first_id}")),
        "the refusal names the holder:\n{err}"
    );
    // A colleague on another machine (another state directory) meets the hosts' leases.
    let elsewhere = s.fleet.dir().join("colleague-state");
    let remote = second(Some(&elsewhere));
    let text = String::from_utf8_lossy(&remote.stdout);
    assert_eq!(remote.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("leased by run {first_id}")),
        "the refusal names the holder:\n{text}"
    );
    assert_eq!(kinds(&journal_in(&second_runs), "armed"), 0);
    let mut first = first;
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    for h in &s.fleet.hosts {
        let text = std::fs::read_to_string(h.dir.join("fired")).unwrap_or_default();
        assert_eq!(
            text.lines().count(),
            1,
            "{} fired {} time(s)",
            h.name,
            text.lines().count()
        );
    }
}
