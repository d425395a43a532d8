//! `update`: the only way the dashboard changes. Pure: a message and the time in, commands out.

mod keys;

use crate::tui::msg::{Command, Level, Msg, Outcome, ProbeReading, QuorumReading};
use crate::tui::plain;
use crate::tui::state::{Dashboard, Gate, Modal, Pause, PhaseStatus, PhaseView, ProbeView};
use chrono::{DateTime, Utc};

/// Applies one message at time `now` and returns what the shell must do.
pub fn update(d: &mut Dashboard, msg: Msg, now: DateTime<Utc>) -> Vec<Command> {
    if let Msg::At { at, msg } = msg {
        return update(d, *msg, at);
    }
    if let Some((level, text)) = log_worthy(d, &msg) {
        d.log.push(now, level, text);
    }
    match msg {
        Msg::Key(key) => return keys::handle(d, key, now),
        Msg::PhaseStarted {
            phase,
            hosts,
            batches,
            budget,
        } => start_phase(d, &phase, hosts, batches, budget),
        Msg::BatchStarted { phase, batch, .. } => {
            if let Some((_, p)) = d.phase_mut(&phase) {
                p.batch = batch;
            }
        }
        Msg::PhaseProgress {
            phase,
            done,
            failed,
        } => {
            if let Some((_, p)) = d.phase_mut(&phase) {
                (p.done, p.failed) = (done, failed);
            }
        }
        Msg::PhaseFinished { phase, error } => {
            if let Some((_, p)) = d.phase_mut(&phase) {
                p.status = error.map_or(PhaseStatus::Passed, PhaseStatus::Failed);
            }
        }
        other => apply_host_or_watch(d, other, now),
    }
    Vec::new()
}

/// Host, watch and run-level messages.
fn apply_host_or_watch(d: &mut Dashboard, msg: Msg, now: DateTime<Utc>) {
    match msg {
        Msg::HostChanged {
            host,
            state,
            output,
        } => {
            let i = d.add_host(&host, Vec::new());
            d.hosts[i].state = state;
            if let Some(out) = output {
                d.hosts[i].output = out;
            }
        }
        Msg::CheckResult {
            host,
            check,
            verdict,
        } => {
            let i = d.add_host(&host, Vec::new());
            d.hosts[i].set_check(check, verdict);
        }
        Msg::ReceiptRead { host, receipt } => {
            let i = d.add_host(&host, Vec::new());
            d.hosts[i].receipt = Some(receipt);
        }
        Msg::Quorum(r) => d.quorum.get_or_insert_default().apply(r, now),
        Msg::Probe(r) => probe(d, r),
        Msg::SpreadMeasured {
            spread,
            late_after_ms,
        } => {
            d.spread = Some(crate::tui::state::SpreadView {
                spread,
                late_after_ms,
            })
        }
        Msg::DiffShown {
            step,
            file,
            hosts,
            diff,
            context_varies,
        } => {
            if d.diffs.first().is_some_and(|v| v.step != step) {
                d.diffs.clear();
            }
            d.diffs.push(crate::tui::state::DiffView {
                step,
                file,
                hosts,
                diff,
                context_varies,
            });
        }
        Msg::GateRequested { step, word } => {
            d.gate = Some(Gate { step, word });
            // The run is blocked on the operator: take the keyboard so the word typed is not
            // read as commands (a gate word starting with `a` would open the abort dialog).
            if d.modal.is_none() && !d.read_only {
                d.filtering = false;
                d.modal = Some(Modal::Gate {
                    input: String::new(),
                    wrong: false,
                });
            }
        }
        Msg::Paused => d.pause = Pause::Paused,
        Msg::Finished { outcome } => finish(d, outcome),
        _ => {}
    }
}

fn start_phase(d: &mut Dashboard, name: &str, hosts: usize, batches: usize, budget: usize) {
    if d.phase_mut(name).is_none() {
        d.phases.push(PhaseView::pending(name));
    }
    if let Some((i, p)) = d.phase_mut(name) {
        *p = PhaseView {
            status: PhaseStatus::Running,
            total: hosts,
            batches,
            budget,
            ..PhaseView::pending(name)
        };
        d.current = Some(i);
    }
}

fn probe(d: &mut Dashboard, r: ProbeReading) {
    if !d.probes.iter().any(|p| p.name == r.name) {
        d.probes.push(ProbeView::new(r.name.clone()));
    }
    if let Some(p) = d.probes.iter_mut().find(|p| p.name == r.name) {
        p.apply(r);
    }
}

fn finish(d: &mut Dashboard, outcome: Outcome) {
    d.outcome = Some(outcome);
    d.pause = Pause::Off;
    d.gate = None;
    if matches!(
        d.modal,
        Some(Modal::ConfirmAbort | Modal::ConfirmQuit | Modal::Gate { .. })
    ) {
        d.modal = None;
    }
}

/// The log line a message earns, if any: routine host progress is left to the host panel.
fn log_worthy(d: &Dashboard, msg: &Msg) -> Option<(Level, String)> {
    match msg {
        Msg::HostChanged { state, .. } if !state.is_problem() => None,
        // Batches are the phase panel's business: a log of "batch N started" buries the
        // lines that matter (failures, exclusions, operator actions, the quorum).
        Msg::CheckResult { .. }
        | Msg::ReceiptRead { .. }
        | Msg::PhaseProgress { .. }
        | Msg::BatchStarted { .. } => None,
        Msg::Quorum(r) => quorum_change(d, r),
        Msg::Probe(r) => probe_change(d, r),
        _ => plain::describe(msg),
    }
}

fn quorum_change(d: &Dashboard, r: &QuorumReading) -> Option<(Level, String)> {
    let prev = d.quorum.as_ref();
    let changed = prev.is_none_or(|q| q.leader != r.leader || q.problem != r.problem);
    changed.then(|| plain::describe(&Msg::Quorum(r.clone())))?
}

fn probe_change(d: &Dashboard, r: &ProbeReading) -> Option<(Level, String)> {
    let prev = d.probes.iter().find(|p| p.name == r.name);
    let was_ok = prev.map(|p| p.state == crate::tui::state::ProbeState::Passing);
    (was_ok != Some(r.ok)).then(|| plain::describe(&Msg::Probe(r.clone())))?
}
