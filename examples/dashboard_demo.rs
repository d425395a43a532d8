//! A synthetic cutover run on the real terminal dashboard: 5 servers and 120 clients, a gate
//! before arming (type `arm`), a fire 45 s after start, a short leaderless window, the spread.
//!
//! `cargo run --example dashboard_demo` (set `NO_COLOR=1` for the monochrome theme).

use chrono::{Duration as Span, Local, Offset, TimeZone};
use cutover::arm::receipt::{Fired, Spread};
use cutover::clock::{Clock, SystemClock};
use cutover::tui::Dashboard;
use cutover::tui::msg::{Command, Member, Msg, Outcome, ProbeReading, QuorumReading};
use cutover::tui::state::HostState;
use cutover::tui::terminal::run_dashboard;
use cutover::tui::theme::Theme;
use std::thread::sleep;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

const PHASES: [&str; 7] = [
    "preflight",
    "stage",
    "verify",
    "arm",
    "fire",
    "watch",
    "post",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = SystemClock;
    let now = clock.now();
    let fire_at = now + Span::seconds(45);
    let local = Local.offset_from_utc_datetime(&now.naive_utc()).fix();
    let no_color = std::env::var("NO_COLOR").ok();
    let mut dash = Dashboard::new(
        "consul-1.20-restart",
        "staging-dc2",
        false,
        "3f9a1c2e7b40d5e6",
    )
    .with_fire_at(fire_at, local)
    .with_phases(PHASES)
    .with_probes(["kv-write", "catalog-api"])
    .with_theme(Theme::from_no_color(no_color.as_deref()));
    let hosts = names();
    for (i, h) in hosts.iter().enumerate() {
        let group = if i < 5 {
            "consul_servers"
        } else {
            "consul_clients"
        };
        dash = dash.with_host(h, &[group, "consul"]);
    }
    let (tx, rx) = unbounded_channel();
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let feeder = std::thread::spawn(move || feed(&tx, cmd_rx, hosts, fire_at));
    let end = run_dashboard(dash, rx, cmd_tx, &clock)?;
    println!("dashboard closed; outcome: {:?}", end.outcome);
    drop(feeder);
    Ok(())
}

fn names() -> Vec<String> {
    let servers = (1..=5).map(|i| format!("consul-srv-{i:02}"));
    servers
        .chain((1..=120).map(|i| format!("app-{i:03}")))
        .collect()
}

/// Plays the run; stops when the dashboard hangs up or the operator aborts.
fn feed(
    tx: &UnboundedSender<Msg>,
    mut cmds: UnboundedReceiver<Command>,
    hosts: Vec<String>,
    fire_at: chrono::DateTime<chrono::Utc>,
) {
    let send = |m: Msg| tx.send(m).is_ok();
    send(quorum(Some("consul-srv-01"), &[], 41));
    for (p, state) in [
        ("preflight", HostState::Verified),
        ("stage", HostState::Staged),
        ("verify", HostState::Verified),
    ] {
        if !phase(tx, &mut cmds, p, &hosts, state) {
            return;
        }
    }
    send(Msg::GateRequested {
        step: "arm: restart consul at the fire time".into(),
        word: "arm".into(),
    });
    loop {
        match cmds.try_recv() {
            Ok(Command::Go { .. }) => break,
            Ok(Command::Abort) => return aborted(tx, &hosts),
            Ok(_) => {}
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return,
            Err(_) => sleep(Duration::from_millis(100)),
        }
        probes(tx, true);
    }
    if !phase(tx, &mut cmds, "arm", &hosts, HostState::Armed) {
        return;
    }
    while SystemClock.now() < fire_at {
        if let Ok(Command::Abort) = cmds.try_recv() {
            return aborted(tx, &hosts);
        }
        probes(tx, true);
        sleep(Duration::from_millis(500));
    }
    send(Msg::PhaseStarted {
        phase: "fire".into(),
        hosts: hosts.len(),
        batches: 0,
        budget: 0,
    });
    hosts
        .iter()
        .for_each(|h| _ = send(host(h, HostState::Fired)));
    send(Msg::PhaseFinished {
        phase: "fire".into(),
        error: None,
    });
    send(Msg::PhaseStarted {
        phase: "watch".into(),
        hosts: hosts.len(),
        batches: 0,
        budget: 0,
    });
    for i in 0..16 {
        let leader = if i < 8 { None } else { Some("consul-srv-03") };
        let down: &[usize] = if i < 5 { &[2, 3] } else { &[] };
        send(quorum(leader, down, 42));
        probes(tx, i >= 9);
        sleep(Duration::from_millis(500));
    }
    hosts
        .iter()
        .for_each(|h| _ = send(host(h, HostState::Healthy)));
    send(Msg::SpreadMeasured {
        spread: spread(&hosts, fire_at),
        late_after_ms: 250,
    });
    send(Msg::PhaseFinished {
        phase: "watch".into(),
        error: None,
    });
    send(Msg::Finished {
        outcome: Outcome::Complete,
    });
}

