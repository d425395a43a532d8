//! A fake host runner whose hosts succeed, fail, or block until released or cancelled.

use cutover::executor::{
    CancelToken, Control, Event, Executor, FailureBudget, HostOutcome, HostRun, HostRunner,
    PhaseReport,
};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What a fake host does.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    Ok,
    Fail,
    Unreachable,
    /// Waits until the gate opens (then Ok) or the cancel token fires (then Cancelled).
    Block,
    /// Yields to the scheduler a few times (so peers overlap), then Ok.
    Nap,
}

/// The fake runner: per-host acts (default Ok), a gate, a call log and a concurrency gauge.
pub struct Fake {
    acts: HashMap<String, Act>,
    gate: watch::Receiver<bool>,
    pub ran: Mutex<Vec<String>>,
    current: AtomicUsize,
    pub peak: AtomicUsize,
}

impl Fake {
    /// A fake with these acts, and the sender that opens its gate.
    pub fn new(acts: &[(&str, Act)]) -> (Arc<Self>, watch::Sender<bool>) {
        let (open, gate) = watch::channel(false);
        let acts = acts.iter().map(|(h, a)| (h.to_string(), *a)).collect();
        let fake = Self {
            acts,
            gate,
            ran: Mutex::default(),
            current: 0.into(),
            peak: 0.into(),
        };
        (Arc::new(fake), open)
    }

    pub fn ran(&self) -> Vec<String> {
        self.ran.lock().unwrap().clone()
    }

    async fn act(&self, act: Act, cancel: CancelToken) -> HostOutcome {
        let ok = HostOutcome::Ok { detail: None };
        match act {
            Act::Ok => ok,
            Act::Fail => HostOutcome::Failed {
                reason: "exit 1".into(),
                exit: Some(1),
            },
            Act::Unreachable => HostOutcome::Unreachable {
                reason: "refused".into(),
            },
            Act::Nap => {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                ok
            }
            Act::Block => {
                let mut gate = self.gate.clone();
                tokio::select! {
                    _ = gate.wait_for(|open| *open) => ok,
                    _ = cancel.cancelled() => HostOutcome::Cancelled { started: true },
                }
            }
        }
    }
}

impl HostRunner for Fake {
    type Output = String;

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<String> {
        self.ran.lock().unwrap().push(host.to_owned());
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let act = self.acts.get(host).copied().unwrap_or(Act::Ok);
        let outcome = self.act(act, cancel).await;
        self.current.fetch_sub(1, Ordering::SeqCst);
        HostRun::new(
            outcome,
            format!("output of {}\n", host.trim_end_matches(char::is_numeric)),
        )
    }
}

/// `web01..=webNN`.
pub fn hosts(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("web{i:02}")).collect()
}

/// An executor with this batch size and budget.
pub fn executor(batch: usize, budget: FailureBudget) -> Executor {
    Executor::new(NonZeroUsize::new(batch).unwrap(), budget)
}

/// A phase running in the background, with its event receiver and control handle.
pub struct Running {
    pub events: mpsc::Receiver<Event>,
    pub control: Control,
    pub report: JoinHandle<PhaseReport<String>>,
}

/// Starts `hosts` on `fake` with `executor` in a background task.
pub fn start(executor: Executor, hosts: Vec<String>, fake: &Arc<Fake>) -> Running {
    let (tx, events) = mpsc::channel(1024);
    let control = Control::new();
    let (c, f) = (control.clone(), Arc::clone(fake));
    let report =
        tokio::spawn(async move { executor.run_phase("stage".into(), hosts, f, c, tx).await });
    Running {
        events,
        control,
        report,
    }
}

impl Running {
    /// Receives events until one matches `pred`, returning all received (including it).
    pub async fn until(&mut self, pred: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut seen = Vec::new();
        while let Some(event) = self.events.recv().await {
            let stop = pred(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
        panic!("event stream ended before the expected event; saw {seen:#?}");
    }

    /// Waits for the report and returns it with every remaining event.
    pub async fn finish(mut self) -> (PhaseReport<String>, Vec<Event>) {
        let report = self.report.await.unwrap();
        let mut rest = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            rest.push(event);
        }
        (report, rest)
    }
}

/// A short, comparable label per event, for order assertions.
pub fn label(event: &Event) -> String {
    match event {
        Event::PhaseStarted { hosts, batches, .. } => format!("phase {hosts}/{batches}"),
        Event::BatchStarted { index, .. } => format!("batch {index}"),
        Event::HostStarted { host, .. } => format!("start {host}"),
        Event::HostFinished { host, outcome, .. } => format!("end {host} {}", status(outcome)),
        Event::BatchFinished {
            index,
            failed_so_far,
            ..
        } => format!("barrier {index} ({failed_so_far})"),
        Event::Paused { next_batch, .. } => format!("paused before {next_batch}"),
        Event::Resumed { next_batch, .. } => format!("resumed at {next_batch}"),
        Event::BudgetExceeded {
            failed, allowed, ..
        } => format!("budget {failed}>{allowed}"),
        Event::Aborted { mode, .. } => format!("aborted {mode:?}"),
        Event::PhaseFinished { summary, .. } => format!("finished {:?}", summary.ending),
    }
}

/// The outcome's status word.
pub fn status(outcome: &HostOutcome) -> &'static str {
    match outcome {
        HostOutcome::Ok { .. } => "ok",
        HostOutcome::Failed { .. } => "failed",
        HostOutcome::Unreachable { .. } => "unreachable",
        HostOutcome::Skipped { .. } => "skipped",
        HostOutcome::Cancelled { started: true } => "stopped",
        HostOutcome::Cancelled { started: false } => "cancelled",
    }
}

/// Labels of a whole event list.
pub fn labels(events: &[Event]) -> Vec<String> {
    events.iter().map(label).collect()
}
