//! T-minus: re-verify, arm every host (all or nothing), re-verify, fire, collect receipts.

use super::arm::{ArmRunner, ArmedSet, collect, disarm_all, sweep};
use super::ctx::Ctx;
use super::error::RunError;
use super::event::RunEvent;
use super::phase::Phase;
use super::{execute, execute_paced, over_budget, reverify, stopped, with_excluded};
use crate::compile::RunPlan;
use crate::executor::{AbortMode, Control};
use crate::plan::model::StepSettings;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long after the fire time receipts are first collected: the job writes its receipt as
/// it starts; the action itself may take longer, and collection retries.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Without a watch, how long after the fire receipts are awaited: the action's own time.
pub const RECEIPTS_WITHOUT_WATCH: Duration = Duration::from_secs(300);

/// Receipts are awaited until the watch would time out (the action must have finished by
/// then for the watch to judge it), or [`RECEIPTS_WITHOUT_WATCH`] after the fire.
fn receipt_wait(ctx: &Ctx, plan: &RunPlan) -> super::arm::Wait {
    let after = plan
        .watch
        .as_ref()
        .map_or(RECEIPTS_WITHOUT_WATCH, |w| w.timeout);
    let wall = plan.times.fire + chrono::Duration::from_std(after).unwrap_or_default();
    let left = (wall - ctx.now()).to_std().unwrap_or_default();
    super::arm::Wait::Finished {
        by: ctx.clock.instant() + left,
        wall,
    }
}

/// Arms, re-verifies, waits for the fire, measures. Any failure before the fire disarms everything.
pub async fn arm_and_fire(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
) -> Result<(), RunError> {
    let t = plan.times;
    let passed = ctx.state().fire_passed(ctx.now());
    let mut watch = if passed {
        after_the_fire(ctx, plan, control).await?
    } else {
        arm_and_wait(ctx, plan, control).await?
    };
    let fired_on = ctx.state().in_run(&plan.action_hosts);
    let wait = receipt_wait(ctx, plan);
    let collected = collect(ctx, &fired_on, wait, watch.actions.as_ref()).await;
    let unreachable: Vec<String> = collected
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(h, _)| h.clone())
        .collect();
    let receipts: Vec<_> = collected
        .into_iter()
        .map(|(h, r)| (h, r.unwrap_or_default()))
        .collect();
    let failed: Vec<(String, i32)> = receipts
        .iter()
        .filter_map(|(h, r)| r.exit.filter(|c| *c != 0).map(|c| (h.clone(), c)))
        .collect();
    let planned = t.fire.timestamp_nanos_opt().unwrap_or(0);
    let offsets = ctx
        .offsets
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut spread = crate::arm::receipt::spread(planned, &receipts, |h| {
        i64::try_from(offsets.get(h).copied().unwrap_or(0)).unwrap_or(0)
    });
    spread.missing.retain(|h| !unreachable.contains(h));
    spread.unreachable = unreachable;
    let (missing, unknown) = (spread.missing.clone(), spread.unreachable.clone());
    ctx.emit(RunEvent::Spread { spread });
    if !missing.is_empty() || !unknown.is_empty() {
        return Err(RunError::NotFired { missing, unknown });
    }
    if !failed.is_empty() {
        return Err(RunError::ActionFailed { hosts: failed });
    }
    let Some(mut handle) = watch.handle.take() else {
        return Ok(());
    };
    let result = tokio::select! {
        result = &mut handle => result,
        why = super::gate::aborted(control) => {
            handle.abort();
            return Err(RunError::Stopped(format!("{why} after the fire: the action ran; the watch and post steps were skipped")));
        }
    };
    let glass = break_glass(plan);
    match result.map(|r| r.outcome) {
        Ok(crate::watch::tracker::history::Outcome::Complete { .. }) => Ok(()),
        Ok(other) => Err(RunError::Watch {
            detail: outcome_text(&other),
            break_glass: glass,
        }),
        Err(e) => Err(RunError::Watch {
            detail: format!("the watch stopped unexpectedly: {e}"),
            break_glass: glass,
        }),
    }
}

