//! The way back: `cutover rollback RUN` after a run that stopped before its action (a verify
//! that failed on one host, a run killed while armed), and after one that fired; the files
//! staging wrote are back to their original checksums, the agent enabled again, the plan's
//! `[[rollback]]` steps run, and a tampered backup refuses only its host.

use super::harness::{BODY, Lab, PREFLIGHT, cutover};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Verify fails on lab-2 (after staging changed every host); a rollback step leaves a mark.
const FAILS_ON_LAB2: &str = "[[verify]]\nname = \"lab-2 refuses\"\ncheck = \"command\"\nrun = '[ \"$CUTOVER_HOST\" != lab-2 ]'\n\n";

const ROLLBACK_STEP: &str = "\n[[rollback]]\nname = \"note the rollback\"\nstep = \"command\"\nrun = 'touch \"$LAB_ROOT/rolled-back\"'\n";

fn plan(lab: &Lab, verify: &str) -> String {
    format!(
        "{}{PREFLIGHT}{verify}{BODY}{ROLLBACK_STEP}",
        lab.plan_head(8)
    )
}

fn host(lab: &Lab, h: &str) -> PathBuf {
    lab.dir.join("hosts").join(h)
}

fn sha(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn config(lab: &Lab, h: &str) -> PathBuf {
    host(lab, h).join("etc/consul.json")
}

fn agent_enabled_and_active(lab: &Lab, h: &str) -> bool {
    let unit = host(lab, h).join("units/chef-client");
    unit.join("enabled").exists() && unit.join("active").exists()
}

const HOSTS: [&str; 3] = ["lab-1", "lab-2", "lab-3"];

fn originals(lab: &Lab) -> Vec<String> {
    HOSTS.iter().map(|h| sha(&config(lab, h))).collect()
}

fn run_dir(lab: &Lab) -> String {
    let runs = lab.tmp.path().join("runs");
    std::fs::read_dir(&runs)
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .expect("a run dir")
        .path()
        .display()
        .to_string()
}

fn rollback(dir: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["rollback", dir, "--yes"];
    args.extend_from_slice(extra);
    cutover(&args)
}

/// Staging changed every host and then verify failed: every staged host changed, agent off.
fn failed_verify(lab: &Lab) -> super::harness::Run {
    let r = lab.run(&plan(lab, FAILS_ON_LAB2), "60s");
    assert_ne!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.of_kind("armed").is_empty(),
        "nothing armed:\n{}",
        r.stdout
    );
    for h in HOSTS {
        assert!(
            !agent_enabled_and_active(lab, h),
            "{h}: staging disabled the agent:\n{}",
            r.stdout
        );
        assert!(
            std::fs::read_to_string(config(lab, h))
                .unwrap()
                .contains("\"verify_outgoing\": false")
        );
    }
    r
}

