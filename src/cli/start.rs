//! What `run` and `resume` share once the run is decided: the fleet, the async runtime, the
//! run context, the one event consumer, and the engine, ending with a `finished` record.

use super::CliError;
use crate::compile::RunPlan;
use crate::executor::Control;
use crate::fleet::{self, Fleet};
use crate::inventory::Inventory;
use crate::journal::writer::{Durability, Writer};
use crate::plan::model::Plan;
use crate::redact::Secrets;
use crate::run::Outcome;
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use crate::run::print::Printer;
use crate::run::resume::Progress;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Everything a run needs once it has been decided (confirmed, locked, journal open).
pub struct Start<'a> {
    /// The validated plan.
    pub plan: &'a Plan,
    /// The inventory it runs against.
    pub inventory: &'a Inventory,
    /// The compiled run plan (hosts, batches, times).
    pub compiled: &'a RunPlan,
    /// The plan file (its directory anchors uploads, templates and known_hosts).
    pub plan_path: &'a Path,
    /// The run id (run directory name).
    pub run_id: &'a str,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--stop-after-verify`.
    pub stop_after_verify: bool,
    /// What an earlier attempt did (empty for a fresh run).
    pub progress: Progress,
    /// The secret values (read by `secrets` before anything else happens).
    pub secrets: Secrets,
}

/// Reads the plan's secrets from the environment and files (relative to the plan file); done
/// first, so a missing secret stops the run before a lock, a run directory or a host is touched.
pub fn secrets(plan: &Plan, plan_path: &Path) -> Result<Secrets, CliError> {
    let plan_dir = plan_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Secrets::resolve(
        &plan.secrets,
        &plan_dir,
        |var| std::env::var(var).ok(),
        |p| std::fs::read_to_string(p),
    )
    .map_err(|e| CliError::Usage(e.to_string()))
}

/// Connects, runs the engine with `first` emitted before anything else, journals every event
/// through the one consumer, and records how it finished.
pub fn carry_out(
    s: Start<'_>,
    journal: Option<Writer>,
    printer: Printer,
    first: Vec<RunEvent>,
) -> Result<Outcome, CliError> {
    let settings = super::run::ssh_settings(s.plan, s.plan_path);
    let hosts: Vec<_> = s.inventory.hosts.iter().collect();
    let user = s.plan.ssh.user.clone().unwrap_or_else(fleet::local_user);
    let fleet = Fleet::new(settings, &hosts, &user).map_err(|e| CliError::Usage(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    Ok(rt.block_on(async move {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let plan_dir = s
            .plan_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let ctx = Arc::new(Ctx {
            output_cap: s.plan.execution.output_cap as usize,
            dry_run: s.dry_run,
            staged: Mutex::new(s.progress.staged.clone()),
            resume: s.progress,
            secrets: Arc::new(s.secrets),
            ..Ctx::new(fleet, s.inventory, plan_dir, s.run_id, tx)
        });
        let sink = tokio::task::spawn_blocking(move || super::run::consume(rx, journal, printer));
        for e in first {
            ctx.emit(e);
        }
        let outcome = crate::run::run(
            ctx.clone(),
            s.compiled,
            s.plan,
            Control::new(),
            s.stop_after_verify,
        )
        .await;
        ctx.emit(finished(&outcome, s.dry_run, s.stop_after_verify));
        ctx.fleet.close().await;
        drop(ctx);
        let _ = sink.await;
        outcome
    }))
}

/// The closing record of an attempt.
fn finished(outcome: &Outcome, dry_run: bool, stop_after_verify: bool) -> RunEvent {
    let (name, reason) = match outcome {
        Outcome::Complete if dry_run => ("dry-run complete", None),
        Outcome::Complete if stop_after_verify => ("staged and verified", None),
        Outcome::Complete => ("complete", None),
        Outcome::Failed(why) => ("failed", Some(why.clone())),
    };
    RunEvent::Finished {
        outcome: name.into(),
        reason,
    }
}

/// How hard each record is pushed to disk: fsynced at every state transition (phase, batch,
/// arm, disarm, fire, verdict, operator action); per-host progress, check verdicts and diffs
/// are only written (they survive the orchestrator being killed, and are many).
pub fn durability(e: &RunEvent) -> Durability {
    use crate::executor::Event;
    match e {
        RunEvent::Exec(Event::HostStarted { .. } | Event::HostFinished { .. })
        | RunEvent::Check { .. }
        | RunEvent::Diff { .. }
        | RunEvent::Watch(crate::watch::WatchEvent::Poll { .. }) => Durability::Written,
        _ => Durability::Synced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Event, HostOutcome, PhaseName};

    #[test]
    fn state_transitions_are_fsynced_host_progress_only_written() {
        let host = RunEvent::Exec(Event::HostFinished {
            phase: PhaseName::from("stage[0]"),
            host: "h".into(),
            outcome: HostOutcome::Ok { detail: None },
        });
        let batch = RunEvent::Exec(Event::BatchFinished {
            phase: PhaseName::from("stage[0]"),
            index: 0,
            of: 2,
            failed_so_far: 0,
        });
        let armed = RunEvent::Armed {
            host: "h".into(),
            mechanism: "waiter".into(),
            id: "1".into(),
        };
        assert_eq!(durability(&host), Durability::Written);
        assert_eq!(durability(&batch), Durability::Synced);
        assert_eq!(durability(&armed), Durability::Synced);
    }
}
