//! The phase state machine: pure transitions deciding batches, barrier, pause, budget, abort.
//!
//! The async engine feeds it inputs (start, batch finished, control requests) and carries out
//! the effects it returns; it makes no decision of its own.

use super::budget::FailureBudget;
use super::event::{AbortMode, PhaseEnding};

/// The fixed shape of a phase the machine decides over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseShape {
    /// Number of batches.
    pub batches: usize,
    /// Number of hosts (the base of a percentage budget).
    pub hosts: usize,
    /// The failure budget, counted across the whole phase.
    pub budget: FailureBudget,
}

/// Where a phase is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseState {
    /// Not started yet.
    Pending,
    /// Running batch `batch`; `pause_requested` holds the phase at the next barrier.
    Running {
        /// 0-based batch index.
        batch: usize,
        /// Whether to pause once this batch finishes.
        pause_requested: bool,
    },
    /// Holding at the barrier before `next_batch` until resumed or aborted.
    Paused {
        /// The batch that starts on resume.
        next_batch: usize,
    },
    /// Aborted while batch `batch` was running; waiting for its in-flight hosts.
    Aborting {
        /// 0-based batch index.
        batch: usize,
        /// How in-flight hosts are treated.
        mode: AbortMode,
        /// Why the phase was aborted.
        reason: String,
    },
    /// The phase ended.
    Done(PhaseEnding),
}

/// Something that happened, fed to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The engine is ready to start the phase.
    Start,
    /// Every host of the running batch ended, with this many failures in the phase so far.
    BatchFinished {
        /// Failed and unreachable hosts in the phase so far.
        failed_so_far: usize,
    },
    /// Hold the phase at the next barrier.
    Pause,
    /// Withdraw a pause request, or leave a pause.
    Resume,
    /// Stop the phase.
    Abort {
        /// How in-flight hosts are treated.
        mode: AbortMode,
        /// Why.
        reason: String,
    },
}

/// What the engine must do (and report) after a transition, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start batch `index`.
    StartBatch(usize),
    /// The phase now holds before `next_batch`.
    Paused {
        /// The batch that starts on resume.
        next_batch: usize,
    },
    /// The phase left its pause; `StartBatch` follows.
    Resumed {
        /// The batch that starts now.
        next_batch: usize,
    },
    /// The budget is spent; remaining hosts are skipped.
    BudgetExceeded {
        /// Failed and unreachable hosts so far.
        failed: usize,
        /// Failures the budget allows.
        allowed: usize,
    },
    /// Mark every not-yet-started host skipped because the budget is spent.
    SkipPending,
    /// An abort was accepted (or escalated to `StopInFlight`).
    Aborted {
        /// How in-flight hosts are treated.
        mode: AbortMode,
        /// Why.
        reason: String,
    },
    /// Mark every not-yet-started host cancelled.
    CancelPending,
    /// Signal in-flight hosts to stop now.
    StopInFlight,
    /// The phase ended.
    Finished(PhaseEnding),
}

