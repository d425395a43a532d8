//! The states an operator must read at a glance, built by feeding events.

use crate::fixture::{feed, fleet, host, pass, probe, probe_history, quorum, spread, start, t};
use chrono::{DateTime, Utc};
use cutover::checks::Verdict;
use cutover::tui::Dashboard;
use cutover::tui::msg::{Level, Msg, Outcome};
use cutover::tui::state::HostState;

fn failed(reason: &str) -> HostState {
    HostState::Failed {
        reason: reason.into(),
    }
}

fn unreachable(reason: &str) -> HostState {
    HostState::Unreachable {
        reason: reason.into(),
    }
}

/// Preflight at T-35:00 with 7 failures over a budget of 2, in four distinct reasons.
pub fn preflight_failures() -> (Dashboard, DateTime<Utc>) {
    let now = t(-35 * 60);
    let mut d = fleet(40);
    start(&mut d, now, "preflight");
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    for (i, name) in names.iter().enumerate().take(38) {
        let state = match i {
            7 | 12 | 30 => failed("sudo: a password is required"),
            9 | 21 => unreachable("connect timeout after 10s"),
            25 => failed("clock offset 212ms > 50ms"),
            33 => failed("consul.service is not active"),
            _ => HostState::Verified,
        };
        let verdict = match state.reason() {
            Some(r) => Verdict::fail(r),
            None => Verdict::Pass,
        };
        let check = Msg::CheckResult {
            host: name.clone(),
            check: "sudo".into(),
            verdict,
        };
        feed(&mut d, now, [check, host(name, state)]);
    }
    for n in &names[38..] {
        feed(&mut d, now, [host(n, HostState::Running)]);
    }
    feed(
        &mut d,
        now,
        [
            Msg::BatchStarted {
                phase: "preflight".into(),
                batch: 2,
                hosts: names[20..].to_vec(),
            },
            Msg::PhaseProgress {
                phase: "preflight".into(),
                done: 38,
                failed: 7,
            },
        ],
    );
    (d, now)
}

/// Arming at T-08:30: 30 armed, 10 arming, 5 pending, a pause requested.
pub fn arming() -> (Dashboard, DateTime<Utc>) {
    let now = t(-510);
    let mut d = fleet(40);
    for p in ["preflight", "stage", "verify"] {
        pass(&mut d, now, p, HostState::Verified);
    }
    feed(&mut d, now, [quorum(Some("consul-srv-01"), &[], 41)]);
    probe_history(&mut d, now);
    start(&mut d, now, "arm");
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    for (i, n) in names.iter().enumerate() {
        let state = match i {
            0..30 => HostState::Armed,
            30..40 => HostState::Running,
            _ => HostState::Verified,
        };
        feed(&mut d, now, [host(n, state)]);
    }
    feed(
        &mut d,
        now,
        [
            Msg::BatchStarted {
                phase: "arm".into(),
                batch: 2,
                hosts: names[20..40].to_vec(),
            },
            Msg::PhaseProgress {
                phase: "arm".into(),
                done: 30,
                failed: 0,
            },
            Msg::Key(cutover::tui::Key::Char('p')),
        ],
    );
    (d, now)
}

/// Everything armed, T-04:12, quorum healthy, probes passing.
pub fn countdown() -> (Dashboard, DateTime<Utc>) {
    let now = t(-252);
    let mut d = fleet(40);
    for p in ["preflight", "stage", "verify"] {
        pass(&mut d, now, p, HostState::Verified);
    }
    pass(&mut d, now, "arm", HostState::Armed);
    feed(&mut d, now, [quorum(Some("consul-srv-01"), &[], 41)]);
    probe_history(&mut d, now);
    start(&mut d, now, "fire");
    (d, now)
}

/// T+00:08: every agent restarted, no leader for 6 s, two voters still down, a probe failing.
pub fn leaderless() -> (Dashboard, DateTime<Utc>) {
    let (mut d, _) = countdown();
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    feed(
        &mut d,
        t(0),
        names.iter().map(|n| host(n, HostState::Fired)),
    );
    feed(
        &mut d,
        t(0),
        [Msg::PhaseFinished {
            phase: "fire".into(),
            error: None,
        }],
    );
    start(&mut d, t(1), "watch");
    feed(
        &mut d,
        t(2),
        [quorum(None, &[2, 3], 41), probe("kv-write", false, 480.0)],
    );
    feed(
        &mut d,
        t(2),
        [Msg::Log {
            level: Level::Warn,
            text: "kv-write latency 480ms > 250ms".into(),
        }],
    );
    (d, t(8))
}

/// Complete at T+01:30 with the spread measured: one late host, two missing receipts.
pub fn complete() -> (Dashboard, DateTime<Utc>) {
    let (mut d, _) = leaderless();
    feed(&mut d, t(9), [quorum(Some("consul-srv-03"), &[], 42)]);
    for i in 0..10 {
        feed(
            &mut d,
            t(10 + i),
            [
                probe("kv-write", true, 14.0 + i as f64),
                probe("catalog-api", true, 41.0),
            ],
        );
    }
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    feed(
        &mut d,
        t(60),
        names.iter().map(|n| host(n, HostState::Healthy)),
    );
    let s = spread(&d, &["app-013", "app-029"]);
    feed(
        &mut d,
        t(61),
        [Msg::SpreadMeasured {
            spread: s,
            late_after_ms: 250,
        }],
    );
    feed(
        &mut d,
        t(62),
        [Msg::PhaseFinished {
            phase: "watch".into(),
            error: None,
        }],
    );
    pass(&mut d, t(80), "post", HostState::Healthy);
    feed(
        &mut d,
        t(90),
        [Msg::Finished {
            outcome: Outcome::Complete,
        }],
    );
    (d, t(90))
}

