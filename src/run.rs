//! `cutover run`'s engine: the compiled run plan carried out phase by phase (preflight,
//! stage, verify, arm, fire, watch, post).
//!
//! Every decision was made by `compile`; this shell only runs it and reports. All it learns
//! goes out as `RunEvent`s, which one consumer journals and prints, and which the run's one
//! fold (`state`) follows as they are emitted.
//!
//! A host that fails or cannot be reached in any check or step leaves the run: it is
//! excluded (journaled with its reason) from every later step, from arming and from the
//! fire. Each phase's failure budget counts the distinct hosts excluded in it so far, across
//! all of its steps (Ansible's `max_fail_percentage`); a phase over budget stops the run.

pub mod arm;
pub mod changes;
mod checks;
pub mod cleanup;
mod commit;
pub mod ctx;
pub mod error;
pub mod event;
#[cfg(test)]
mod fake;
mod fire;
pub mod gate;
pub mod lease;
pub mod phase;
pub mod print;
pub mod reasons;
pub mod rollback;
pub mod state;
mod steps;
mod verify;
mod watching;

use crate::compile::{Resolved, RunPlan};
use crate::executor::{
    Control, Executor, FailureBudget, HostOutcome, HostRunner, PhaseName, PhaseReport,
};
use crate::plan::model::{Check, Step, StepKind};
use crate::remote::{self, Script};
use checks::CheckRunner;
use ctx::Ctx;
use error::RunError;
use event::RunEvent;
use phase::Phase;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use steps::{PrepareRunner, StepRunner};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every phase within budget.
    Complete,
    /// A phase failed, the action failed, or the run was stopped.
    Failed(RunError),
}

/// Runs preflight, stage, verify, then (unless `stop_after_verify`) arms and fires the action,
/// collects receipts and measures the spread, watches, and runs the post steps; returns at
/// the first failed phase.
pub async fn run(
    ctx: Arc<Ctx>,
    plan: &RunPlan,
    control: Control,
    stop_after_verify: bool,
) -> Outcome {
    let outcome = phases(&ctx, plan, &control, stop_after_verify).await;
    // The hosts are this run's until nothing of it may fire any more.
    let leased = leased_hosts(plan);
    if !ctx.dry_run && ctx.state().may_fire(&plan.action_hosts).is_empty() {
        // Nothing sensitive stays: job scripts (the action, secrets included) and action
        // output go from every host whose job can no longer act (the script checks).
        // Only this run's lease is removed (the script checks), so a host refused for
        // another run's lease keeps it.
        let clean: &[String] = match ctx.state().arming_started {
            true => &plan.action_hosts,
            false => &[],
        };
        cleanup::close(&ctx, clean, &leased).await;
    }
    outcome
}

/// The operator quits leaving the run armed: its jobs must fire regardless, so a run armed
/// on every host and not yet committed is committed now (skipping the T-minus check, the
/// operator's explicit choice); before arming ended there is nothing to leave.
pub async fn leave_armed(ctx: &Arc<Ctx>, plan: &RunPlan) -> Result<(), RunError> {
    let (armed, committed) = {
        let s = ctx.state();
        (s.phase_done(Phase::Arm), s.phase_done(Phase::Commit))
    };
    if armed && !committed {
        ctx.emit(RunEvent::Operator {
            action: "left armed: committing the armed jobs so they fire regardless".into(),
        });
        return commit::commit(ctx, plan).await;
    }
    Ok(())
}

/// Every host the run may change (and leases): staged, armed or given a post step.
pub fn leased_hosts(plan: &RunPlan) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    plan.stage
        .iter()
        .chain(&plan.post)
        .flat_map(|s| s.hosts.iter())
        .chain(&plan.action_hosts)
        .filter(|h| seen.insert(h.as_str()))
        .cloned()
        .collect()
}