#[test]
fn a_failed_verify_offers_the_rollback_which_restores_every_staged_host() {
    let lab = Lab::up("127.0.52", &["--hosts", "3"]);
    let before = originals(&lab);
    // An earlier run's backup left behind: this run's first write replaces it.
    std::fs::write(
        host(&lab, "lab-3").join("etc/consul.json.cutover-bak"),
        "stale\n",
    )
    .unwrap();
    // lab-3's agent was off before the run: the rollback leaves it off.
    let agent3 = host(&lab, "lab-3").join("units/chef-client");
    std::fs::remove_file(agent3.join("enabled")).unwrap();
    std::fs::remove_file(agent3.join("active")).unwrap();
    let r = failed_verify(&lab);
    let dir = run_dir(&lab);
    assert!(
        r.stderr.contains(&format!("cutover rollback {dir}")),
        "the exact command is printed:\n{}",
        r.stderr
    );

    let (code, out, err) = rollback(&dir, &[]);
    println!("{}\n--- cutover rollback:\n{out}{err}", r.stderr);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("rolled back: 3 host(s) restored and verified"),
        "{out}"
    );
    assert_eq!(
        originals(&lab),
        before,
        "every file is back to its original checksum"
    );
    for h in HOSTS {
        assert!(
            !config(&lab, h).with_extension("json.cutover-bak").exists(),
            "{h}: backup consumed"
        );
        assert_eq!(
            agent_enabled_and_active(&lab, h),
            h != "lab-3",
            "{h}: the agent is back as it was before the run"
        );
        assert!(
            host(&lab, h).join("rolled-back").exists(),
            "{h}: the [[rollback]] step ran"
        );
    }

    let (code, out, err) = rollback(&dir, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("nothing to roll back: every staged host (3) was rolled back already"),
        "{out}"
    );

    let (code, report, _) = cutover(&["report", &dir]);
    assert_eq!(code, 0);
    assert!(report.contains("## Rollback"), "{report}");
    assert!(
        report.contains("restored and verified on 3 host(s)"),
        "{report}"
    );
    let (code, _, err) = cutover(&["resume", &dir, "--yes"]);
    assert_eq!(code, 2, "a rolled-back run is not resumed");
    assert!(err.contains("was rolled back"), "{err}");
}

#[test]
fn a_tampered_backup_refuses_its_host_and_the_others_are_restored() {
    let lab = Lab::up("127.0.53", &["--hosts", "3"]);
    let before = originals(&lab);
    failed_verify(&lab);
    let staged = sha(&config(&lab, "lab-2"));
    let bak = host(&lab, "lab-2").join("etc/consul.json.cutover-bak");
    let mut tampered = std::fs::read(&bak).unwrap();
    tampered.extend_from_slice(b"\n# planted\n");
    std::fs::write(&bak, tampered).unwrap();
    // lab-3's config was changed by hand after staging.
    let mut edited = std::fs::read(config(&lab, "lab-3")).unwrap();
    edited.extend_from_slice(b"\n");
    std::fs::write(config(&lab, "lab-3"), &edited).unwrap();
    let dir = run_dir(&lab);

    let (code, out, err) = rollback(&dir, &[]);
    println!("{out}{err}");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("ROLLBACK INCOMPLETE"), "{out}");
    assert!(
        out.contains("lab-2: ") && out.contains("cutover-bak is not the original"),
        "{out}"
    );
    assert!(
        out.contains("lab-3: ") && out.contains("neither what staging wrote"),
        "{out}"
    );
    let after = originals(&lab);
    assert_eq!(after[0], before[0], "lab-1 restored");
    assert_eq!(after[1], staged, "nothing changed on lab-2");
    assert_eq!(after[2], sha(&config(&lab, "lab-3")), "nor on lab-3");
    assert!(!agent_enabled_and_active(&lab, "lab-3"), "lab-3 untouched");
    assert!(agent_enabled_and_active(&lab, "lab-1"));

    // Forced: the edited file goes back to the original; a backup that is not the
    // original is never restored.
    let (code, out, err) = rollback(&dir, &["--force"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("rolling back 2 staged host(s)"),
        "lab-1 is skipped: {out}"
    );
    let after = originals(&lab);
    assert_eq!(after[2], before[2], "lab-3 restored over the hand edit");
    assert_eq!(after[1], staged, "lab-2 still refused");
    assert!(!agent_enabled_and_active(&lab, "lab-2"), "lab-2 untouched");
    assert!(agent_enabled_and_active(&lab, "lab-3"));
}