/// Before the fire: re-verify, arm, re-verify at T-minus, start the watch, wait past the fire.
async fn arm_and_wait(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
) -> Result<WatchTask, RunError> {
    let t = plan.times;
    wait_until(ctx, t.arm_opens, "the arming window opens", control).await?;
    action_gate(ctx, plan, control).await?;
    reverify(ctx, plan, control, Phase::BeforeArming).await?;
    if ctx.state().in_run(&plan.action_hosts).is_empty() {
        return Err(RunError::NoHostsLeft { phase: Phase::Arm });
    }
    let armed = Arc::new(Mutex::new(HashMap::new()));
    let result = match arm(ctx, plan, control, &armed).await {
        Ok(()) => {
            match wait_until(ctx, t.reverify, "last drift check before the fire", control).await {
                Ok(()) => tminus(ctx, plan, control, &armed).await,
                Err(why) => Err(why),
            }
        }
        Err(e) => Err(e),
    };
    // Prepare, then commit: until this round every armed job skips itself if it wakes.
    let result = match result {
        Ok(()) => super::commit::commit(ctx, plan).await,
        Err(e) => Err(e),
    };
    // The watch starts before the fire so `abort_if` can still disarm, and so it sees the
    // leaderless window from its first second.
    let mut watch = match (&result, &plan.watch) {
        (Ok(()), Some(w)) => match super::watching::start(ctx, plan, w) {
            Ok(started) => WatchTask::from(started),
            Err(e) => return Err(disarm_everything(ctx, plan, &armed, RunError::Stopped(e)).await),
        },
        _ => WatchTask::none(),
    };
    if let Err(why) = result {
        return Err(disarm_everything(ctx, plan, &armed, why).await);
    }
    let settle = t.fire + chrono::Duration::from_std(SETTLE).unwrap_or_default();
    ctx.emit(RunEvent::Waiting {
        until: settle,
        what: "the action fires; then receipts are collected".into(),
    });
    // The countdown: an operator abort or the watch's `abort_if` still disarms everything.
    let stop = tokio::select! {
        () = ctx.sleep_until(t.fire) => None,
        why = super::gate::aborted(control) => Some(why),
        result = finished(&mut watch.handle) => {
            watch.handle = None;
            Some(format!("the watch ended before the fire: {}", match result {
                Ok(r) => outcome_text(&r.outcome),
                Err(e) => format!("the watch stopped: {e}"),
            }))
        }
    };
    if let Some(why) = stop {
        return Err(disarm_everything(ctx, plan, &armed, RunError::Stopped(why)).await);
    }
    ctx.sleep_until(settle).await;
    Ok(watch)
}

/// The last check before the fire, bounded so it cannot race it: every armed job still as
/// armed, then the verify checks and staged files again. Hosts that fail leave the run and
/// are disarmed; over the verify budget, a disarm not confirmed, or no time left, it fails
/// and the caller disarms everything.
async fn tminus(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
    armed: &Arc<ArmedSet>,
) -> Result<(), RunError> {
    let bound = super::commit::tminus_bound(plan.times.fire);
    tokio::select! {
        r = tminus_checks(ctx, plan, control, armed) => r,
        () = ctx.sleep_until(bound) => Err(RunError::Drift {
            when: Phase::TMinus,
            cause: Box::new(RunError::Stopped(format!(
                "the check did not finish {} ms before the fire time",
                super::commit::TMINUS_BY.as_millis()
            ))),
        }),
    }
}

async fn tminus_checks(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
    armed: &Arc<ArmedSet>,
) -> Result<(), RunError> {
    let before: Vec<String> = ctx.state().in_run(&plan.action_hosts);
    let settings = StepSettings {
        name: "armed jobs still armed".into(),
        path: "action[armed]".into(),
        targets: plan.action.targets.clone(),
        gate: None,
        once: false,
        sudo: false,
        timeout: super::arm::ARM_COMMAND_TIMEOUT,
        batch_size: before.len().max(1),
        max_failures: plan.action.max_failures,
    };
    let jobs = Arc::new(super::commit::JobCheck {
        ctx: ctx.clone(),
        plan: Arc::new(plan.clone()),
    });
    // One round without barriers, at most a batch's worth of hosts at once: 10,000 checks
    // started together on one machine passed their time limit waiting for its cores.
    let window = NonZeroUsize::new(plan.batch_size);
    let report = execute_paced(
        ctx,
        Phase::TMinus,
        &settings,
        before.clone(),
        jobs,
        control,
        None,
        window,
    )
    .await;
    stopped(control, &report)?;
    let checked = reverify(ctx, plan, control, Phase::TMinus).await;
    let after = ctx.state().in_run(&plan.action_hosts);
    let drifted: Vec<String> = before.into_iter().filter(|h| !after.contains(h)).collect();
    checked?;
    if !drifted.is_empty() {
        take_back(ctx, plan, armed, &drifted).await?;
    }
    if after.is_empty() {
        return Err(RunError::NoHostsLeft {
            phase: Phase::TMinus,
        });
    }
    Ok(())
}

