//! Disarm in every way it can be needed: a host that cannot arm, drift at T-minus, another
//! terminal after the orchestrator died, a fire time passing mid-arming, a late-arming mechanism.

use super::*;

#[test]
fn one_host_that_cannot_arm_means_every_host_is_disarmed() {
    let s = setup(5, "");
    s.fleet.hosts[3].shim(
        "setsid",
        "#!/bin/sh\necho 'setsid: not permitted here' >&2\nexit 1\n",
    );
    let r = fire_in(&s, 12);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("arm: FAILED"), "{}", r.stdout);
    assert_disarmed_everywhere(&r);
    std::thread::sleep(std::time::Duration::from_secs(13));
    for h in &s.fleet.hosts {
        assert!(
            !h.dir.join("fired").exists(),
            "{} fired although arming failed elsewhere",
            h.name
        );
    }
    assert!(
        support::process::pids_with_marker("cutover-waiter-")
            .iter()
            .all(|p| !waiter_of(&s, *p)),
        "a waiter survived disarm"
    );
}

#[test]
fn drift_at_t_minus_disarms_everything() {
    let s = setup(3, "");
    let victim = s.fleet.hosts[1].dir.join("etc/consul.json");
    let reverter = std::thread::spawn(move || {
        for _ in 0..200 {
            if std::fs::read_to_string(&victim)
                .unwrap_or_default()
                .contains("\"verify_outgoing\": false")
            {
                std::thread::sleep(std::time::Duration::from_secs(4));
                std::fs::write(&victim, CONFIG).unwrap();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let r = fire_in(&s, 16);
    reverter.join().unwrap();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("drift detected at T-minus"),
        "{}",
        r.stdout
    );
    assert_disarmed_everywhere(&r);
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(
        s.fleet.hosts.iter().all(|h| !h.dir.join("fired").exists()),
        "a host fired after drift was detected"
    );
}

#[test]
fn disarm_from_another_terminal_after_the_orchestrator_died() {
    use std::io::BufRead;
    let s = setup(4, "");
    let runs = s.fleet.dir().join("runs");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
        .arg("run")
        .arg(&s.plan)
        .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at", "now+90s"])
        .arg("--runs-dir")
        .arg(&runs)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &self.0.to_string()])
                .status();
        }
    }
    let guard = Kill(child.id());
    let stdout = child.stdout.take().unwrap();
    let armed = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("arm: ok"));
    assert!(armed, "the run never armed");
    drop(guard); // SIGKILL: the orchestrator dies with every host armed
    let _ = child.wait();
    let waiters = || {
        support::process::pids_with_marker("cutover-waiter-")
            .into_iter()
            .filter(|p| waiter_of(&s, *p))
            .collect::<Vec<_>>()
    };
    assert_eq!(waiters().len(), 4, "every host should be armed");
    let run_id = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name();
    // `cutover watch` of the orphaned run shows its last state and says the orchestrator is
    // gone, instead of waiting forever for lines that will never come.
    let watched = Command::cargo_bin("cutover")
        .unwrap()
        .arg("watch")
        .arg(&run_id)
        .arg("--runs-dir")
        .arg(&runs)
        .arg("--plain")
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&watched.stdout);
    assert_eq!(watched.status.code(), Some(1), "{seen}");
    assert!(
        seen.contains("arm: ok") && seen.contains("is gone and the run never finished"),
        "{seen}"
    );
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .arg("disarm")
        .arg(&run_id)
        .arg("--runs-dir")
        .arg(&runs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("visiting 4 that may hold a job")
            && text.contains("4 disarmed, 0 already fired, nothing may fire"),
        "{text}"
    );
    let left = support::process::until_none(std::time::Duration::from_secs(5), waiters);
    assert!(left.is_empty(), "a waiter survived disarm: {left:?}");
    let again = Command::cargo_bin("cutover")
        .unwrap()
        .arg("disarm")
        .arg(&run_id)
        .arg("--runs-dir")
        .arg(&runs)
        .output()
        .unwrap();
    let again_text = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{again_text}");
    assert!(
        again_text.contains("4 disarmed, 0 already fired, nothing may fire"),
        "disarm must be idempotent: {again_text}"
    );
}

/// A per-host `systemctl` that keeps unit state in `$HOME/units/<unit>.{enabled,active}`.
const SYSTEMCTL: &str = r#"#!/bin/sh
d="$HOME/units"; mkdir -p "$d"
verb=$1; shift
[ "$verb" = "--quiet" ] && { verb=$1; shift; }
case "$verb" in
  disable) [ "$1" = "--now" ] && { shift; rm -f "$d/$1.active"; }; rm -f "$d/$1.enabled" ;;
  enable) [ "$1" = "--now" ] && { shift; touch "$d/$1.active"; }; touch "$d/$1.enabled" ;;
  is-enabled) [ "$1" = "--quiet" ] && shift; if [ -e "$d/$1.enabled" ]; then echo enabled; else echo disabled; exit 1; fi ;;
  is-active) [ "$1" = "--quiet" ] && shift; if [ -e "$d/$1.active" ]; then echo active; else echo inactive; exit 3; fi ;;
