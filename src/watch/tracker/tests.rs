//! Synthetic timelines: one observation per second, time as an argument.

use super::*;
use crate::watch::reading::Member;
use crate::watch::verdict::Unsafe;
use chrono::TimeZone;

fn fire() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 20, 0).unwrap()
}

fn t(s: i64) -> DateTime<Utc> {
    fire() + chrono::Duration::seconds(s)
}

fn cfg(
    complete_when: Vec<Condition>,
    abort_if: Vec<AbortCondition>,
    probes: &[&str],
) -> TrackerConfig {
    TrackerConfig {
        fire_at: fire(),
        poll_interval: Duration::from_secs(1),
        stable_for: Duration::from_secs(30),
        settle: Duration::ZERO,
        awaits_actions: false,
        timeout: Duration::from_secs(120),
        complete_when,
        abort_if,
        expected_voters: 5,
        quorum_source: Some("consul".into()),
        probes: probes.iter().map(|s| s.to_string()).collect(),
        probe_intervals: Default::default(),
    }
}

fn quorum_only() -> Tracker {
    Tracker::new(cfg(
        vec![Condition::Quorum],
        vec![AbortCondition::QuorumLost],
        &[],
    ))
}

/// Five servers, `live` of them answering, `leader` leading if any.
fn reading(at: i64, live: usize, leader: Option<usize>) -> QuorumReading {
    let members: Vec<Member> = (0..5)
        .map(|i| Member {
            name: format!("consul-0{}", i + 1),
            id: i.to_string(),
            voter: true,
            reachable: i < live,
            is_leader: leader == Some(i),
            raft_term: Some(3),
        })
        .collect();
    QuorumReading {
        taken_at: t(at),
        source: "consul".into(),
        leader: leader.map(|i| members[i].name.clone()),
        members,
        term: Some(3),
        error: None,
    }
}

fn obs(r: Option<QuorumReading>) -> Observation {
    Observation {
        quorum: r,
        probes: Vec::new(),
        actions: None,
    }
}

fn probe(name: &str, at: i64, ok: bool) -> ProbeVerdict {
    let failures = if ok {
        vec![]
    } else {
        vec![("web-1".to_string(), "status 503 (expected 200)".to_string())]
    };
    ProbeVerdict {
        name: name.into(),
        taken_at: t(at),
        passed: if ok { 1 } else { 0 },
        total: 1,
        min_pass: 1.0,
        failures,
    }
}

/// The reference story: fire at T, refused then no leader until T+8s, green at T+9s.
fn reference_story(tr: &mut Tracker) -> Vec<Milestone> {
    let mut all = Vec::new();
    for s in -3..=60 {
        let r = match s {
            ..=0 => reading(s, 5, Some(2)),
            1..=3 => QuorumReading::failed(t(s), "consul", "Unexpected response code: 500"),
            4..=7 => reading(s, 5, None),
            8 => reading(s, 5, Some(3)),
            _ => reading(s, 5, Some(3)),
        };
        all.extend(tr.observe(t(s), obs(Some(r))));
        if tr.outcome().is_some() {
            break;
        }
    }
    all
}

#[test]
fn reference_story_completes_after_stable_for() {
    let mut tr = quorum_only();
    reference_story(&mut tr);
    // The reading at T+0 still shows the old leader; the cluster drops at T+1.
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(38) }));
    let h = tr.history();
    assert_eq!(
        h.leaderless,
        vec![Window {
            start: t(1),
            length: Some(Duration::from_secs(7))
        }]
    );
    assert_eq!(h.first_leader_after_fire, Some(Duration::from_secs(8)));
    assert_eq!(h.first_all_green, Some(t(0)));
    assert_eq!(h.completed_at, Some(t(38)));
}

