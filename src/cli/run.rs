//! `cutover run`: carry out a plan. Prints the digest and target, asks for confirmation,
//! takes the run lock, journals every event, and runs the phases, shown on the dashboard,
//! as plain lines or as JSON lines (`output`), with the operator's keys wired in (`operator`).

pub(super) mod operator;
pub(crate) mod output;

use super::CliError;
use super::load::{PlanArgs, load};
use crate::compile::{RunPlan, compile, parse_fire_override};
use crate::fleet;
use crate::journal::lock::{Holder, LockError, RunLock};
use crate::journal::rundir::{RunDir, run_id};
use crate::journal::writer::Writer;
use crate::plan::digest::digest;
use crate::plan::model::{Mechanism, Plan};
use crate::run::event::RunEvent;
use crate::run::print::Printer;
use crate::transport::SshSettings;
use output::Mode;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `cutover run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: PlanArgs,
    /// Run the preflight and show the diffs staging would apply; change nothing on any host.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    confirm: ConfirmArgs,
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
    #[command(flatten)]
    view: output::ViewArgs,
    /// Answer the operator gate whose word is WORD ahead of time (repeatable); without a
    /// terminal a gate not answered this way fails the run.
    #[arg(long, value_name = "WORD")]
    gate: Vec<String>,
    #[command(flatten)]
    ssh: super::ssh_args::SshArgs,
    /// When the run fails or is aborted before its action fired, undo its staging at once
    /// (what `cutover rollback RUN` does) instead of only printing that command.
    #[arg(long)]
    rollback_on_failure: bool,
    /// Leave these hosts out of the whole run (known dead before it starts): selectors,
    /// comma-separated (`host:web-3,rack-b`); journaled as an operator action.
    #[arg(long, value_name = "SELECTORS", value_delimiter = ',')]
    exclude: Vec<String>,
}

/// How the operator confirms a run: `run` and `resume` share them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfirmArgs {
    /// Skip the confirmation prompt (not enough for a production inventory: see --confirm).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// For automation against a production inventory: its name, as typed confirmation.
    #[arg(long, value_name = "INVENTORY_NAME")]
    pub confirm: Option<String>,
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
    let mode = Mode::choose(args.view.plain, args.view.json, args.dry_run);
    refuse_unanswerable_gates(args, &plan, mode)?;
    let secrets = super::start::secrets(&plan, &args.plan.plan)?;
    let excluded = excluded_hosts(&args.exclude, &inventory)?;
    let now = crate::clock::now();
    let fire_at = fire_time(
        args,
        &plan,
        (inventory.production, inventory.hosts.len()),
        now,
    )?;
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
        commit: true,
    };
    if mode == Mode::Json {
        eprint!("{}", Printer::default().line(&started));
    } else {
        super::out(&Printer::default().line(&started));
    }
    if !args.dry_run {
        confirm_for(&args.confirm, &inventory)?;
    }
    let compiled = compile(&plan, &inventory, fire_at, digest.clone())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let inventory_text = loaded
        .inventory_file
        .as_ref()
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let id = run_id(now, &plan.meta.name, rand::random());
    let (journal, _lock, run_dir) = if args.dry_run {
        (None, None, None)
    } else {
        let lock_path = lock_path(&compiled, &inventory)?;
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
            run_dir: std::path::absolute(args.runs_dir.join(&id)).ok(),
        };
        let lock = take_lock(&lock_path, holder.clone(), args.break_lock)?;
        let dir = RunDir::create(
            &args.runs_dir,
            &id,
            &loaded.plan_text,
            &inventory_text,
            &digest,
        )
        .map_err(|e| CliError::Usage(e.to_string()))?;
        dir.record_orchestrator(&holder)
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let writer = Writer::create(&dir.journal()).map_err(|e| CliError::Usage(e.to_string()))?;
        let line = format!("  run dir   {}", dir.path.display());
        if mode == Mode::Json {
            eprintln!("{line}");
        } else {
            super::out(&format!("{line}\n"));
        }
        (Some(writer), Some(lock), Some(dir))
    };
    let mut first = vec![started];
    first.extend(
        confirmation(args, &inventory, &operator).map(|action| RunEvent::Operator { action }),
    );
    first.extend(excluded.into_iter().map(|host| RunEvent::Excluded {
        host,
        phase: None,
        reason: format!("--exclude {} ({operator})", args.exclude.join(",")),
    }));
    let start = super::start::Start {
        plan: &plan,
        inventory: &inventory,
        compiled: &compiled,
        plan_path: &args.plan.plan,
        run_id: &id,
        dry_run: args.dry_run,
        stop_after_verify: args.stop_after_verify,
        prior: crate::run::state::RunState::default(),
        secrets,
        mode,
        gates: args.gate.clone(),
        confirm_writes: !args.confirm.yes,
        operator,
        ssh: args.ssh.clone(),
        run_dir,
        rollback_on_failure: args.rollback_on_failure,
    };
    super::start::carry_out(start, journal, first)
}

/// Refuses, before anything runs, a plan with a gate nobody can answer here (no terminal,
/// or `--json`) and no `--gate WORD` answering it ahead of time.
fn refuse_unanswerable_gates(args: &Args, plan: &Plan, mode: Mode) -> Result<(), CliError> {
    let missing = crate::run::gate::unanswerable(
        plan,
        output::gate_mode(mode),
        &args.gate,
        args.dry_run,
        args.stop_after_verify,
    );
    if missing.is_empty() {
        return Ok(());
    }
    let steps: Vec<String> = missing
        .iter()
        .map(|g| format!("{} waits for `{}`", g.step, g.word))
        .collect();
    let mut words: Vec<String> = missing
        .iter()
        .map(|g| format!("--gate {}", g.word))
        .collect();
    words.dedup();
    Err(CliError::Usage(format!(
        "the plan has gates nobody can answer here (no terminal, or --json): {}; pass {} to answer them ahead of time, or run it on a terminal; nothing was run",
        steps.join("; "),
        words.join(" ")
    )))
}

/// The hosts `--exclude` names; a selector that matches nothing is refused (a typo must not
/// leave a dead host in the run).
fn excluded_hosts(
    selectors: &[String],
    inv: &crate::inventory::Inventory,
) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for text in selectors {
        // A bare host name is the host (not a group of that name).
        if let Some(h) = inv.host(text) {
            out.push(h.name.clone());
            continue;
        }
        let sel = crate::inventory::Selector::parse(text)
            .map_err(|e| CliError::Usage(format!("--exclude {text}: {e}")))?;
        let hosts = inv
            .select(std::slice::from_ref(&sel))
            .map_err(|e| CliError::Usage(format!("--exclude {text}: {e}")))?;
        if hosts.is_empty() {
            return Err(CliError::Usage(format!(
                "--exclude {text} matches no host of inventory {}; nothing was run",
                inv.name
            )));
        }
        out.extend(hosts.into_iter().map(|h| h.name.clone()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// How the operator confirmed the run, for the journal (nothing to confirm in a dry run).
fn confirmation(args: &Args, inv: &crate::inventory::Inventory, who: &str) -> Option<String> {
    let how = match (args.dry_run, inv.production) {
        (true, _) => return None,
        (false, true) if args.confirm.confirm.as_deref() == Some(inv.name.as_str()) => {
            format!("--confirm {}", inv.name)
        }
        (false, true) => "typed the production inventory's name".to_string(),
        (false, false) if args.confirm.yes => "--yes".to_string(),
        (false, false) => "typed yes".to_string(),
    };
    Some(format!("confirmed the run with {how} ({who})"))
}

/// The run lock for the hosts `compiled` may change: in the user's state directory (not the
/// current one), named by the resolved hosts (`user@address:port`), not by plan or inventory
/// names.
pub(super) fn lock_path(
    compiled: &RunPlan,
    inventory: &crate::inventory::Inventory,
) -> Result<PathBuf, CliError> {
    // The hosts it may change, as its leases do: a run that only reads a host does not own it.
    let resolved: Vec<String> = (crate::run::leased_hosts(compiled).iter())
        .filter_map(|n| inventory.host(n))
        .map(|h| {
            let user = h.user.clone().unwrap_or_else(fleet::local_user);
            format!("{user}@{}:{}", h.address, h.port)
        })
        .collect();
    let dir = crate::journal::lock::state_dir();
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(dir.join(crate::journal::lock::lock_name(&resolved)))
}

/// True when a stale lock's run is over by its own journal: it finished, or it never
/// started arming (nothing of it can fire). A crash after arming keeps its lock until
/// `cutover disarm` or `resume` of that run, or `--break-lock`.
pub(super) fn run_is_over(holder: &Holder) -> bool {
    let Some(dir) = &holder.run_dir else {
        return false;
    };
    let journal = dir.join(crate::journal::rundir::JOURNAL_FILE);
    let Ok(read) = crate::journal::reader::read::<RunEvent>(&journal) else {
        return false;
    };
    let state = crate::run::state::fold(&read.records);
    state.finished.is_some() || !state.arming_started
}

/// Takes the run lock. A stale one (its process gone from this machine) is broken when its
/// run is over by its own journal, or with `break_lock`; both are said.
pub(super) fn take_lock(
    path: &Path,
    holder: Holder,
    break_lock: bool,
) -> Result<RunLock, CliError> {
    match RunLock::acquire(path, holder.clone()) {
        Err(LockError::Held {
            stale: true,
            holder: old,
            ..
        }) if break_lock || run_is_over(&old) => {
            RunLock::break_lock(path).map_err(|e| CliError::Usage(e.to_string()))?;
            eprintln!("cutover: broke the stale lock of {old}");
            RunLock::acquire(path, holder).map_err(|e| CliError::Usage(e.to_string()))
        }
        other => other.map_err(|e| CliError::Usage(e.to_string())),
    }
}

fn fire_time(
    args: &Args,
    plan: &Plan,
    (production, hosts): (bool, usize),
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
            "--at {at} leaves no time to arm: arming must end {} before the fire time; it needs at least now+{} (or a shorter arm_deadline)",
            crate::plan::timeline::human(plan.action.arm_deadline),
            crate::plan::timeline::human(minimum_lead(plan, hosts))
        )));
    }
    Ok(fire)
}

/// The shortest `--at now+…` that leaves time to arm: the arming deadline, plus the
/// estimated arming time of `hosts` hosts, rounded up to 10 s (a whole minute for `at`).
fn minimum_lead(plan: &Plan, hosts: usize) -> std::time::Duration {
    let arming = crate::plan::timeline::arming_estimate(hosts, &plan.execution).total();
    let lead = plan.action.arm_deadline + arming;
    let step = if plan.action.mechanism == Mechanism::At {
        60
    } else {
        10
    };
    let secs = lead.as_secs() + u64::from(lead.subsec_nanos() > 0);
    std::time::Duration::from_secs(secs.div_ceil(step).max(1) * step)
}

/// Asks for confirmation (`--yes`; production: the inventory name, or `--confirm NAME`).
pub(super) fn confirm_for(
    args: &ConfirmArgs,
    inv: &crate::inventory::Inventory,
) -> Result<(), CliError> {
    let (yes, confirmed) = (args.yes, args.confirm.as_deref());
    if inv.production {
        if confirmed == Some(inv.name.as_str()) {
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
    if yes {
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

/// The plan's SSH settings with no command-line overrides (`disarm`).
pub(crate) fn ssh_settings(plan: &Plan, plan_path: &Path) -> SshSettings {
    super::ssh_args::SshArgs::default().settings_for_plan(plan, plan_path)
}