esac
"#;

#[test]
fn an_agent_that_re_enables_itself_after_staging_is_caught_at_t_minus() {
    let s = setup(3, "");
    for h in &s.fleet.hosts {
        h.shim("systemctl", SYSTEMCTL);
        std::fs::create_dir_all(h.dir.join("units")).unwrap();
        std::fs::write(h.dir.join("units/chef-client.enabled"), "").unwrap();
        std::fs::write(h.dir.join("units/chef-client.active"), "").unwrap();
    }
    let plan = std::fs::read_to_string(&s.plan).unwrap().replace(
        "[[stage]]\nname = \"stop verifying TLS dates\"",
        "[[stage]]\nname = \"stop chef-client\"\nstep = \"disable_service\"\nunit = \"chef-client\"\nsudo = false\n\n[[stage]]\nname = \"stop verifying TLS dates\"",
    );
    std::fs::write(&s.plan, plan).unwrap();
    // chef finishing a run it started before staging: it re-enables itself a few seconds later.
    let unit = s.fleet.hosts[0].dir.join("units/chef-client.enabled");
    let chef = std::thread::spawn(move || {
        for _ in 0..300 {
            if !unit.exists() {
                std::thread::sleep(std::time::Duration::from_secs(4));
                std::fs::write(&unit, "").unwrap();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let r = fire_in(&s, 16);
    chef.join().unwrap();
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("verify: ok"),
        "staging and the first verify passed:\n{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("1 host(s): chef-client is enabled (it will come back)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("drift detected at T-minus"),
        "{}",
        r.stdout
    );
    assert_disarmed_everywhere(&r);
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert!(s.fleet.hosts.iter().all(|h| !h.dir.join("fired").exists()));
}

#[test]
fn a_fire_time_that_passes_while_arming_aborts_instead_of_firing_late() {
    let s = setup(3, "");
    // One host's arming command hangs past the arming deadline (a slow host, a stuck
    // session): its waiter takes 12 s to start.
    s.fleet.hosts[2].shim("bash", "#!/bin/sh\nsleep 12\nexec /bin/bash \"$@\"\n");
    let r = fire_in(&s, 11);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("arming did not finish before the arming deadline"),
        "{}",
        r.stdout
    );
    assert_disarmed_everywhere(&r);
    assert_nothing_fires(&s);
}

#[test]
fn a_mechanism_that_arms_itself_after_the_disarm_never_fires() {
    let s = setup(3, "");
    // The waiter's setsid hangs: the arm command fails, but the waiter starts later anyway.
    s.fleet.hosts[2].shim(
        "setsid",
        "#!/bin/sh\nsleep 12\nexec /usr/bin/setsid \"$@\"\n",
    );
    let r = fire_in(&s, 11);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("arm: FAILED"), "{}", r.stdout);
    assert_disarmed_everywhere(&r);
    assert_nothing_fires(&s);
    let receipt = std::fs::read_dir(s.fleet.hosts[2].dir.join("cutover"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("receipt"))
        .find(|p| p.exists());
    if let Some(p) = receipt {
        assert!(
            std::fs::read_to_string(p)
                .unwrap()
                .contains("skipped=disarmed")
        );
    }
}

/// The run reported that every armed host was disarmed.
fn assert_disarmed_everywhere(r: &Out) {
    assert!(
        r.stdout.contains("every armed host was disarmed"),
        "{}",
        r.stdout
    );
}

#[test]
fn disarm_of_a_completed_run_reports_every_host_already_fired() {
    let s = setup(3, "");
    let r = fire_in(&s, 12);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let runs = s.fleet.dir().join("runs");
    let run_id = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name();
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .arg("disarm")
        .arg(&run_id)
        .arg("--runs-dir")
        .arg(&runs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for h in &s.fleet.hosts {
        assert!(
            text.contains(&format!("{}: already fired (exit 0)", h.name)),
            "{text}"
        );
    }
    assert!(text.contains("nothing may fire"), "{text}");
}

#[test]
fn a_journal_that_cannot_be_written_stops_the_run_before_anything_fires() {
    let s = setup(3, "");
    let runs = s.fleet.dir().join("runs");
    // 24 blocks of 512 bytes: room for the run directory's snapshots, not for the journal.
    let script = format!(
        "ulimit -f 24; exec {} run {} --now 2029-12-31T23:00:00Z --yes --plain --at now+14s --runs-dir {}",
        assert_cmd::cargo::cargo_bin("cutover").display(),
        s.plan.display(),
        runs.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("journal write failed"),
        "{stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(out.status.code().is_some(), "killed by a signal: {stderr}");
    assert_nothing_fires(&s);
    assert!(
        support::process::pids_with_marker("cutover-waiter-")
            .iter()
            .all(|p| !waiter_of(&s, *p)),
        "a waiter survived"
    );
}
