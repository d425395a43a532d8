//! Hosts that fail leave the run: a skewed clock, an unreachable host and a failed stage step,
//! each within budget, are excluded and never armed while the rest fire; the budget counts
//! distinct hosts across a phase's steps; `--exclude`; an action that exits non-zero.

use super::harness::{BODY, Lab, PREFLIGHT};

/// The lab plan with `max_failures`, a stage step that fails on `fail_on` (if any) and an
/// action that exits 5 on `action_fails_on` (if any).
fn plan(lab: &Lab, hosts: usize, max_failures: usize, steps: &str, action: &str) -> String {
    let head = lab.plan_head(hosts).replace(
        "max_failures = 0",
        &format!("max_failures = {max_failures}"),
    );
    let body = BODY.replace("run = \"lab-service restart consul\"", action);
    format!("{head}{PREFLIGHT}{steps}{body}")
}

fn failing_step(name: &str, host: &str) -> String {
    format!(
        "[[stage]]\nname = \"{name}\"\nstep = \"command\"\nrun = '[ \"$CUTOVER_HOST\" != {host} ] || {{ echo refused on {host} >&2; exit 1; }}'\n\n"
    )
}

const ACTION: &str = "run = \"lab-service restart consul\"";

#[test]
fn failing_hosts_within_budget_are_excluded_never_armed_and_the_rest_fire() {
    let lab = Lab::up(
        "127.0.48",
        &[
            "--hosts",
            "5",
            "--fault",
            "lab-2=clock-skew:3s",
            "--fault",
            "lab-4=unreachable",
        ],
    );
    let p = plan(&lab, 5, 2, &failing_step("probe the host", "lab-3"), ACTION);
    let r = lab.run(&p, "40s");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let excluded = r.of_kind("excluded");
    let phase_of = |h: &str| {
        excluded
            .iter()
            .find(|e| e["host"] == h)
            .map(|e| e["phase"].clone())
            .unwrap_or_else(|| panic!("{h} was not excluded:\n{}", r.stdout))
    };
    assert_eq!(phase_of("lab-2"), "preflight");
    assert_eq!(phase_of("lab-4"), "preflight");
    assert_eq!(phase_of("lab-3"), "stage");
    assert_eq!(excluded.len(), 3, "{excluded:?}");
    assert_eq!(r.hosts_of("armed"), ["lab-1", "lab-5"], "{}", r.stdout);
    assert_eq!(r.hosts_of("receipt"), ["lab-1", "lab-5"], "{}", r.stdout);
    assert!(
        r.stdout
            .contains("-- 2 hosts leave the run (preflight): lab-[2,4]; they are not armed"),
        "{}",
        r.stdout
    );
    // No later step touched an excluded host.
    let touched_after = |h: &str| {
        r.events().iter().any(|e| {
            e["kind"] == "exec"
                && e["host"] == h
                && e["phase"].as_str().is_some_and(|p| p.starts_with("verify"))
        })
    };
    assert!(!touched_after("lab-2") && !touched_after("lab-3") && !touched_after("lab-4"));
    let (_, report, _) = super::harness::cutover(&[
        "report",
        "--runs-dir",
        lab.tmp.path().join("runs").to_str().unwrap(),
        &run_id(&lab),
    ]);
    assert!(report.contains("## Hosts"), "{report}");
    assert!(report.contains("| lab-3 | excluded in stage"), "{report}");
    assert!(
        report.contains("| lab-[1,5] (2) | fired, exit 0 |"),
        "{report}"
    );
    // `disarm` after the fire accounts for every host without a false alarm: the unreachable
    // lab-4 left before arming started, so it never held a job and is not "may still fire".
    let (code, out, err) = super::harness::cutover(&[
        "disarm",
        "--runs-dir",
        lab.tmp.path().join("runs").to_str().unwrap(),
        &run_id(&lab),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("lab-4: never armed (left the run before arming:"),
        "{out}"
    );
    assert!(!out.contains("may still fire:"), "{out}");
}

#[test]
fn the_budget_counts_distinct_hosts_across_a_phases_steps() {
    let lab = Lab::up("127.0.49", &["--hosts", "4"]);
    let steps = format!(
        "{}{}",
        failing_step("first check", "lab-1"),
        failing_step("second check", "lab-2")
    );
    let r = lab.run(&plan(&lab, 4, 1, &steps, ACTION), "40s");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("stage failed: 2 host(s) out of the run, 1 allowed"),
        "{}",
        r.stdout
    );
    assert!(r.of_kind("armed").is_empty(), "nothing may be armed");
    assert_eq!(r.of_kind("finished")[0]["outcome"], "failed");
}

#[test]
fn excluded_hosts_are_never_touched_and_an_action_exit_fails_the_run_naming_the_host() {
    let lab = Lab::up("127.0.50", &["--hosts", "4"]);
    let action = "run = 'lab-service restart consul; [ \"$CUTOVER_HOST\" != lab-2 ] || exit 5'";
    let r = lab.run_with(
        &plan(&lab, 4, 0, "", action),
        "40s",
        &["--exclude", "lab-4"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let excluded = r.of_kind("excluded");
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert_eq!(excluded[0]["host"], "lab-4");
    assert!(excluded[0]["phase"].is_null(), "operator exclusion");
    assert!(
        !r.events()
            .iter()
            .any(|e| e["kind"] == "check" && e["host"] == "lab-4"),
        "an excluded host is never checked"
    );
    assert_eq!(r.hosts_of("armed"), ["lab-1", "lab-2", "lab-3"]);
    let finished = &r.of_kind("finished")[0];
    assert_eq!(finished["outcome"], "failed", "{finished}");
    assert!(
        finished["reason"]
            .as_str()
            .unwrap()
            .contains("the action failed on 1 host(s): lab-2 exit 5"),
        "{finished}"
    );
    assert!(
        !r.events()
            .iter()
            .any(|e| e["kind"] == "step" && e["phase"] == "post"),
        "post steps are skipped after a failed action"
    );
}

fn run_id(lab: &Lab) -> String {
    std::fs::read_dir(lab.tmp.path().join("runs"))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned()
}
