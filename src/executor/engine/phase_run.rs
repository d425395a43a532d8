//! One phase in progress: spawns runners, holds the barrier, turns machine effects into events.

use super::{Executor, JOURNAL_LOST_REASON};
use crate::executor::batch::BatchPlan;
use crate::executor::cancel::CancelToken;
use crate::executor::control::{Control, Requested};
use crate::executor::event::{AbortMode, Event, HostOutcome, PhaseEnding, PhaseName, PhaseSummary};
use crate::executor::report::{HostReport, PhaseReport};
use crate::executor::runner::{HostRun, HostRunner};
use crate::executor::state::{Effect, Input, PhaseMachine, PhaseShape, PhaseState};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::{Id, JoinError, JoinSet};

/// What woke the batch loop.
enum Wake<O> {
    Joined(Option<Result<(Id, HostRun<O>), JoinError>>),
    Control,
}

/// One phase in progress: the machine plus the effects' state.
pub(super) struct PhaseRun<R: HostRunner> {
    phase: PhaseName,
    plan: BatchPlan,
    runner: Arc<R>,
    machine: PhaseMachine,
    results: Vec<Option<HostRun<R::Output>>>,
    started: Vec<bool>,
    events: mpsc::Sender<Event>,
    journal_lost: bool,
    _control: Control,
    requests: watch::Receiver<Requested>,
    cancel: CancelToken,
    abort_mode: AbortMode,
    max_concurrency: usize,
}

impl<R: HostRunner> PhaseRun<R> {
    pub(super) fn new(
        executor: &Executor,
        phase: PhaseName,
        plan: BatchPlan,
        runner: Arc<R>,
        control: Control,
        events: mpsc::Sender<Event>,
    ) -> Self {
        let shape = PhaseShape {
            batches: plan.batch_count(),
            hosts: plan.host_count(),
            budget: executor.budget,
        };
        let count = plan.host_count();
        Self {
            phase,
            plan,
            runner,
            machine: PhaseMachine::new(shape),
            results: std::iter::repeat_with(|| None).take(count).collect(),
            started: vec![false; count],
            events,
            journal_lost: false,
            requests: control.subscribe(),
            _control: control,
            cancel: CancelToken::new(),
            abort_mode: executor.abort_mode,
            max_concurrency: executor.max_concurrency.get(),
        }
    }

    pub(super) async fn drive(mut self) -> PhaseReport<R::Output> {
        let (hosts, batches) = (self.plan.host_count(), self.plan.batch_count());
        self.emit(Event::PhaseStarted {
            phase: self.phase.clone(),
            hosts,
            batches,
        })
        .await;
        self.sync_control().await;
        self.apply(Input::Start).await;
        let ending = loop {
            match self.machine.state().clone() {
                PhaseState::Running { batch, .. } | PhaseState::Aborting { batch, .. } => {
                    self.run_batch(batch).await;
                    self.finish_batch(batch).await;
                }
                PhaseState::Paused { .. } => self.wait_while_paused().await,
                PhaseState::Pending => self.apply(Input::Start).await,
                PhaseState::Done(ending) => break ending,
            }
        };
        self.into_report(ending)
    }

    async fn run_batch(&mut self, index: usize) {
        let mut queue = self.plan.batch_range(index);
        let mut running: JoinSet<HostRun<R::Output>> = JoinSet::new();
        let mut ids: HashMap<Id, usize> = HashMap::new();
        loop {
            while running.len() < self.max_concurrency {
                let Some(i) = queue.find(|i| self.results[*i].is_none()) else {
                    break;
                };
                self.spawn(i, &mut running, &mut ids).await;
            }
            if running.is_empty() {
                return;
            }
            let wake = tokio::select! {
                joined = running.join_next_with_id() => Wake::Joined(joined),
                _ = self.requests.changed() => Wake::Control,
            };
            if let Wake::Joined(Some(joined)) = wake {
                self.record(joined, &ids).await;
            }
            self.sync_control().await;
        }
    }

    async fn spawn(
        &mut self,
        i: usize,
        set: &mut JoinSet<HostRun<R::Output>>,
        ids: &mut HashMap<Id, usize>,
    ) {
        let host = self.plan.hosts()[i].clone();
        let (runner, cancel, name) = (Arc::clone(&self.runner), self.cancel.clone(), host.clone());
        let handle = set.spawn(async move { runner.run(&name, cancel).await });
        ids.insert(handle.id(), i);
        self.started[i] = true;
        self.emit(Event::HostStarted {
            phase: self.phase.clone(),
            host,
        })
        .await;
    }

