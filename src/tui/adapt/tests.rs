//! The adapter on a small compiled plan: every kind of run event and what the dashboard shows.

use super::*;
use crate::arm::receipt::Spread;
use crate::checks::Verdict;
use crate::executor::{AbortMode, Event, HostOutcome, PhaseEnding, PhaseSummary};
use crate::tui::msg::Outcome;
use crate::tui::update;
use chrono::TimeZone;

const INVENTORY: &str = "[inventory]\nname = \"lab\"\n\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\ngroups = [\"servers\"]\n\n[[hosts]]\nname = \"b\"\naddress = \"127.0.0.2\"\ngroups = [\"clients\"]\n";

const PLAN: &str = "[plan]\nname = \"demo\"\n\n[[preflight]]\ncheck = \"sudo\"\n\n[[stage]]\nname = \"touch\"\nstep = \"command\"\nrun = \"true\"\ngate = \"go\"\n\n[[verify]]\ncheck = \"file\"\npath = \"/etc/x\"\ncontains = \"y\"\n\n[action]\nat = 2027-01-14T03:00:00Z\nrun = \"true\"\nmechanism = \"waiter\"\n\n[watch]\ntimeout = \"1m\"\ncomplete_when = [\"all_probes\"]\n\n[[watch.probe]]\nname = \"up\"\nkind = \"command\"\ntargets = \"all\"\nrun = \"true\"\n";

fn fire() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 14, 3, 0, 0).unwrap()
}

fn compiled() -> (RunPlan, Plan, Inventory) {
    let inv = crate::inventory::parse(INVENTORY, crate::inventory::Format::Native, "inv").unwrap();
    let parsed = crate::plan::parse::parse(PLAN);
    let ctx = crate::plan::validate::Context {
        now: fire() - chrono::Duration::hours(2),
        inventory: Some(&inv),
        failed: &[],
    };
    let (plan, diags) = crate::plan::validate::validate(&parsed.raw.unwrap(), &parsed.spans, ctx);
    let plan = plan.unwrap_or_else(|| panic!("{diags:?}"));
    let run = crate::compile::compile(&plan, &inv, fire(), "sha256:abc".into()).unwrap();
    (run, plan, inv)
}

/// A fresh adapter and dashboard for the demo plan.
fn setup() -> (Adapter, Dashboard) {
    let (run, plan, inv) = compiled();
    let a = Adapter::new(&run, &plan);
    let d = a.dashboard(
        (&run, &plan, &inv),
        FixedOffset::east_opt(0).unwrap(),
        Theme::mono(),
    );
    (a, d)
}

/// Feeds events through the adapter into the dashboard.
fn feed(a: &mut Adapter, d: &mut Dashboard, events: &[RunEvent]) -> Vec<Msg> {
    let mut all = Vec::new();
    for e in events {
        for m in a.adapt(e) {
            update(d, m.clone(), fire());
            all.push(m);
        }
    }
    all
}

fn step(phase: Phase, path: &str) -> RunEvent {
    RunEvent::Step {
        phase,
        name: "n".into(),
        path: path.into(),
        hosts: 2,
    }
}

fn exec(e: Event) -> RunEvent {
    RunEvent::Exec(e)
}

fn started(path: &str) -> RunEvent {
    exec(Event::PhaseStarted {
        phase: path.into(),
        hosts: 2,
        batches: 1,
    })
}

fn host_started(host: &str) -> RunEvent {
    exec(Event::HostStarted {
        phase: "p".into(),
        host: host.into(),
    })
}

fn finished_host(host: &str, outcome: HostOutcome) -> RunEvent {
    exec(Event::HostFinished {
        phase: "p".into(),
        host: host.into(),
        outcome,
    })
}

fn ok() -> HostOutcome {
    HostOutcome::Ok { detail: None }
}

fn fail(why: &str) -> HostOutcome {
    HostOutcome::Failed {
        reason: why.into(),
        exit: Some(1),
    }
}

fn state(d: &Dashboard, host: &str) -> HostState {
    d.host(host).unwrap().state.clone()
}

#[test]
fn the_first_dashboard_has_every_host_phase_probe_and_the_fire_time() {
    let (_, d) = setup();
    let phases: Vec<&str> = d.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        phases,
        ["preflight", "stage", "verify", "arm", "fire", "watch"]
    );
    assert_eq!(d.hosts.len(), 2);
    assert_eq!(d.host("a").unwrap().groups, ["servers"]);
    assert_eq!(d.probes.len(), 1);
    assert_eq!(d.fire_at, fire());
    assert_eq!((d.plan.as_str(), d.inventory.as_str()), ("demo", "lab"));
}

