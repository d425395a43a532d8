//! Drift caught at T-minus on a 255-host lab (the reference fleet's size): every host is
//! disarmed in one parallel round before the fire, and nothing fires.

use super::harness::{BODY, Lab, PREFLIGHT};

#[test]
fn drift_caught_ten_seconds_before_the_fire_on_255_hosts_disarms_every_host() {
    const HOSTS: usize = 255;
    let lab = Lab::up("127.0.51", &["--hosts", &HOSTS.to_string()]);
    let body = BODY
        .replace("arm_deadline = \"8s\"", "arm_deadline = \"20s\"")
        .replace("reverify_before = \"4s\"", "reverify_before = \"10s\"");
    let plan = format!("{}{PREFLIGHT}{body}", lab.plan_head(64));
    // Once every host is armed, someone edits lab-200's staged config by hand: drift only
    // the T-minus check can see (a timed fault would race staging on a loaded machine).
    let config = lab.dir.join("hosts/lab-200/etc/consul.json");
    let r = lab.run_acting(&plan, "80s", |line| {
        if line.starts_with("arm: ok") {
            let text = std::fs::read_to_string(&config).unwrap();
            std::fs::write(&config, format!("{text}\n")).unwrap();
        }
    });
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("drift detected at T-minus"),
        "{}",
        r.stdout
    );
    let disarmed: Vec<serde_json::Value> = r
        .journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"]["kind"] == "disarmed" && v["event"]["ok"] == true)
        .collect();
    let hosts: std::collections::BTreeSet<&str> = disarmed
        .iter()
        .filter_map(|v| v["event"]["host"].as_str())
        .collect();
    assert_eq!(hosts.len(), HOSTS, "every host is disarmed");
    assert!(r.of_kind("committed").is_empty(), "nothing was committed");
    assert!(r.of_kind("spread").is_empty(), "nothing fired");
    let ts = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v["ts"].as_str().unwrap()).unwrap()
    };
    // The verdict: the T-minus check's (or, on a loaded machine where the check ran into its
    // bound, the first disarm's).
    let decided = r
        .journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"]["kind"] == "phase_done" && v["event"]["phase"] == "at T-minus")
        .map(|v| ts(&v))
        .or_else(|| disarmed.iter().map(ts).min())
        .unwrap_or_else(|| panic!("no verdict:\n{}", r.stdout));
    let last = disarmed.iter().map(ts).max().unwrap();
    println!(
        "disarm of {HOSTS} hosts: {} ms from the T-minus verdict to the last confirmation",
        (last - decided).num_milliseconds()
    );
    let events = std::fs::read_to_string(lab.dir.join("hosts/lab-1/var/log/consul.events"))
        .unwrap_or_default();
    assert!(events.is_empty(), "the service was restarted: {events}");
}
