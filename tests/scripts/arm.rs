//! The waiter mechanism and job wrapper.

use super::sh;
use cutover::arm::job::{Job, commit_script, install_script, script};
use cutover::arm::mechanism::{
    Concrete, Reap, arm_script, disarm_script, parse_armed, verify_script,
};
use cutover::arm::receipt;
use std::time::Duration;

/// Arms a waiter in `dir` for `at`, returning the job hash and pid.
fn arm(
    dir: &str,
    run_id: &str,
    at: chrono::DateTime<chrono::Utc>,
    command: &str,
) -> (String, String) {
    let fire_ns = at.timestamp_nanos_opt().expect("ns");
    let (code, out, err) = sh(&install_script(
        dir,
        &script(&Job {
            dir,
            fire_ns,
            command,
        }),
        false,
    ));
    assert_eq!(code, 0, "{err}");
    let sha = out.trim().to_string();
    let (code, out, err) = sh(&arm_script(Concrete::Waiter, run_id, dir, at, at));
    assert_eq!(code, 0, "{err}");
    let pid = parse_armed(&out).expect("armed line");
    let (code, out, err) = sh(&verify_script(Concrete::Waiter, run_id, dir, &sha));
    assert_eq!((code, out.trim()), (0, "verified"), "{err}");
    let (code, out, err) = sh(&commit_script(dir));
    assert_eq!((code, out.trim()), (0, "committed"), "{err}");
    (sha, pid)
}

#[test]
fn an_armed_job_that_is_never_committed_wakes_and_does_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::milliseconds(1200);
    let fire_ns = at.timestamp_nanos_opt().expect("ns");
    let job = script(&Job {
        dir,
        fire_ns,
        command: "echo fired > \"$0.fired\"",
    });
    let (code, out, err) = sh(&install_script(dir, &job, false));
    assert_eq!(code, 0, "{err}");
    let sha = out.trim().to_string();
    let deadline = at + chrono::Duration::seconds(60);
    let (code, _, err) = sh(&arm_script(
        Concrete::Waiter,
        "t-uncommitted",
        dir,
        at,
        deadline,
    ));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = sh(&verify_script(Concrete::Waiter, "t-uncommitted", dir, &sha));
    assert_eq!((code, out.trim()), (0, "verified"));
    let deadline = cutover::clock::instant() + Duration::from_secs(15);
    let r = loop {
        let r =
            receipt::parse(&std::fs::read_to_string(format!("{dir}/receipt")).unwrap_or_default());
        if r.skipped_uncommitted || cutover::clock::instant() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(r.skipped_uncommitted, "{r:?}");
    assert!(
        r.started_ns.is_none(),
        "the action started without a commit: {r:?}"
    );
    // A disarmed host refuses the commit: the tombstone wins.
    let (code, _, _) = sh(&format!("touch {dir}/disarmed"));
    assert_eq!(code, 0);
    let (code, _, err) = sh(&commit_script(dir));
    assert_ne!(code, 0);
    assert!(err.contains("disarmed"), "{err}");
}

#[test]
fn a_waiter_fires_once_no_earlier_than_planned_and_leaves_a_receipt() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::milliseconds(1500);
    arm(dir, "t-fire", at, "echo fired");
    let deadline = cutover::clock::instant() + Duration::from_secs(15);
    let r = loop {
        let r =
            receipt::parse(&std::fs::read_to_string(format!("{dir}/receipt")).unwrap_or_default());
        if r.done || cutover::clock::instant() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(r.done, "job did not finish: {r:?}");
    let planned = at.timestamp_nanos_opt().expect("ns");
    let started = r.started_ns.expect("started");
    assert!(started >= planned, "fired {} ns early", planned - started);
    assert!(
        started - planned < 1_000_000_000,
        "fired {} ms late",
        (started - planned) / 1_000_000
    );
    assert_eq!(r.exit, Some(0));
    assert_eq!(
        std::fs::read_to_string(format!("{dir}/output")).expect("output"),
        "fired\n"
    );
}

/// Waits for the job's receipt in `dir` to say it is done.
fn done_receipt(dir: &str) -> receipt::Receipt {
    let deadline = cutover::clock::instant() + Duration::from_secs(15);
    loop {
        let r =
            receipt::parse(&std::fs::read_to_string(format!("{dir}/receipt")).unwrap_or_default());
        if r.done {
            return r;
        }
        assert!(
            cutover::clock::instant() < deadline,
            "job did not finish: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A waiter stopped across its fire time (a paused or overloaded host) goes on the moment it
/// is continued: its timed wait keeps its deadline, where a plain `read -t` would start its
/// whole timeout again and wake a slice late.
#[test]
fn a_waiter_stopped_across_its_fire_time_fires_as_soon_as_it_is_continued() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::milliseconds(3000);
    let (_, pid) = arm(dir, "t-stopped", at, "true");
    let pid = Pid::from_raw(pid.parse().expect("pid"));
    std::thread::sleep(Duration::from_millis(300));
    kill(pid, Signal::SIGSTOP).expect("stop the waiter");
    while cutover::clock::now() < at + chrono::Duration::milliseconds(1000) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !std::path::Path::new(&format!("{dir}/receipt")).exists(),
        "a stopped waiter fired"
    );
    let continued = cutover::clock::now().timestamp_nanos_opt().expect("ns");
    kill(pid, Signal::SIGCONT).expect("continue the waiter");
    let started = done_receipt(dir).started_ns.expect("started");
    assert!(
        started - continued < 1_500_000_000,
        "woke {} ms after it was continued",
        (started - continued) / 1_000_000
    );
}

#[test]
fn disarm_leaves_no_waiter_and_is_idempotent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::seconds(60);
    let (_, pid) = arm(dir, "t-disarm", at, "echo never");
    for _ in 0..2 {
        let (code, out, err) = sh(&disarm_script(
            Concrete::Waiter,
            "t-disarm",
            dir,
            Reap::Gone,
        ));
        assert_eq!((code, out.trim()), (0, "disarmed"), "{err}");
    }
    // A killed waiter may linger as a zombie until its parent reaps it; it must not be running.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.is_empty(), "waiter {pid} still running");
    assert!(!std::path::Path::new(&format!("{dir}/receipt")).exists());
}

