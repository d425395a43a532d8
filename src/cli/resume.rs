//! `cutover resume RUN`: continue a run whose orchestrator stopped (killed, crashed, lost its
//! terminal) from its journal, doing nothing twice.
//!
//! Refuses when the plan or inventory changed since the run started (the reviewed digest is
//! the contract). Takes the run lock again: a lock left by this run's own dead orchestrator on
//! this machine is broken and the fact journaled; any other holder needs `--break-lock` (dead)
//! or waiting (alive). Then the journal is reopened, folded into what was done, and the engine
//! continues: finished phases and host-steps are skipped, armed hosts are re-verified (never
//! armed twice), and past the fire time only receipts, the watch and post steps remain.

use super::CliError;
use super::load::{PlanArgs, load};
use super::run::output::Mode;
use crate::compile::compile;
use crate::fleet;
use crate::journal::Record;
use crate::journal::lock::{self, Holder, LockError, RunLock};
use crate::journal::rundir::{DIGEST_FILE, RunDir};
use crate::journal::writer::Writer;
use crate::plan::digest::digest;
use crate::run::event::RunEvent;
use crate::run::print::Printer;
use crate::run::state::{RunState, fold};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `cutover resume`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id (directory name under --runs-dir) or its directory.
    run: String,
    /// The inventory the run was started with, if it was not the plan's own (`run -i`).
    #[arg(long, short = 'i')]
    inventory: Option<PathBuf>,
    /// Break the run lock even if another run holds it, provided its process is gone.
    #[arg(long)]
    break_lock: bool,
    #[command(flatten)]
    confirm: super::run::ConfirmArgs,
    /// Where run directories live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    #[command(flatten)]
    view: super::run::output::ViewArgs,
    /// Answer the operator gate whose word is WORD ahead of time (repeatable).
    #[arg(long, value_name = "WORD")]
    gate: Vec<String>,
    #[command(flatten)]
    ssh: super::ssh_args::SshArgs,
    /// When the resumed run fails before its action fired, undo its staging at once.
    #[arg(long)]
    rollback_on_failure: bool,
}

/// Runs `cutover resume`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let usage = |e: String| CliError::Usage(e);
    let dir = RunDir::open(&args.runs_dir, &args.run).map_err(|e| usage(e.to_string()))?;
    let records = super::report::records(&dir)?.0;
    let progress = fold(&records);
    if progress.complete() {
        super::out(&format!(
            "run {}: already complete; nothing to resume\n",
            dir.id
        ));
        return Ok(ExitCode::SUCCESS);
    }
    refuse_if_disarmed(&dir, &progress)?;
    if !progress.rolled_back.is_empty() || !progress.rollback_failed.is_empty() {
        return Err(usage(format!(
            "run {}: it was rolled back (`cutover rollback`); resume never stages a rolled-back run again: start a new run",
            dir.id
        )));
    }
    let started = started_event(&records, &dir.id)?;
    let RunEvent::Started { plan_path, .. } = &started else {
        return Err(usage("no started record".into()));
    };
    let plan_path = PathBuf::from(plan_path);
    let (plan, inventory, digest) = current(args, &dir, &plan_path, &progress)?;
    let secrets = super::start::secrets(&plan, &plan_path)?;
    let mode = Mode::choose(args.view.plain, args.view.json, false);
    let header = format!(
        "{}  run dir   {}\n",
        Printer::default().line(&started),
        dir.path.display()
    );
    if mode == Mode::Json {
        eprint!("{header}");
    } else {
        super::out(&header);
    }
    super::run::confirm_for(&args.confirm, &inventory)?;
    // The lock is keyed by the hosts the run touches, as compiled from its snapshots.
    let first_fire = progress.fire_at.unwrap_or(plan.action.at.to_utc());
    let hosts_of =
        compile(&plan, &inventory, first_fire, digest.clone()).map_err(|e| usage(e.to_string()))?;
    let (_lock, broke_lock) = relock(args, &dir, &hosts_of, &inventory)?;
    let (writer, read) =
        Writer::reopen::<RunEvent>(&dir.journal()).map_err(|e| usage(e.to_string()))?;
    let after_seq = read.records.last().map_or(0, |r| r.seq);
    let records = super::report::with_side_journals(&dir, read.records)?;
    let progress = fold(&records);
    let fire_at = progress.fire_at.unwrap_or(plan.action.at.to_utc());
    let compiled =
        compile(&plan, &inventory, fire_at, digest.clone()).map_err(|e| usage(e.to_string()))?;
    let operator = format!("{}@{}", fleet::local_user(), lock::this_host());
    let resumed = RunEvent::Resumed {
        operator: operator.clone(),
        after_seq,
        crashed: progress.finished.is_none(),
        torn_tail: read.torn_tail,
        broke_lock,
    };
    let start = super::start::Start {
        plan: &plan,
        inventory: &inventory,
        compiled: &compiled,
        plan_path: &plan_path,
        run_id: &dir.id,
        dry_run: false,
        stop_after_verify: false,
        prior: progress,
        secrets,
        mode,
        gates: args.gate.clone(),
        confirm_writes: !args.confirm.yes,
        operator,
        ssh: args.ssh.clone(),
        run_dir: Some(RunDir {
            path: dir.path.clone(),
            id: dir.id.clone(),
        }),
        rollback_on_failure: args.rollback_on_failure,
    };
    super::start::carry_out(start, Some(writer), vec![resumed])
}