/// Aborted at T-06:00 while arming: the operator confirmed, every armed host was disarmed.
pub fn aborted() -> (Dashboard, DateTime<Utc>) {
    let (mut d, now) = arming();
    let k = |c| Msg::Key(cutover::tui::Key::Char(c));
    feed(&mut d, now, [k('a'), k('y')]);
    let armed: Vec<String> = (d.hosts.iter())
        .filter(|h| h.state == HostState::Armed)
        .map(|h| h.name.clone())
        .collect();
    feed(
        &mut d,
        t(-360),
        armed.iter().map(|n| host(n, HostState::Disarmed)),
    );
    feed(
        &mut d,
        t(-360),
        [
            Msg::PhaseFinished {
                phase: "arm".into(),
                error: Some("aborted by the operator".into()),
            },
            Msg::Finished {
                outcome: Outcome::Aborted {
                    reason: "operator abort; 30 hosts disarmed".into(),
                },
            },
        ],
    );
    (d, t(-355))
}

/// 1,000 clients (plus 5 servers) mid-staging with scattered failures.
pub fn thousand() -> (Dashboard, DateTime<Utc>) {
    let now = t(-20 * 60);
    let mut d = fleet(1000);
    pass(&mut d, now, "preflight", HostState::Verified);
    start(&mut d, now, "stage");
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    for (i, n) in names.iter().enumerate() {
        let state = match i {
            _ if i % 97 == 5 => failed("edit /etc/consul.d/consul.hcl: 0 matches, expected 1"),
            _ if i % 131 == 7 => unreachable("connect timeout after 10s"),
            0..600 => HostState::Staged,
            600..620 => HostState::Running,
            _ => HostState::Verified,
        };
        feed(&mut d, now, [host(n, state)]);
    }
    feed(
        &mut d,
        now,
        [
            Msg::BatchStarted {
                phase: "stage".into(),
                batch: 31,
                hosts: names[600..620].to_vec(),
            },
            Msg::PhaseProgress {
                phase: "stage".into(),
                done: 600,
                failed: 15,
            },
            quorum(Some("consul-srv-01"), &[], 41),
        ],
    );
    (d, now)
}

/// Staging at T-30:00: one file step read 40 hosts and shows two changes (38 hosts flip the
/// same keys next to per-host lines; two already as planned), waiting for `write`.
pub fn diffs_awaiting_write() -> (Dashboard, DateTime<Utc>) {
    let now = t(-30 * 60);
    let mut d = fleet(40);
    start(&mut d, now, "stage");
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    let diff = "--- /srv/consul/etc/consul.json\n+++ /srv/consul/etc/consul.json\n@@ -3,6 +3,6 @@\n   \"node_name\": \"consul-client-01\",\n   \"server\": false,\n-  \"verify_incoming\": true,\n-  \"verify_outgoing\": true\n+  \"verify_incoming\": false,\n+  \"verify_outgoing\": false\n }\n";
    let msgs = [
        Msg::DiffShown {
            step: "stage[1]".into(),
            file: "/srv/consul/etc/consul.json".into(),
            hosts: format!(
                "38 host(s) {}",
                cutover::executor::nodeset::compact(&names[..38])
            ),
            diff: diff.into(),
            context_varies: true,
        },
        Msg::DiffShown {
            step: "stage[1]".into(),
            file: "/srv/consul/etc/consul.json".into(),
            hosts: format!(
                "2 host(s) {}",
                cutover::executor::nodeset::compact(&names[38..])
            ),
            diff: String::new(),
            context_varies: false,
        },
        Msg::GateRequested {
            step: "stage[1] (stop verifying TLS dates): write the changes shown".into(),
            word: "write".into(),
        },
    ];
    feed(&mut d, now, msgs);
    (d, now)
}

/// Verify failed at T-20:00 with one host over budget (it left the run), nothing armed; the
/// operator rolled the staged hosts back: one could not be (its backup was changed).
pub fn rolled_back() -> (Dashboard, DateTime<Utc>) {
    let now = t(-20 * 60);
    let mut d = fleet(40);
    pass(&mut d, now, "preflight", HostState::Verified);
    pass(&mut d, now, "stage", HostState::Staged);
    start(&mut d, now, "verify");
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    let why = "left the run in verify: chef-client is running".to_string();
    feed(
        &mut d,
        now,
        [
            host(
                &names[6],
                HostState::Failed {
                    reason: why.clone(),
                },
            ),
            Msg::Log {
                level: Level::Warn,
                text: format!("{} {why}", names[6]),
            },
            Msg::PhaseFinished {
                phase: "verify".into(),
                error: Some("1 host(s) out of the run, 0 allowed".into()),
            },
            Msg::Finished {
                outcome: Outcome::Failed {
                    reason: "verify failed: nothing was armed; `cutover rollback` undoes staging"
                        .into(),
                },
            },
        ],
    );
    let later = t(-18 * 60);
    for n in names.iter().filter(|n| *n != &names[12]) {
        feed(
            &mut d,
            later,
            [Msg::Log {
                level: Level::Info,
                text: format!("{n} rolled back"),
            }],
        );
    }
    feed(
        &mut d,
        later,
        [Msg::Log {
            level: Level::Error,
            text: format!(
                "{} NOT rolled back: /etc/consul.d/consul.json.cutover-bak is not the original staging read (sha256 differs); restore it by hand",
                names[12]
            ),
        }],
    );
    (d, later)
}
