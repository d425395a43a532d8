//! `cutover run`: carry out a plan. Prints the digest and target, asks for confirmation,
//! takes the run lock, journals every event, and runs the phases, shown on the dashboard,
//! as plain lines or as JSON lines (`output`), with the operator's keys wired in (`operator`).

mod operator;
pub(crate) mod output;

use super::CliError;
use super::load::{PlanArgs, load, relative_to};
use crate::compile::{compile, parse_fire_override};
use crate::executor::Control;
use crate::fleet::{self, Fleet};
use crate::journal::lock::{Holder, RunLock};
use crate::journal::rundir::{RunDir, run_id};
use crate::journal::writer::Writer;
use crate::plan::digest::digest;
use crate::plan::model::{Mechanism, Plan};
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use crate::run::gate::Gates;
use crate::run::print::Printer;
use crate::transport::SshSettings;
use output::{Mode, Sink};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Arguments of `cutover run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: PlanArgs,
    /// Run the preflight and show the diffs staging would apply; change nothing on any host.
    #[arg(long)]
    dry_run: bool,
    /// Skip the confirmation prompt (not enough for a production inventory: see --confirm).
    #[arg(long, short = 'y')]
    yes: bool,
    /// For automation against a production inventory: its name, as typed confirmation.
    #[arg(long, value_name = "INVENTORY_NAME")]
    confirm: Option<String>,
    /// Refuse to run unless the plan digest is this one (the digest approved in review).
    #[arg(long)]
    expect_digest: Option<String>,
    /// Rehearsal fire time: `now+2m` or RFC 3339; refused on production unless --force.
    #[arg(long)]
    at: Option<String>,
    /// Allow --at against a production inventory.
    #[arg(long)]
    force: bool,
    /// Stop after staging and verification; arm nothing.
    #[arg(long)]
    stop_after_verify: bool,
    /// Remove this plan's lock first, if its holder's process is gone (a crashed run).
    #[arg(long)]
    break_lock: bool,
    /// Where run directories (journal, snapshots) and locks live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// One line per event instead of the dashboard (the default when stdout is not a terminal).
    #[arg(long, conflicts_with = "json")]
    plain: bool,
    /// The event stream as JSON lines (the journal's records), for automation.
    #[arg(long)]
    json: bool,
    /// Answer the operator gate whose word is WORD ahead of time (repeatable); without a
    /// terminal a gate not answered this way fails the run.
    #[arg(long, value_name = "WORD")]
    gate: Vec<String>,
}

/// Runs `cutover run`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let loaded = load(&args.plan)?;
    let (Some(plan), Some(inventory)) = (loaded.plan.clone(), loaded.inventory.clone()) else {
        eprintln!("{}", loaded.render_diagnostics());
        eprintln!("cutover: the plan has errors (see `cutover check`); nothing was run");
        return Ok(ExitCode::from(1));
    };
    let digest = digest(&plan, Some(&inventory));
    if let Some(expected) = &args.expect_digest
        && expected != &digest
    {
        return Err(CliError::Usage(format!(
            "the plan or inventory changed since review: digest is {digest}, expected {expected}; nothing was run"
        )));
    }
    let now = crate::clock::now();
    let fire_at = fire_time(args, &plan, inventory.production, now)?;
    let operator = format!(
        "{}@{}",
        fleet::local_user(),
        crate::journal::lock::this_host()
    );
    let started = RunEvent::Started {
        plan: plan.meta.name.clone(),
        digest: digest.clone(),
        inventory: inventory.name.clone(),
        production: inventory.production,
        hosts: inventory.hosts.len(),
        fire_at,
        dry_run: args.dry_run,
        operator: operator.clone(),
        plan_path: std::fs::canonicalize(&args.plan.plan)
            .unwrap_or_else(|_| args.plan.plan.clone())
            .display()
            .to_string(),
    };
    let mode = Mode::choose(args.plain, args.json, args.dry_run);
    if mode == Mode::Json {
        eprint!("{}", Printer::default().line(&started));
    } else {
        print!("{}", Printer::default().line(&started));
    }
    if !args.dry_run {
        confirm(args, &inventory)?;
    }
    let compiled = compile(&plan, &inventory, fire_at, digest.clone())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let inventory_text = loaded
        .inventory_file
        .as_ref()
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let id = run_id(now, &plan.meta.name);
    let (journal, _lock) = if args.dry_run {
        (None, None)
    } else {
        let lock_path = args
            .runs_dir
            .join(format!("{}--{}.lock", plan.meta.name, inventory.name));
        std::fs::create_dir_all(&args.runs_dir).map_err(|source| CliError::Io {
            path: args.runs_dir.display().to_string(),
            source,
        })?;
        let holder = Holder {
            user: fleet::local_user(),
            host: crate::journal::lock::this_host(),
            pid: std::process::id(),
            started: now,
            run: id.clone(),
        };
        let lock =
            RunLock::acquire(&lock_path, holder).map_err(|e| CliError::Usage(e.to_string()))?;
        let dir = RunDir::create(
            &args.runs_dir,
            &id,
            &loaded.plan_text,
            &inventory_text,
            &digest,
        )
        .map_err(|e| CliError::Usage(e.to_string()))?;
        let writer = Writer::create(&dir.journal()).map_err(|e| CliError::Usage(e.to_string()))?;
        let line = format!("  run dir   {}", dir.path.display());
        if mode == Mode::Json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
        (Some(writer), Some(lock))
    };
    let settings = ssh_settings(&plan, &args.plan.plan);
    let hosts: Vec<_> = inventory.hosts.iter().collect();
    let fleet = Fleet::new(
        settings,
        &hosts,
        &plan.ssh.user.clone().unwrap_or_else(fleet::local_user),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let gate_mode = output::gate_mode(mode);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let (sink, dashboard) = Sink::start(
        mode,
        gate_mode,
        journal,
        (&compiled, &plan, &inventory),
        &cmd_tx,
    );
    let armed = sink.armed.clone();
    let decisions = Arc::new(operator::Decisions::default());
    let fire = compiled.times.fire;
    let run_id = id.clone();
    let dash_tx = dashboard.as_ref().map(|d| d.tx.clone());
    let armed_for_ctrl_c = armed.clone();
    let armed_for_leave = armed.clone();
    let (outcome, last) = rt.block_on(async move {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let plan_dir = args
            .plan
            .plan
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let ctx = Arc::new(Ctx {
            output_cap: plan.execution.output_cap as usize,
            dry_run: args.dry_run,
            gates: Gates::new(gate_mode, args.gate.clone()),
            ..Ctx::new(fleet, &inventory, plan_dir, &id, tx)
        });
        let sink = tokio::task::spawn_blocking(move || sink.consume(rx));
        let control = Control::new();
        let hands = tokio::spawn(operator::serve(
            cmd_rx,
            ctx.clone(),
            control.clone(),
            operator.clone(),
            decisions.clone(),
        ));
        let ctrl_c = tokio::spawn(operator::ctrl_c(
            cmd_tx,
            dash_tx,
            armed_for_ctrl_c,
            id.clone(),
        ));
        ctx.emit(started);
        if let Some(action) = confirmation(args, &inventory, &operator) {
            ctx.emit(RunEvent::Operator { action });
        }
        let run = crate::run::run(
            ctx.clone(),
            &compiled,
            &plan,
            control,
            args.stop_after_verify,
        );
        // Leaving armed stops the run where it is, but not mid-arming: a host whose arming
        // command is in flight would be armed without the journal knowing.
        let leave = async {
            decisions.left.notified().await;
            while armed_for_leave.arming() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        let outcome = tokio::select! {
            outcome = run => Some(outcome),
            () = leave => None,
        };
        hands.abort();
        ctrl_c.abort();
        if let Some(outcome) = &outcome {
            let aborted = decisions.aborted.load(Ordering::SeqCst);
            ctx.emit(finished(args, outcome, aborted));
        }
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
        (outcome, last)
    });
    rt.shutdown_background();
    if let Some(d) = dashboard {
        drop(d.tx);
        match d.thread.join() {
            Ok(Err(e)) => eprintln!("cutover: {e}"),
            Err(_) => eprintln!("cutover: the dashboard crashed; the terminal was restored"),
            Ok(Ok(_)) => {}
        }
        if let Some(line) = last {
            print!("{line}");
        }
    }
    Ok(operator::exit(
        outcome.as_ref(),
        &armed.list(),
        fire,
        &run_id,
    ))
}

/// How the operator confirmed the run, for the journal (nothing to confirm in a dry run).
fn confirmation(args: &Args, inv: &crate::inventory::Inventory, who: &str) -> Option<String> {
    let how = match (args.dry_run, inv.production) {
        (true, _) => return None,
        (false, true) if args.confirm.as_deref() == Some(inv.name.as_str()) => {
            format!("--confirm {}", inv.name)
        }
        (false, true) => "typed the production inventory's name".to_string(),
        (false, false) if args.yes => "--yes".to_string(),
        (false, false) => "typed yes".to_string(),
    };
    Some(format!("confirmed the run with {how} ({who})"))
}

/// The run's last event: how it ended, named for the journal and the report.
fn finished(args: &Args, outcome: &crate::run::Outcome, aborted: bool) -> RunEvent {
    use crate::run::Outcome;
    let (name, reason) = match outcome {
        Outcome::Complete if args.dry_run => ("dry-run complete", None),
        Outcome::Complete if args.stop_after_verify => ("staged and verified", None),
        Outcome::Complete => ("complete", None),
        Outcome::Failed(why) if aborted => ("aborted", Some(why.clone())),
        Outcome::Failed(why) => ("failed", Some(why.clone())),
    };
    RunEvent::Finished {
        outcome: name.into(),
        reason,
    }
}

fn fire_time(
    args: &Args,
    plan: &Plan,
    production: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    let Some(at) = &args.at else {
        return Ok(plan.action.at.to_utc());
    };
    if production && !args.force {
        return Err(CliError::Usage("--at moves the fire time for a rehearsal; this inventory is marked production (add --force if you really mean it)".into()));
    }
    let fire = parse_fire_override(at, now, plan.action.mechanism == Mechanism::At)
        .map_err(CliError::Usage)?;
    let deadline = fire - chrono::Duration::from_std(plan.action.arm_deadline).unwrap_or_default();
    if deadline <= now {
        return Err(CliError::Usage(format!(
            "--at {at} leaves no time to arm: arming must end {} before the fire time; pick a later time or a shorter arm_deadline",
            crate::plan::timeline::human(plan.action.arm_deadline)
        )));
    }
    Ok(fire)
}

fn confirm(args: &Args, inv: &crate::inventory::Inventory) -> Result<(), CliError> {
    if inv.production {
        if args.confirm.as_deref() == Some(inv.name.as_str()) {
            return Ok(());
        }
        return ask(
            &format!(
                "This is PRODUCTION. Type the inventory name ({}) to continue: ",
                inv.name
            ),
            &inv.name,
        );
    }
    if args.yes {
        return Ok(());
    }
    ask("Type yes to continue: ", "yes")
}

fn ask(prompt: &str, expected: &str) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "confirmation needed but standard input is not a terminal: pass --yes (or --confirm {expected} for production)"
        )));
    }
    eprint!("{prompt}");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() == expected {
        Ok(())
    } else {
        Err(CliError::Usage("not confirmed; nothing was run".into()))
    }
}

pub(crate) fn ssh_settings(plan: &Plan, plan_path: &Path) -> SshSettings {
    let home = std::env::var("HOME").unwrap_or_default();
    let expand = |p: &str| {
        PathBuf::from(
            p.strip_prefix("~/")
                .map_or(p.to_string(), |rest| format!("{home}/{rest}")),
        )
    };
    let mut known_hosts: Vec<PathBuf> = plan
        .ssh
        .known_hosts
        .iter()
        .map(|k| relative_to(plan_path, k))
        .collect();
    known_hosts.extend(fleet::default_known_hosts());
    let identities: Vec<PathBuf> = plan.ssh.identities.iter().map(|i| expand(i)).collect();
    SshSettings {
        identities: if identities.is_empty() {
            fleet::default_identities()
        } else {
            identities
        },
        use_agent: plan.ssh.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some(),
        known_hosts,
        connect_timeout: plan.ssh.connect_timeout,
        keepalive: plan.ssh.keepalive,
        connect_rate: plan.execution.connect_rate,
        proxy_jump: plan.ssh.proxy_jump.as_deref().and_then(|j| {
            fleet::parse_jump(j, &plan.ssh.user.clone().unwrap_or_else(fleet::local_user)).ok()
        }),
        ..SshSettings::default()
    }
}
