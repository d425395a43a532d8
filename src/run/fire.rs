//! T-minus: re-verify, arm every host (all or nothing), re-verify, fire, collect receipts.

use super::arm::{ArmRunner, ArmedSet, collect, disarm_all, sweep};
use super::ctx::Ctx;
use super::event::RunEvent;
use super::{execute, reverify};
use crate::compile::{Resolved, RunPlan};
use crate::executor::{AbortMode, Control};
use crate::plan::model::{Plan, StepSettings};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long after the fire time receipts are first collected: the job writes its receipt as
/// it starts; the action itself may take longer, and collection retries.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Arms, re-verifies, waits for the fire, measures. Any failure before the fire disarms everything.
pub async fn arm_and_fire(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    model: &Plan,
    control: &Control,
) -> Result<(), String> {
    let t = plan.times;
    let mut watch = if ctx.resume.fire_passed(crate::clock::now()) {
        after_the_fire(ctx, plan, model, control).await?
    } else {
        arm_and_wait(ctx, plan, model, control).await?
    };
    let collected = collect(ctx, &plan.action_hosts).await;
    let unreachable: Vec<String> = collected
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(h, _)| h.clone())
        .collect();
    let receipts: Vec<_> = collected
        .into_iter()
        .map(|(h, r)| (h, r.unwrap_or_default()))
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
    let (missing, unknown) = (spread.missing.len(), spread.unreachable.len());
    ctx.emit(RunEvent::Spread { spread });
    if missing + unknown > 0 {
        return Err(format!(
            "{missing} host(s) did not fire; {unknown} host(s) unreachable after the fire (fired status unknown)"
        ));
    }
    let Some(mut handle) = watch.0.take() else {
        return Ok(());
    };
    let result = tokio::select! {
        result = &mut handle => result,
        why = super::gate::aborted(control) => {
            handle.abort();
            return Err(format!("{why} after the fire: the action ran; the watch and post steps were skipped"));
        }
    };
    match result.map(|r| r.outcome) {
        Ok(crate::watch::tracker::history::Outcome::Complete { .. }) => Ok(()),
        Ok(other) => Err(format!(
            "the cutover did not complete: {}{}",
            outcome_text(&other),
            break_glass(model)
        )),
        Err(e) => Err(format!(
            "the watch stopped unexpectedly: {e}{}",
            break_glass(model)
        )),
    }
}

/// Before the fire: re-verify, arm, re-verify at T-minus, start the watch, wait past the fire.
async fn arm_and_wait(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    model: &Plan,
    control: &Control,
) -> Result<WatchTask, String> {
    let t = plan.times;
    wait_until(ctx, t.arm_opens, "the arming window opens", control).await?;
    action_gate(ctx, plan, model, control).await?;
    reverify(ctx, plan, control, "before arming").await?;
    let armed = Arc::new(Mutex::new(HashMap::new()));
    let result = arm(ctx, plan, model, control, &armed).await;
    let result = match result {
        Ok(()) => {
            match wait_until(ctx, t.reverify, "last drift check before the fire", control).await {
                Ok(()) => reverify(ctx, plan, control, "at T-minus").await,
                Err(why) => Err(why),
            }
        }
        Err(e) => Err(e),
    };
    // The watch starts before the fire so `abort_if` can still disarm, and so it sees the
    // leaderless window from its first second.
    let mut watch = WatchTask(match (&result, &model.watch) {
        (Ok(()), Some(w)) => match super::watching::start(ctx, plan, w) {
            Ok(handle) => Some(handle),
            Err(e) => return Err(disarm_everything(ctx, plan, model, &armed, e).await),
        },
        _ => None,
    });
    if let Err(why) = result {
        return Err(disarm_everything(ctx, plan, model, &armed, why).await);
    }
    let settle = t.fire + chrono::Duration::from_std(SETTLE).unwrap_or_default();
    ctx.emit(RunEvent::Waiting {
        until: settle,
        what: "the action fires; then receipts are collected".into(),
    });
    // The countdown: an operator abort or the watch's `abort_if` still disarms everything.
    let stop = tokio::select! {
        () = sleep_until(t.fire) => None,
        why = super::gate::aborted(control) => Some(why),
        result = finished(&mut watch.0) => {
            watch.0 = None;
            Some(format!("abort before the fire: {:?}", result.map(|r| r.outcome)))
        }
    };
    if let Some(why) = stop {
        return Err(disarm_everything(ctx, plan, model, &armed, why).await);
    }
    sleep_until(settle).await;
    Ok(watch)
}

