//! Arming and the fire: every host fires, within bounds, by the waiter and by a real atd;
//! the spread is measured and reported.

use super::*;

#[test]
fn the_action_fires_on_every_host_and_the_spread_is_measured() {
    let s = setup(6, PREFLIGHT);
    let r = fire_in(&s, 16);
    if std::env::var_os("CUTOVER_SHOW").is_some() {
        println!("{}", r.stdout);
    }
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("arm: ok — armed on 6 host(s)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("at T-minus: ok"), "{}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("fire spread:"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(
        line.contains("6 fired") && !line.contains("MISSING"),
        "{line}"
    );
    for h in &s.fleet.hosts {
        assert_eq!(
            std::fs::read_to_string(h.dir.join("fired")).unwrap(),
            "fired\n",
            "{}",
            h.name
        );
    }
    let journal = journal_text(&s);
    if let Some(keep) = std::env::var_os("CUTOVER_KEEP_JOURNAL") {
        std::fs::write(keep, &journal).unwrap();
    }
    let runs = s.fleet.dir().join("runs");
    let id = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name();
    let report = Command::cargo_bin("cutover")
        .unwrap()
        .arg("report")
        .arg(&id)
        .arg("--runs-dir")
        .arg(&runs)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(report.contains("| Verdict | **complete** |"), "{report}");
    assert!(
        report.contains("fire spread:") && report.contains("watch: **complete**"),
        "{report}"
    );
    assert_eq!(journal.matches("\"kind\":\"receipt\"").count(), 6);
    assert!(journal.contains("\"kind\":\"spread\""));
}

#[test]
fn fifty_hosts_fire_no_earlier_than_planned_and_within_a_second() {
    let s = setup(50, "");
    let r = fire_in(&s, 20);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("50 fired"), "{}", r.stdout);
    assert_receipts_in_bounds(&journal_text(&s), 50);
}

#[test]
fn the_at_mechanism_fires_through_a_real_atd() {
    let _atd = support::atd::Atd::ensure();
    let s = setup(5, "");
    let plan = std::fs::read_to_string(&s.plan)
        .unwrap()
        .replace("mechanism = \"waiter\"", "mechanism = \"at\"");
    std::fs::write(&s.plan, plan).unwrap();
    // `at` has minute resolution: --at rounds up to the next whole minute after now+10s.
    let r = run(&s, &["--yes", "--at", "now+10s"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("5 fired"), "{}", r.stdout);
    assert_receipts_in_bounds(&journal_text(&s), 5);
    let atq = std::process::Command::new("atq").output().unwrap();
    assert!(
        String::from_utf8_lossy(&atq.stdout).trim().is_empty()
            || !String::from_utf8_lossy(&atq.stdout).contains(&s.fleet.dir().display().to_string())
    );
}