#[test]
fn reference_story_green_at_nine_completes_at_thirty_nine() {
    let mut tr = quorum_only();
    for s in 0..=8 {
        tr.observe(t(s), obs(Some(reading(s, 5, None))));
    }
    for s in 9..=39 {
        tr.observe(t(s), obs(Some(reading(s, 5, Some(3)))));
        if s < 39 {
            assert_eq!(tr.outcome(), None, "at T+{s}");
        }
    }
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(39) }));
    assert_eq!(tr.history().first_all_green, Some(t(9)));
    assert_eq!(
        tr.history().first_leader_after_fire,
        Some(Duration::from_secs(9))
    );
    assert_eq!(
        tr.history().leaderless[0].length,
        Some(Duration::from_secs(9))
    );
}

#[test]
fn milestones_follow_the_story() {
    let mut tr = quorum_only();
    let ms = reference_story(&mut tr);
    let kinds: Vec<&str> = ms
        .iter()
        .map(|m| match m {
            Milestone::LeaderLost { .. } => "lost",
            Milestone::LeaderBack { .. } => "back",
            Milestone::AllGreen { .. } => "green",
            Milestone::GreenBroken { .. } => "broken",
            Milestone::Finished { .. } => "finished",
        })
        .collect();
    assert_eq!(
        kinds,
        ["green", "lost", "broken", "back", "green", "finished"]
    );
}

#[test]
fn one_lucky_reading_is_not_enough() {
    let mut tr = quorum_only();
    for s in 0..=60 {
        let leader = (s % 20 != 19).then_some(0);
        tr.observe(t(s), obs(Some(reading(s, 5, leader))));
    }
    assert_eq!(tr.outcome(), None);
    let why = tr.why_not_done(t(60));
    assert_eq!(
        why.reasons,
        vec![Reason::NotStableYet {
            held: Duration::ZERO,
            needed: Duration::from_secs(30)
        }]
    );
    assert_eq!(tr.history().leaderless.len(), 3);
}

#[test]
fn timeout_names_voters_below_quorum() {
    let mut tr = quorum_only();
    for s in 0..=120 {
        tr.observe(t(s), obs(Some(reading(s, 2, None))));
    }
    let Some(Outcome::TimedOut { at, why }) = tr.outcome() else {
        panic!("{:?}", tr.outcome())
    };
    assert_eq!(*at, t(120));
    assert_eq!(
        why.reasons,
        vec![Reason::Quorum(Unsafe::VotersBelowQuorum {
            live: 2,
            needed: 3
        })]
    );
    assert_eq!(tr.history().first_leader_after_fire, None);
    assert_eq!(
        tr.history().leaderless,
        vec![Window {
            start: t(0),
            length: None
        }]
    );
}

#[test]
fn silent_source_goes_stale() {
    let mut tr = quorum_only();
    tr.observe(t(0), obs(Some(reading(0, 5, Some(0)))));
    for s in 1..=3 {
        tr.observe(t(s), obs(None));
    }
    assert!(
        tr.why_not_done(t(3))
            .reasons
            .iter()
            .all(|r| matches!(r, Reason::NotStableYet { .. }))
    );
    tr.observe(t(4), obs(None));
    assert_eq!(
        tr.why_not_done(t(4)).reasons,
        vec![Reason::Quorum(Unsafe::StaleReading {
            age: Duration::from_secs(4)
        })]
    );
    assert_eq!(tr.history().leaderless[0].start, t(4));
}

#[test]
fn nothing_ever_read_is_missing_not_healthy() {
    let mut tr = quorum_only();
    tr.observe(t(0), obs(None));
    assert_eq!(
        tr.why_not_done(t(0)).reasons,
        vec![Reason::Quorum(Unsafe::ProbeMissing {
            host: "consul".into()
        })]
    );
}

