//! `cutover run`'s engine: the compiled run plan carried out phase by phase (preflight,
//! stage, verify), stopping at the first phase that exceeds its failure budget.
//!
//! Every decision was made by `compile`; this shell only runs it and reports. All it learns
//! goes out as `RunEvent`s, which one consumer journals and prints.

pub mod arm;
mod checks;
mod cleanup;
pub mod ctx;
pub mod event;
mod fire;
pub mod gate;
pub mod print;
pub mod resume;
mod steps;
mod verify;
mod watching;

use crate::compile::{Resolved, RunPlan};
use crate::executor::{Control, Executor, FailureBudget, HostRunner, PhaseName, PhaseReport};
use crate::plan::model::{Check, Plan, Step, StepKind};
use crate::remote::{self, Script};
use checks::CheckRunner;
use ctx::Ctx;
use event::RunEvent;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use steps::{PrepareRunner, StepRunner};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every phase within budget.
    Complete,
    /// A phase exceeded its budget (or a local step failed).
    Failed(String),
}

/// Runs preflight, stage, verify, then (unless `stop_after_verify`) arms and fires the action,
/// collects receipts and measures the spread; returns at the first failed phase.
pub async fn run(
    ctx: Arc<Ctx>,
    plan: &RunPlan,
    model: &Plan,
    control: Control,
    stop_after_verify: bool,
) -> Outcome {
    match staged_and_verified(&ctx, plan, &control).await {
        Err(why) => return Outcome::Failed(why),
        Ok(()) if ctx.dry_run => return Outcome::Complete,
        Ok(()) => {}
    }
    if stop_after_verify {
        return Outcome::Complete;
    }
    if let Err(why) = fire::arm_and_fire(&ctx, plan, model, &control).await {
        return Outcome::Failed(why);
    }
    for step in &plan.post {
        if let Err(why) = stage_step(&ctx, step, &control, "post").await {
            return Outcome::Failed(why);
        }
    }
    if !plan.post.is_empty() && !ctx.resume.phase_done("post") {
        ctx.emit(RunEvent::PhaseDone {
            phase: "post".into(),
            ok: true,
            summary: format!("{} step(s)", plan.post.len()),
        });
    }
    Outcome::Complete
}

/// Preflight, stage and verify, each skipped when an earlier attempt of the run finished it.
async fn staged_and_verified(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
) -> Result<(), String> {
    if !ctx.resume.phase_done("preflight") {
        check_phase(ctx, "preflight", &plan.preflight, control).await?;
    }
    if !ctx.resume.phase_done("stage") {
        for step in &plan.stage {
            stage_step(ctx, step, control, "stage").await?;
        }
        ctx.emit(RunEvent::PhaseDone {
            phase: "stage".into(),
            ok: true,
            summary: format!("{} step(s)", plan.stage.len()),
        });
    }
    if ctx.dry_run || ctx.resume.phase_done("verify") {
        return Ok(());
    }
    check_phase(ctx, "verify", &plan.verify, control).await?;
    verify::staged_files(ctx, control, "verify").await?;
    ctx.emit(RunEvent::PhaseDone {
        phase: "verify".into(),
        ok: true,
        summary: "staged changes in place".into(),
    });
    Ok(())
}

/// The T-minus drift check: the plan's verify checks and the staged checksums, again.
async fn reverify(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
    when: &str,
) -> Result<(), String> {
    check_phase(ctx, when, &plan.verify, control)
        .await
        .map_err(|e| format!("drift detected {when}: {e}"))?;
    verify::staged_files(ctx, control, when)
        .await
        .map_err(|e| format!("drift detected {when}: {e}"))
}

/// Runs every check of a phase (all of them, for the full matrix); fails if any exceeded its budget.
async fn check_phase(
    ctx: &Arc<Ctx>,
    phase: &str,
    checks: &[Resolved<Check>],
    control: &Control,
) -> Result<(), String> {
    let mut over = Vec::new();
    for c in checks {
        gate(ctx, &c.item.settings, control).await?;
        let runner = Arc::new(CheckRunner {
            ctx: ctx.clone(),
            check: c.item.clone(),
        });
        let report = execute(ctx, phase, &c.item.settings, c, runner, control).await;
        if !report.summary.succeeded() {
            over.push(c.item.settings.name.clone());
        }
    }
    let ok = over.is_empty();
    let summary = if ok {
        format!("{} check(s) passed", checks.len())
    } else {
        format!("over budget: {}", over.join(", "))
    };
    ctx.emit(RunEvent::PhaseDone {
        phase: phase.into(),
        ok,
        summary: summary.clone(),
    });
    if ok {
        Ok(())
    } else {
        Err(format!("{phase} failed: {summary}"))
    }
}