/// Disarms hosts that left the run after arming started; any not confirmed fails the run.
async fn take_back(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    armed: &Arc<ArmedSet>,
    hosts: &[String],
) -> Result<(), RunError> {
    let sweep = sweep(armed, hosts, plan.action.mechanism);
    let may_fire = disarm_all(ctx, &sweep).await;
    if may_fire.is_empty() {
        return Ok(());
    }
    Err(RunError::Arming(format!(
        "host(s) that left the run could not be disarmed: {}",
        may_fire.join(", ")
    )))
}

/// Resumed after the fire time: the armed jobs fired (or not) without us; nothing is armed
/// again. Restarts the watch and lets the receipts settle before they are collected.
async fn after_the_fire(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
) -> Result<WatchTask, RunError> {
    let watch = match &plan.watch {
        Some(w) => {
            WatchTask::from(super::watching::start(ctx, plan, w).map_err(RunError::Stopped)?)
        }
        None => WatchTask::none(),
    };
    let settle = plan.times.fire + chrono::Duration::from_std(SETTLE).unwrap_or_default();
    wait_until(
        ctx,
        settle,
        "receipts settle; the fire time has passed, nothing is armed again",
        control,
    )
    .await?;
    Ok(watch)
}

fn outcome_text(o: &crate::watch::tracker::history::Outcome) -> String {
    use crate::watch::tracker::history::Outcome;
    match o {
        Outcome::Complete { .. } => "complete".into(),
        Outcome::TimedOut { why, .. } => format!("timed out: {why}"),
        Outcome::Abort { reason, .. } => format!("abort: {reason}"),
    }
}

fn break_glass(plan: &RunPlan) -> String {
    plan.break_glass
        .as_ref()
        .map_or(String::new(), |b| format!("\n\nBREAK GLASS:\n{}", b.trim()))
}

/// Before the fire, something went wrong: disarm every targeted host that may be armed
/// (verified per host) and say why, naming any host that may still fire.
async fn disarm_everything(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    armed: &Arc<ArmedSet>,
    why: RunError,
) -> RunError {
    let hosts = sweep(armed, &plan.action_hosts, plan.action.mechanism);
    let may_fire = disarm_all(ctx, &hosts).await;
    why.disarmed(may_fire)
}

