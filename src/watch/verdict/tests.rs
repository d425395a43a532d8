use super::*;
use crate::watch::reading::Member;
use chrono::TimeZone;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 20, 0).unwrap() + chrono::Duration::seconds(s)
}

fn member(name: &str, reachable: bool, leader: bool) -> Member {
    Member {
        name: name.into(),
        id: name.into(),
        voter: true,
        reachable,
        is_leader: leader,
        raft_term: Some(3),
    }
}

fn reading(at: i64, members: Vec<Member>) -> QuorumReading {
    let leader = members.iter().find(|m| m.is_leader).map(|m| m.name.clone());
    QuorumReading {
        taken_at: t(at),
        source: "etcd".into(),
        members,
        leader,
        term: Some(3),
        error: None,
    }
}

const AGE: Duration = Duration::from_secs(3);

#[test]
fn healthy_with_leader_and_majority() {
    let r = reading(
        0,
        vec![
            member("a", true, true),
            member("b", true, false),
            member("c", false, false),
        ],
    );
    let v = judge(Some(&r), "etcd", 3, t(1), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Healthy {
            leader: "a".into(),
            live_voters: 2,
            expected_voters: 3
        }
    );
}

#[test]
fn missing_reading_is_never_healthy() {
    let v = judge(None, "http://e1:2379", 3, t(0), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Unsafe(Unsafe::ProbeMissing {
            host: "http://e1:2379".into()
        })
    );
}

#[test]
fn old_reading_is_stale() {
    let r = reading(0, vec![member("a", true, true)]);
    let v = judge(Some(&r), "etcd", 1, t(4), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Unsafe(Unsafe::StaleReading {
            age: Duration::from_secs(4)
        })
    );
}

#[test]
fn short_of_voters_wins_over_no_leader() {
    let ms = vec![
        member("a", true, false),
        member("b", true, false),
        member("c", false, false),
        member("d", false, false),
        member("e", false, false),
    ];
    let v = judge(Some(&reading(0, ms)), "etcd", 5, t(0), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Unsafe(Unsafe::VotersBelowQuorum { live: 2, needed: 3 })
    );
}

#[test]
fn leader_without_members_is_not_enough() {
    let mut r = reading(0, vec![]);
    r.leader = Some("10.0.0.1:8300".into());
    let v = judge(Some(&r), "consul", 5, t(0), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Unsafe(Unsafe::VotersBelowQuorum { live: 0, needed: 3 })
    );
}

#[test]
fn no_leader_with_majority() {
    let ms = vec![
        member("a", true, false),
        member("b", true, false),
        member("c", true, false),
    ];
    let v = judge(Some(&reading(0, ms)), "etcd", 3, t(0), AGE);
    assert_eq!(v, QuorumVerdict::Unsafe(Unsafe::NoLeader));
}

#[test]
fn failed_source_has_no_leader() {
    let r = QuorumReading::failed(t(0), "consul", "Unexpected response code: 500");
    assert_eq!(
        judge(Some(&r), "consul", 5, t(0), AGE),
        QuorumVerdict::Unsafe(Unsafe::NoLeader)
    );
}

#[test]
fn two_leaders_are_split() {
    let ms = vec![
        member("a", true, true),
        member("b", true, true),
        member("c", true, false),
    ];
    let v = judge(Some(&reading(0, ms)), "etcd", 3, t(0), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Unsafe(Unsafe::SplitLeadership {
            leaders: vec!["a".into(), "b".into()]
        })
    );
}

#[test]
fn listed_voters_raise_the_bar() {
    let ms = vec![
        member("a", true, true),
        member("b", true, false),
        member("c", false, false),
        member("d", false, false),
        member("e", false, false),
    ];
    let v = judge(Some(&reading(0, ms)), "etcd", 3, t(0), AGE);
    assert_eq!(
        v,
        QuorumVerdict::Unsafe(Unsafe::VotersBelowQuorum { live: 2, needed: 3 })
    );
}

#[test]
fn majorities() {
    assert_eq!([1, 2, 3, 4, 5, 7].map(needed), [1, 2, 2, 3, 3, 4]);
    assert_eq!(max_age(Duration::from_secs(1)), Duration::from_secs(3));
}
