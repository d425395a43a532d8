//! What the run waits on from the operator: gates (a step with `gate = WORD` runs only once the
//! operator typed the word) and aborts (every wait of the run ends early when one is asked).
//!
//! Who answers is the CLI's business: the dashboard's `g`, a prompt on a terminal, or
//! `--gate WORD` given ahead of time. Without anyone to answer, a gate fails the run rather
//! than hang it: fail closed, say what to pass.

use super::ctx::Ctx;
use super::event::RunEvent;
use crate::executor::Control;
use std::collections::HashSet;
use tokio::sync::watch;

/// The word that lets a file step write the changes it showed (`--gate write` answers it
/// ahead of time, `--yes` skips it).
pub const WRITE_WORD: &str = "write";

/// Whether anyone can answer a gate while the run waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateMode {
    /// Someone can answer (dashboard, or a prompt on a terminal): ask and wait.
    Ask,
    /// Nobody can (no terminal, `--json`): a gate not answered ahead of time fails the run.
    Refuse,
}

/// The gates of one run: words answered ahead of time, steps passed since, and the mode.
#[derive(Debug)]
pub struct Gates {
    mode: GateMode,
    preanswered: Vec<String>,
    confirm_writes: bool,
    passed: watch::Sender<HashSet<String>>,
}

impl Default for Gates {
    /// No one to answer and nothing answered: every gate fails (for `disarm` and tests).
    fn default() -> Self {
        Self::new(GateMode::Refuse, Vec::new())
    }
}

impl Gates {
    /// Gates answered in `mode`, with `preanswered` words (`--gate WORD`) passing at once.
    pub fn new(mode: GateMode, preanswered: Vec<String>) -> Self {
        Self {
            mode,
            preanswered,
            confirm_writes: false,
            passed: watch::Sender::new(HashSet::new()),
        }
    }

    /// With `yes`, every file step's diffs wait for the operator to type [`WRITE_WORD`]
    /// (the CLI asks this where someone can answer and `--yes` was not given).
    pub fn confirming_writes(mut self, yes: bool) -> Self {
        self.confirm_writes = yes;
        self
    }

    /// After showing a file step's diffs, waits for the operator's go, when asked to.
    pub async fn before_writes(
        &self,
        ctx: &Ctx,
        step: &str,
        control: &Control,
    ) -> Result<(), String> {
        if !self.confirm_writes {
            return Ok(());
        }
        self.wait(
            ctx,
            &format!("{step}: write the changes shown"),
            WRITE_WORD,
            control,
        )
        .await
    }

    /// The operator passed the gate of `step` (as named in `RunEvent::Gate`).
    pub fn pass(&self, step: &str) {
        self.passed.send_modify(|s| {
            s.insert(step.to_string());
        });
    }

    /// Waits until the gate of `step` is passed; fails when nobody can answer or on an abort.
    pub async fn wait(
        &self,
        ctx: &Ctx,
        step: &str,
        word: &str,
        control: &Control,
    ) -> Result<(), String> {
        if self.preanswered.iter().any(|w| w == word) {
            ctx.emit(RunEvent::Operator {
                action: format!("gate {step} passed ahead of time (--gate {word})"),
            });
            return Ok(());
        }
        if self.mode == GateMode::Refuse {
            return Err(format!(
                "gate {step} waits for the operator to type `{word}` and nobody can answer here \
                 (no terminal, or --json); pass --gate {word} to answer it ahead of time"
            ));
        }
        ctx.emit(RunEvent::Gate {
            step: step.into(),
            word: word.into(),
        });
        let mut rx = self.passed.subscribe();
        tokio::select! {
            _ = rx.wait_for(|s| s.contains(step)) => Ok(()),
            why = aborted(control) => Err(format!("gate {step} not passed: {why}")),
        }
    }
}

/// A gate of the plan that nobody will be able to answer: where it is and its word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswerable {
    /// The step, as `RunEvent::Gate` names it (`stage[1] (restart)`, `action (fire)`).
    pub step: String,
    /// The word the operator would type.
    pub word: String,
}