#[test]
fn quorum_lost_before_fire_aborts() {
    let mut tr = quorum_only();
    tr.observe(t(-10), obs(Some(reading(-10, 5, Some(0)))));
    assert_eq!(tr.outcome(), None);
    let ms = tr.observe(t(-9), obs(Some(reading(-9, 2, None))));
    let expected = Outcome::Abort {
        at: t(-9),
        reason: "quorum_lost: 2 voters answer, 3 needed for quorum".into(),
    };
    assert_eq!(
        ms,
        vec![Milestone::Finished {
            outcome: expected.clone()
        }]
    );
    assert_eq!(tr.outcome(), Some(&expected));
    assert!(
        tr.observe(t(-8), obs(Some(reading(-8, 5, Some(0)))))
            .is_empty()
    );
}

#[test]
fn abort_conditions_are_ignored_after_fire() {
    let mut tr = quorum_only();
    tr.observe(t(0), obs(Some(reading(0, 2, None))));
    assert_eq!(tr.outcome(), None);
}

#[test]
fn probe_failing_before_fire_aborts() {
    let mut tr = Tracker::new(cfg(
        vec![Condition::AllProbes],
        vec![AbortCondition::ProbeFailing("web".into())],
        &["web"],
    ));
    tr.observe(
        t(-5),
        Observation {
            quorum: None,
            probes: vec![probe("web", -5, true)],
            actions: None,
        },
    );
    assert_eq!(tr.outcome(), None);
    tr.observe(
        t(-4),
        Observation {
            quorum: None,
            probes: vec![probe("web", -4, false)],
            actions: None,
        },
    );
    let Some(Outcome::Abort { reason, .. }) = tr.outcome() else {
        panic!()
    };
    assert_eq!(
        reason,
        "probe:web failing: 0/1 passed (need 100%): web-1: status 503 (expected 200)"
    );
}

#[test]
fn before_fire_why_not_done() {
    let tr = quorum_only();
    let why = tr.why_not_done(t(-30));
    assert_eq!(
        why.reasons[0],
        Reason::BeforeFire {
            remaining: Duration::from_secs(30)
        }
    );
    assert_eq!(why.reasons[0].to_string(), "fires in 30s");
}

#[test]
fn green_before_fire_does_not_count() {
    let mut tr = quorum_only();
    for s in -60..0 {
        tr.observe(t(s), obs(Some(reading(s, 5, Some(0)))));
    }
    assert_eq!(tr.outcome(), None);
    assert_eq!(tr.history().first_all_green, None);
    for s in 0..=30 {
        tr.observe(t(s), obs(Some(reading(s, 5, Some(0)))));
    }
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(30) }));
    assert!(tr.history().leaderless.is_empty());
    assert_eq!(tr.history().first_leader_after_fire, None);
}

#[test]
fn probes_and_quorum_together() {
    let mut tr = Tracker::new(cfg(
        vec![Condition::Quorum, Condition::Probe("web".into())],
        vec![],
        &["web", "db"],
    ));
    tr.observe(t(0), obs(Some(reading(0, 5, Some(0)))));
    assert_eq!(
        tr.why_not_done(t(0)).reasons,
        vec![Reason::Probe {
            name: "web".into(),
            detail: "no result yet".into()
        }]
    );
    tr.observe(
        t(1),
        Observation {
            quorum: Some(reading(1, 5, Some(0))),
            probes: vec![probe("web", 1, false)],
            actions: None,
        },
    );
    assert_eq!(
        tr.why_not_done(t(1)).reasons[0].to_string(),
        "probe web: 0/1 passed (need 100%): web-1: status 503 (expected 200)"
    );
    for s in 2..=32 {
        tr.observe(
            t(s),
            Observation {
                quorum: Some(reading(s, 5, Some(0))),
                probes: vec![probe("web", s, true)],
                actions: None,
            },
        );
    }
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(32) }));
    assert!(tr.why_not_done(t(33)).reasons.is_empty());
}

