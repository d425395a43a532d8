//! Arming, disarming, receipts, the spread and the watch, as the dashboard shows them.

use super::{Adapter, log};
use crate::arm::receipt::Receipt;
use crate::run::event::RunEvent;
use crate::run::phase::Phase;
use crate::tui::msg::{Level, Member, Msg, ProbeReading, QuorumReading};
use crate::tui::state::HostState;
use crate::watch::WatchEvent;
use crate::watch::probe::ProbeVerdict;
use crate::watch::tracker::history::{Milestone, Outcome};
use crate::watch::verdict::QuorumVerdict;

/// Hosts whose action started later than this after the fire time are listed as late: the
/// same one-second correctness bound the arming tests hold every host to.
pub const LATE_AFTER_MS: u64 = 1000;

impl Adapter {
    /// Armed, disarmed, receipts, spread and watch events.
    pub(super) fn fired(&mut self, e: &RunEvent) -> Vec<Msg> {
        match e {
            RunEvent::Armed {
                host,
                mechanism,
                id,
            } => {
                let out = format!("armed by {mechanism} ({id})");
                vec![self.host(host, HostState::Armed, Some(out))]
            }
            RunEvent::Disarmed { host, ok: true, .. } => {
                vec![self.host(host, HostState::Disarmed, None)]
            }
            RunEvent::Disarmed { host, detail, .. } => {
                let why = detail.as_deref().unwrap_or("not confirmed");
                let reason = format!("COULD NOT DISARM, may still fire: {why}");
                vec![self.host(host, HostState::Failed { reason }, None)]
            }
            RunEvent::Receipt { host, receipt } => {
                let state = receipt_state(receipt);
                let failed = matches!(state, HostState::Failed { .. });
                let mut msgs = vec![
                    Msg::ReceiptRead {
                        host: host.clone(),
                        receipt: receipt.clone(),
                    },
                    self.host(host, state, receipt.output.clone()),
                ];
                // Receipts count toward the fire phase, never past the hosts still in the run.
                if self.receipts.insert(host.clone()) {
                    self.fire_failed += usize::from(failed);
                    msgs.push(Msg::PhaseProgress {
                        phase: Phase::Fire.as_str().into(),
                        done: self.receipts.len().min(self.in_run()),
                        failed: self.fire_failed,
                    });
                }
                msgs
            }
            RunEvent::Spread { spread } => {
                let (missing, unknown) = (spread.missing.len(), spread.unreachable.len());
                let error = match (missing, unknown) {
                    (0, 0) => None,
                    (m, 0) => Some(format!("{m} host(s) did not fire")),
                    (m, u) => Some(format!(
                        "{m} host(s) did not fire; {u} unreachable (fired status unknown)"
                    )),
                };
                let mut msgs = vec![
                    Msg::PhaseFinished {
                        phase: Phase::Fire.as_str().into(),
                        error,
                    },
                    Msg::SpreadMeasured {
                        spread: spread.clone(),
                        late_after_ms: LATE_AFTER_MS,
                    },
                ];
                for h in &spread.unreachable {
                    let why = "unreachable after the fire: fired status unknown".to_string();
                    msgs.push(self.host(h, HostState::Unreachable { reason: why }, None));
                }
                if self.watched {
                    self.phase = Some(Phase::Watch);
                    msgs.push(Msg::PhaseStarted {
                        phase: Phase::Watch.as_str().into(),
                        hosts: spread.fired.len(),
                        batches: 0,
                        budget: 0,
                    });
                }
                msgs
            }
            RunEvent::Watch(WatchEvent::Poll {
                reading,
                verdict,
                probes,
                ..
            }) => {
                let quorum = reading.as_ref().map(|r| Msg::Quorum(quorum(r, verdict)));
                quorum.into_iter().chain(probes.iter().map(probe)).collect()
            }
            RunEvent::Watch(WatchEvent::Milestone(m)) => self.milestone(m),
            RunEvent::Watch(WatchEvent::Started { load }) => {
                vec![log(Level::Info, format!("watch: polling {load}"))]
            }
            _ => Vec::new(),
        }
    }