/// Applies `input` to `state`, returning the next state and the effects to carry out.
pub fn transition(
    state: PhaseState,
    input: Input,
    shape: &PhaseShape,
) -> (PhaseState, Vec<Effect>) {
    use PhaseState as S;
    match (state, input) {
        (S::Pending, Input::Start) => start_batch(0, shape, Vec::new()),
        (S::Pending, Input::Pause) if shape.batches > 0 => pause_at(0),
        (S::Running { batch, .. }, Input::Pause) => (
            S::Running {
                batch,
                pause_requested: true,
            },
            Vec::new(),
        ),
        (S::Running { batch, .. }, Input::Resume) => (
            S::Running {
                batch,
                pause_requested: false,
            },
            Vec::new(),
        ),
        (S::Paused { next_batch }, Input::Resume) => {
            start_batch(next_batch, shape, vec![Effect::Resumed { next_batch }])
        }
        (
            S::Running {
                batch,
                pause_requested,
            },
            Input::BatchFinished { failed_so_far },
        ) => barrier(batch, pause_requested, failed_so_far, shape),
        (S::Aborting { mode, reason, .. }, Input::BatchFinished { .. }) => {
            finish(PhaseEnding::Aborted { mode, reason }, Vec::new())
        }
        (S::Pending | S::Paused { .. }, Input::Abort { mode, reason }) => {
            let effects = vec![
                Effect::Aborted {
                    mode,
                    reason: reason.clone(),
                },
                Effect::CancelPending,
            ];
            finish(PhaseEnding::Aborted { mode, reason }, effects)
        }
        (S::Running { batch, .. }, Input::Abort { mode, reason }) => {
            abort_running(batch, mode, reason)
        }
        (
            S::Aborting {
                batch,
                mode: AbortMode::LetInFlightFinish,
                ..
            },
            Input::Abort {
                mode: AbortMode::StopInFlight,
                reason,
            },
        ) => abort_running(batch, AbortMode::StopInFlight, reason),
        // Everything else changes nothing: repeated requests, inputs after the end, and
        // batch completions that no running batch can have produced.
        (state, _) => (state, Vec::new()),
    }
}

fn start_batch(
    index: usize,
    shape: &PhaseShape,
    mut effects: Vec<Effect>,
) -> (PhaseState, Vec<Effect>) {
    if index >= shape.batches {
        return finish(PhaseEnding::Completed, effects);
    }
    effects.push(Effect::StartBatch(index));
    (
        PhaseState::Running {
            batch: index,
            pause_requested: false,
        },
        effects,
    )
}

fn pause_at(next_batch: usize) -> (PhaseState, Vec<Effect>) {
    (
        PhaseState::Paused { next_batch },
        vec![Effect::Paused { next_batch }],
    )
}

fn barrier(
    batch: usize,
    pause: bool,
    failed: usize,
    shape: &PhaseShape,
) -> (PhaseState, Vec<Effect>) {
    if !shape.budget.allows(failed, shape.hosts) {
        let allowed = shape.budget.allowed(shape.hosts);
        let effects = vec![
            Effect::BudgetExceeded { failed, allowed },
            Effect::SkipPending,
        ];
        return finish(PhaseEnding::BudgetExceeded { failed, allowed }, effects);
    }
    let next = batch + 1;
    if pause && next < shape.batches {
        return pause_at(next);
    }
    start_batch(next, shape, Vec::new())
}

fn abort_running(batch: usize, mode: AbortMode, reason: String) -> (PhaseState, Vec<Effect>) {
    let mut effects = vec![
        Effect::Aborted {
            mode,
            reason: reason.clone(),
        },
        Effect::CancelPending,
    ];
    if mode == AbortMode::StopInFlight {
        effects.push(Effect::StopInFlight);
    }
    (
        PhaseState::Aborting {
            batch,
            mode,
            reason,
        },
        effects,
    )
}

fn finish(ending: PhaseEnding, mut effects: Vec<Effect>) -> (PhaseState, Vec<Effect>) {
    effects.push(Effect::Finished(ending.clone()));
    (PhaseState::Done(ending), effects)
}

/// A phase's state plus its shape, so callers apply inputs one at a time.
#[derive(Debug, Clone)]
pub struct PhaseMachine {
    shape: PhaseShape,
    state: PhaseState,
}

impl PhaseMachine {
    /// A pending machine for a phase of this shape.
    pub fn new(shape: PhaseShape) -> Self {
        Self {
            shape,
            state: PhaseState::Pending,
        }
    }

    /// The current state.
    pub fn state(&self) -> &PhaseState {
        &self.state
    }

    /// Applies `input` and returns the effects to carry out.
    pub fn apply(&mut self, input: Input) -> Vec<Effect> {
        let state = std::mem::replace(&mut self.state, PhaseState::Pending);
        let (next, effects) = transition(state, input, &self.shape);
        self.state = next;
        effects
    }
}

#[cfg(test)]
mod tests;