#[test]
fn a_probe_on_its_own_interval_goes_stale_after_three_of_its_intervals() {
    let mut c = cfg(vec![Condition::AllProbes], vec![], &["web"]);
    c.probe_intervals
        .insert("web".into(), Duration::from_secs(5));
    let mut tr = Tracker::new(c);
    tr.observe(
        t(0),
        Observation {
            quorum: None,
            probes: vec![probe("web", 0, true)],
            actions: None,
        },
    );
    tr.observe(t(14), obs(None));
    let reasons = tr.why_not_done(t(14)).reasons;
    assert!(
        !reasons.iter().any(|r| matches!(r, Reason::Probe { .. })),
        "{reasons:?}"
    );
    tr.observe(t(16), obs(None));
    assert_eq!(
        tr.why_not_done(t(16)).reasons,
        vec![Reason::Probe {
            name: "web".into(),
            detail: "newest result is 16000ms old".into()
        }]
    );
}

#[test]
fn stale_probe_result_breaks_green() {
    let mut tr = Tracker::new(cfg(vec![Condition::AllProbes], vec![], &["web"]));
    tr.observe(
        t(0),
        Observation {
            quorum: None,
            probes: vec![probe("web", 0, true)],
            actions: None,
        },
    );
    tr.observe(t(5), obs(None));
    assert_eq!(
        tr.why_not_done(t(5)).reasons,
        vec![Reason::Probe {
            name: "web".into(),
            detail: "newest result is 5000ms old".into()
        }]
    );
}

#[test]
fn all_probes_without_probes_and_quorum_without_source_fail_closed() {
    let mut c = cfg(vec![Condition::Quorum, Condition::AllProbes], vec![], &[]);
    c.quorum_source = None;
    let tr = Tracker::new(c);
    let reasons = tr.why_not_done(t(1)).reasons;
    assert_eq!(reasons[0], Reason::QuorumNotConfigured);
    assert!(
        matches!(&reasons[1], Reason::Probe { detail, .. } if detail == "no probes configured")
    );
}

#[test]
fn an_older_reading_never_replaces_a_newer_one() {
    let mut tr = quorum_only();
    tr.observe(t(5), obs(Some(reading(5, 5, Some(0)))));
    tr.observe(t(6), obs(Some(reading(2, 2, None))));
    assert_eq!(tr.last_reading().map(|r| r.taken_at), Some(t(5)));
}

#[test]
fn completion_wins_a_tie_with_timeout() {
    let mut c = cfg(vec![Condition::Quorum], vec![], &[]);
    c.timeout = Duration::from_secs(30);
    c.stable_for = Duration::from_secs(10);
    let mut tr = Tracker::new(c);
    for s in 0..=30 {
        let leader = (s >= 20).then_some(0);
        tr.observe(t(s), obs(Some(reading(s, 5, leader))));
    }
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(30) }));
}

/// A reading with an explicit leader index and term (five live members).
fn reading_term(at: i64, leader: Option<usize>, term: u64) -> QuorumReading {
    let mut r = reading(at, 5, leader);
    r.term = Some(term);
    r
}

fn with_actions(done: usize, of: usize) -> Observation {
    Observation {
        quorum: None,
        probes: Vec::new(),
        actions: Some(super::ActionProgress {
            finished: done,
            expected: of,
        }),
    }
}

#[test]
fn the_count_starts_only_once_every_action_finished() {
    let mut c = cfg(vec![Condition::Quorum], vec![], &[]);
    c.awaits_actions = true;
    let mut tr = Tracker::new(c);
    // Healthy from the fire on, but the action is still running on one of four hosts.
    for s in 0..=40 {
        let mut o = obs(Some(reading(s, 5, Some(0))));
        o.actions = Some(super::ActionProgress {
            finished: 3,
            expected: 4,
        });
        tr.observe(t(s), o);
    }
    assert_eq!(
        tr.outcome(),
        None,
        "a quorum before the action finished is not the change"
    );
    assert_eq!(
        tr.why_not_done(t(40)).reasons,
        vec![Reason::ActionsRunning {
            finished: 3,
            expected: 4
        }]
    );
    tr.observe(t(41), with_actions(4, 4));
    for s in 41..=70 {
        tr.observe(t(s), obs(Some(reading(s, 5, Some(0)))));
    }
    assert_eq!(
        tr.outcome(),
        None,
        "30 s of stability counted from 41 s ends at 71 s"
    );
    tr.observe(t(71), obs(Some(reading(71, 5, Some(0)))));
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(71) }));
}

