//! A small consul-like fleet at fixed times, driven through `update` as the executor would.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use cutover::arm::receipt::{Fired, Spread};
use cutover::tui::msg::{Member, Msg, ProbeReading, QuorumReading};
use cutover::tui::state::HostState;
use cutover::tui::{Dashboard, update};

/// The fire time every scenario uses.
pub fn fire_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 2, 30, 0).unwrap()
}

/// `secs` seconds relative to the fire time (negative: before).
pub fn t(secs: i64) -> DateTime<Utc> {
    fire_at() + Duration::seconds(secs)
}

/// The run's phases.
pub const PHASES: [&str; 7] = [
    "preflight",
    "stage",
    "verify",
    "arm",
    "fire",
    "watch",
    "post",
];

/// 5 servers and `clients` clients, nothing run yet.
pub fn fleet(clients: usize) -> Dashboard {
    let mut d = Dashboard::new("consul-1.20-restart", "prod-dc1", true, "3f9a1c2e7b40d5e6")
        .with_fire_at(fire_at(), FixedOffset::east_opt(3600).unwrap())
        .with_phases(PHASES)
        .with_probes(["kv-write", "catalog-api"]);
    for i in 1..=5 {
        d = d.with_host(&format!("consul-srv-{i:02}"), &["consul_servers", "consul"]);
    }
    for i in 1..=clients {
        d = d.with_host(&format!("app-{i:03}"), &["consul_clients", "consul"]);
    }
    d
}

/// Feeds messages at time `now`.
pub fn feed(d: &mut Dashboard, now: DateTime<Utc>, msgs: impl IntoIterator<Item = Msg>) {
    for m in msgs {
        update(d, m, now);
    }
}

/// A host state change with no output.
pub fn host(name: &str, state: HostState) -> Msg {
    Msg::HostChanged {
        host: name.into(),
        state,
        output: None,
    }
}

/// Starts a phase over all hosts in batches of 20 (none for fire and watch) with a budget of 2.
pub fn start(d: &mut Dashboard, now: DateTime<Utc>, phase: &str) {
    let hosts = d.hosts.len();
    let batches = if matches!(phase, "fire" | "watch") {
        0
    } else {
        hosts.div_ceil(20)
    };
    feed(
        d,
        now,
        [Msg::PhaseStarted {
            phase: phase.into(),
            hosts,
            batches,
            budget: 2,
        }],
    );
}

/// Runs a phase to success, moving every host to `state`.
pub fn pass(d: &mut Dashboard, now: DateTime<Utc>, phase: &str, state: HostState) {
    start(d, now, phase);
    let names: Vec<String> = d.hosts.iter().map(|h| h.name.clone()).collect();
    let n = names.len();
    feed(d, now, names.iter().map(|h| host(h, state.clone())));
    feed(
        d,
        now,
        [
            Msg::BatchStarted {
                phase: phase.into(),
                batch: n.div_ceil(20),
                hosts: names[n.saturating_sub(20)..].to_vec(),
            },
            Msg::PhaseProgress {
                phase: phase.into(),
                done: n,
                failed: 0,
            },
            Msg::PhaseFinished {
                phase: phase.into(),
                error: None,
            },
        ],
    );
}

/// A quorum reading over the 5 servers; `down` are unreachable, `leader` leads.
pub fn quorum(leader: Option<&str>, down: &[usize], term: u64) -> Msg {
    let members: Vec<Member> = (1..=5)
        .map(|i| {
            let name = format!("consul-srv-{i:02}");
            let role = if leader == Some(name.as_str()) {
                "leader"
            } else {
                "follower"
            };
            Member {
                name,
                role: role.into(),
                voter: true,
                reachable: !down.contains(&i),
            }
        })
        .collect();
    let live = 5 - down.len();
    let problem = match (leader, live) {
        (None, _) => Some("no leader".into()),
        (_, l) if l < 3 => Some(format!("voters below quorum: {l} live, 3 needed")),
        _ => None,
    };
    Msg::Quorum(QuorumReading {
        members,
        leader: leader.map(String::from),
        term,
        voters_live: live,
        voters_expected: 5,
        problem,
    })
}

/// A probe reading.
pub fn probe(name: &str, ok: bool, value: f64) -> Msg {
    let reason = (!ok).then(|| "2/5 targets passing, 0.8 needed".to_string());
    Msg::Probe(ProbeReading {
        name: name.into(),
        ok,
        value: Some(value),
        reason,
    })
}

/// Feeds a run of probe readings with a wobble.
pub fn probe_history(d: &mut Dashboard, now: DateTime<Utc>) {
    for i in 0..30 {
        let v = 10.0 + f64::from(i % 7) * 3.0;
        feed(
            d,
            now,
            [
                probe("kv-write", true, v),
                probe("catalog-api", true, 40.0 + f64::from(i % 5)),
            ],
        );
    }
}

/// A measured spread: every host fired a few ms late, one very late, two missing.
pub fn spread(d: &Dashboard, missing: &[&str]) -> Spread {
    let planned = fire_at().timestamp_nanos_opt().unwrap();
    let fired: Vec<Fired> = (d.hosts.iter())
        .filter(|h| !missing.contains(&h.name.as_str()))
        .enumerate()
        .map(|(i, h)| {
            let late = if h.name == "app-007" {
                1_250_000_000
            } else {
                1_000_000 + (i as i64) * 90_000
            };
            Fired {
                host: h.name.clone(),
                woke_ns: planned + late - 400_000,
                started_ns: planned + late,
                late_ns: late,
            }
        })
        .collect();
    let max_late = fired.iter().map(|f| f.late_ns).max().unwrap_or(0);
    Spread {
        missing: missing.iter().map(|s| s.to_string()).collect(),
        unreachable: Vec::new(),
        wake_spread_ns: max_late - 1_000_000,
        start_spread_ns: max_late - 1_000_000,
        median_late_ns: 2_800_000,
        max_late_ns: max_late,
        fired,
    }
}