/// Takes the run's ownership lease on every host it may change that is still in the run; a
/// host leased by another live run is refused (and leaves this run, spending the stage budget).
async fn take_leases(ctx: &Arc<Ctx>, plan: &RunPlan, control: &Control) -> Result<(), RunError> {
    let hosts = ctx.state().in_run(&leased_hosts(plan));
    if hosts.is_empty() {
        return Ok(());
    }
    let runner = Arc::new(lease::LeaseRunner {
        ctx: ctx.clone(),
        lease: lease::Lease {
            run: ctx.run_name.clone(),
            operator: ctx.operator.clone(),
            digest: plan.digest.clone(),
            expires: lease::expiry(plan.times.fire, plan.watch.as_ref().map(|w| w.timeout)),
        },
    });
    let settings = crate::plan::model::StepSettings {
        name: "take the ownership lease (one run per host)".into(),
        path: "lease".into(),
        targets: plan.action.targets.clone(),
        gate: None,
        once: false,
        sudo: false,
        timeout: std::time::Duration::from_secs(20),
        batch_size: hosts.len(),
        max_failures: plan.action.max_failures,
    };
    let allowed = plan
        .stage
        .iter()
        .map(|s| s.allowed_failures)
        .max()
        .unwrap_or(0);
    let report = execute(
        ctx,
        Phase::Stage,
        &settings,
        hosts,
        runner,
        control,
        Some(allowed),
    )
    .await;
    stopped(control, &report)?;
    over_budget(ctx, Phase::Stage, allowed)
}