/// One staging step (file steps: a prepare pass whose grouped diffs are shown, then the write).
async fn stage_step(
    ctx: &Arc<Ctx>,
    step: &Resolved<Step>,
    control: &Control,
    phase: &str,
) -> Result<(), String> {
    let s = &step.item.settings;
    let remaining = ctx.resume.remaining(&s.path, &step.hosts);
    if remaining.is_empty() && !step.hosts.is_empty() {
        return Ok(());
    }
    let step = &Resolved {
        item: step.item.clone(),
        hosts: remaining,
        allowed_failures: step.allowed_failures,
    };
    gate(ctx, s, control).await?;
    if let Script::Local(argv) = remote::step(&step.item.kind) {
        ctx.emit(RunEvent::Step {
            phase: phase.into(),
            name: s.name.clone(),
            path: s.path.clone(),
            hosts: 0,
        });
        return verify::local(ctx, &argv, s.timeout).await;
    }
    let runner = Arc::new(StepRunner {
        ctx: ctx.clone(),
        step: step.item.clone(),
        overlay: Arc::new(Mutex::new(HashMap::new())),
        prepared: Mutex::new(HashMap::new()),
    });
    let is_file = matches!(
        step.item.kind,
        StepKind::EditFile { .. } | StepKind::Upload { .. }
    );
    if is_file {
        let report = execute(
            ctx,
            &format!("{phase} (read and diff, nothing written)"),
            s,
            step,
            Arc::new(PrepareRunner(runner.clone())),
            control,
        )
        .await;
        show_diffs(ctx, &s.path, &report);
        if !report.summary.succeeded() {
            return Err(format!(
                "{phase} failed: {}: could not compute the change on every host",
                s.name
            ));
        }
        let mut prepared = runner.prepared.lock().unwrap_or_else(|e| e.into_inner());
        prepared.extend(
            report
                .hosts
                .into_iter()
                .filter_map(|h| h.output.map(|p| (h.host, p))),
        );
    }
    if ctx.dry_run && is_file {
        return Ok(());
    }
    let report = execute(ctx, phase, s, step, runner.clone(), control).await;
    if !report.summary.succeeded() {
        return Err(format!("{phase} failed: {}: {}", s.name, failures(&report)));
    }
    Ok(())
}

/// Waits for the step's operator gate, if it has one.
async fn gate(
    ctx: &Ctx,
    s: &crate::plan::model::StepSettings,
    control: &Control,
) -> Result<(), String> {
    match &s.gate {
        Some(word) if !ctx.dry_run => {
            let step = format!("{} ({})", s.path, s.name);
            ctx.gates.wait(ctx, &step, word, control).await
        }
        _ => Ok(()),
    }
}

fn show_diffs(ctx: &Ctx, path: &str, report: &PhaseReport<steps::Prepared>) {
    let per_host: Vec<(String, String)> = report
        .hosts
        .iter()
        .filter_map(|h| h.output.as_ref().map(|p| (h.host.clone(), p.diff.clone())))
        .collect();
    let file = report
        .hosts
        .iter()
        .find_map(|h| h.output.as_ref().map(|p| p.file.clone()))
        .unwrap_or_default();
    for (diff, hosts) in steps::group_diffs(&per_host) {
        ctx.emit(RunEvent::Diff {
            path: path.into(),
            file: file.clone(),
            hosts,
            diff,
        });
    }
}

fn failures<O>(report: &PhaseReport<O>) -> String {
    let s = &report.summary;
    format!(
        "{} failed, {} unreachable of {}",
        s.failed,
        s.unreachable,
        report.hosts.len()
    )
}

/// Runs one step or check over its hosts through the executor, forwarding its events.
async fn execute<R: HostRunner, T>(
    ctx: &Arc<Ctx>,
    phase: &str,
    s: &crate::plan::model::StepSettings,
    item: &Resolved<T>,
    runner: Arc<R>,
    control: &Control,
) -> PhaseReport<R::Output> {
    ctx.emit(RunEvent::Step {
        phase: phase.into(),
        name: s.name.clone(),
        path: s.path.clone(),
        hosts: item.hosts.len(),
    });
    let batch = NonZeroUsize::new(s.batch_size).unwrap_or(NonZeroUsize::MIN);
    let executor = Executor::new(batch, FailureBudget::Count(item.allowed_failures));
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let forward_ctx = ctx.clone();
    let forward = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            forward_ctx.emit(RunEvent::Exec(e));
        }
    });
    let report = executor
        .run_phase(
            PhaseName::from(s.path.as_str()),
            item.hosts.clone(),
            runner,
            control.clone(),
            tx,
        )
        .await;
    let _ = forward.await;
    report
}
