//! Parsers on hand-written fixtures that follow Consul's documented formats.

use super::*;
use crate::watch::verdict::{QuorumVerdict, Unsafe, judge};
use chrono::TimeZone;
use std::time::Duration;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/watch/consul/", $name))
    };
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 20, 8).unwrap()
}

fn verdict(r: &QuorumReading) -> QuorumVerdict {
    judge(Some(r), "consul", 5, t0(), Duration::from_secs(3))
}

#[test]
fn status_leader() {
    assert_eq!(
        parse_status_leader(fixture!("status_leader.json"))
            .unwrap()
            .as_deref(),
        Some("10.218.1.5:8300")
    );
    assert_eq!(
        parse_status_leader(fixture!("status_leader_none.json")).unwrap(),
        None
    );
    assert!(parse_status_leader("No cluster leader").is_err());
}

#[test]
fn raft_configuration_node_04_leads() {
    let r = parse_raft_configuration(
        fixture!("raft_configuration.json"),
        Some("10.218.1.5:8300"),
        t0(),
        "c",
    )
    .unwrap();
    assert_eq!(r.members.len(), 5);
    assert_eq!(r.leader.as_deref(), Some("consul-04-inf-gprd"));
    assert_eq!(
        verdict(&r),
        QuorumVerdict::Healthy {
            leader: "consul-04-inf-gprd".into(),
            live_voters: 5,
            expected_voters: 5
        }
    );
}

#[test]
fn raft_configuration_disagreeing_with_status_leader_has_no_leader() {
    let r = parse_raft_configuration(
        fixture!("raft_configuration.json"),
        Some("10.218.1.2:8300"),
        t0(),
        "c",
    )
    .unwrap();
    assert_eq!(r.leader, None);
    assert!(r.error.is_some());
    assert_eq!(verdict(&r), QuorumVerdict::Unsafe(Unsafe::NoLeader));
}

#[test]
fn list_peers_table_from_the_reference_story() {
    let r = parse_list_peers(fixture!("list_peers_reference.txt"), "", t0(), "consul-01").unwrap();
    assert_eq!(r.leader.as_deref(), Some("consul-03-inf-gprd"));
    assert_eq!(r.members[1].id, "10.218.1.2:8300");
    assert!(verdict(&r).is_healthy());
}

#[test]
fn list_peers_newer_table_with_ids_and_non_voter() {
    let r = parse_list_peers(fixture!("list_peers.txt"), "", t0(), "alice").unwrap();
    assert_eq!(r.leader.as_deref(), Some("bob"));
    assert_eq!(r.members[0].id, "e85d5bd4-1d0c-4a6f-9a33-6cd2e44b2d4d");
    assert_eq!(r.listed_voters(), 2);
    let v = judge(Some(&r), "consul", 3, t0(), Duration::from_secs(3));
    assert!(v.is_healthy());
}

#[test]
fn list_peers_failures_have_no_leader() {
    for (stderr, needle) in [
        (fixture!("list_peers_no_leader.stderr"), "No cluster leader"),
        (
            fixture!("list_peers_500.stderr"),
            "Unexpected response code: 500",
        ),
        (fixture!("list_peers_refused.stderr"), "connection refused"),
    ] {
        let r = parse_list_peers("", stderr, t0(), "consul-01").unwrap();
        assert!(r.error.as_deref().unwrap().contains(needle), "{stderr}");
        assert!(r.members.is_empty());
        assert_eq!(verdict(&r), QuorumVerdict::Unsafe(Unsafe::NoLeader));
    }
}