/// Resumed after the fire time: the armed jobs fired (or not) without us; nothing is armed
/// again. Restarts the watch and lets the receipts settle before they are collected.
async fn after_the_fire(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    model: &Plan,
    control: &Control,
) -> Result<WatchTask, String> {
    let watch = WatchTask(match &model.watch {
        Some(w) => Some(super::watching::start(ctx, plan, w)?),
        None => None,
    });
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

fn break_glass(model: &Plan) -> String {
    model
        .meta
        .break_glass
        .as_ref()
        .map_or(String::new(), |b| format!("\n\nBREAK GLASS:\n{}", b.trim()))
}

/// Before the fire, something went wrong: disarm every host that may be armed (verified per
/// host) and say why, naming any host that may still fire.
async fn disarm_everything(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    model: &Plan,
    armed: &Arc<ArmedSet>,
    why: String,
) -> String {
    let hosts = sweep(armed, &plan.action_hosts, model.action.mechanism);
    let may_fire = disarm_all(ctx, &hosts).await;
    disarmed(why, &may_fire)
}

fn disarmed(why: String, may_fire: &[String]) -> String {
    let tail = if may_fire.is_empty() {
        "every armed host was disarmed".to_string()
    } else {
        format!(
            "COULD NOT DISARM {} host(s), they may still fire: {}",
            may_fire.len(),
            may_fire.join(", ")
        )
    };
    format!("{why}; {tail}")
}

async fn arm(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    model: &Plan,
    control: &Control,
    armed: &Arc<ArmedSet>,
) -> Result<(), String> {
    let a = &model.action;
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
        batch_size: model.execution.batch_size,
        max_failures: a.max_failures,
    };
    let item = Resolved {
        item: (),
        hosts: plan.action_hosts.clone(),
        allowed_failures: plan.arm_allowed_failures,
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
    let deadline = match plan
        .action_hosts
        .iter()
        .all(|h| ctx.resume.armed.contains_key(h))
    {
        true => plan.times.fire,
        false => plan.times.arm_deadline,
    };
    let watchdog_control = control.clone();
    let watchdog = tokio::spawn(async move {
        sleep_until(deadline).await;
        watchdog_control.abort_because(AbortMode::StopInFlight, "arming deadline passed");
    });
    let report = execute(ctx, "arm", &settings, &item, runner, control).await;
    watchdog.abort();
    let late = crate::clock::now() > deadline;
    let s = &report.summary;
    if late || !report.summary.succeeded() {
        let why = if late {
            "arming did not finish before the arming deadline".to_string()
        } else {
            format!(
                "arming failed on {} host(s), {} unreachable",
                s.failed, s.unreachable
            )
        };
        ctx.emit(RunEvent::PhaseDone {
            phase: "arm".into(),
            ok: false,
            summary: why.clone(),
        });
        return Err(why);
    }
    ctx.emit(RunEvent::PhaseDone {
        phase: "arm".into(),
        ok: true,
        summary: format!("armed on {} host(s)", s.ok),
    });
    Ok(())
}

/// Waits for a T-minus moment; an abort ends the wait with its reason.
async fn wait_until(
    ctx: &Ctx,
    until: DateTime<Utc>,
    what: &str,
    control: &Control,
) -> Result<(), String> {
    if crate::clock::now() < until {
        ctx.emit(RunEvent::Waiting {
            until,
            what: what.into(),
        });
    }
    super::gate::sleep_unless_aborted(until, control).await
}

/// The action's operator gate, asked when the arming window opens; nothing is armed yet, and
/// an answer later than the arming deadline cannot arm in time.
async fn action_gate(
    ctx: &Ctx,
    plan: &RunPlan,
    model: &Plan,
    control: &Control,
) -> Result<(), String> {
    let Some(word) = &model.action.gate else {
        return Ok(());
    };
    let step = format!("action ({})", model.action.name);
    tokio::select! {
        r = ctx.gates.wait(ctx, &step, word, control) => r,
        () = sleep_until(plan.times.arm_deadline) => Err(format!(
            "gate {step} was not passed before the arming deadline; nothing was armed"
        )),
    }
}

/// The watch task, stopped if the run returns without waiting for it (the poller holds the
/// run's context, so a detached one would keep the event stream open until its timeout).
struct WatchTask(Option<tokio::task::JoinHandle<crate::watch::poller::WatchResult>>);

impl Drop for WatchTask {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
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

async fn sleep_until(until: DateTime<Utc>) {
    let left = (until - crate::clock::now())
        .to_std()
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(left).await;
}