/// A run taken back with `cutover disarm` is never armed again by resume (past the fire
/// time there is nothing to arm, and receipts may still be collected).
fn refuse_if_disarmed(dir: &RunDir, progress: &RunState) -> Result<(), CliError> {
    let side = dir
        .side_journals()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    match side.first() {
        Some(first) if !progress.fire_passed(crate::clock::now()) => Err(CliError::Usage(format!(
            "run {}: it was taken back with `cutover disarm` ({}); resume never arms a disarmed run again: start a new run",
            dir.id,
            first.display()
        ))),
        _ => Ok(()),
    }
}

fn started_event(records: &[Record<RunEvent>], id: &str) -> Result<RunEvent, CliError> {
    records
        .iter()
        .find(|r| matches!(r.event, RunEvent::Started { .. }))
        .map(|r| r.event.clone())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "run {id}: the journal has no `started` record; there is nothing to resume"
            ))
        })
}

/// The plan and inventory as they are now, refused unless their digest is the recorded one.
fn current(
    args: &Args,
    dir: &RunDir,
    plan_path: &Path,
    progress: &RunState,
) -> Result<
    (
        crate::plan::model::Plan,
        crate::inventory::Inventory,
        String,
    ),
    CliError,
> {
    let loaded = load(&PlanArgs {
        plan: plan_path.to_path_buf(),
        inventory: args.inventory.clone(),
        now: Some(chrono::DateTime::UNIX_EPOCH),
    })?;
    let (Some(plan), Some(inventory)) = (loaded.plan.clone(), loaded.inventory.clone()) else {
        eprintln!("{}", loaded.render_diagnostics());
        return Err(CliError::Usage(format!(
            "{}: the plan no longer checks; nothing was resumed",
            plan_path.display()
        )));
    };
    let now = digest(&plan, Some(&inventory));
    let recorded = super::read(&dir.path.join(DIGEST_FILE))?;
    let recorded = recorded.trim();
    if progress.digest.as_deref() != Some(recorded) || now != recorded {
        return Err(CliError::Usage(format!(
            "run {}: the plan or inventory changed since the run started (recorded digest {recorded}, now {now}); \
resume carries out only the plan that was reviewed and started. Restore {} (and its inventory{}), \
or take the run back with `cutover disarm {}` and start a new run",
            dir.id,
            plan_path.display(),
            if args.inventory.is_none() {
                "; pass -i if the run was started with one"
            } else {
                ""
            },
            dir.id
        )));
    }
    Ok((plan, inventory, now))
}

/// Takes the run lock again. A lock whose holder was this run's own orchestrator, on this
/// machine, with its process gone, is what a crash leaves: it is broken (and journaled).
fn relock(
    args: &Args,
    dir: &RunDir,
    compiled: &crate::compile::RunPlan,
    inventory: &crate::inventory::Inventory,
) -> Result<(RunLock, Option<String>), CliError> {
    let path = super::run::lock_path(compiled, inventory)?;
    let holder = Holder {
        user: fleet::local_user(),
        host: lock::this_host(),
        pid: std::process::id(),
        started: crate::clock::now(),
        run: dir.id.clone(),
        run_dir: std::path::absolute(&dir.path).ok(),
    };
    // Recorded only once the lock is ours: a refused resume must not claim a live run.
    let record = |l: RunLock, broke: Option<String>| {
        dir.record_orchestrator(&holder)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok((l, broke))
    };
    match RunLock::acquire(&path, holder.clone()) {
        Ok(l) => record(l, None),
        Err(LockError::Held {
            holder: old,
            stale: true,
            ..
        }) if old.run == dir.id || args.break_lock || super::run::run_is_over(&old) => {
            RunLock::break_lock(&path).map_err(|e| CliError::Usage(e.to_string()))?;
            eprintln!("cutover: broke the stale lock of {old}");
            let l = RunLock::acquire(&path, holder.clone())
                .map_err(|e| CliError::Usage(e.to_string()))?;
            record(l, Some(old.to_string()))
        }
        Err(e) => Err(CliError::Usage(e.to_string())),
    }
}