    fn milestone(&mut self, m: &Milestone) -> Vec<Msg> {
        let at = |t: &chrono::DateTime<chrono::Utc>| t.format("%H:%M:%S%.3f").to_string();
        match m {
            Milestone::LeaderLost { at: t } => {
                vec![log(Level::Warn, format!("watch {}: NO LEADER", at(t)))]
            }
            Milestone::LeaderBack {
                at: t,
                leader,
                leaderless_for,
            } => vec![log(
                Level::Info,
                format!(
                    "watch {}: leader {leader} (leaderless for {:.1} s)",
                    at(t),
                    leaderless_for.as_secs_f64()
                ),
            )],
            Milestone::AllGreen { at: t } => vec![log(
                Level::Info,
                format!("watch {}: all conditions hold; counting stable_for", at(t)),
            )],
            Milestone::GreenBroken { at: t, why } => vec![log(
                Level::Warn,
                format!("watch {}: no longer green: {why}", at(t)),
            )],
            Milestone::Finished { outcome } => self.watch_finished(outcome),
        }
    }

    fn watch_finished(&mut self, outcome: &Outcome) -> Vec<Msg> {
        let error = match outcome {
            Outcome::Complete { .. } => None,
            Outcome::TimedOut { why, .. } => Some(format!("timed out: {why}")),
            Outcome::Abort { reason, .. } => Some(format!("abort: {reason}")),
        };
        let mut msgs = Vec::new();
        if error.is_none() {
            let fired: Vec<String> = (self.states.iter())
                .filter(|(_, s)| **s == HostState::Fired)
                .map(|(h, _)| h.clone())
                .collect();
            let mut fired = fired;
            fired.sort();
            let healthy = fired.len();
            for h in fired {
                msgs.push(self.host(&h, HostState::Healthy, None));
            }
            msgs.push(Msg::PhaseProgress {
                phase: Phase::Watch.as_str().into(),
                done: healthy,
                failed: 0,
            });
        }
        msgs.push(Msg::PhaseFinished {
            phase: Phase::Watch.as_str().into(),
            error,
        });
        msgs
    }
}

/// What a host is after its receipt was read.
fn receipt_state(r: &Receipt) -> HostState {
    let failed = |reason: String| HostState::Failed { reason };
    match (r.started_ns, r.exit) {
        _ if r.skipped_disarmed => HostState::Disarmed,
        _ if r.skipped_late => failed("woke too late and did not fire".into()),
        (Some(_), Some(0) | None) => HostState::Fired,
        (Some(_), Some(code)) => failed(format!("the action exited {code}")),
        (None, _) => failed("no receipt: the action did not fire".into()),
    }
}

fn quorum(r: &crate::watch::reading::QuorumReading, v: &Option<QuorumVerdict>) -> QuorumReading {
    let members = (r.members.iter())
        .map(|m| Member {
            name: m.name.clone(),
            role: if m.is_leader { "leader" } else { "follower" }.into(),
            voter: m.voter,
            reachable: m.reachable,
        })
        .collect();
    let (expected, problem) = match v {
        Some(QuorumVerdict::Healthy {
            expected_voters, ..
        }) => (*expected_voters, None),
        Some(QuorumVerdict::Unsafe(u)) => (r.listed_voters(), Some(u.to_string())),
        None => (r.listed_voters(), r.error.clone()),
    };
    QuorumReading {
        members,
        leader: r.leader.clone(),
        term: r.term.unwrap_or(0),
        voters_live: r.live_voters(),
        voters_expected: expected,
        problem,
    }
}

fn probe(p: &ProbeVerdict) -> Msg {
    let reason = p.failures.first().map(|(target, why)| {
        let more = p.failures.len() - 1;
        let tail = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        format!("{}/{} passed; {target}: {why}{tail}", p.passed, p.total)
    });
    Msg::Probe(ProbeReading {
        name: p.name.clone(),
        ok: p.ok(),
        value: Some(p.passed as f64),
        reason: if p.ok() { None } else { reason },
    })
}
