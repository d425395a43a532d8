//! What `run` and `resume` share once the run is decided: the fleet, the async runtime, the
//! run context, the one event consumer, and the engine, ending with a `finished` record.

use super::CliError;
use super::run::operator;
use super::run::output::{self, Mode, Sink};
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
use crate::run::gate::GateMode;
use crate::run::gate::Gates;
use crate::run::phase::Ending;
use crate::run::state::RunState;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
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
    /// What earlier attempts did (the journal's fold; empty for a fresh run).
    pub prior: RunState,
    /// The secret values (read by `secrets` before anything else happens).
    pub secrets: Secrets,
    /// How the run is shown.
    pub mode: Mode,
    /// Gate words answered ahead of time (`--gate`).
    pub gates: Vec<String>,
    /// Without `--yes`: where someone can answer, each file step's diffs wait for the
    /// operator to type `write` before anything is written.
    pub confirm_writes: bool,
    /// Who runs it (user@host), for operator actions in the journal.
    pub operator: String,
    /// How to reach the hosts (`--identity`, `--known-hosts`, ...), outside the digest.
    pub ssh: super::ssh_args::SshArgs,
    /// The run directory (none in a dry run): watched for a disarm from another terminal.
    pub run_dir: Option<crate::journal::rundir::RunDir>,
    /// `--rollback-on-failure`: a run that fails (or is aborted) before its action fired
    /// undoes its staging itself; without it, the `cutover rollback` command is printed.
    pub rollback_on_failure: bool,
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

