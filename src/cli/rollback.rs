//! `cutover rollback RUN`: undo what a run's staging did on every host it changed, from any
//! terminal, once the run's orchestrator is gone (see `run::rollback`).
//!
//! Takes the run lock (a lock left by this run's own dead orchestrator is broken; a live
//! one refuses), reads the run's plan and inventory snapshots, folds the journal, and
//! appends the `rollback` phase to it. Exit 0: every staged host restored and verified (or
//! nothing to do); 1: some hosts were not, named; 2: refused as a whole (armed, fired).

use super::CliError;
use crate::fleet::{self, Fleet};
use crate::journal::lock::{self, Holder, LockError, RunLock};
use crate::journal::rundir::RunDir;
use crate::journal::writer::{Durability, Writer};
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use crate::run::rollback::Report;
use crate::run::state::fold;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Arguments of `cutover rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id (directory name under --runs-dir) or its directory.
    run: String,
    /// Also after the action fired on some hosts, and over files changed since staging
    /// (never while a host may still fire: disarm first).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    confirm: super::run::ConfirmArgs,
    /// Where run directories live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    #[command(flatten)]
    ssh: super::ssh_args::SshArgs,
}

/// Runs `cutover rollback`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let usage = |e: String| CliError::Usage(e);
    let dir = RunDir::open(&args.runs_dir, &args.run).map_err(|e| usage(e.to_string()))?;
    let (plan, inventory, plan_path) = super::load::run_snapshots(&dir)?;
    let records = super::report::records(&dir)?.0;
    let state = fold(&records);
    let fire_at = state.fire_at.unwrap_or(plan.action.at.to_utc());
    let compiled = crate::compile::compile(&plan, &inventory, fire_at, String::new())
        .map_err(|e| usage(e.to_string()))?;
    // Decided before asking anything: a refusal or nothing to do needs no confirmation.
    let shown = dir.path.display().to_string();
    let visits = crate::run::rollback::decide::decide(&state, &compiled, args.force, &shown)
        .map_err(|e| usage(format!("run {}: rollback refused: {e}", dir.id)))?;
    if visits.is_empty() {
        super::out(&format!(
            "run {}: nothing to roll back: staging changed no host\n",
            dir.id
        ));
        return Ok(ExitCode::SUCCESS);
    }
    let todo: Vec<&str> = visits
        .iter()
        .filter(|(_, v)| !matches!(v, crate::run::rollback::decide::Visit::AlreadyRolledBack))
        .map(|(h, _)| h.as_str())
        .collect();
    if todo.is_empty() {
        super::out(&format!(
            "run {}: nothing to roll back: every staged host ({}) was rolled back already\n",
            dir.id,
            visits.len()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    super::out(&format!(
        "run {}: rolling back {} staged host(s): {}\n",
        dir.id,
        todo.len(),
        crate::executor::nodeset::compact(&todo.iter().map(|h| h.to_string()).collect::<Vec<_>>())
    ));
    super::run::confirm_for(&args.confirm, &inventory)?;
    let secrets = super::start::secrets(&plan, &plan_path)?;
    let _lock = relock(&dir, &compiled, &inventory)?;
    let (writer, _) =
        Writer::reopen::<RunEvent>(&dir.journal()).map_err(|e| usage(e.to_string()))?;
    // Read again under the lock: the fold the rollback acts on is the journal's last word.
    let state = fold(&super::report::records(&dir)?.0);
    let hosts: Vec<_> = inventory
        .hosts
        .iter()
        .filter(|h| todo.contains(&h.name.as_str()))
        .collect();
    let settings = args.ssh.settings_for_plan(&plan, &plan_path);
    let user = plan.ssh.user.clone().unwrap_or_else(fleet::local_user);
    let fleet = Fleet::new(settings, &hosts, &user).map_err(|e| usage(e.to_string()))?;
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| usage(format!("cannot start the async runtime: {e}")))?;
    let operator = format!("{}@{}", fleet::local_user(), lock::this_host());
    let (result, lost) = rt.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        let consumer = tokio::task::spawn_blocking(move || journal_and_print(writer, rx));
        let plan_dir = plan_path.parent().map(PathBuf::from).unwrap_or_default();
        let ctx = Arc::new(Ctx {
            state: Arc::new(Mutex::new(state)),
            secrets: Arc::new(secrets),
            operator: operator.clone(),
            output_cap: plan.execution.output_cap as usize,
            ..Ctx::new(fleet, &inventory, plan_dir, &dir.id, tx)
        });
        let forced = if args.force { " with --force" } else { "" };
        ctx.emit(RunEvent::Operator {
            action: format!("rollback requested{forced} by {operator}"),
        });
        let result = crate::run::rollback::rollback(&ctx, &compiled, args.force).await;
        ctx.fleet.close().await;
        drop(ctx);
        (result, consumer.await.ok().flatten())
    });
    if let Some(err) = lost {
        eprintln!("cutover: the journal could not be written: {err}");
    }
    let report = result.map_err(|e| usage(format!("run {}: rollback refused: {e}", dir.id)))?;
    Ok(verdict(&dir.id, &shown, &report))
}

/// The closing lines and the exit code.
fn verdict(run: &str, shown: &str, report: &Report) -> ExitCode {
    if report.ok() {
        super::out(&format!(
            "run {run}: rolled back: {} host(s) restored and verified{}\n",
            report.rolled_back.len(),
            match report.already.len() {
                0 => String::new(),
                n => format!(", {n} already rolled back"),
            }
        ));
        return ExitCode::SUCCESS;
    }
    let mut text = format!(
        "run {run}: ROLLBACK INCOMPLETE: {} host(s) restored; {} NOT:\n",
        report.rolled_back.len(),
        report.failed.len()
    );
    for (h, why) in &report.failed {
        text.push_str(&format!("  {h}: {why}\n"));
    }
    text.push_str(&format!(
        "fix what is named and run `cutover rollback {shown}` again (restored hosts are skipped)\n"
    ));
    super::out(&text);
    ExitCode::from(1)
}

fn journal_and_print(
    mut writer: Writer,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<RunEvent>,
) -> Option<String> {
    let mut printer = crate::run::print::Printer::default();
    let mut lost = None;
    while let Some(e) = rx.blocking_recv() {
        if let Err(err) = writer.append(crate::clock::now(), &e, Durability::Synced) {
            lost.get_or_insert(err.to_string());
        }
        super::out(&printer.line(&e));
    }
    lost
}

/// Takes the run lock: a rollback never runs beside a live orchestrator of the run. A lock
/// whose holder was this run, with its process gone, is what a crash leaves: broken.
fn relock(
    dir: &RunDir,
    compiled: &crate::compile::RunPlan,
    inventory: &crate::inventory::Inventory,
) -> Result<RunLock, CliError> {
    let path = super::run::lock_path(compiled, inventory)?;
    let holder = Holder {
        user: fleet::local_user(),
        host: lock::this_host(),
        pid: std::process::id(),
        started: crate::clock::now(),
        run: dir.id.clone(),
        run_dir: std::path::absolute(&dir.path).ok(),
    };
    let usage = |e: LockError| CliError::Usage(e.to_string());
    match RunLock::acquire(&path, holder.clone()) {
        Ok(l) => Ok(l),
        Err(LockError::Held {
            holder: old,
            stale: true,
            ..
        }) if old.run == dir.id => {
            RunLock::break_lock(&path).map_err(usage)?;
            eprintln!("cutover: broke the stale lock of {old}");
            RunLock::acquire(&path, holder).map_err(usage)
        }
        Err(LockError::Held {
            holder: old,
            stale: false,
            ..
        }) if old.run == dir.id => Err(CliError::Usage(format!(
            "run {}: its orchestrator is still running ({old}): stop it (abort) first, then roll back",
            dir.id
        ))),
        Err(e) => Err(usage(e)),
    }
}