#[test]
fn a_step_starts_its_dashboard_phase_with_its_budget_and_batches() {
    let (mut a, mut d) = setup();
    let msgs = feed(
        &mut a,
        &mut d,
        &[
            step(Phase::Preflight, "preflight[0]"),
            started("preflight[0]"),
        ],
    );
    assert!(msgs.contains(&Msg::PhaseStarted {
        phase: "preflight".into(),
        hosts: 2,
        batches: 1,
        budget: 0
    }));
    assert_eq!(d.current, Some(0));
}

#[test]
fn hosts_run_then_take_the_state_of_the_phase_they_passed() {
    let (mut a, mut d) = setup();
    feed(
        &mut a,
        &mut d,
        &[
            step(Phase::Stage, "stage[0]"),
            started("stage[0]"),
            host_started("a"),
        ],
    );
    assert_eq!(state(&d, "a"), HostState::Running);
    feed(&mut a, &mut d, &[finished_host("a", ok())]);
    assert_eq!(state(&d, "a"), HostState::Staged);
    assert_eq!((d.phases[1].done, d.phases[1].failed), (1, 0));
}

#[test]
fn a_host_that_failed_one_check_stays_failed_through_the_next() {
    let (mut a, mut d) = setup();
    feed(
        &mut a,
        &mut d,
        &[
            step(Phase::Preflight, "preflight[0]"),
            started("preflight[0]"),
            host_started("a"),
            finished_host("a", fail("sudo: a password is required")),
            step(Phase::Preflight, "preflight[1]"),
            started("preflight[1]"),
            host_started("a"),
            finished_host("a", ok()),
        ],
    );
    assert!(matches!(state(&d, "a"), HostState::Failed { .. }));
}

#[test]
fn unreachable_and_cancelled_hosts() {
    let (mut a, mut d) = setup();
    feed(
        &mut a,
        &mut d,
        &[
            step(Phase::Stage, "stage[0]"),
            started("stage[0]"),
            host_started("a"),
            finished_host(
                "a",
                HostOutcome::Unreachable {
                    reason: "refused".into(),
                },
            ),
            host_started("b"),
            finished_host("b", HostOutcome::Cancelled { started: true }),
        ],
    );
    assert!(matches!(state(&d, "a"), HostState::Unreachable { .. }));
    assert_eq!(state(&d, "b"), HostState::Pending, "a cancel puts it back");
    assert_eq!(d.phases[1].failed, 1);
}

#[test]
fn re_verification_leaves_armed_hosts_armed_and_marks_drift() {
    let (mut a, mut d) = setup();
    let armed = |h: &str| RunEvent::Armed {
        host: h.into(),
        mechanism: crate::arm::mechanism::Concrete::Waiter,
        id: "42".into(),
    };
    feed(
        &mut a,
        &mut d,
        &[
            armed("a"),
            armed("b"),
            step(Phase::TMinus, "verify[0]"),
            started("verify[0]"),
            host_started("a"),
            finished_host("a", ok()),
            host_started("b"),
            finished_host("b", fail("checksum changed")),
        ],
    );
    assert_eq!(state(&d, "a"), HostState::Armed);
    assert!(matches!(state(&d, "b"), HostState::Drifted { .. }));
    assert_eq!(d.phases[d.current.unwrap()].name, "fire");
}

#[test]
fn disarms_and_failed_disarms() {
    let (mut a, mut d) = setup();
    feed(
        &mut a,
        &mut d,
        &[
            RunEvent::Disarmed {
                host: "a".into(),
                ok: true,
                detail: None,
            },
            RunEvent::Disarmed {
                host: "b".into(),
                ok: false,
                detail: Some("unreachable".into()),
            },
        ],
    );
    assert_eq!(state(&d, "a"), HostState::Disarmed);
    let HostState::Failed { reason } = state(&d, "b") else {
        panic!()
    };
    assert!(reason.contains("may still fire"), "{reason}");
}