    async fn record(
        &mut self,
        joined: Result<(Id, HostRun<R::Output>), JoinError>,
        ids: &HashMap<Id, usize>,
    ) {
        let (id, mut run) = match joined {
            Ok((id, run)) => (id, run),
            Err(err) => {
                let reason = format!("host runner crashed: {err}");
                (
                    err.id(),
                    HostRun::without_output(HostOutcome::Failed { reason, exit: None }),
                )
            }
        };
        let Some(&i) = ids.get(&id) else { return };
        if let HostOutcome::Cancelled { started } = &mut run.outcome {
            *started = true;
        }
        self.set_result(i, run).await;
    }

    async fn set_result(&mut self, i: usize, run: HostRun<R::Output>) {
        let (phase, host) = (self.phase.clone(), self.plan.hosts()[i].clone());
        let outcome = run.outcome.clone();
        self.results[i] = Some(run);
        self.emit(Event::HostFinished {
            phase,
            host,
            outcome,
        })
        .await;
    }

    async fn finish_batch(&mut self, index: usize) {
        let failed_so_far = self.failed_so_far();
        let (phase, of) = (self.phase.clone(), self.plan.batch_count());
        self.emit(Event::BatchFinished {
            phase,
            index,
            of,
            failed_so_far,
        })
        .await;
        self.apply(Input::BatchFinished { failed_so_far }).await;
    }

    async fn wait_while_paused(&mut self) {
        if !self.journal_lost {
            tokio::select! {
                _ = self.requests.changed() => {}
                _ = self.events.closed() => self.journal_lost = true,
            }
        }
        self.sync_control().await;
    }

    /// Feeds the operator's current request (or a lost journal) to the machine.
    async fn sync_control(&mut self) {
        let requested = self.requests.borrow_and_update().clone();
        let input = if self.journal_lost || self.events.is_closed() {
            self.journal_lost = true;
            Input::Abort {
                mode: self.abort_mode,
                reason: JOURNAL_LOST_REASON.to_owned(),
            }
        } else if let Some((mode, reason)) = requested.abort {
            Input::Abort { mode, reason }
        } else if requested.pause {
            Input::Pause
        } else {
            Input::Resume
        };
        self.apply(input).await;
    }

    async fn apply(&mut self, input: Input) {
        for effect in self.machine.apply(input) {
            self.carry_out(effect).await;
        }
    }

    async fn carry_out(&mut self, effect: Effect) {
        let phase = self.phase.clone();
        let event = match effect {
            Effect::StartBatch(index) => {
                let hosts = self.plan.batch(index).unwrap_or_default().to_vec();
                Event::BatchStarted {
                    phase,
                    index,
                    of: self.plan.batch_count(),
                    hosts,
                }
            }
            Effect::Paused { next_batch } => Event::Paused { phase, next_batch },
            Effect::Resumed { next_batch } => Event::Resumed { phase, next_batch },
            Effect::BudgetExceeded { failed, allowed } => Event::BudgetExceeded {
                phase,
                failed,
                allowed,
            },
            Effect::Aborted { mode, reason } => Event::Aborted {
                phase,
                mode,
                reason,
            },
            Effect::SkipPending => {
                let why = "phase stopped: failure budget exceeded".to_owned();
                return self.settle_pending(HostOutcome::Skipped { why }).await;
            }
            Effect::CancelPending => {
                return self
                    .settle_pending(HostOutcome::Cancelled { started: false })
                    .await;
            }
            Effect::StopInFlight => return self.cancel.cancel(),
            Effect::Finished(ending) => {
                let summary = PhaseSummary::new(self.outcomes(), ending);
                Event::PhaseFinished { phase, summary }
            }
        };
        self.emit(event).await;
    }

    /// Gives every host that never started the same outcome.
    async fn settle_pending(&mut self, outcome: HostOutcome) {
        for i in 0..self.results.len() {
            if !self.started[i] && self.results[i].is_none() {
                self.set_result(i, HostRun::without_output(outcome.clone()))
                    .await;
            }
        }
    }

    fn outcomes(&self) -> impl Iterator<Item = &HostOutcome> {
        self.results.iter().flatten().map(|run| &run.outcome)
    }

    fn failed_so_far(&self) -> usize {
        self.outcomes().filter(|o| o.counts_as_failure()).count()
    }

    async fn emit(&mut self, event: Event) {
        if self.events.send(event).await.is_err() {
            self.journal_lost = true;
        }
    }

    fn into_report(self, ending: PhaseEnding) -> PhaseReport<R::Output> {
        let summary = PhaseSummary::new(self.outcomes(), ending);
        let size = self.plan.batch_size().get();
        let hosts = self
            .plan
            .hosts()
            .iter()
            .cloned()
            .zip(self.results)
            .enumerate();
        let hosts = hosts
            .map(|(i, (host, run))| {
                let run = run.unwrap_or(HostRun::without_output(HostOutcome::Cancelled {
                    started: false,
                }));
                HostReport {
                    host,
                    batch: i / size,
                    outcome: run.outcome,
                    output: run.output,
                }
            })
            .collect();
        PhaseReport {
            phase: self.phase,
            hosts,
            summary,
        }
    }
}
