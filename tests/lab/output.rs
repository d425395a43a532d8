//! Plain output a person can read at 255 hosts: every phase's failures grouped by identical
//! reason with a compact host set, each reason said once, under 20 lines per phase.

use super::harness::{BODY, Lab, PREFLIGHT, Run};

/// Plain output cut at each `== PHASE: step` header, lines counted per phase (a phase's
/// steps, their failures, hosts leaving the run and its verdict line). The body of a diff
/// (one per distinct change, indented five spaces) is what the operator must read, and is
/// not counted.
fn lines_per_phase(stdout: &str) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for line in stdout
        .lines()
        .filter(|l| !l.starts_with("     ") && !l.is_empty())
    {
        if let Some(rest) = line.strip_prefix("== ")
            && let Some((phase, _)) = rest.split_once(':')
            && out.last().is_none_or(|(p, _)| p != phase)
        {
            out.push((phase.to_string(), 0));
        }
        if let Some((_, n)) = out.last_mut() {
            *n += 1;
        }
    }
    out
}

fn assert_short(r: &Run) {
    let phases = lines_per_phase(&r.stdout);
    assert!(!phases.is_empty(), "{}", r.stdout);
    for (phase, n) in &phases {
        assert!(*n < 20, "{phase}: {n} lines:\n{}", r.stdout);
    }
}

/// The lab's known_hosts (one line per host, in host order) with host `n`'s key replaced
/// by the last host's.
fn wrong_key(lab: &Lab, n: usize) -> String {
    let text = std::fs::read_to_string(lab.dir.join("known_hosts")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let key_of = |l: &str| l.split_once(' ').unwrap().1.to_string();
    let stranger = key_of(lines[lines.len() - 1]);
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i + 1 == n {
            out.push_str(&format!("{} {stranger}\n", l.split(' ').next().unwrap()));
        } else {
            out.push_str(&format!("{l}\n"));
        }
    }
    let path = lab.tmp.path().join("known_hosts.wrong");
    std::fs::write(&path, out).unwrap();
    path.display().to_string()
}

/// The lab plan, with time for 255 hosts on a shared 2-core machine: arming and the T-minus
/// check get tens of seconds, the watch polls every 5 s.
fn plan(lab: &Lab, known_hosts: &str, max_failures: &str, steps: &str) -> String {
    let body = BODY
        .replace("arm_deadline = \"8s\"", "arm_deadline = \"40s\"")
        .replace("reverify_before = \"4s\"", "reverify_before = \"25s\"")
        .replace("poll_interval = \"500ms\"", "poll_interval = \"5s\"")
        .replace("timeout = \"1m\"", "timeout = \"3m\"");
    let head = lab
        .plan_head(50)
        .replace(
            &format!("\"{}\"", lab.dir.join("known_hosts").display()),
            &format!("\"{known_hosts}\""),
        )
        .replace(
            "max_failures = 0",
            &format!("max_failures = {max_failures}"),
        );
    format!("{head}{PREFLIGHT}{steps}{body}")
}

#[test]
fn at_255_hosts_one_wrong_key_or_all_wrong_keys_stay_under_20_lines_per_phase() {
    let lab = Lab::up("127.0.170", &["--hosts", "255"]);
    // lab-7's recorded key is lab-255's: a HOST KEY CHANGED on one host.
    let one = wrong_key(&lab, 7);
    let r = lab.run(&plan(&lab, &one, "\"10%\"", ""), "100s");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_short(&r);
    let changed: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("   1 host(s): unreachable: HOST KEY CHANGED"))
        .collect();
    assert_eq!(changed.len(), 3, "once per preflight check:\n{}", r.stdout);
    assert!(
        changed.iter().all(|l| l.ends_with("[lab-7]")),
        "{changed:?}"
    );
    assert!(
        !r.stdout.contains("unreachable: unreachable"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("-- lab-7 leaves the run (preflight): it is not armed and does not fire"),
        "{}",
        r.stdout
    );
    assert_eq!(r.hosts_of("receipt").len(), 254);

    // Every key wrong: every host fails every check the same way (nothing is reached, so
    // the first run's leases do not matter).
    std::fs::remove_dir_all(lab.tmp.path().join("runs")).unwrap();
    let none = lab.tmp.path().join("known_hosts.empty");
    std::fs::write(&none, "").unwrap();
    let r = lab.run(&plan(&lab, none.to_str().unwrap(), "0", ""), "100s");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_short(&r);
    assert!(
        r.stdout
            .contains("255 host(s): unreachable: host key SHA256:… is not in known_hosts")
            && r.stdout.contains("[lab-[1-255]]"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.lines().count() < 40,
        "{} lines:\n{}",
        r.stdout.lines().count(),
        r.stdout
    );
}

#[test]
fn a_stage_step_failing_on_two_hosts_names_them_and_the_reason_once() {
    let lab = Lab::up("127.0.172", &["--hosts", "6"]);
    let step = "[[stage]]\nname = \"refuse on two\"\nstep = \"command\"\nrun = 'case \"$CUTOVER_HOST\" in lab-2|lab-5) echo disk full >&2; exit 3;; esac'\n\n";
    let kh = lab.dir.join("known_hosts").display().to_string();
    let r = lab.run(&plan(&lab, &kh, "2", step), "60s");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_short(&r);
    let named: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("disk full"))
        .collect();
    assert_eq!(named.len(), 1, "the reason once:\n{}", r.stdout);
    assert!(
        named[0].starts_with("   2 host(s): ") && named[0].ends_with("[lab-[2,5]]"),
        "{named:?}"
    );
    assert!(
        r.stdout.contains(
            "-- 2 hosts leave the run (stage): lab-[2,5]; they are not armed and do not fire"
        ),
        "{}",
        r.stdout
    );
}
