//! The async shell that carries out a batch plan: runs hosts, holds the barrier, reports events.
//!
//! Every decision (next batch, pause, budget, abort) comes from the pure
//! [`PhaseMachine`](super::state::PhaseMachine);
//! this loop only spawns runners, waits, and turns effects into events.

mod phase_run;

use super::batch::BatchPlan;
use super::budget::FailureBudget;
use super::control::Control;
use super::event::{AbortMode, Event, PhaseName};
use super::report::PhaseReport;
use super::runner::HostRunner;
use phase_run::PhaseRun;
use std::num::NonZeroUsize;
use std::sync::Arc;
use tokio::sync::mpsc;

/// The reason recorded when the executor aborts because nobody receives its events.
pub const JOURNAL_LOST_REASON: &str = "event channel closed: the journal is not recording";

/// How phases are executed: batch size, failure budget, concurrency, abort behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Executor {
    /// Hosts per batch (the reference story used 20).
    pub batch_size: NonZeroUsize,
    /// Failures tolerated across the whole phase.
    pub budget: FailureBudget,
    /// Mode of the abort the executor makes on its own when its event channel closes.
    pub abort_mode: AbortMode,
    /// Hosts running at once within a batch (capped by the batch size).
    pub max_concurrency: NonZeroUsize,
}

impl Executor {
    /// An executor running whole batches at once, aborting gently if the journal is lost.
    pub fn new(batch_size: NonZeroUsize, budget: FailureBudget) -> Self {
        let abort_mode = AbortMode::LetInFlightFinish;
        Self {
            batch_size,
            budget,
            abort_mode,
            max_concurrency: batch_size,
        }
    }

    /// Runs `hosts` in batches of `batch_size`; see [`Executor::run_plan`].
    pub async fn run_phase<R: HostRunner>(
        &self,
        phase: PhaseName,
        hosts: Vec<String>,
        runner: Arc<R>,
        control: Control,
        events: mpsc::Sender<Event>,
    ) -> PhaseReport<R::Output> {
        let plan = BatchPlan::new(hosts, self.batch_size);
        self.run_plan(phase, plan, runner, control, events).await
    }

    /// Runs a compiled batch plan to its end, sending every state change on `events`.
    pub async fn run_plan<R: HostRunner>(
        &self,
        phase: PhaseName,
        plan: BatchPlan,
        runner: Arc<R>,
        control: Control,
        events: mpsc::Sender<Event>,
    ) -> PhaseReport<R::Output> {
        PhaseRun::new(self, phase, plan, runner, control, events)
            .drive()
            .await
    }
}
