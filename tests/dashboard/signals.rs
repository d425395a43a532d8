//! SIGTERM and SIGHUP (a CI cancel, `systemctl stop`, a closed ssh session) during the
//! countdown take the abort path: every host disarmed, nothing fires, the terminal restored,
//! the lock released, exit code 3 (aborted). A closed stdout never panics a run.

use crate::tmux::Tmux;
use crate::{KillOnDrop, cutover, setup, wait_for};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status();
}

/// This fleet's run lock, if held: in the state directory, named by the resolved hosts.
fn lock_files(s: &crate::Setup) -> Vec<String> {
    let hosts: Vec<String> = (s.fleet.hosts.iter())
        .map(|h| format!("root@{}:22", h.address))
        .collect();
    let name = cutover::journal::lock::lock_name(&hosts);
    let path = cutover::journal::lock::state_dir().join(&name);
    path.exists().then_some(name).into_iter().collect()
}

fn plain_run_is_disarmed_by(name: &str) {
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
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut seen = Vec::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        seen.push(line.trim_end().to_string());
        line.clear();
        if seen.last().unwrap().starts_with("arm: ok") {
            break;
        }
    }
    assert!(seen.iter().any(|l| l.starts_with("arm: ok")), "{seen:?}");
    assert_eq!(lock_files(&s).len(), 1, "the run holds its lock");
    signal(child.id(), name);
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("SIG{name}")), "{stderr}");
    assert!(
        stderr.contains("nothing fired; to undo it") && stderr.contains("cutover rollback "),
        "disarmed, the run offers the way back: {stderr}"
    );
    let finished = &s.events("finished")[0];
    assert_eq!(finished["outcome"], "aborted", "{finished}");
    assert!(
        s.events("operator").iter().any(|o| o["action"]
            .as_str()
            .unwrap()
            .contains(&format!("SIG{name}"))),
        "the signal is journaled as an operator action"
    );
    assert!(lock_files(&s).is_empty(), "the lock is released");
    s.assert_disarmed_and_silent(fire);
}

#[test]
fn sigterm_in_the_countdown_of_a_plain_run_disarms_every_host() {
    plain_run_is_disarmed_by("TERM");
}

#[test]
fn sighup_in_the_countdown_of_a_plain_run_disarms_every_host() {
    plain_run_is_disarmed_by("HUP");
}

/// The `cutover run` process in the tmux pane (not the shell that started it).
fn cutover_pid(s: &crate::Setup) -> Option<u32> {
    let marker = s.plan.display().to_string();
    crate::support::process::pids_with_marker(&marker)
        .into_iter()
        .find(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|exe| exe == cutover()))
}

fn dashboard_run_is_disarmed_by(name: &str) {
    let s = setup(3, None);
    let mut argv = vec![cutover().display().to_string()];
    argv.extend(s.run_args(40));
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let t = Tmux::start(120, 40, &[], &argv);
    wait_for(
        35,
        || s.events("armed").len() == 3,
        || format!("not armed on 3 hosts:\n{}", t.screen()),
    );
    wait_for(5, || t.screen().contains("armed 3"), || t.screen());
    let pid = cutover_pid(&s).expect("the run's pid");
    signal(pid, name);
    wait_for(
        30,
        || t.screen().contains("CUTOVER-EXIT=3"),
        || format!("the dashboard did not close on SIG{name}:\n{}", t.screen()),
    );
    let screen = t.screen();
    // The alternate screen is gone: the shell's own lines are back, the dashboard's are not.
    assert!(
        !screen.contains("a  ABORT"),
        "terminal not restored:\n{screen}"
    );
    assert_eq!(s.events("finished")[0]["outcome"], "aborted");
    assert!(lock_files(&s).is_empty(), "the lock is released");
    s.assert_disarmed_and_silent(fire);
}

#[test]
fn sigterm_in_the_countdown_of_a_dashboard_run_disarms_and_restores_the_terminal() {
    dashboard_run_is_disarmed_by("TERM");
}

#[test]
fn sighup_in_the_countdown_of_a_dashboard_run_disarms_and_restores_the_terminal() {
    dashboard_run_is_disarmed_by("HUP");
}

#[test]
fn a_closed_stdout_never_panics_a_run() {
    let s = setup(2, None);
    let mut args = s.run_args(20);
    args.push("--plain".into());
    let script = format!(
        "{} {} | head -3; echo PIPESTATUS=${{PIPESTATUS[0]}}",
        cutover().display(),
        args.iter()
            .map(|a| shlex::try_quote(a).unwrap().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("PIPESTATUS=0"), "{stdout}{stderr}");
    let finished = &s.events("finished")[0];
    assert_eq!(finished["outcome"], "complete", "{finished}");
    for h in &s.fleet.hosts {
        assert!(h.dir.join("fired").exists(), "{} did not fire", h.name);
    }
}
