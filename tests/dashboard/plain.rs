//! Plain mode (no terminal): Ctrl-C twice aborts and disarms; gates need `--gate`; `watch`.

use crate::{KillOnDrop, cutover, setup};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn sigint(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
}

#[test]
fn ctrl_c_twice_during_the_countdown_disarms_every_host() {
    let s = setup(3, None);
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let mut child = Command::new(cutover())
        .args(s.run_args(40))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.starts_with("arm: ok") {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.starts_with("arm: ok")), "{seen:?}");
    sigint(child.id());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "one Ctrl-C must not stop the run"
    );
    sigint(child.id());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("press Ctrl-C again within 5 s to ABORT"),
        "{stderr}"
    );
    assert!(stderr.contains("3 armed host(s) are disarmed"), "{stderr}");
    let finished = &s.events("finished")[0];
    assert_eq!(finished["outcome"], "aborted", "{finished}");
    s.assert_disarmed_and_silent(fire);
}

#[test]
fn a_gate_without_a_terminal_fails_the_run_unless_answered_ahead_of_time() {
    let s = setup(2, Some("go"));
    let run = |extra: &[&str]| {
        let out = Command::new(cutover())
            .args(s.run_args(300))
            .arg("--stop-after-verify")
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.code(),
            text + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // Refused before anything runs (a usage error), not after staging.
    let (code, stdout) = run(&[]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.contains("pass --gate go to answer them ahead of time")
            && stdout.contains("nothing was run"),
        "{stdout}"
    );
    for h in &s.fleet.hosts {
        let conf = std::fs::read_to_string(h.dir.join("etc/app.conf")).unwrap();
        assert_eq!(conf, "mode = old\n", "the gated step must not run");
    }
    // Run ids have one-second resolution.
    std::thread::sleep(Duration::from_millis(1100));
    let (code, stdout) = run(&["--gate", "go"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("passed ahead of time (--gate go)"),
        "{stdout}"
    );
}

#[test]
fn json_lines_are_journal_records_and_watch_follows_a_finished_run() {
    let s = setup(2, None);
    let out = Command::new(cutover())
        .args(s.run_args(300))
        .args(["--stop-after-verify", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0]["event"]["kind"], "started");
    assert_eq!(lines.last().unwrap()["event"]["kind"], "finished");
    assert_eq!(stdout, s.journal(), "--json prints exactly the journal");
    let dir = s.run_dir().unwrap();
    let watch = Command::new(cutover())
        .args(["watch", "--plain", "--runs-dir"])
        .arg(&s.runs)
        .arg(dir.file_name().unwrap())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&watch.stdout);
    assert_eq!(watch.status.code(), Some(0), "{text}");
    assert!(
        text.contains("verify: ok") && text.contains("run staged and verified"),
        "{text}"
    );
}

/// Runs `cutover run` in plain mode firing in `secs`, returns the child once stdout shows a
/// line starting with `marker` (and the lines so far).
fn run_until(s: &crate::Setup, secs: u32, marker: &str) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(cutover())
        .args(s.run_args(secs))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        seen.push(line.trim_end().to_string());
        line.clear();
        if seen.last().unwrap().starts_with(marker) {
            break;
        }
    }
    // Keep draining stdout so the run never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    assert!(seen.iter().any(|l| l.starts_with(marker)), "{seen:?}");
    (child, seen)
}

fn ctrl_c_twice(child: &std::process::Child) {
    sigint(child.id());
    std::thread::sleep(Duration::from_millis(300));
    sigint(child.id());
}

#[test]
fn ctrl_c_twice_while_arming_disarms_every_targeted_host() {
    let s = setup(3, None);
    // Each waiter starts 3 s late: the run is aborted while every host's arm command is
    // still in flight, and each waiter that starts after its host's disarm finds the
    // tombstone and stops itself.
    for h in &s.fleet.hosts {
        h.shim(
            "setsid",
            "#!/bin/sh\nsleep 3\nexec /usr/bin/setsid \"$@\"\n",
        );
    }
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let (child, _) = run_until(&s, 40, "== arm:");
    std::thread::sleep(Duration::from_millis(800));
    ctrl_c_twice(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(s.events("finished")[0]["outcome"], "aborted");
    assert!(s.events("armed").is_empty(), "arming was cut short");
    s.assert_disarmed_and_silent(fire);
}

#[test]
fn ctrl_c_twice_while_waiting_for_the_arming_window_stops_before_arming() {
    let s = crate::setup_with(2, None, "arm_window = \"15s\"\n");
    let started = cutover::clock::instant();
    let (child, _) = run_until(&s, 40, "-- waiting until");
    ctrl_c_twice(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the wait for the arming window must end at the abort"
    );
    assert_eq!(s.events("finished")[0]["outcome"], "aborted");
    assert!(s.events("armed").is_empty());
}

#[test]
fn an_abort_during_the_countdown_of_a_watched_run_ends_promptly() {
    let watch = "\n[watch]\ntimeout = \"1m\"\nstable_for = \"2s\"\npoll_interval = \"500ms\"\ncomplete_when = [\"all_probes\"]\n\n[[watch.probe]]\nname = \"up\"\nkind = \"command\"\ntargets = \"all\"\nrun = \"test -f \\\"$HOME/fired\\\"\"\n";
    let s = crate::setup_with(2, None, watch);
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let (child, _) = run_until(&s, 40, "arm: ok");
    std::thread::sleep(Duration::from_secs(1));
    let aborted = cutover::clock::instant();
    ctrl_c_twice(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        aborted.elapsed() < Duration::from_secs(15),
        "the watch poller must not keep the run alive after the abort"
    );
    assert_eq!(s.events("finished")[0]["outcome"], "aborted");
    s.assert_disarmed_and_silent(fire);
}