async fn phases(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
    stop_after_verify: bool,
) -> Outcome {
    let (ctx, control) = (ctx.clone(), control.clone());
    match staged_and_verified(&ctx, plan, &control).await {
        Err(why) => return Outcome::Failed(why),
        Ok(()) if ctx.dry_run => return Outcome::Complete,
        Ok(()) => {}
    }
    if stop_after_verify {
        return Outcome::Complete;
    }
    if let Err(why) = fire::arm_and_fire(&ctx, plan, &control).await {
        return Outcome::Failed(why);
    }
    for step in &plan.post {
        if let Err(why) = stage_step(&ctx, step, &control, Phase::Post).await {
            return Outcome::Failed(why);
        }
    }
    if !plan.post.is_empty() && !ctx.state().phase_done(Phase::Post) {
        ctx.emit(RunEvent::PhaseDone {
            phase: Phase::Post,
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
) -> Result<(), RunError> {
    if !ctx.state().phase_done(Phase::Preflight) {
        check_phase(ctx, Phase::Preflight, &plan.preflight, control).await?;
    }
    if !ctx.dry_run {
        take_leases(ctx, plan, control).await?;
    }
    if !ctx.state().phase_done(Phase::Stage) {
        for step in &plan.stage {
            stage_step(ctx, step, control, Phase::Stage).await?;
        }
        ctx.emit(RunEvent::PhaseDone {
            phase: Phase::Stage,
            ok: true,
            summary: with_excluded(ctx, Phase::Stage, format!("{} step(s)", plan.stage.len())),
        });
    }
    if ctx.dry_run || ctx.state().phase_done(Phase::Verify) {
        return Ok(());
    }
    check_phase(ctx, Phase::Verify, &plan.verify, control).await?;
    Ok(())
}

/// A drift check (before arming, at T-minus): the plan's verify checks and the staged
/// checksums, again. Hosts that drifted are excluded; over the verify budget it fails.
async fn reverify(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    control: &Control,
    when: Phase,
) -> Result<(), RunError> {
    check_phase(ctx, when, &plan.verify, control)
        .await
        .map_err(|cause| RunError::Drift {
            when,
            cause: Box::new(cause),
        })
}

/// Runs every check of a phase on every host still in the run (all of them, for the full
/// matrix), plus the staged checksums at verify and the drift checks; hosts that fail leave
/// the run; fails if the phase's distinct excluded hosts exceed a check's budget.
async fn check_phase(
    ctx: &Arc<Ctx>,
    phase: Phase,
    checks: &[Resolved<Check>],
    control: &Control,
) -> Result<(), RunError> {
    let mut over = None;
    // Every check runs on every host in the run when the phase began, so the matrix is
    // complete; a host that failed leaves the run for the phases after this one.
    let at_start: Vec<String> = ctx.state().in_run(&all_hosts(checks));
    for c in checks {
        gate(ctx, &c.item.settings, control).await?;
        let runner = Arc::new(CheckRunner {
            ctx: ctx.clone(),
            check: c.item.clone(),
        });
        let hosts = c
            .hosts
            .iter()
            .filter(|h| at_start.contains(h))
            .cloned()
            .collect();
        let report = execute(ctx, phase, &c.item.settings, hosts, runner, control, None).await;
        stopped(control, &report)?;
        if over.is_none() {
            over = over_budget(ctx, phase, c.allowed_failures).err();
        }
    }
    if phase != Phase::Preflight {
        verify::staged_files(ctx, control, phase, &at_start).await?;
        let allowed = checks.iter().map(|c| c.allowed_failures).max();
        if over.is_none() {
            over = over_budget(ctx, phase, allowed.unwrap_or(0)).err();
        }
    }
    let ok = over.is_none();
    let summary = match &over {
        None => with_excluded(ctx, phase, format!("{} check(s) passed", checks.len())),
        Some(e) => e.to_string(),
    };
    ctx.emit(RunEvent::PhaseDone { phase, ok, summary });
    match over {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// Every host any of `checks` runs on, in first-seen order.
fn all_hosts(checks: &[Resolved<Check>]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    checks
        .iter()
        .flat_map(|c| c.hosts.iter())
        .filter(|h| seen.insert(h.as_str()))
        .cloned()
        .collect()
}

/// Fails when the distinct hosts excluded in `phase`'s budget phase exceed `allowed`.
fn over_budget(ctx: &Ctx, phase: Phase, allowed: usize) -> Result<(), RunError> {
    let state = ctx.state();
    let out = state.excluded_in(phase);
    if out.len() <= allowed {
        return Ok(());
    }
    // Grouped by reason: 255 hosts failing alike are one `HOSTS: reason`, not 255.
    let groups = reasons::group(out.iter().map(|(h, e)| (h.as_str(), e.reason.as_str())));
    let mut detail = groups
        .iter()
        .take(3)
        .map(|g| format!("{}: {}", g.hostlist, g.reason))
        .collect::<Vec<_>>()
        .join("; ");
    if groups.len() > 3 {
        detail.push_str(&format!("; and {} more reason(s)", groups.len() - 3));
    }
    Err(RunError::OverBudget {
        phase: phase.budget_phase(),
        excluded: out.len(),
        allowed,
        detail,
    })
}

/// Hosts excluded so far in `phase`'s budget, counted as the phase summary's tail.
fn excluded_in(ctx: &Ctx, phase: Phase) -> usize {
    ctx.state().excluded_in(phase).len()
}

fn with_excluded(ctx: &Ctx, phase: Phase, summary: String) -> String {
    match excluded_in(ctx, phase) {
        0 => summary,
        n => format!("{summary}; {n} host(s) excluded from the rest of the run"),
    }
}

/// An abort (operator, signal, deadline, lost journal) ends the phase as stopped.
fn stopped<O>(control: &Control, report: &PhaseReport<O>) -> Result<(), RunError> {
    if let crate::executor::PhaseEnding::Aborted { reason, .. } = &report.summary.ending {
        return Err(RunError::Stopped(reason.clone()));
    }
    if let Some((_, why)) = control.requested().abort {
        return Err(RunError::Stopped(why));
    }
    Ok(())
}

/// One staging or post step (file steps: a prepare pass whose grouped diffs are shown, then
/// the write), on the hosts still in the run.
async fn stage_step(
    ctx: &Arc<Ctx>,
    step: &Resolved<Step>,
    control: &Control,
    phase: Phase,
) -> Result<(), RunError> {
    let s = &step.item.settings;
    let remaining = ctx.state().remaining(&s.path, &step.hosts);
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
            phase,
            name: s.name.clone(),
            path: s.path.clone(),
            hosts: 0,
        });
        return verify::local(ctx, &argv, s.timeout)
            .await
            .map_err(|detail| RunError::Step {
                phase,
                step: s.name.clone(),
                detail,
            });
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
    let budget = Some(step.allowed_failures);
    if is_file {
        let pass = phase.diff_pass();
        let prepare = Arc::new(PrepareRunner(runner.clone()));
        let hosts = ctx.state().in_run(&step.hosts);
        let report = execute(ctx, pass, s, hosts, prepare, control, budget).await;
        let written = match &step.item.kind {
            StepKind::EditFile { path, .. } => path.as_str(),
            StepKind::Upload { dest, .. } => dest.as_str(),
            _ => "",
        };
        show_diffs(ctx, (&s.path, written), &report);
        stopped(control, &report)?;
        over_budget(ctx, phase, step.allowed_failures)?;
        let changes =
            (report.hosts.iter()).any(|h| h.output.as_ref().is_some_and(|p| !p.diff.is_empty()));
        if changes && !ctx.dry_run {
            let step = format!("{} ({})", s.path, s.name);
            (ctx.gates.before_writes(ctx, &step, control).await).map_err(RunError::Stopped)?;
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
    let hosts = ctx.state().in_run(&step.hosts);
    let report = execute(ctx, phase, s, hosts, runner.clone(), control, budget).await;
    stopped(control, &report)?;
    over_budget(ctx, phase, step.allowed_failures)
}

/// Waits for the step's operator gate, if it has one.
async fn gate(
    ctx: &Ctx,
    s: &crate::plan::model::StepSettings,
    control: &Control,
) -> Result<(), RunError> {
    match &s.gate {
        Some(word) if !ctx.dry_run => {
            let step = format!("{} ({})", s.path, s.name);
            ctx.gates
                .wait(ctx, &step, word, control)
                .await
                .map_err(RunError::Stopped)
        }
        _ => Ok(()),
    }
}

fn show_diffs(ctx: &Ctx, (path, written): (&str, &str), report: &PhaseReport<steps::Prepared>) {
    let per_host: Vec<(String, String)> = report
        .hosts
        .iter()
        .filter_map(|h| h.output.as_ref().map(|p| (h.host.clone(), p.diff.clone())))
        .collect();
    let files: std::collections::HashMap<&str, &str> = report
        .hosts
        .iter()
        .filter_map(|h| {
            h.output
                .as_ref()
                .map(|p| (h.host.as_str(), p.file.as_str()))
        })
        .collect();
    let each = (per_host.iter()).map(|(h, d)| (path, written, std::slice::from_ref(h), d.as_str()));
    for g in changes::group(each) {
        let mut rendered: Vec<&str> = (g.hosts.iter())
            .filter_map(|h| files.get(h.as_str()).copied())
            .collect();
        rendered.sort_unstable();
        rendered.dedup();
        let shared = match rendered.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let diff = steps::rendered_header(&g.diff, written, shared);
        ctx.emit(RunEvent::Diff {
            path: path.into(),
            file: shared.map_or_else(|| written.to_string(), str::to_string),
            hosts: g.hosts,
            diff,
            context_varies: g.context_differs,
        });
    }
}

/// Runs one step or check over `hosts` (the caller's choice of those still in the run),
/// forwarding the executor's events; every host that failed or was unreachable leaves the run.
///
/// `budget`: the step's allowance for the phase (what the phase has already spent is taken
/// off, so the executor stops at the phase's budget); `None` runs every host (checks).
async fn execute<R: HostRunner>(
    ctx: &Arc<Ctx>,
    phase: Phase,
    s: &crate::plan::model::StepSettings,
    hosts: Vec<String>,
    runner: Arc<R>,
    control: &Control,
    budget: Option<usize>,
) -> PhaseReport<R::Output> {
    execute_paced(ctx, phase, s, hosts, runner, control, budget, None).await
}

/// [`execute`], with at most `window` hosts running at once inside a batch (`None`: the
/// whole batch at once). A round over every host without a barrier between batches (the
/// T-minus check) uses one batch of all hosts and the fleet's batch size as its window, so
/// each host's time limit starts when its own command does, not when the round does.
#[allow(clippy::too_many_arguments)]
async fn execute_paced<R: HostRunner>(
    ctx: &Arc<Ctx>,
    phase: Phase,
    s: &crate::plan::model::StepSettings,
    hosts: Vec<String>,
    runner: Arc<R>,
    control: &Control,
    budget: Option<usize>,
    window: Option<NonZeroUsize>,
) -> PhaseReport<R::Output> {
    ctx.emit(RunEvent::Step {
        phase,
        name: s.name.clone(),
        path: s.path.clone(),
        hosts: hosts.len(),
    });
    let allowance = match budget {
        Some(allowed) => allowed.saturating_sub(excluded_in(ctx, phase)),
        None => usize::MAX,
    };
    let batch = NonZeroUsize::new(s.batch_size).unwrap_or(NonZeroUsize::MIN);
    let mut executor = Executor::new(batch, FailureBudget::Count(allowance));
    if let Some(w) = window {
        executor.max_concurrency = w.min(batch);
    }
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
            hosts,
            runner,
            control.clone(),
            tx,
        )
        .await;
    let _ = forward.await;
    for h in &report.hosts {
        let reason = match &h.outcome {
            HostOutcome::Failed { reason, .. } => reason.clone(),
            HostOutcome::Unreachable { reason } if reason.starts_with("unreachable") => {
                reason.clone()
            }
            HostOutcome::Unreachable { reason } => format!("unreachable: {reason}"),
            _ => continue,
        };
        ctx.exclude(&h.host, Some(phase), format!("{}: {reason}", s.path));
    }
    report
}