/// Runs one phase in batches of 20; false when the dashboard hung up or the run was aborted.
fn phase(
    tx: &UnboundedSender<Msg>,
    cmds: &mut UnboundedReceiver<Command>,
    name: &str,
    hosts: &[String],
    ok: HostState,
) -> bool {
    let batches = hosts.len().div_ceil(20);
    let _ = tx.send(Msg::PhaseStarted {
        phase: name.into(),
        hosts: hosts.len(),
        batches,
        budget: 3,
    });
    let (mut done, mut failed) = (0, 0);
    for (b, chunk) in hosts.chunks(20).enumerate() {
        while let Ok(cmd) = cmds.try_recv() {
            match cmd {
                Command::Abort => {
                    aborted(tx, hosts);
                    return false;
                }
                Command::Pause => wait_resume(cmds),
                _ => {}
            }
        }
        let _ = tx.send(Msg::BatchStarted {
            phase: name.into(),
            batch: b + 1,
            hosts: chunk.to_vec(),
        });
        chunk
            .iter()
            .for_each(|h| _ = tx.send(host(h, HostState::Running)));
        sleep(Duration::from_millis(300));
        for h in chunk {
            let state = if name == "stage" && (h == "app-042" || h == "app-077") {
                failed += 1;
                HostState::Failed {
                    reason: "edit /etc/consul.d/consul.hcl: 0 matches, expected 1".into(),
                }
            } else {
                ok.clone()
            };
            done += 1;
            let _ = tx.send(host(h, state));
        }
        let _ = tx.send(Msg::PhaseProgress {
            phase: name.into(),
            done,
            failed,
        });
        probes(tx, true);
    }
    tx.send(Msg::PhaseFinished {
        phase: name.into(),
        error: None,
    })
    .is_ok()
}

fn wait_resume(cmds: &mut UnboundedReceiver<Command>) {
    while !matches!(cmds.blocking_recv(), Some(Command::Resume) | None) {}
}

fn aborted(tx: &UnboundedSender<Msg>, hosts: &[String]) {
    hosts
        .iter()
        .for_each(|h| _ = tx.send(host(h, HostState::Disarmed)));
    let reason = "operator abort; every armed host disarmed".to_string();
    let _ = tx.send(Msg::Finished {
        outcome: Outcome::Aborted { reason },
    });
}

fn host(name: &str, state: HostState) -> Msg {
    Msg::HostChanged {
        host: name.into(),
        state,
        output: Some(format!("$ systemctl is-active consul\nactive\n({name})")),
    }
}

fn quorum(leader: Option<&str>, down: &[usize], term: u64) -> Msg {
    let members = (1..=5)
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
    let problem = leader.is_none().then(|| "no leader".to_string());
    Msg::Quorum(QuorumReading {
        members,
        leader: leader.map(String::from),
        term,
        voters_live: 5 - down.len(),
        voters_expected: 5,
        problem,
    })
}

fn probes(tx: &UnboundedSender<Msg>, ok: bool) {
    let t = SystemClock.now().timestamp_subsec_millis() as f64;
    let reading = |name: &str, v: f64| ProbeReading {
        name: name.into(),
        ok,
        value: Some(v),
        reason: (!ok).then(|| "2/5 targets passing".into()),
    };
    let _ = tx.send(Msg::Probe(reading(
        "kv-write",
        10.0 + t % 17.0 + if ok { 0.0 } else { 400.0 },
    )));
    let _ = tx.send(Msg::Probe(reading("catalog-api", 40.0 + t % 5.0)));
}

fn spread(hosts: &[String], fire_at: chrono::DateTime<chrono::Utc>) -> Spread {
    let planned = fire_at.timestamp_nanos_opt().unwrap_or(0);
    let fired: Vec<Fired> = (hosts.iter().enumerate())
        .map(|(i, h)| {
            let late = 1_000_000 + (i as i64 % 13) * 150_000;
            Fired {
                host: h.clone(),
                woke_ns: planned + late - 300_000,
                started_ns: planned + late,
                late_ns: late,
            }
        })
        .collect();
    Spread {
        fired,
        missing: vec![],
        unreachable: vec![],
        wake_spread_ns: 1_800_000,
        start_spread_ns: 1_800_000,
        median_late_ns: 1_900_000,
        max_late_ns: 2_800_000,
    }
}