/// The gates a run of `plan` would reach that nobody can answer in `mode` and that no
/// `--gate` word answers ahead of time: refused before anything runs, so a gate never
/// fails a run after staging changed its hosts. Gates are skipped in a dry run, and the
/// action's and post's gates after `--stop-after-verify`.
pub fn unanswerable(
    plan: &crate::plan::model::Plan,
    mode: GateMode,
    preanswered: &[String],
    dry_run: bool,
    stop_after_verify: bool,
) -> Vec<Unanswerable> {
    if mode == GateMode::Ask || dry_run {
        return Vec::new();
    }
    let checks = plan
        .preflight
        .iter()
        .chain(&plan.verify)
        .map(|c| &c.settings);
    let stage = plan.stage.iter().map(|s| &s.settings);
    let post = plan.post.iter().map(|s| &s.settings);
    let mut reached: Vec<(String, &String)> = checks
        .chain(stage)
        .filter_map(|s| Some((format!("{} ({})", s.path, s.name), s.gate.as_ref()?)))
        .collect();
    if !stop_after_verify {
        reached.extend(
            plan.action
                .gate
                .iter()
                .map(|w| (format!("action ({})", plan.action.name), w)),
        );
        reached.extend(
            post.filter_map(|s| Some((format!("{} ({})", s.path, s.name), s.gate.as_ref()?))),
        );
    }
    reached
        .into_iter()
        .filter(|(_, word)| !preanswered.contains(word))
        .map(|(step, word)| Unanswerable {
            step,
            word: word.clone(),
        })
        .collect()
}

/// Completes once an abort is requested, with its reason (at once if one already was).
pub async fn aborted(control: &Control) -> String {
    let mut rx = control.subscribe();
    let why = match rx.wait_for(|r| r.abort.is_some()).await {
        Ok(r) => r.abort.as_ref().map(|(_, why)| why.clone()),
        Err(_) => None,
    };
    match why {
        Some(why) => why,
        // The sender lives in `control`, so this cannot close while we hold it.
        None => std::future::pending().await,
    }
}

/// Waits until `until` by `clock`, or less if an abort is asked (then `Err` with its reason).
pub async fn sleep_unless_aborted(
    until: chrono::DateTime<chrono::Utc>,
    clock: &dyn crate::clock::Clock,
    control: &Control,
) -> Result<(), String> {
    let left = (until - clock.now())
        .to_std()
        .unwrap_or(std::time::Duration::ZERO);
    tokio::select! {
        biased;
        why = aborted(control) => Err(why),
        () = tokio::time::sleep(left) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, TokioClock};
    use crate::executor::AbortMode;
    use chrono::TimeZone;

    fn clock() -> TokioClock {
        TokioClock::new(chrono::Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap())
    }

    #[tokio::test]
    async fn an_abort_ends_a_wait_with_its_reason() {
        let control = Control::new();
        let clock = clock();
        let far = clock.now() + chrono::Duration::hours(1);
        let c = control.clone();
        let waiter = tokio::spawn(async move { sleep_unless_aborted(far, &clock, &c).await });
        control.abort_because(AbortMode::StopInFlight, "operator said so");
        assert_eq!(waiter.await.unwrap(), Err("operator said so".into()));
    }

    #[tokio::test]
    async fn a_wait_that_is_due_returns_at_once() {
        let control = Control::new();
        let clock = clock();
        let past = clock.now() - chrono::Duration::seconds(1);
        assert_eq!(sleep_unless_aborted(past, &clock, &control).await, Ok(()));
    }

    #[tokio::test]
    async fn an_abort_asked_before_the_wait_still_counts() {
        let control = Control::new();
        control.abort(AbortMode::StopInFlight);
        let clock = clock();
        let far = clock.now() + chrono::Duration::hours(1);
        assert!(sleep_unless_aborted(far, &clock, &control).await.is_err());
    }
}
