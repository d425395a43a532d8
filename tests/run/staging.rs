//! Preflight, staging, verification and the refusals before anything changes.

use super::*;

#[test]
fn preflight_stage_and_verify_change_every_host_and_journal_it() {
    let s = setup(6, PREFLIGHT);
    let r = run(&s, &["--yes", "--stop-after-verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("preflight: ok"), "{}", r.stdout);
    assert!(
        r.stdout.contains("6 host(s)") && r.stdout.contains("-  \"verify_incoming\": true,"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("verify: ok"), "{}", r.stdout);
    for h in &s.fleet.hosts {
        assert!(
            config(&h.dir).contains("\"verify_outgoing\": false"),
            "{}",
            h.name
        );
        assert!(h.dir.join("etc/consul.json.cutover-bak").exists());
        let pem = h.dir.join("etc/ca.pem");
        assert_eq!(
            std::fs::read_to_string(&pem).unwrap(),
            "-----BEGIN CERTIFICATE-----\nnew\n"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let runs = s.fleet.dir().join("runs");
    let run_dir = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .expect("run dir")
        .path();
    let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).unwrap();
    assert!(
        journal
            .lines()
            .next()
            .unwrap()
            .contains("\"kind\":\"started\"")
    );
    assert!(
        journal
            .lines()
            .last()
            .unwrap()
            .contains("\"kind\":\"finished\"")
    );
    assert_eq!(journal.matches("\"kind\":\"staged\"").count(), 12);
    let hosts: Vec<String> = (s.fleet.hosts.iter())
        .map(|h| format!("root@{}:22", h.address))
        .collect();
    let lock = cutover::journal::lock::state_dir().join(cutover::journal::lock::lock_name(&hosts));
    assert!(!lock.exists(), "lock released");
}

#[test]
fn dry_run_shows_grouped_diffs_and_changes_nothing() {
    let s = setup(50, "");
    for h in &s.fleet.hosts[..2] {
        std::fs::write(
            h.dir.join("etc/consul.json"),
            CONFIG.replace("gprd", "gstg"),
        )
        .unwrap();
    }
    let before: Vec<Vec<u8>> = s
        .fleet
        .hosts
        .iter()
        .map(|h| std::fs::read(h.dir.join("etc/consul.json")).unwrap())
        .collect();
    let r = run(&s, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The same change everywhere; only a context line (the datacenter) differs on 2 hosts.
    assert!(
        r.stdout
            .contains("50 host(s) host-[01-50]: this change (context lines differ by host"),
        "{}",
        r.stdout
    );
    let after: Vec<Vec<u8>> = s
        .fleet
        .hosts
        .iter()
        .map(|h| std::fs::read(h.dir.join("etc/consul.json")).unwrap())
        .collect();
    assert_eq!(before, after, "dry run changed a file");
    for h in &s.fleet.hosts {
        let names: Vec<String> = std::fs::read_dir(h.dir.join("etc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec!["consul.json".to_string()],
            "dry run left files behind on {}",
            h.name
        );
    }
    assert!(
        !s.fleet.dir().join("runs").exists()
            || std::fs::read_dir(s.fleet.dir().join("runs"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn a_host_that_wants_a_sudo_password_fails_preflight_fast_and_nothing_is_staged() {
    let s = setup(4, PREFLIGHT);
    s.fleet.hosts[1].shim(
        "sudo",
        "#!/bin/sh\necho '[sudo] password for root:' >&2\nread pw\nexit 1\n",
    );
    let r = run(&s, &["--yes"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("1 host(s): sudo: a password is required"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("preflight: FAILED"), "{}", r.stdout);
    for h in &s.fleet.hosts {
        assert_eq!(
            config(&h.dir),
            CONFIG,
            "preflight failed, yet {} was changed",
            h.name
        );
    }
}

#[test]
fn a_skewed_clock_fails_preflight_with_its_measured_offset() {
    let s = setup(3, PREFLIGHT);
    s.fleet.hosts[2].shim("date", "#!/bin/sh\nif [ \"$1\" = '+%s%N' ]; then n=$(/bin/date +%s%N); echo $((n + 5000000000)); else exec /bin/date \"$@\"; fi\n");
    let r = run(&s, &["--yes"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("clock offset"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.contains("1 host(s): clock offset +50")
            || line.contains("1 host(s): clock offset +49"),
        "{line}"
    );
    assert!(line.contains(&s.fleet.hosts[2].name), "{line}");
}

#[test]
fn a_changed_plan_is_refused_by_expect_digest() {
    let s = setup(2, "");
    let r = run(&s, &["--yes", "--expect-digest", "sha256:0000"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("changed since review"), "{}", r.stderr);
}

#[test]
fn a_second_run_is_refused_with_the_holders_name() {
    let s = setup(2, "");
    // The lock lives in the user's state directory, named by the resolved hosts: a holder
    // left there by alice on another machine refuses this run, whatever its directory.
    let state = s.fleet.dir().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let hosts: Vec<String> = (s.fleet.hosts.iter())
        .map(|h| format!("root@{}:22", h.address))
        .collect();
    let holder = format!(
        "{{\"user\":\"alice\",\"host\":\"elsewhere\",\"pid\":{},\"started\":\"2029-12-31T22:59:00Z\",\"run\":\"r0\"}}",
        std::process::id()
    );
    std::fs::write(
        state.join(cutover::journal::lock::lock_name(&hosts)),
        holder,
    )
    .unwrap();
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .env("CUTOVER_STATE_DIR", &state)
        .arg("run")
        .arg(&s.plan)
        .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--runs-dir"])
        .arg(s.fleet.dir().join("elsewhere-runs"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("alice@elsewhere"), "{stderr}");
}

#[test]
fn without_a_terminal_or_yes_nothing_runs() {
    let s = setup(2, "");
    let r = run(&s, &[]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert_eq!(config(&s.fleet.hosts[0].dir), CONFIG);
}

#[test]
fn changing_an_upload_source_after_review_changes_the_digest_and_is_refused() {
    let s = setup(2, "");
    let check = || {
        let out = Command::cargo_bin("cutover")
            .unwrap()
            .arg("check")
            .arg(&s.plan)
            .args(["--now", "2029-12-31T23:00:00Z"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split("digest ")
            .nth(1)
            .map(|d| d.trim().to_string())
            .unwrap_or_else(|| panic!("no digest in: {text}"))
    };
    let reviewed = check();
    std::fs::write(
        s.fleet.dir().join("files/ca.pem"),
        "-----BEGIN CERTIFICATE-----\nswapped after review\n",
    )
    .unwrap();
    let now = check();
    assert_ne!(reviewed, now, "the upload's content is part of the digest");
    let r = run(&s, &["--yes", "--expect-digest", &reviewed]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("changed since review"), "{}", r.stderr);
    assert_eq!(config(&s.fleet.hosts[0].dir), CONFIG, "nothing was staged");
}

/// Every file under each host's directory (but sshd's own log) with its sha256, to compare
/// before and after.
fn tree(s: &Setup) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.file_name().is_some_and(|n| n != "sshd.log") {
                let content = std::fs::read(&p).unwrap_or_default();
                out.push((p.clone(), cutover::remote::files::sha256_hex(&content)));
            }
        }
    }
    let mut out = Vec::new();
    for h in &s.fleet.hosts {
        walk(&h.dir, &mut out);
    }
    out.sort();
    out
}

#[test]
fn a_gate_nobody_can_answer_is_refused_before_any_host_changes() {
    let s = setup(3, PREFLIGHT);
    let plan = std::fs::read_to_string(&s.plan).unwrap().replace(
        "mechanism = \"waiter\"\n",
        "mechanism = \"waiter\"\ngate = \"arm\"\n",
    );
    std::fs::write(&s.plan, plan).unwrap();
    let before = tree(&s);
    let r = run(&s, &["--yes"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("action (")
            && r.stderr.contains("pass --gate arm")
            && r.stderr.contains("nothing was run"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(&s), before, "a host changed before the refusal");
    assert!(
        !s.fleet.dir().join("runs").exists()
            || std::fs::read_dir(s.fleet.dir().join("runs"))
                .unwrap()
                .next()
                .is_none()
    );
    // Answered ahead of time, the same gate does not stop the run from starting.
    let r = run(&s, &["--yes", "--gate", "arm", "--stop-after-verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn an_at_too_close_for_the_arming_deadline_names_the_minimum() {
    let s = setup(2, "");
    let r = run(&s, &["--yes", "--at", "now+2s"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("needs at least now+10s"), "{}", r.stderr);
}