#[test]
fn a_watch_that_never_hears_of_the_actions_never_completes() {
    let mut c = cfg(vec![Condition::Quorum], vec![], &[]);
    c.awaits_actions = true;
    let mut tr = Tracker::new(c);
    for s in 0..=120 {
        tr.observe(t(s), obs(Some(reading(s, 5, Some(0)))));
    }
    let Some(Outcome::TimedOut { why, .. }) = tr.outcome() else {
        panic!("{:?}", tr.outcome())
    };
    assert!(
        why.to_string().contains("the action finished on 0 of 1"),
        "{why}"
    );
}

#[test]
fn settle_delays_the_count_past_the_fire() {
    let mut c = cfg(vec![Condition::Quorum], vec![], &[]);
    c.settle = Duration::from_secs(20);
    let mut tr = Tracker::new(c);
    for s in 0..=49 {
        tr.observe(t(s), obs(Some(reading(s, 5, Some(0)))));
    }
    assert_eq!(tr.outcome(), None);
    assert!(tr.history().first_all_green == Some(t(20)));
    tr.observe(t(50), obs(Some(reading(50, 5, Some(0)))));
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(50) }));
}

#[test]
fn term_increased_needs_an_election_after_the_fire() {
    let mut tr = Tracker::new(cfg(
        vec![Condition::Quorum, Condition::TermIncreased],
        vec![],
        &[],
    ));
    tr.observe(t(-2), obs(Some(reading_term(-2, Some(0), 7))));
    for s in 0..=40 {
        tr.observe(t(s), obs(Some(reading_term(s, Some(0), 7))));
    }
    assert_eq!(tr.outcome(), None, "the same term: nothing restarted");
    let why = tr.why_not_done(t(40)).to_string();
    assert!(why.contains("the raft term is still 7"), "{why}");
    for s in 41..=71 {
        tr.observe(t(s), obs(Some(reading_term(s, Some(0), 8))));
    }
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(71) }));
}

#[test]
fn leader_changed_latches_on_a_new_leader_or_a_leaderless_reading() {
    let new = || {
        Tracker::new(cfg(
            vec![Condition::Quorum, Condition::LeaderChanged],
            vec![],
            &[],
        ))
    };
    let mut tr = new();
    tr.observe(t(-1), obs(Some(reading_term(-1, Some(0), 3))));
    tr.observe(t(1), obs(Some(reading_term(1, Some(2), 4))));
    for s in 2..=31 {
        tr.observe(t(s), obs(Some(reading_term(s, Some(0), 4))));
    }
    assert_eq!(tr.outcome(), Some(&Outcome::Complete { at: t(31) }));

    let mut tr = new();
    tr.observe(t(-1), obs(Some(reading_term(-1, Some(0), 3))));
    tr.observe(t(1), obs(Some(reading_term(1, None, 3))));
    for s in 2..=32 {
        tr.observe(t(s), obs(Some(reading_term(s, Some(0), 3))));
    }
    assert!(matches!(tr.outcome(), Some(Outcome::Complete { .. })));

    // A source that does not answer shows no change, and without a reading before the fire
    // there is nothing to compare with: fail closed.
    let mut tr = new();
    let failed = QuorumReading::failed(t(1), "consul", "connection refused");
    tr.observe(t(1), obs(Some(failed)));
    for s in 2..=120 {
        tr.observe(t(s), obs(Some(reading_term(s, Some(1), 3))));
    }
    let Some(Outcome::TimedOut { why, .. }) = tr.outcome() else {
        panic!("{:?}", tr.outcome())
    };
    assert!(
        why.to_string()
            .contains("no quorum reading from before the fire"),
        "{why}"
    );
}
