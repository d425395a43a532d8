//! The journal fold, case by case: what counts as done, and what never does.

use super::*;
use crate::executor::{Event, PhaseName};
use chrono::TimeZone;

fn at(s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, s).unwrap()
}

fn records(events: Vec<RunEvent>) -> Vec<Record<RunEvent>> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Record {
            seq: i as u64 + 1,
            ts: at(i as u32),
            event,
        })
        .collect()
}

fn started() -> RunEvent {
    RunEvent::Started {
        plan: "p".into(),
        digest: "sha256:abc".into(),
        inventory: "i".into(),
        production: false,
        hosts: 2,
        fire_at: at(30),
        dry_run: false,
        operator: "sre@box".into(),
        plan_path: "/p.toml".into(),
        commit: true,
    }
}

fn step(phase: Phase, path: &str) -> RunEvent {
    RunEvent::Step {
        phase,
        name: "n".into(),
        path: path.into(),
        hosts: 2,
    }
}

fn host(path: &str, host: &str, outcome: HostOutcome) -> RunEvent {
    RunEvent::Exec(Event::HostFinished {
        phase: PhaseName::from(path),
        host: host.into(),
        outcome,
    })
}

fn ok() -> HostOutcome {
    HostOutcome::Ok { detail: None }
}

fn done(phase: Phase, ok: bool) -> RunEvent {
    RunEvent::PhaseDone {
        phase,
        ok,
        summary: String::new(),
    }
}

fn armed(h: &str) -> RunEvent {
    RunEvent::Armed {
        host: h.into(),
        mechanism: Concrete::Waiter,
        id: "42".into(),
    }
}

fn disarmed(h: &str, ok: bool) -> RunEvent {
    RunEvent::Disarmed {
        host: h.into(),
        ok,
        detail: None,
    }
}

fn receipt(h: &str, started_ns: Option<i64>) -> RunEvent {
    RunEvent::Receipt {
        host: h.into(),
        receipt: Receipt {
            started_ns,
            ..Receipt::default()
        },
    }
}

fn hosts(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_empty_journal_has_done_nothing() {
    let p = fold(&[]);
    assert_eq!(p, RunState::default());
    assert!(!p.fire_passed(at(59)));
    assert_eq!(p.remaining("stage[0]", &hosts(&["a"])), hosts(&["a"]));
}

#[test]
fn started_gives_the_digest_and_the_fire_time() {
    let p = fold(&records(vec![started()]));
    assert_eq!(p.digest.as_deref(), Some("sha256:abc"));
    assert!(!p.fire_passed(at(29)));
    assert!(p.fire_passed(at(30)));
    assert_eq!(p.last, Some((1, at(0))));
}

#[test]
fn only_phases_that_ended_ok_are_done() {
    let p = fold(&records(vec![
        started(),
        done(Phase::Preflight, true),
        done(Phase::Stage, false),
    ]));
    assert!(p.phase_done(Phase::Preflight));
    assert!(!p.phase_done(Phase::Stage));
    assert!(!p.phase_done(Phase::Verify));
}

#[test]
fn host_steps_count_in_the_write_pass_only() {
    let p = fold(&records(vec![
        step(Phase::StageDiff, "stage[0]"),
        host("stage[0]", "a", ok()),
        host("stage[0]", "b", ok()),
        step(Phase::Stage, "stage[0]"),
        host("stage[0]", "a", ok()),
        host(
            "stage[0]",
            "b",
            HostOutcome::Failed {
                reason: "x".into(),
                exit: Some(1),
            },
        ),
    ]));
    assert_eq!(p.remaining("stage[0]", &hosts(&["a", "b"])), hosts(&["b"]));
    assert_eq!(p.remaining("stage[1]", &hosts(&["a"])), hosts(&["a"]));
}

#[test]
fn check_phases_are_not_host_steps() {
    let p = fold(&records(vec![
        step(Phase::Preflight, "preflight[0]"),
        host("preflight[0]", "a", ok()),
        step(Phase::Post, "post[0]"),
        host("post[0]", "a", ok()),
        host("post[0]", "b", HostOutcome::Cancelled { started: true }),
    ]));
    assert!(!p.host_steps.contains_key("preflight[0]"));
    assert_eq!(p.remaining("post[0]", &hosts(&["a", "b"])), hosts(&["b"]));
}

#[test]
fn staged_files_are_kept_for_reverification() {
    let p = fold(&records(vec![RunEvent::Staged {
        path: "stage[0]".into(),
        host: "a".into(),
        file: "/etc/x".into(),
        sha256: "ff".into(),
        original: None,
    }]));
    assert_eq!(p.staged, vec![("a".into(), "/etc/x".into(), "ff".into())]);
}

#[test]
fn armed_until_verified_disarmed() {
    let p = fold(&records(vec![
        armed("a"),
        armed("b"),
        disarmed("a", true),
        disarmed("b", false),
    ]));
    assert_eq!(p.armed.keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(p.armed["b"].id, "42");
    assert!(p.disarmed.contains("a"));
    assert!(!p.disarmed.contains("b"));
}

#[test]
fn armed_again_after_a_disarm_is_armed() {
    let p = fold(&records(vec![armed("a"), disarmed("a", true), armed("a")]));
    assert!(p.armed.contains_key("a"));
    assert!(p.disarmed.is_empty());
}

#[test]
fn a_receipt_that_started_means_fired() {
    let p = fold(&records(vec![
        receipt("a", Some(1)),
        receipt("b", None),
        RunEvent::Spread {
            spread: crate::arm::receipt::Spread {
                fired: vec![],
                missing: vec![],
                unreachable: vec![],
                wake_spread_ns: 0,
                start_spread_ns: 0,
                median_late_ns: 0,
                max_late_ns: 0,
            },
        },
    ]));
    assert_eq!(p.fired().into_iter().collect::<Vec<_>>(), ["a"]);
    assert!(p.spread_measured);
}

#[test]
fn finished_then_resumed_is_not_finished() {
    let fin = RunEvent::Finished {
        outcome: Ending::Failed,
        reason: Some("x".into()),
    };
    let resumed = RunEvent::Resumed {
        operator: "sre@box".into(),
        after_seq: 2,
        crashed: false,
        torn_tail: false,
        broke_lock: None,
    };
    let p = fold(&records(vec![started(), fin.clone()]));
    assert_eq!(p.finished, Some(Ending::Failed));
    assert!(!p.complete());
    let p = fold(&records(vec![started(), fin, resumed]));
    assert_eq!((p.finished, p.resumes), (None, 1));
    let p = fold(&records(vec![RunEvent::Finished {
        outcome: Ending::Complete,
        reason: None,
    }]));
    assert!(p.complete());
}

#[test]
fn the_first_started_wins() {
    let mut later = started();
    if let RunEvent::Started { digest, .. } = &mut later {
        *digest = "sha256:other".into();
    }
    let p = fold(&records(vec![started(), later]));
    assert_eq!(p.digest.as_deref(), Some("sha256:abc"));
}
