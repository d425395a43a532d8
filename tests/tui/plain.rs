//! Plain and JSON line output.

use crate::fixture::{host, quorum, t};
use cutover::tui::msg::{Key, Msg, Outcome};
use cutover::tui::plain::{json, line};
use cutover::tui::state::HostState;

#[test]
fn one_human_line_per_event_with_utc_time() {
    let m = host(
        "db-03",
        HostState::Unreachable {
            reason: "connect timeout after 10s".into(),
        },
    );
    assert_eq!(
        line(&m, t(-60)).unwrap(),
        "2026-11-25T02:29:00Z WARN  db-03 unreachable: connect timeout after 10s"
    );
    let q = quorum(None, &[2], 7);
    assert_eq!(
        line(&q, t(3)).unwrap(),
        "2026-11-25T02:30:03Z WARN  quorum 4/5 UNSAFE: no leader (leader NONE)"
    );
    let done = Msg::Finished {
        outcome: Outcome::Aborted {
            reason: "operator".into(),
        },
    };
    assert_eq!(
        line(&done, t(5)).unwrap(),
        "2026-11-25T02:30:05Z ERROR run ABORTED: operator"
    );
}

#[test]
fn keys_produce_no_line() {
    assert_eq!(line(&Msg::Key(Key::Char('q')), t(0)), None);
    assert_eq!(json(&Msg::Key(Key::Char('q')), t(0)), None);
}

#[test]
fn one_json_object_per_event() {
    let m = host(
        "db-03",
        HostState::Failed {
            reason: "sudo: a password is required".into(),
        },
    );
    insta::assert_snapshot!(json(&m, t(-60)).unwrap(), @r#"{"at":"2026-11-25T02:29:00.000Z","event":"host_changed","host":"db-03","state":{"state":"failed","reason":"sudo: a password is required"},"output":null}"#);
    let v: serde_json::Value =
        serde_json::from_str(&json(&quorum(Some("consul-srv-01"), &[], 7), t(0)).unwrap()).unwrap();
    assert_eq!(v["event"], "quorum");
    assert_eq!(v["voters_live"], 5);
}