#[test]
fn the_countdown_starts_the_fire_phase_and_receipts_mark_hosts() {
    let (mut a, mut d) = setup();
    let receipt = |started: Option<i64>, exit: Option<i32>| crate::arm::receipt::Receipt {
        started_ns: started,
        exit,
        ..Default::default()
    };
    feed(
        &mut a,
        &mut d,
        &[
            RunEvent::Waiting {
                until: fire(),
                what: "the action fires".into(),
            },
            RunEvent::Receipt {
                host: "a".into(),
                receipt: receipt(Some(1), Some(0)),
            },
            RunEvent::Receipt {
                host: "b".into(),
                receipt: receipt(None, None),
            },
        ],
    );
    assert_eq!(d.phases[d.current.unwrap()].name, "fire");
    assert_eq!(state(&d, "a"), HostState::Fired);
    assert!(matches!(state(&d, "b"), HostState::Failed { .. }));
    assert!(d.host("a").unwrap().receipt.is_some());
}

#[test]
fn host_details_show_the_actions_output_not_the_arming_line() {
    let (mut a, mut d) = setup();
    feed(
        &mut a,
        &mut d,
        &[RunEvent::Receipt {
            host: "a".into(),
            receipt: crate::arm::receipt::Receipt {
                started_ns: Some(1),
                exit: Some(0),
                output: Some("consul restarted\n".into()),
                ..Default::default()
            },
        }],
    );
    assert_eq!(d.host("a").unwrap().output, "consul restarted\n");
}

#[test]
fn the_spread_ends_the_fire_and_starts_the_watch_whose_completion_makes_hosts_healthy() {
    let (mut a, mut d) = setup();
    let spread = Spread {
        fired: Vec::new(),
        missing: vec!["b".into()],
        unreachable: Vec::new(),
        wake_spread_ns: 0,
        start_spread_ns: 0,
        median_late_ns: 0,
        max_late_ns: 0,
    };
    feed(
        &mut a,
        &mut d,
        &[
            RunEvent::Receipt {
                host: "a".into(),
                receipt: crate::arm::receipt::Receipt {
                    started_ns: Some(1),
                    exit: Some(0),
                    ..Default::default()
                },
            },
            RunEvent::Spread { spread },
        ],
    );
    let fire_phase = d.phases.iter().find(|p| p.name == "fire").unwrap();
    assert!(matches!(
        fire_phase.status,
        crate::tui::state::PhaseStatus::Failed(_)
    ));
    assert!(d.spread.is_some());
    assert_eq!(d.phases[d.current.unwrap()].name, "watch");
    feed(
        &mut a,
        &mut d,
        &[RunEvent::Watch(crate::watch::WatchEvent::Milestone(
            crate::watch::tracker::history::Milestone::Finished {
                outcome: crate::watch::tracker::history::Outcome::Complete { at: fire() },
            },
        ))],
    );
    assert_eq!(state(&d, "a"), HostState::Healthy);
}

#[test]
fn gates_operator_actions_and_the_end() {
    let (mut a, mut d) = setup();
    let msgs = feed(
        &mut a,
        &mut d,
        &[
            RunEvent::Gate {
                step: "stage[0] (touch)".into(),
                word: "go".into(),
            },
            RunEvent::Operator {
                action: "pause".into(),
            },
            RunEvent::Finished {
                outcome: Ending::Aborted,
                reason: Some("aborted by the operator".into()),
            },
        ],
    );
    assert!(msgs.contains(&Msg::GateRequested {
        step: "stage[0] (touch)".into(),
        word: "go".into()
    }));
    assert_eq!(
        d.outcome,
        Some(Outcome::Aborted {
            reason: "aborted by the operator".into()
        })
    );
    assert!(
        d.log
            .tail(usize::MAX)
            .any(|l| l.text.contains("operator: pause"))
    );
}

#[test]
fn outcomes_map_to_complete_aborted_or_failed() {
    assert_eq!(
        finished(Ending::Complete, None),
        Msg::Finished {
            outcome: Outcome::Complete
        }
    );
    assert_eq!(
        finished(Ending::StagedAndVerified, None),
        Msg::Finished {
            outcome: Outcome::Complete
        }
    );
    assert_eq!(
        finished(Ending::Failed, Some("x")),
        Msg::Finished {
            outcome: Outcome::Failed { reason: "x".into() }
        }
    );
}

