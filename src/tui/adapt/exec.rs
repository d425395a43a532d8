//! Executor events (batches, hosts, pause, budget, abort) as the dashboard shows them.

use super::Adapter;
use super::log;
use crate::executor::{Event, HostOutcome, PhaseEnding};
use crate::run::phase::Phase;
use crate::tui::msg::{Level, Msg};
use crate::tui::state::HostState;

impl Adapter {
    pub(super) fn exec(&mut self, ev: &Event) -> Vec<Msg> {
        let phase = self.label();
        match ev {
            // A re-verification (before arming, at T-minus) is logged by its step line; its
            // batches must not reset the progress of the phase it guards.
            Event::PhaseStarted { .. } | Event::BatchStarted { .. } if self.recheck => Vec::new(),
            Event::PhaseStarted {
                phase: path,
                hosts,
                batches,
            } => {
                (self.done, self.failed) = (0, 0);
                let budget = self.steps.get(&path.0).map_or(0, |(b, _)| *b);
                vec![Msg::PhaseStarted {
                    phase,
                    hosts: *hosts,
                    batches: *batches,
                    budget,
                }]
            }
            Event::BatchStarted { index, hosts, .. } => vec![Msg::BatchStarted {
                phase,
                batch: index + 1,
                hosts: hosts.clone(),
            }],
            Event::HostStarted { host, .. } if !self.recheck => {
                let now = self.states.get(host).cloned();
                self.before
                    .insert(host.clone(), now.unwrap_or(HostState::Pending));
                vec![self.host(host, HostState::Running, None)]
            }
            Event::HostFinished { host, outcome, .. } => self.host_finished(host, outcome),
            Event::Paused { .. } => vec![Msg::Paused],
            Event::Resumed { .. } => vec![log(Level::Info, format!("{phase}: resumed"))],
            Event::BudgetExceeded {
                failed, allowed, ..
            } => vec![log(
                Level::Error,
                format!(
                    "{phase}: failure budget exceeded: {failed} failed, {allowed} allowed; later batches skipped"
                ),
            )],
            Event::Aborted { reason, .. } => {
                vec![log(Level::Warn, format!("{phase}: aborted: {reason}"))]
            }
            Event::PhaseFinished { summary, .. } => match &summary.ending {
                PhaseEnding::Completed => Vec::new(),
                ending => vec![Msg::PhaseFinished {
                    phase,
                    error: Some(ending_text(ending)),
                }],
            },
            Event::HostStarted { .. } | Event::BatchFinished { .. } => Vec::new(),
        }
    }

    fn host_finished(&mut self, host: &str, outcome: &HostOutcome) -> Vec<Msg> {
        let before = self.before.remove(host);
        let state = match outcome {
            HostOutcome::Ok { .. } if self.recheck => None,
            HostOutcome::Ok { .. } if self.failed_here.contains(host) => before,
            HostOutcome::Ok { .. } => Some(ok_state(self.phase)),
            HostOutcome::Failed { reason, .. } => {
                self.failed_here.insert(host.to_string());
                let reason = reason.clone();
                Some(if self.recheck {
                    HostState::Drifted { reason }
                } else {
                    HostState::Failed { reason }
                })
            }
            HostOutcome::Unreachable { reason } => {
                self.failed_here.insert(host.to_string());
                Some(HostState::Unreachable {
                    reason: reason.clone(),
                })
            }
            HostOutcome::Skipped { .. } | HostOutcome::Cancelled { .. } => before,
        };
        let mut msgs: Vec<Msg> = state
            .map(|s| self.host(host, s, None))
            .into_iter()
            .collect();
        // A re-verification's hosts were counted by the phase it guards: counting them again
        // would show more done than targeted.
        if self.recheck {
            return msgs;
        }
        self.done += 1;
        self.failed += usize::from(outcome.counts_as_failure());
        msgs.push(Msg::PhaseProgress {
            phase: self.label(),
            done: self.done,
            failed: self.failed,
        });
        msgs
    }
}

/// What a host that passed a step of this phase is.
fn ok_state(phase: Option<Phase>) -> HostState {
    match phase {
        Some(Phase::Stage) => HostState::Staged,
        Some(Phase::Arm) => HostState::Armed,
        Some(Phase::Post) => HostState::Healthy,
        _ => HostState::Verified,
    }
}

fn ending_text(ending: &PhaseEnding) -> String {
    match ending {
        PhaseEnding::Completed => "completed".into(),
        PhaseEnding::BudgetExceeded { failed, allowed } => {
            format!("{failed} failed, {allowed} allowed")
        }
        PhaseEnding::Aborted { reason, .. } => format!("aborted: {reason}"),
    }
}
