//! `cutover disarm RUN`: take the action back on every host the journal says is armed, from
//! any terminal, even while (or after) the orchestrator that armed them is gone.

use super::CliError;
use crate::fleet::{self, Fleet};
use crate::journal::rundir::{INVENTORY_FILE, PLAN_FILE, RunDir};
use crate::journal::writer::{Durability, Writer};
use crate::plan::parse::parse;
use crate::plan::validate::{Context, validate};
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Arguments of `cutover disarm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id (directory name under --runs-dir) or its directory.
    run: String,
    /// Where run directories live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
}

/// What the journal says about arming: hosts armed and not yet disarmed, and how.
pub fn still_armed(events: &[RunEvent]) -> BTreeMap<String, String> {
    let mut armed = BTreeMap::new();
    for e in events {
        match e {
            RunEvent::Armed {
                host, mechanism, ..
            } => {
                armed.insert(host.clone(), mechanism.clone());
            }
            RunEvent::Disarmed { host, ok: true, .. } => {
                armed.remove(host);
            }
            _ => {}
        }
    }
    armed
}

/// Runs `cutover disarm`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let usage = |e: String| CliError::Usage(e);
    let dir = RunDir::open(&args.runs_dir, &args.run).map_err(|e| usage(e.to_string()))?;
    let events: Vec<RunEvent> = super::report::records(&dir)?
        .0
        .into_iter()
        .map(|r| r.event)
        .collect();
    let armed = still_armed(&events);
    if armed.is_empty() {
        println!(
            "run {}: the journal shows no armed host; nothing to disarm",
            dir.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    let plan_path = events
        .iter()
        .find_map(|e| match e {
            RunEvent::Started { plan_path, .. } => Some(PathBuf::from(plan_path)),
            _ => None,
        })
        .unwrap_or_else(|| dir.path.join(PLAN_FILE));
    let plan_text = super::read(&dir.path.join(PLAN_FILE))?;
    let inv_text = super::read(&dir.path.join(INVENTORY_FILE))?;
    let inventory = crate::inventory::parse(
        &inv_text,
        crate::inventory::detect_format(&dir.path.join(INVENTORY_FILE), &inv_text),
        INVENTORY_FILE,
    )
    .map_err(|e| usage(e.to_string()))?;
    let parsed = parse(&plan_text);
    let raw = parsed
        .raw
        .ok_or_else(|| usage("the run's plan snapshot does not parse".into()))?;
    let (plan, _) = validate(
        &raw,
        &parsed.spans,
        Context {
            now: chrono::DateTime::UNIX_EPOCH,
            inventory: None,
            failed: &[],
        },
    );
    let plan = plan.ok_or_else(|| usage("the run's plan snapshot does not validate".into()))?;
    println!(
        "run {}: disarming {} host(s) the journal shows armed",
        dir.id,
        armed.len()
    );
    let hosts: Vec<_> = inventory
        .hosts
        .iter()
        .filter(|h| armed.contains_key(&h.name))
        .collect();
    let settings = super::run::ssh_settings(&plan, &plan_path);
    let fleet = Fleet::new(
        settings,
        &hosts,
        &plan.ssh.user.clone().unwrap_or_else(fleet::local_user),
    )
    .map_err(|e| usage(e.to_string()))?;
    // Its own side journal: a live run may still be appending to journal.jsonl.
    let side = dir.new_side_journal(crate::clock::now(), std::process::id());
    let mut writer = Writer::create(&side).map_err(|e| usage(e.to_string()))?;
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| usage(format!("cannot start the async runtime: {e}")))?;
    let may_fire = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let plan_dir = plan_path.parent().map(PathBuf::from).unwrap_or_default();
        let ctx = Arc::new(Ctx::new(fleet, &inventory, plan_dir, &dir.id, tx));
        let operator = format!(
            "disarm requested by {}@{}",
            fleet::local_user(),
            crate::journal::lock::this_host()
        );
        ctx.emit(RunEvent::Operator { action: operator });
        let set = Mutex::new(
            armed
                .iter()
                .filter_map(|(h, m)| crate::run::arm::concrete(m).map(|m| (h.clone(), vec![m])))
                .collect(),
        );
        let may_fire = crate::run::arm::disarm_all(&ctx, &set).await;
        ctx.fleet.close().await;
        drop(ctx);
        let mut printer = crate::run::print::Printer::default();
        while let Some(e) = rx.recv().await {
            let _ = writer.append(crate::clock::now(), &e, Durability::Synced);
            print!("{}", printer.line(&e));
        }
        may_fire
    });
    if may_fire.is_empty() {
        println!("every armed host is disarmed");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "COULD NOT DISARM {} host(s); they may still fire: {}",
            may_fire.len(),
            may_fire.join(", ")
        );
        Ok(ExitCode::from(1))
    }
}
