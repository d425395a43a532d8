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