#[test]
fn arming_past_the_deadline_is_refused_on_the_host() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::seconds(60);
    let fire_ns = at.timestamp_nanos_opt().expect("ns");
    let (code, _, err) = sh(&install_script(
        dir,
        &script(&Job {
            dir,
            fire_ns,
            command: "true",
        }),
        false,
    ));
    assert_eq!(code, 0, "{err}");
    let passed = cutover::clock::now() - chrono::Duration::seconds(1);
    let (code, out, err) = sh(&arm_script(Concrete::Waiter, "t-late", dir, at, passed));
    assert_ne!(code, 0);
    assert!(parse_armed(&out).is_none());
    assert!(err.contains("arming deadline has passed"), "{err}");
    assert!(!std::path::Path::new(&format!("{dir}/waiter.pid")).exists());
}

/// The niceness field of `/proc/PID/stat` (the 19th field, after the `(comm)`).
fn niceness(pid: &str) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_comm = &stat[stat.rfind(')').expect("comm") + 2..];
    after_comm
        .split(' ')
        .nth(16)
        .expect("nice")
        .parse()
        .expect("int")
}

#[test]
fn the_waiter_waits_at_raised_priority_and_the_action_runs_at_the_armed_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let base = niceness("self");
    let at = cutover::clock::now() + chrono::Duration::milliseconds(2500);
    let (_, pid) = arm(dir, "t-nice", at, "nice");
    let waiting = niceness(&pid);
    assert!(
        waiting <= base,
        "the waiter waits at {waiting}, armed at {base}"
    );
    if waiting < base {
        assert_eq!(waiting, (base - 10).max(-20), "raised by 10 where allowed");
    }
    let deadline = cutover::clock::instant() + Duration::from_secs(15);
    while !receipt::parse(&std::fs::read_to_string(format!("{dir}/receipt")).unwrap_or_default())
        .done
    {
        assert!(cutover::clock::instant() < deadline, "job did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ran_at = std::fs::read_to_string(format!("{dir}/output")).expect("output");
    assert_eq!(
        ran_at.trim(),
        base.to_string(),
        "the action runs at the armed niceness"
    );
}

#[test]
fn a_disarmed_run_is_not_armed_again_unless_resume_re_arms_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::seconds(60);
    let (sha, _) = arm(dir, "t-tomb", at, "true");
    let (code, out, err) = sh(&disarm_script(
        Concrete::Waiter,
        "t-tomb",
        dir,
        Reap::Signalled,
    ));
    assert_eq!((code, out.trim()), (0, "disarmed"), "{err}");
    let wrapper = script(&Job {
        dir,
        fire_ns: at.timestamp_nanos_opt().expect("ns"),
        command: "true",
    });
    let (code, _, err) = sh(&install_script(dir, &wrapper, false));
    assert_ne!(code, 0, "a late install must not undo the disarm");
    assert!(err.contains("disarmed on this host"), "{err}");
    assert!(std::path::Path::new(&format!("{dir}/disarmed")).exists());
    let (code, out, err) = sh(&install_script(dir, &wrapper, true));
    assert_eq!((code, out.trim()), (0, sha.as_str()), "{err}");
    assert!(!std::path::Path::new(&format!("{dir}/disarmed")).exists());
}

#[test]
fn the_job_is_installed_private_and_its_sha256_printed() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let job = script(&Job {
        dir,
        fire_ns: 1_800_000_000_000_000_000,
        command: "true",
    });
    let (code, out, err) = sh(&install_script(dir, &job, false));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("{}\n", cutover::remote::files::sha256_hex(job.as_bytes()))
    );
    let mode = |p: &str| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700);
    assert_eq!(
        mode(&format!("{dir}/job.sh")),
        0o600,
        "run as `/bin/sh job.sh`"
    );
    assert!(!std::path::Path::new(&format!("{dir}/job.sh.tmp")).exists());
}