/// Connects, shows the run in its mode, runs the engine with `first` emitted before anything
/// else, journals every event through the one consumer, wires the operator's keys and Ctrl-C
/// to the run, and records how it finished; the exit code says whether hosts may still fire.
pub fn carry_out(
    s: Start<'_>,
    journal: Option<Writer>,
    first: Vec<RunEvent>,
) -> Result<ExitCode, CliError> {
    let settings = s.ssh.settings_for_plan(s.plan, s.plan_path);
    let hosts: Vec<_> = s.inventory.hosts.iter().collect();
    let user = s.plan.ssh.user.clone().unwrap_or_else(fleet::local_user);
    let fleet = Fleet::new(settings, &hosts, &user).map_err(|e| CliError::Usage(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let gate_mode = output::gate_mode(s.mode);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let parts = (s.compiled, s.plan, s.inventory);
    let control = Control::new();
    let (sink, dashboard) = Sink::start(
        s.mode, gate_mode, journal, parts, s.run_id, &cmd_tx, &control,
    );
    let state = Arc::new(Mutex::new(s.prior));
    let decisions = Arc::new(operator::Decisions::default());
    let fire = s.compiled.times.fire;
    let targets = s.compiled.action_hosts.clone();
    let watched = operator::Watched {
        state: state.clone(),
        targets: targets.clone(),
        run_id: s.run_id.to_string(),
    };
    let dash_tx = dashboard.as_ref().map(|d| d.tx.clone());
    let run_id = s.run_id.to_string();
    let run_path = s.run_dir.as_ref().map(|d| d.path.clone());
    let (state_after, decisions_after) = (state.clone(), decisions.clone());
    let (outcome, last, way_back) = rt.block_on(async move {
        // A journal that cannot grow (a full quota, a file size limit) must fail its append,
        // so the run stops and disarms; SIGXFSZ's default would kill the orchestrator with
        // hosts armed.
        let _xfsz =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let plan_dir = s
            .plan_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let ctx = Arc::new(Ctx {
            output_cap: s.plan.execution.output_cap as usize,
            dry_run: s.dry_run,
            gates: Gates::new(gate_mode, s.gates.clone())
                .confirming_writes(s.confirm_writes && gate_mode == GateMode::Ask),
            state: state.clone(),
            operator: s.operator.clone(),
            secrets: Arc::new(s.secrets),
            ..Ctx::new(fleet, s.inventory, plan_dir, s.run_id, tx)
        });
        let sink = tokio::task::spawn_blocking(move || sink.consume(rx));
        let hands = tokio::spawn(operator::serve(
            cmd_rx,
            ctx.clone(),
            control.clone(),
            s.operator.clone(),
            decisions.clone(),
        ));
        let ctrl_c = tokio::spawn(operator::ctrl_c(
            cmd_tx.clone(),
            dash_tx.clone(),
            watched.clone(),
        ));
        let signals = tokio::spawn(operator::terminate(
            cmd_tx.clone(),
            decisions.clone(),
            watched,
        ));
        let elsewhere = s
            .run_dir
            .map(|dir| tokio::spawn(operator::disarmed_elsewhere(dir, cmd_tx)));
        for e in first {
            ctx.emit(e);
        }
        let run = crate::run::run(ctx.clone(), s.compiled, control, s.stop_after_verify);
        // Leaving armed stops the run where it is, but not mid-arming: a host whose arming
        // command is in flight would be armed without the journal knowing.
        let leave = async {
            decisions.left.notified().await;
            while ctx.state().arming {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            if let Err(e) = crate::run::leave_armed(&ctx, s.compiled).await {
                eprintln!("cutover: {e}");
            }
        };
        let outcome = tokio::select! {
            outcome = run => Some(outcome),
            () = leave => None,
        };
        hands.abort();
        ctrl_c.abort();
        signals.abort();
        if let Some(task) = elsewhere {
            task.abort();
        }
        if let Some(outcome) = &outcome {
            let aborted = decisions.aborted.load(Ordering::SeqCst);
            ctx.emit(finished(outcome, s.dry_run, s.stop_after_verify, aborted));
        }
        let way_back = match &outcome {
            Some(Outcome::Failed(_)) if !s.dry_run => {
                let chosen = decisions.roll_back.load(Ordering::SeqCst);
                way_back(&ctx, s.compiled, s.rollback_on_failure || chosen).await
            }
            _ => WayBack::Nothing,
        };
        ctx.fleet.close().await;
        drop(ctx);
        // Left armed, tasks of the dropped run may still hold the event stream: the journal
        // has everything up to the operator's choice, so do not wait on them for long.
        let last = if outcome.is_some() {
            sink.await.ok().flatten()
        } else {
            let wait = tokio::time::timeout(std::time::Duration::from_secs(2), sink).await;
            wait.ok().and_then(Result::ok).flatten()
        };
        (outcome, last, way_back)
    });
    rt.shutdown_background();
    if let Some(d) = dashboard {
        // A signal ended the run: nobody may be at the terminal to quit the dashboard.
        if decisions_after.signalled.load(Ordering::SeqCst) {
            let _ = d.tx.send(crate::tui::msg::Msg::Close);
        }
        drop(d.tx);
        match d.thread.join() {
            Ok(Err(e)) => eprintln!("cutover: {e}"),
            Err(_) => eprintln!("cutover: the dashboard crashed; the terminal was restored"),
            Ok(Ok(_)) => {}
        }
        if let Some(line) = last {
            super::out(&line);
        }
    }
    way_back.tell(run_path.as_deref().unwrap_or(Path::new(&run_id)));
    let state = state_after
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(operator::exit(
        outcome.as_ref(),
        &state.may_fire(&targets),
        fire,
        &run_id,
        decisions_after.aborted.load(Ordering::SeqCst),
    ))
}

/// What a failed run did about its staging.
#[derive(Debug)]
enum WayBack {
    /// Nothing staged, or no rollback possible now (armed, fired): nothing to say.
    Nothing,
    /// Staged hosts could be rolled back: the command is printed.
    Offer(usize),
    /// `--rollback-on-failure` rolled them back.
    Done(Result<crate::run::rollback::Report, String>),
}

impl WayBack {
    /// Says it on stderr, after the dashboard (if any) is gone.
    fn tell(&self, run_dir: &Path) {
        let cmd = format!("cutover rollback {}", run_dir.display());
        match self {
            WayBack::Nothing => {}
            WayBack::Offer(n) => eprintln!(
                "cutover: staging changed {n} host(s) and nothing fired; to undo it (restore the files from their backups, re-enable what staging disabled):\n  {cmd}"
            ),
            WayBack::Done(Ok(r)) if r.ok() => eprintln!(
                "cutover: rolled back {} staged host(s) (--rollback-on-failure)",
                r.rolled_back.len()
            ),
            WayBack::Done(Ok(r)) => eprintln!(
                "cutover: ROLLBACK INCOMPLETE on {} host(s): {}; fix it and run `{cmd}` again",
                r.failed.len(),
                r.failed
                    .iter()
                    .map(|(h, why)| format!("{h} ({why})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            WayBack::Done(Err(why)) => eprintln!("cutover: rollback refused: {why}"),
        }
    }
}

/// After a failed run: rolls back (`--rollback-on-failure`) or offers to, when staging
/// changed hosts and no host fired or may fire.
async fn way_back(ctx: &Arc<Ctx>, plan: &RunPlan, auto: bool) -> WayBack {
    let todo = match crate::run::rollback::decide::decide(&ctx.state(), plan, false, &ctx.run_name)
    {
        Ok(v) => v
            .iter()
            .filter(|(_, v)| matches!(v, crate::run::rollback::decide::Visit::Undo(_)))
            .count(),
        Err(_) => 0,
    };
    match (todo, auto) {
        (0, _) => WayBack::Nothing,
        (n, false) => WayBack::Offer(n),
        (_, true) => {
            ctx.emit(RunEvent::Operator {
                action: "rolling back the staged hosts (--rollback-on-failure)".into(),
            });
            let r = crate::run::rollback::rollback(ctx, plan, false).await;
            WayBack::Done(r.map_err(|e| e.to_string()))
        }
    }
}

/// The closing record of an attempt.
fn finished(outcome: &Outcome, dry_run: bool, stop_after_verify: bool, aborted: bool) -> RunEvent {
    let (ending, reason) = match outcome {
        Outcome::Complete if dry_run => (Ending::DryRunComplete, None),
        Outcome::Complete if stop_after_verify => (Ending::StagedAndVerified, None),
        Outcome::Complete => (Ending::Complete, None),
        Outcome::Failed(why) if aborted => (Ending::Aborted, Some(why.to_string())),
        Outcome::Failed(why) => (Ending::Failed, Some(why.to_string())),
    };
    RunEvent::Finished {
        outcome: ending,
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
            mechanism: crate::arm::mechanism::Concrete::Waiter,
            id: "1".into(),
        };
        assert_eq!(durability(&host), Durability::Written);
        assert_eq!(durability(&batch), Durability::Synced);
        assert_eq!(durability(&armed), Durability::Synced);
    }
}
