//! The public parsing surface on the committed fixtures, as callers outside the crate see it.

use chrono::{TimeZone, Utc};
use cutover::watch::verdict::{QuorumVerdict, Unsafe, judge};
use cutover::watch::{consul, etcd};
use std::time::Duration;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/watch/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn recorded_etcd_and_documented_consul_agree_on_healthy() {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 32, 0).unwrap();
    let e = etcd::parse_etcdctl_status(&fixture("etcd/status_cluster.json"), "", at, "m1").unwrap();
    let c = consul::parse_list_peers(&fixture("consul/list_peers_reference.txt"), "", at, "c1")
        .unwrap();
    assert!(judge(Some(&e), "etcd", 3, at, Duration::from_secs(3)).is_healthy());
    assert!(judge(Some(&c), "consul", 5, at, Duration::from_secs(3)).is_healthy());
    let none =
        consul::parse_list_peers("", &fixture("consul/list_peers_no_leader.stderr"), at, "c1")
            .unwrap();
    assert_eq!(
        judge(Some(&none), "consul", 5, at, Duration::from_secs(3)),
        QuorumVerdict::Unsafe(Unsafe::NoLeader)
    );
}

#[test]
fn events_round_trip_through_json_for_the_journal() {
    use cutover::watch::WatchEvent;
    use cutover::watch::tracker::{Milestone, Outcome, Reason, WhyNotDone};
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 2, 20, 8).unwrap();
    let why = WhyNotDone {
        reasons: vec![
            Reason::Quorum(Unsafe::VotersBelowQuorum { live: 2, needed: 3 }),
            Reason::Probe {
                name: "web".into(),
                detail: "0/1 passed (need 100%)".into(),
            },
        ],
    };
    assert_eq!(
        why.to_string(),
        "quorum: 2 voters answer, 3 needed for quorum; probe web: 0/1 passed (need 100%)"
    );
    let events = vec![
        WatchEvent::Milestone(Milestone::LeaderBack {
            at,
            leader: "consul-04".into(),
            leaderless_for: Duration::from_secs(7),
        }),
        WatchEvent::Milestone(Milestone::Finished {
            outcome: Outcome::TimedOut {
                at,
                why: why.clone(),
            },
        }),
        WatchEvent::Poll {
            reading: None,
            verdict: Some(QuorumVerdict::Unsafe(Unsafe::NoLeader)),
            probes: vec![],
            why,
            took: Duration::from_millis(120),
        },
        WatchEvent::Started {
            load: cutover::watch::load::Load {
                sources: vec![cutover::watch::load::Source {
                    what: "probe health".into(),
                    via: cutover::watch::load::Via::Ssh,
                    asks: 20,
                    of: 255,
                    every: Duration::from_secs(2),
                }],
            },
        },
    ];
    for e in events {
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            serde_json::from_str::<WatchEvent>(&json).unwrap(),
            e,
            "{json}"
        );
    }
}