/// The cleanup after a run, by builtins and at most one `rm`, under dash and bash: the job
/// wrapper and output go only once the job can no longer act, the receipt and the tombstone
/// stay, and a FIFO in the receipt's place cannot hang it.
#[test]
fn cleanup_removes_the_sensitive_files_only_once_the_job_cannot_act() {
    use cutover::arm::cleanup::{Cleanup, parse, script};
    let tmp = tempfile::tempdir().expect("tmp");
    let sensitive = ["job.sh", "job.sh.tmp", "output", "output.tail"];
    // (receipt, tombstone, expected)
    let cases: [(Option<&str>, bool, Cleanup); 7] = [
        (
            Some("planned_ns=1\nstarted_ns=2\nexit=0\ndone=1\n"),
            false,
            Cleanup::Removed,
        ),
        (
            Some("planned_ns=1\nwoke_ns=1\nskipped=disarmed"),
            false,
            Cleanup::Removed,
        ),
        (None, true, Cleanup::Removed),
        (Some("planned_ns=1\nwoke_ns=1\n"), true, Cleanup::Removed),
        (Some("planned_ns=1\nstarted_ns=2\n"), true, kept()),
        (Some("planned_ns=1\nstarted_ns=2\ndone=10\n"), false, kept()),
        (None, false, kept()),
    ];
    fn kept() -> Cleanup {
        Cleanup::Kept {
            reason: "the job may still fire or is running".into(),
        }
    }
    for shell in ["dash", "bash"] {
        for (i, (receipt, tombstone, want)) in cases.iter().enumerate() {
            let dir = tmp.path().join(format!("{shell}-{i}"));
            std::fs::create_dir(&dir).expect("dir");
            for f in sensitive {
                std::fs::write(dir.join(f), "secret").expect("write");
            }
            if let Some(r) = receipt {
                std::fs::write(dir.join("receipt"), r).expect("receipt");
            }
            if *tombstone {
                std::fs::write(dir.join("disarmed"), "").expect("tombstone");
            }
            let out = std::process::Command::new(shell)
                .arg("-c")
                .arg(script(dir.to_str().expect("utf8")))
                .output()
                .expect("shell");
            let got = parse(&String::from_utf8_lossy(&out.stdout));
            assert_eq!(&got, want, "{shell}, case {i}: {out:?}");
            for f in sensitive {
                assert_eq!(
                    dir.join(f).exists(),
                    *want != Cleanup::Removed,
                    "{shell}, case {i}: {f}"
                );
            }
            assert_eq!(dir.join("receipt").exists(), receipt.is_some());
            assert_eq!(dir.join("disarmed").exists(), *tombstone);
        }
        let absent = tmp.path().join(format!("{shell}-absent"));
        let out = std::process::Command::new(shell)
            .arg("-c")
            .arg(script(absent.to_str().expect("utf8")))
            .output()
            .expect("shell");
        assert_eq!(
            parse(&String::from_utf8_lossy(&out.stdout)),
            Cleanup::Absent
        );
        // A FIFO where the receipt should be: not read, so the script cannot hang on it.
        let fifo = tmp.path().join(format!("{shell}-fifo"));
        std::fs::create_dir(&fifo).expect("dir");
        std::fs::write(fifo.join("job.sh"), "secret").expect("write");
        std::fs::write(fifo.join("disarmed"), "").expect("tombstone");
        let made = std::process::Command::new("mkfifo")
            .arg(fifo.join("receipt"))
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let out = std::process::Command::new("timeout")
            .args(["5", shell, "-c"])
            .arg(script(fifo.to_str().expect("utf8")))
            .output()
            .expect("shell");
        assert_eq!(
            parse(&String::from_utf8_lossy(&out.stdout)),
            Cleanup::Removed,
            "{shell}: {out:?}"
        );
    }
}

/// A disarm that lands while a waiter is starting (its tombstone written before the waiter
/// looks): the waiter stops itself and the arming says so (the bash waiter here; the sh one
/// makes the same check).
#[test]
fn a_waiter_that_starts_after_a_disarm_stops_itself() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("run");
    let dir = dir.to_str().expect("utf8");
    let at = cutover::clock::now() + chrono::Duration::seconds(60);
    let (code, _, err) = sh(&install_script(
        dir,
        &script(&Job {
            dir,
            fire_ns: at.timestamp_nanos_opt().expect("ns"),
            command: "true",
        }),
        false,
    ));
    assert_eq!(code, 0, "{err}");
    std::fs::write(format!("{dir}/disarmed"), "").expect("tombstone");
    let (code, out, err) = sh(&arm_script(Concrete::Waiter, "t-late-disarm", dir, at, at));
    assert_eq!(code, 1, "{out} {err}");
    assert!(parse_armed(&out).is_none(), "{out}");
    assert!(
        err.contains("disarmed on this host while it was being armed"),
        "{err}"
    );
    let pid = std::fs::read_to_string(format!("{dir}/waiter.pid")).expect("pid written first");
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        // Gone, or a zombie waiting for whoever adopted it to reap it.
        std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).map_or(true, |st| {
            st.rsplit_once(") ")
                .is_some_and(|(_, r)| r.starts_with('Z'))
        })
    });
    assert!(gone, "the waiter {pid} stopped itself");
}
