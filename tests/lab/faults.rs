//! Each injected fault, seen through a full `cutover run` against a lab.

use super::harness::{BODY, Lab, PREFLIGHT};

#[test]
fn each_preflight_fault_fails_its_check_on_its_host_and_nowhere_else() {
    let lab = Lab::up(
        "127.0.41",
        &[
            "--hosts",
            "6",
            "--fault",
            "lab-1=sudo-password",
            "--fault",
            "lab-2=clock-skew:3s",
            "--fault",
            "lab-3=unreachable",
            "--fault",
            "lab-4=no-scheduler",
            "--fault",
            "lab-5=hostile-output",
            "--fault",
            "lab-6=slow:300ms",
        ],
    );
    let plan = format!("{}{PREFLIGHT}{BODY}", lab.plan_head(10));
    let r = lab.run(&plan, "40s");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("preflight failed"), "{}", r.stdout);
    let reason = |path: &str, host: &str| {
        r.verdict(path, host)["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(reason("preflight[1]", "lab-1").contains("a password is required"));
    let skew = reason("preflight[0]", "lab-2");
    assert!(
        skew.starts_with("clock offset +") && skew.ends_with("exceeds 1000 ms"),
        "{skew}"
    );
    assert_eq!(r.verdict("preflight[0]", "lab-3")["verdict"], "error");
    assert!(reason("preflight[2]", "lab-4").contains("`waiter` unavailable"));
    for path in ["preflight[0]", "preflight[1]", "preflight[2]"] {
        for host in ["lab-5", "lab-6"] {
            assert_eq!(r.verdict(path, host)["verdict"], "pass", "{path} on {host}");
        }
    }
    assert_eq!(r.verdict("preflight[0]", "lab-1")["verdict"], "pass");
    assert_eq!(r.verdict("preflight[1]", "lab-2")["verdict"], "pass");
    assert!(
        !r.journal.contains('\u{1b}') && !r.journal.contains("\\u001b"),
        "escape in journal"
    );
    assert!(!r.stdout.contains('\u{1b}'), "escape in output");
    let (_, exec, _) = super::harness::cutover(&[
        "exec",
        "-i",
        lab.dir.join("inventory.toml").to_str().unwrap(),
        "-s",
        "host:lab-5",
        "-k",
        lab.dir.join("client_key").to_str().unwrap(),
        "--known-hosts",
        lab.dir.join("known_hosts").to_str().unwrap(),
        "echo hi",
    ]);
    assert!(
        exec.contains("HOSTILE") && exec.contains("bytes omitted"),
        "{exec}"
    );
    assert!(
        !exec.contains('\u{1b}') && !exec.contains('\u{7}'),
        "escape in exec output"
    );
    assert!(r.of_kind("armed").is_empty());
}

#[test]
fn an_agent_that_re_enables_itself_is_caught_before_anything_fires() {
    let lab = Lab::up(
        "127.0.42",
        &["--hosts", "3", "--fault", "lab-2=agent-reenables:1s"],
    );
    let plan = format!("{}{PREFLIGHT}{BODY}", lab.plan_head(3));
    let r = lab.run(&plan, "25s");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let failures = |host: &str| -> Vec<String> {
        r.of_kind("check")
            .iter()
            .filter(|e| e["host"] == host && e["verdict"]["verdict"] != "pass")
            .map(|e| format!("{}: {}", e["path"], e["verdict"]["reason"]))
            .collect()
    };
    let drift = failures("lab-2");
    assert!(
        drift.iter().any(|f| f.contains("chef-client is")),
        "{drift:?}\n{}",
        r.stdout
    );
    assert!(failures("lab-1").is_empty(), "{:?}", failures("lab-1"));
    assert!(
        r.of_kind("spread").is_empty(),
        "nothing may fire:\n{}",
        r.stdout
    );
    let events = std::fs::read_to_string(lab.dir.join("hosts/lab-1/var/log/consul.events"))
        .unwrap_or_default();
    assert!(
        events.is_empty(),
        "the service was never restarted: {events}"
    );
}

#[test]
fn three_drifted_hosts_in_three_batches_are_all_named() {
    let lab = Lab::up(
        "127.0.58",
        &[
            "--hosts",
            "30",
            "--fault",
            "lab-3=clock-skew:3s",
            "--fault",
            "lab-15=clock-skew:3s",
            "--fault",
            "lab-27=clock-skew:3s",
        ],
    );
    // Batches of 10 and no failure allowed: the first drifted host is over budget, yet the
    // check still runs every batch, so the report names all three.
    let plan = format!("{}{PREFLIGHT}{BODY}", lab.plan_head(10));
    let r = lab.run(&plan, "40s");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    for host in ["lab-3", "lab-15", "lab-27"] {
        let v = r.verdict("preflight[0]", host);
        assert_eq!(v["verdict"], "fail", "{host}: {v}");
    }
    let verdict = r
        .stdout
        .lines()
        .find(|l| l.starts_with("preflight: FAILED"))
        .unwrap_or_default();
    // Each is named, alone (`lab-3:`) or in a compact set (`lab-[3,15,27]`, `lab-[15,27]`).
    let named = |n: &str| {
        verdict.contains(&format!("lab-{n}:"))
            || verdict.split("lab-[").skip(1).any(|set| {
                let set = set.split(']').next().unwrap_or("");
                set.split(',').any(|x| x == n)
            })
    };
    assert!(
        verdict.contains("3 host(s) out of the run") && ["3", "15", "27"].iter().all(|n| named(n)),
        "not all three named: {verdict}"
    );
    assert!(r.of_kind("staged").is_empty(), "nothing was staged");
}
