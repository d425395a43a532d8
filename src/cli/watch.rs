//! `cutover watch RUN`: the dashboard (or plain lines) of a running or finished run, read-only,
//! from any terminal, by following its journal until the run finishes.

use super::CliError;
use super::run::output::View;
use crate::compile::{RunPlan, compile};
use crate::inventory::Inventory;
use crate::journal::Record;
use crate::journal::rundir::{INVENTORY_FILE, PLAN_FILE, RunDir};
use crate::plan::model::Plan;
use crate::run::event::RunEvent;
use std::io::{IsTerminal, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// How often the journal is looked at for new lines.
const POLL: Duration = Duration::from_millis(200);

/// Arguments of `cutover watch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id (directory name under --runs-dir) or its directory.
    run: String,
    /// Where run directories live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Plain lines instead of the dashboard (the default when stdout is not a terminal).
    #[arg(long)]
    plain: bool,
}

/// Runs `cutover watch`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let usage = |e: String| CliError::Usage(e);
    let dir = RunDir::open(&args.runs_dir, &args.run).map_err(|e| usage(e.to_string()))?;
    let terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    let parts = if args.plain || !terminal {
        None
    } else {
        Some(load(&dir)?)
    };
    let gone_dir = RunDir {
        path: dir.path.clone(),
        id: dir.id.clone(),
    };
    let gone = move || orchestrator_gone(&gone_dir);
    let Some((run, plan, inventory)) = parts else {
        let mut printer: Box<crate::run::print::Printer> = Box::default();
        let end = follow(
            &dir.journal(),
            |r| {
                let text = printer.line(&r.event);
                super::out(&text);
                true
            },
            gone,
        )?;
        super::out(&printer.flush());
        if let Followed::Orphaned(why) = end {
            super::out(&format!("-- {why}\n"));
            return Ok(ExitCode::from(1));
        }
        return Ok(ExitCode::SUCCESS);
    };
    let (cmd_tx, _cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let (mut view, dashboard) = View::dashboard((&run, &plan, &inventory), &dir.id, cmd_tx, true);
    let journal = dir.journal();
    // The follower stops at the run's end or when the dashboard has gone; it is detached, so
    // quitting the dashboard does not wait for the next journal line.
    std::thread::spawn(move || {
        let end = follow(
            &journal,
            |r| {
                view.show(r);
                matches!(view, View::Dashboard { .. })
            },
            gone,
        );
        if let (Ok(Followed::Orphaned(why)), View::Dashboard { tx, .. }) = (end, &view) {
            let _ = tx.send(crate::tui::msg::Msg::Log {
                level: crate::tui::msg::Level::Error,
                text: why,
            });
        }
    });
    drop(dashboard.tx);
    match dashboard.thread.join() {
        Ok(Ok(_)) => Ok(ExitCode::SUCCESS),
        Ok(Err(e)) => Err(usage(e.to_string())),
        Err(_) => Err(usage(
            "the dashboard crashed; the terminal was restored".into(),
        )),
    }
}

/// How following a journal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// The run's `Finished` record was read.
    Finished,
    /// The caller stopped it.
    Stopped,
    /// The journal stopped growing and its orchestrator is gone: the last state is all
    /// there is (why, and what to do).
    Orphaned(String),
}

/// Calls `show` for every record of the journal, then for each new one as it is appended,
/// until the run's `Finished` record, until `show` returns false, or until, with nothing
/// new to read, `gone` says the orchestrator died. A torn last line is left until it is
/// complete.
pub fn follow(
    path: &Path,
    mut show: impl FnMut(&Record<RunEvent>) -> bool,
    gone: impl Fn() -> Option<String>,
) -> Result<Followed, CliError> {
    let io = |source| CliError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut pending = String::new();
    let mut at = 0u64;
    loop {
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        let mut buf = String::new();
        let read = file.read_to_string(&mut buf).map_err(io)?;
        at += read as u64;
        pending.push_str(&buf);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let Ok(record) = serde_json::from_str::<Record<RunEvent>>(line.trim()) else {
                continue;
            };
            let done = matches!(record.event, RunEvent::Finished { .. });
            if !show(&record) {
                return Ok(Followed::Stopped);
            }
            if done {
                return Ok(Followed::Finished);
            }
        }
        if read == 0
            && let Some(why) = gone()
        {
            return Ok(Followed::Orphaned(why));
        }
        std::thread::sleep(POLL);
    }
}

/// Why the run will not go on, when its orchestrator ran on this machine and its process is
/// gone (or is another program now); `None` while it may be alive, or when it cannot tell.
pub fn orchestrator_gone(dir: &RunDir) -> Option<String> {
    let holder = dir.orchestrator()?;
    if holder.host != crate::journal::lock::this_host() {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", holder.pid)).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains("cutover") {
        return None;
    }
    Some(format!(
        "the orchestrator of run {id} ({}@{}, pid {}) is gone and the run never finished: \
         this is its last recorded state. Hosts may still be armed: `cutover disarm {id}` takes \
         every job back, `cutover resume {id}` carries the run on",
        holder.user,
        holder.host,
        holder.pid,
        id = dir.id
    ))
}

/// The run's plan, compiled again from its snapshots for its fire time, to lay out the dashboard.
fn load(dir: &RunDir) -> Result<(RunPlan, Plan, Inventory), CliError> {
    let usage = |e: String| CliError::Usage(format!("{}: {e}; try --plain", dir.id));
    let read = crate::journal::reader::read::<RunEvent>(&dir.journal())
        .map_err(|e| usage(e.to_string()))?;
    let (fire, digest) = read
        .records
        .iter()
        .find_map(|r| match &r.event {
            RunEvent::Started {
                fire_at, digest, ..
            } => Some((*fire_at, digest.clone())),
            _ => None,
        })
        .ok_or_else(|| usage("the journal has no start record yet".into()))?;
    let plan_text = super::read(&dir.path.join(PLAN_FILE))?;
    let inv_text = super::read(&dir.path.join(INVENTORY_FILE))?;
    let format = crate::inventory::detect_format(&dir.path.join(INVENTORY_FILE), &inv_text);
    let inventory = crate::inventory::parse(&inv_text, format, INVENTORY_FILE)
        .map_err(|e| usage(e.to_string()))?;
    let parsed = crate::plan::parse::parse(&plan_text);
    let raw = parsed
        .raw
        .ok_or_else(|| usage("the plan snapshot does not parse".into()))?;
    let context = crate::plan::validate::Context {
        now: chrono::DateTime::UNIX_EPOCH,
        inventory: None,
        failed: &[],
    };
    let (plan, _) = crate::plan::validate::validate(&raw, &parsed.spans, context);
    let plan = plan.ok_or_else(|| usage("the plan snapshot does not validate".into()))?;
    let run = compile(&plan, &inventory, fire, digest).map_err(|e| usage(e.to_string()))?;
    Ok((run, plan, inventory))
}