#[test]
fn executor_pause_budget_abort_and_failed_phase() {
    let (mut a, mut d) = setup();
    let summary = PhaseSummary::new(
        &[],
        PhaseEnding::Aborted {
            mode: AbortMode::StopInFlight,
            reason: "operator".into(),
        },
    );
    let msgs = feed(
        &mut a,
        &mut d,
        &[
            step(Phase::Stage, "stage[0]"),
            started("stage[0]"),
            exec(Event::Paused {
                phase: "p".into(),
                next_batch: 1,
            }),
            exec(Event::BudgetExceeded {
                phase: "p".into(),
                failed: 2,
                allowed: 0,
            }),
            exec(Event::Aborted {
                phase: "p".into(),
                mode: AbortMode::StopInFlight,
                reason: "operator".into(),
            }),
            exec(Event::PhaseFinished {
                phase: "p".into(),
                summary,
            }),
        ],
    );
    assert!(msgs.contains(&Msg::Paused));
    assert!(matches!(
        d.phases[1].status,
        crate::tui::state::PhaseStatus::Failed(_)
    ));
    assert!(
        d.log
            .tail(usize::MAX)
            .any(|l| l.text.contains("budget exceeded"))
    );
}

#[test]
fn checks_diffs_and_phase_ends() {
    let (mut a, mut d) = setup();
    feed(
        &mut a,
        &mut d,
        &[
            RunEvent::Check {
                path: "preflight[0]".into(),
                host: "a".into(),
                verdict: Verdict::fail("no sudo"),
            },
            RunEvent::Diff {
                path: "stage[0]".into(),
                file: "/etc/x".into(),
                hosts: vec!["a".into()],
                diff: "--- a\n+++ b\n-x\n+y\n".into(),
                context_varies: false,
            },
            RunEvent::PhaseDone {
                phase: Phase::BeforeArming,
                ok: true,
                summary: "1 check(s) passed".into(),
            },
            RunEvent::PhaseDone {
                phase: Phase::Verify,
                ok: false,
                summary: "over budget".into(),
            },
        ],
    );
    let checks = &d.host("a").unwrap().checks;
    assert_eq!(checks[0].0, "sudo without password", "named as in the plan");
    assert!(
        d.log
            .tail(usize::MAX)
            .any(|l| l.text.contains("2 line(s) change"))
    );
    assert!(matches!(
        d.phases[2].status,
        crate::tui::state::PhaseStatus::Failed(_)
    ));
    assert_eq!(d.phases[3].status, crate::tui::state::PhaseStatus::Pending);
}

#[test]
fn a_message_stamped_with_its_journal_time_is_logged_at_that_time() {
    let (_, mut d) = setup();
    let then = fire() - chrono::Duration::minutes(5);
    let msg = Msg::At {
        at: then,
        msg: Box::new(log(Level::Info, "from the journal")),
    };
    update(&mut d, msg, fire());
    let line = d.log.tail(1).next().unwrap();
    assert_eq!((line.at, line.text.as_str()), (then, "from the journal"));
}

#[test]
fn counters_never_show_more_done_than_targeted_and_exclusions_shrink_the_target() {
    let (mut a, mut d) = setup();
    let ok = || HostOutcome::Ok { detail: None };
    feed(
        &mut a,
        &mut d,
        &[
            RunEvent::Excluded {
                host: "b".into(),
                phase: Some(Phase::Preflight),
                reason: "clock".into(),
            },
            step(Phase::Arm, "action"),
            exec(Event::PhaseStarted {
                phase: "action".into(),
                hosts: 1,
                batches: 1,
            }),
            finished_host("a", ok()),
            // The T-minus re-verification's hosts are not counted again anywhere.
            step(Phase::TMinus, "verify[0]"),
            finished_host("a", ok()),
            finished_host("a", ok()),
        ],
    );
    let arm = d.phases.iter().find(|p| p.name == "arm").unwrap();
    assert_eq!((arm.done, arm.total), (1, 1));
    let fire = d.phases.iter().find(|p| p.name == "fire").unwrap();
    assert_eq!(
        (fire.done, fire.total),
        (0, 1),
        "only host a is still in the run"
    );
    let receipt = |h: &str| RunEvent::Receipt {
        host: h.into(),
        receipt: crate::arm::receipt::Receipt {
            started_ns: Some(1),
            exit: Some(0),
            done: true,
            ..Default::default()
        },
    };
    feed(&mut a, &mut d, &[receipt("a"), receipt("a")]);
    let fire = d.phases.iter().find(|p| p.name == "fire").unwrap();
    assert_eq!((fire.done, fire.total), (1, 1));
}
