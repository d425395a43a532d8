//! The run lock between live processes, digest refusal, and disarm's side journal.

use super::*;

#[test]
fn a_second_live_run_is_refused_with_the_holders_name_and_resume_too() {
    let s = setup(2);
    let child = s.spawn_run(25);
    s.wait_for("start", |e| e["kind"] == "started");
    let pid = child.id();
    let second = Out::from(
        s.cutover("run")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at", "now+25s"])
            .output()
            .unwrap(),
    );
    assert_eq!(second.code, 2, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains(&format!("(pid {pid}"))
            && second.stderr.contains("another run holds"),
        "{}",
        second.stderr
    );
    let resumed = s.resume();
    assert_eq!(resumed.code, 2, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stderr.contains(&format!("(pid {pid}")),
        "{}",
        resumed.stderr
    );
    sigkill(child);
    let r = s.resume();
    assert!(r.stderr.contains("broke the stale lock"), "{}", r.stderr);
    assert_converged(&s, &r);
}

#[test]
fn resume_refuses_a_changed_plan() {
    let s = setup(2);
    let child = s.spawn_run(25);
    s.wait_for("preflight done", phase_done("preflight"));
    sigkill(child);
    let text = std::fs::read_to_string(&s.plan).unwrap();
    std::fs::write(&s.plan, text.replace("sleep 0.3", "sleep 0.4")).unwrap();
    let r = s.resume();
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("changed since the run started"),
        "{}",
        r.stderr
    );
    assert_eq!(s.count(0, "staged-count"), 0, "resume changed a host");
}

#[test]
fn disarm_beside_a_live_run_keeps_sequence_numbers_unique() {
    let s = setup(2);
    let child = s.spawn_run(30);
    s.wait_for("arming done", phase_done("arm"));
    let dir = s.run_dir().unwrap();
    let d = Out::from(
        s.cutover("disarm")
            .arg(dir.file_name().unwrap())
            .output()
            .unwrap(),
    );
    assert_eq!(d.code, 0, "{}{}", d.stdout, d.stderr);
    sigkill(child);
    let seqs: Vec<u64> = s
        .journal()
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let report = Out::from(
        s.cutover("report")
            .arg(dir.file_name().unwrap())
            .output()
            .unwrap(),
    );
    assert!(
        report.stdout.contains("disarmed host-"),
        "{}",
        report.stdout
    );
    let r = s.resume();
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("never arms a disarmed run again"),
        "{}",
        r.stderr
    );
    for h in &s.fleet.hosts {
        assert!(!waiter_left(&h.dir));
    }
}

#[test]
fn run_break_lock_removes_only_a_dead_holders_lock() {
    let s = setup(1);
    // The lock lives in a state directory (this test's own), named by the resolved hosts.
    let state = s.fleet.dir().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let hosts = [format!("root@{}:22", s.fleet.hosts[0].address)];
    let lock = state.join(cutover::journal::lock::lock_name(&hosts));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let holder = |pid: u32| {
        format!(
            "{{\"user\":\"bob\",\"host\":\"{}\",\"pid\":{pid},\"started\":\"2029-12-31T22:59:00Z\",\"run\":\"r0\"}}",
            host.trim()
        )
    };
    let run = |extra: &[&str]| {
        Out::from(
            s.cutover("run")
                .env("CUTOVER_STATE_DIR", &state)
                .arg(&s.plan)
                .args([
                    "--now",
                    "2029-12-31T23:00:00Z",
                    "--yes",
                    "--stop-after-verify",
                ])
                .args(extra)
                .output()
                .unwrap(),
        )
    };
    std::fs::write(&lock, holder(std::process::id())).unwrap();
    let alive = run(&["--break-lock"]);
    assert_eq!(alive.code, 2, "{}{}", alive.stdout, alive.stderr);
    assert!(alive.stderr.contains("bob@"), "{}", alive.stderr);
    std::fs::write(&lock, holder(u32::MAX - 7)).unwrap();
    let refused = run(&[]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("--break-lock"),
        "{}",
        refused.stderr
    );
    let broke = run(&["--break-lock"]);
    assert_eq!(broke.code, 0, "{}{}", broke.stdout, broke.stderr);
    assert!(
        broke.stderr.contains("broke the stale lock of bob@"),
        "{}",
        broke.stderr
    );
}
