//! Parsers on outputs recorded from a real etcd 3.4.23 cluster on loopback.

use super::*;
use crate::watch::verdict::{QuorumVerdict, Unsafe, judge};
use chrono::TimeZone;
use std::time::Duration;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/watch/etcd/", $name))
    };
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 32, 0).unwrap()
}

fn verdict(r: &QuorumReading, expected: usize) -> QuorumVerdict {
    judge(Some(r), "etcd", expected, t0(), Duration::from_secs(3))
}

#[test]
fn etcdctl_healthy_cluster() {
    let r = parse_etcdctl_status(fixture!("status_cluster.json"), "", t0(), "m1").unwrap();
    assert_eq!(r.members.len(), 3);
    assert_eq!(r.leader.as_deref(), Some("http://127.0.0.1:23791"));
    assert_eq!(r.term, Some(2));
    assert!(r.error.is_none());
    assert_eq!(verdict(&r, 3).leader(), Some("http://127.0.0.1:23791"));
}

#[test]
fn etcdctl_one_member_down() {
    let r = parse_etcdctl_status(
        fixture!("status_cluster_one_down.json"),
        fixture!("status_cluster_one_down.stderr"),
        t0(),
        "m1",
    )
    .unwrap();
    assert_eq!(r.members.len(), 3);
    assert_eq!(r.live_voters(), 2);
    let down = r.members.iter().find(|m| !m.reachable).unwrap();
    assert_eq!(down.name, "http://127.0.0.1:23793");
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("context deadline exceeded")
    );
    assert!(verdict(&r, 3).is_healthy());
}

#[test]
fn etcdctl_no_leader_after_losing_two_of_three() {
    let r = parse_etcdctl_status(
        fixture!("status_cluster_no_leader.json"),
        fixture!("status_cluster_no_leader.stderr"),
        t0(),
        "m1",
    )
    .unwrap();
    assert_eq!(r.leader, None);
    assert_eq!(r.live_voters(), 1);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("etcdserver: no leader")
    );
    assert_eq!(
        verdict(&r, 3),
        QuorumVerdict::Unsafe(Unsafe::VotersBelowQuorum { live: 1, needed: 2 })
    );
}

#[test]
fn etcdctl_nothing_answered() {
    let err = "Error: context deadline exceeded\n";
    let r = parse_etcdctl_status("", err, t0(), "m1").unwrap();
    assert_eq!(r.error.as_deref(), Some("Error: context deadline exceeded"));
    assert_eq!(verdict(&r, 3), QuorumVerdict::Unsafe(Unsafe::NoLeader));
}

#[test]
fn http_status_strings_as_numbers() {
    let s = parse_http_status(fixture!("http_status.json")).unwrap();
    assert_eq!(s.member_id, 11316225383092011485);
    assert_eq!(s.leader, Some(11316225383092011485));
    assert_eq!(s.raft_term, 2);
    let n = parse_http_status(fixture!("http_status_no_leader.json")).unwrap();
    assert_eq!(n.leader, None);
    assert_eq!(n.errors, vec!["etcdserver: no leader".to_string()]);
}

#[test]
fn member_lists_from_http_and_etcdctl_agree() {
    let http = parse_member_list(fixture!("http_members.json")).unwrap();
    let ctl = parse_member_list(fixture!("member_list.json")).unwrap();
    assert_eq!(http, ctl);
    let names: Vec<&str> = http.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["m3", "m1", "m2"]);
}

#[test]
fn assembled_http_reading_names_members() {
    let list = parse_member_list(fixture!("http_members.json")).unwrap();
    let s = parse_http_status(fixture!("http_status.json")).unwrap();
    let answers = vec![
        ("http://127.0.0.1:23791".to_string(), Ok(s)),
        (
            "http://127.0.0.1:23792".to_string(),
            Err("connection refused".to_string()),
        ),
    ];
    let r = assemble(t0(), "etcd http", Some(&list), &answers);
    assert_eq!(r.leader.as_deref(), Some("m1"));
    assert_eq!(r.live_voters(), 1);
    assert_eq!(r.members.len(), 3);
    assert_eq!(
        verdict(&r, 3),
        QuorumVerdict::Unsafe(Unsafe::VotersBelowQuorum { live: 1, needed: 2 })
    );
}

#[test]
fn garbage_is_a_parse_error() {
    assert!(parse_http_status("<html>").is_err());
    assert!(parse_etcdctl_status("{", "", t0(), "m1").is_err());
}