async fn arm(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
    armed: &Arc<ArmedSet>,
) -> Result<(), RunError> {
    let a = &plan.action;
    let settings = StepSettings {
        name: format!(
            "{} (fires at {} UTC)",
            a.name,
            plan.times.fire.format("%H:%M:%S")
        ),
        path: "action".into(),
        targets: a.targets.clone(),
        gate: a.gate.clone(),
        once: false,
        sudo: false,
        timeout: super::arm::ARM_COMMAND_TIMEOUT,
        batch_size: plan.batch_size,
        max_failures: a.max_failures,
    };
    let runner = Arc::new(ArmRunner {
        ctx: ctx.clone(),
        action: a.clone(),
        fire: plan.times.fire,
        armed: armed.clone(),
        deadline: plan.times.arm_deadline,
    });
    // Resumed with every host armed: only re-verification is left, which the arming
    // deadline does not bound (a host whose job is gone is re-armed, and its own guard refuses).
    let in_run = ctx.state().in_run(&plan.action_hosts);
    let deadline = match in_run.iter().all(|h| ctx.state().armed.contains_key(h)) {
        true => plan.times.fire,
        false => plan.times.arm_deadline,
    };
    let watchdog_control = control.clone();
    let watchdog_ctx = ctx.clone();
    let watchdog = tokio::spawn(async move {
        watchdog_ctx.sleep_until(deadline).await;
        watchdog_control.abort_because(AbortMode::StopInFlight, "arming deadline passed");
    });
    let budget = Some(plan.arm_allowed_failures);
    let report = execute(
        ctx,
        Phase::Arm,
        &settings,
        in_run.clone(),
        runner,
        control,
        budget,
    )
    .await;
    watchdog.abort();
    let late = ctx.now() > deadline;
    let failed: Vec<String> = report
        .hosts
        .iter()
        .filter(|h| h.outcome.counts_as_failure())
        .map(|h| h.host.clone())
        .collect();
    let result = if late {
        Err(RunError::Arming(
            "arming did not finish before the arming deadline".into(),
        ))
    } else {
        stopped(control, &report)
            .and_then(|()| over_budget(ctx, Phase::Arm, plan.arm_allowed_failures))
    };
    // Within budget, a host that failed to arm may still hold half a job: take it back.
    let result = match result {
        Ok(()) if !failed.is_empty() => take_back(ctx, plan, armed, &failed).await,
        other => other,
    };
    let result = result.and_then(
        |()| match ctx.state().in_run(&plan.action_hosts).is_empty() {
            true => Err(RunError::NoHostsLeft { phase: Phase::Arm }),
            false => Ok(()),
        },
    );
    let summary = match &result {
        Ok(()) => with_excluded(
            ctx,
            Phase::Arm,
            format!("armed on {} host(s)", report.summary.ok),
        ),
        Err(e) => e.to_string(),
    };
    ctx.emit(RunEvent::PhaseDone {
        phase: Phase::Arm,
        ok: result.is_ok(),
        summary,
    });
    result
}

/// Waits for a T-minus moment; an abort ends the wait with its reason.
async fn wait_until(
    ctx: &Ctx,
    until: DateTime<Utc>,
    what: &str,
    control: &Control,
) -> Result<(), RunError> {
    if ctx.now() < until {
        ctx.emit(RunEvent::Waiting {
            until,
            what: what.into(),
        });
    }
    super::gate::sleep_unless_aborted(until, ctx.clock.as_ref(), control)
        .await
        .map_err(RunError::Stopped)
}

/// The action's operator gate, asked when the arming window opens; nothing is armed yet, and
/// an answer later than the arming deadline cannot arm in time.
async fn action_gate(ctx: &Ctx, plan: &RunPlan, control: &Control) -> Result<(), RunError> {
    let Some(word) = &plan.action.gate else {
        return Ok(());
    };
    let step = format!("action ({})", plan.action.name);
    tokio::select! {
        r = ctx.gates.wait(ctx, &step, word, control) => r.map_err(RunError::Stopped),
        () = ctx.sleep_until(plan.times.arm_deadline) => Err(RunError::Stopped(format!(
            "gate {step} was not passed before the arming deadline; nothing was armed"
        ))),
    }
}

/// The watch task, stopped if the run returns without waiting for it (the poller holds the
/// run's context, so a detached one would keep the event stream open until its timeout).
struct WatchTask {
    handle: Option<tokio::task::JoinHandle<crate::watch::poller::WatchResult>>,
    /// Tells the watch how far the action has got, from the receipts.
    actions: Option<super::watching::Actions>,
}

impl WatchTask {
    fn none() -> Self {
        WatchTask {
            handle: None,
            actions: None,
        }
    }
}

impl From<super::watching::Started> for WatchTask {
    fn from(s: super::watching::Started) -> Self {
        WatchTask {
            handle: Some(s.handle),
            actions: Some(s.actions),
        }
    }
}

impl Drop for WatchTask {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}

/// Completes when the watch task ends; never when there is none.
async fn finished(
    watch: &mut Option<tokio::task::JoinHandle<crate::watch::poller::WatchResult>>,
) -> Result<crate::watch::poller::WatchResult, tokio::task::JoinError> {
    match watch {
        Some(handle) => handle.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "fire_tests.rs"]
mod tests;