/// One run per host holds for the way back: a host another live run has leased since (its
/// staging may be under way) is refused, nothing on it changes, and the others are restored.
#[test]
fn a_host_leased_by_another_live_run_is_refused_and_the_others_are_restored() {
    let lab = Lab::up("127.0.59", &["--hosts", "3"]);
    let before = originals(&lab);
    failed_verify(&lab);
    let staged = sha(&config(&lab, "lab-3"));
    #[allow(
        clippy::disallowed_methods,
        reason = "the lease's expiry is wall-clock time on the host"
    )]
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let lease = host(&lab, "lab-3").join("var/cutover/lease");
    std::fs::write(
        &lease,
        format!("run=colleague-run\noperator=them@bastion\ndigest=sha256:x\nexpires={expires}\n"),
    )
    .unwrap();
    let (code, out, err) = rollback(&run_dir(&lab), &[]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("lab-3: ") && out.contains("leased by run colleague-run (them@bastion)"),
        "{out}"
    );
    let after = originals(&lab);
    assert_eq!(after[..2], before[..2], "lab-1 and lab-2 restored");
    assert_eq!(after[2], staged, "nothing changed on lab-3");
    assert!(
        std::fs::read_to_string(&lease)
            .unwrap()
            .contains("run=colleague-run"),
        "the colleague's lease stays"
    );
    // The rollback released its own leases on the hosts it restored.
    assert!(!host(&lab, "lab-1").join("var/cutover/lease").exists());
}

#[test]
fn rollback_on_failure_undoes_staging_in_the_same_run() {
    let lab = Lab::up("127.0.54", &["--hosts", "3"]);
    let before = originals(&lab);
    let r = lab.run_with(
        &plan(&lab, FAILS_ON_LAB2),
        "60s",
        &["--rollback-on-failure"],
    );
    assert_ne!(r.code, 0, "the run still failed:\n{}", r.stdout);
    assert!(
        r.stderr.contains("rolled back 3 staged host(s)"),
        "{}",
        r.stderr
    );
    assert_eq!(originals(&lab), before);
    assert_eq!(r.hosts_of("rolled_back"), HOSTS);
    for h in HOSTS {
        assert!(agent_enabled_and_active(&lab, h), "{h}");
    }
}

#[test]
fn refused_while_armed_then_done_after_disarm() {
    let lab = Lab::up("127.0.55", &["--hosts", "3"]);
    let before = originals(&lab);
    let path = lab.tmp.path().join("plan.toml");
    std::fs::write(&path, plan(&lab, "")).unwrap();
    let runs = lab.tmp.path().join("runs");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
        .args([
            "run",
            path.to_str().unwrap(),
            "--at",
            "now+90s",
            "--yes",
            "--plain",
        ])
        .arg("--runs-dir")
        .arg(&runs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Up to a minute, in 200 ms polls.
    let mut polls = 0;
    let armed = loop {
        let journal = std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok().filter(|e| e.path().is_dir())))
            .and_then(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
            .unwrap_or_default();
        if journal.contains("\"phase\":\"arm\",\"ok\":true") {
            break true;
        }
        polls += 1;
        if polls > 300 {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    child.kill().unwrap();
    let _ = child.wait();
    assert!(armed, "the run armed within a minute");
    let dir = run_dir(&lab);

    let (code, out, err) = rollback(&dir, &["--force"]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("disarm first with `cutover disarm"), "{err}");
    assert_ne!(originals(&lab), before, "nothing restored while armed");

    let (code, out, err) = cutover(&["disarm", &dir]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = rollback(&dir, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(originals(&lab), before);
}

#[test]
fn refused_after_the_fire_unless_forced() {
    let lab = Lab::up("127.0.56", &["--hosts", "2"]);
    let before: Vec<String> = ["lab-1", "lab-2"]
        .iter()
        .map(|h| sha(&config(&lab, h)))
        .collect();
    let r = lab.run(&plan(&lab, ""), "30s");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let dir = run_dir(&lab);

    let (code, out, err) = rollback(&dir, &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("the action fired on 2 host(s)") && err.contains("--force"),
        "{err}"
    );

    let (code, out, err) = rollback(&dir, &["--force"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let after: Vec<String> = ["lab-1", "lab-2"]
        .iter()
        .map(|h| sha(&config(&lab, h)))
        .collect();
    assert_eq!(after, before);
}
