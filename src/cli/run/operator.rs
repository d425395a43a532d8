//! The operator's hands on a running `cutover run`: dashboard commands, gate answers and
//! Ctrl-C become pause, resume, abort (which disarms), gate passes or a quit, each journaled
//! as `RunEvent::Operator` with who did it.

use crate::executor::{AbortMode, Control};
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use crate::run::state::RunState;
use crate::tui::msg::{Command, Key, Msg};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How long a first Ctrl-C waits for the second one that confirms it.
pub const CTRL_C_CONFIRM: Duration = Duration::from_secs(5);

/// What the operator decided, for the end of the run.
#[derive(Debug, Default)]
pub struct Decisions {
    /// The operator aborted (or quit, which stops the run).
    pub aborted: AtomicBool,
    /// The operator quit leaving armed hosts armed: the run stops without disarming.
    pub left: Notify,
    /// Set with `left`, for after the fact.
    pub left_armed: AtomicBool,
    /// A signal (SIGTERM, SIGHUP) stopped the run: nobody may be watching the terminal.
    pub signalled: AtomicBool,
    /// The operator chose "abort and roll back": the run undoes its staging as it ends.
    pub roll_back: AtomicBool,
}

/// What the signal handlers need to name the hosts that may still fire: the run's one fold.
#[derive(Clone)]
pub struct Watched {
    /// The run's state, followed as events are emitted.
    pub state: Arc<Mutex<RunState>>,
    /// The hosts the action targets.
    pub targets: Vec<String>,
    /// The run id, for `cutover disarm RUN`.
    pub run_id: String,
}

impl Watched {
    /// Hosts that may still fire now.
    pub fn may_fire(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.may_fire(&self.targets)
    }

    /// Hosts holding a job (live or not): what an abort takes back.
    pub fn holding(&self) -> Vec<String> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.holding_jobs(&self.targets)
    }
}

/// Applies commands until the channel closes (or the task is aborted at the end of the run).
pub async fn serve(
    mut rx: UnboundedReceiver<Command>,
    ctx: Arc<Ctx>,
    control: Control,
    who: String,
    decisions: Arc<Decisions>,
) {
    while let Some(c) = rx.recv().await {
        let say = |action: String| {
            ctx.emit(RunEvent::Operator {
                action: format!("{action} ({who})"),
            })
        };
        let abort = |action: &str| {
            decisions.aborted.store(true, Ordering::SeqCst);
            say(action.to_string());
            control.abort_because(AbortMode::StopInFlight, format!("aborted by {who}"));
        };
        match c {
            Command::Pause => {
                control.pause();
                say("pause after the current batch".into());
            }
            Command::Resume => {
                control.resume();
                say("resume".into());
            }
            Command::Go { step } => {
                ctx.gates.pass(&step);
                say(format!("gate {step} passed"));
            }
            Command::Abort => abort("abort: cancel pending work, disarm every armed host"),
            Command::AbortAndRollBack => {
                decisions.roll_back.store(true, Ordering::SeqCst);
                abort("abort and roll back: cancel pending work, then undo staging")
            }
            Command::Signal { name } => abort(&format!(
                "{name} received: abort, cancel pending work, disarm every armed host"
            )),
            Command::DisarmedElsewhere { by } => {
                decisions.aborted.store(true, Ordering::SeqCst);
                say(format!(
                    "{by} from another terminal: the run stops and disarms"
                ));
                control.abort_because(
                    AbortMode::StopInFlight,
                    format!("{by} from another terminal"),
                );
            }
            Command::Quit => abort("quit: the run stops here"),
            Command::DisarmAndQuit => abort("quit after disarming every armed host"),
            Command::QuitLeaveArmed => {
                say("quit, LEAVING armed hosts armed: they fire regardless".into());
                decisions.left_armed.store(true, Ordering::SeqCst);
                decisions.left.notify_one();
            }
        }
    }
}

/// Ctrl-C (SIGINT): to the dashboard while it is up (it asks, like `q`); otherwise the first
/// press says what a second one does, a second within `CTRL_C_CONFIRM` aborts (disarming), and
/// while aborting two more exit at once, naming the hosts that may still fire.
pub async fn ctrl_c(
    commands: UnboundedSender<Command>,
    dashboard: Option<UnboundedSender<Msg>>,
    watched: Watched,
) {
    let mut last: Option<std::time::Instant> = None;
    let mut aborting = false;
    while tokio::signal::ctrl_c().await.is_ok() {
        if dashboard
            .as_ref()
            .is_some_and(|tx| tx.send(Msg::Key(Key::CtrlC)).is_ok())
        {
            continue;
        }
        let now = crate::clock::instant();
        let second = last.is_some_and(|t| now.duration_since(t) < CTRL_C_CONFIRM);
        last = if second { None } else { Some(now) };
        let hosts = watched.holding();
        match (second, aborting) {
            (false, false) => eprintln!(
                "\ncutover: Ctrl-C: press Ctrl-C again within {} s to ABORT: pending work is cancelled and {} armed host(s) are disarmed. Nothing happens otherwise.",
                CTRL_C_CONFIRM.as_secs(),
                hosts.len()
            ),
            (true, false) => {
                aborting = true;
                eprintln!(
                    "cutover: aborting: cancelling pending work, disarming every armed host..."
                );
                let _ = commands.send(Command::Abort);
            }
            (false, true) => eprintln!(
                "\ncutover: already aborting, disarming. Press Ctrl-C again within {} s to exit NOW without waiting: {} host(s) not yet disarmed may still fire.",
                CTRL_C_CONFIRM.as_secs(),
                hosts.len()
            ),
            (true, true) => {
                eprintln!("{}", may_fire(&watched.may_fire(), &watched.run_id));
                std::process::exit(130);
            }
        }
    }
}

/// SIGTERM and SIGHUP (a CI cancel, `systemctl stop`, a closed ssh session): the same path as
/// an abort, at once (nobody may be there to confirm): cancel pending work, disarm every
/// armed host (verified), close the dashboard, release the lock. A second signal while
/// disarming is noted and ignored: leaving now could leave hosts armed.
pub async fn terminate(
    commands: UnboundedSender<Command>,
    decisions: Arc<Decisions>,
    watched: Watched,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        eprintln!("cutover: cannot watch for SIGTERM/SIGHUP; use Ctrl-C or `cutover disarm`");
        return;
    };
    let mut first = true;
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
        };
        if !first {
            eprintln!(
                "cutover: {name} again: still disarming; exiting now could leave hosts armed"
            );
            continue;
        }
        first = false;
        decisions.signalled.store(true, Ordering::SeqCst);
        eprintln!(
            "cutover: {name}: aborting: cancelling pending work, disarming {} armed host(s)...",
            watched.holding().len()
        );
        let _ = commands.send(Command::Signal {
            name: name.to_string(),
        });
    }
}

/// How often the live run looks for a `cutover disarm` from another terminal.
pub const DISARM_POLL: Duration = Duration::from_millis(500);

/// Watches the run directory for side journals that `cutover disarm` writes from any
/// terminal; the first new one that records a disarm request stops the run (which then
/// disarms everything itself too), naming who asked.
pub async fn disarmed_elsewhere(
    dir: crate::journal::rundir::RunDir,
    commands: UnboundedSender<Command>,
) {
    let known: std::collections::BTreeSet<_> = dir
        .side_journals()
        .unwrap_or_default()
        .into_iter()
        .collect();
    loop {
        tokio::time::sleep(DISARM_POLL).await;
        for path in dir.side_journals().unwrap_or_default() {
            if known.contains(&path) {
                continue;
            }
            let Ok(read) = crate::journal::reader::read::<RunEvent>(&path) else {
                continue;
            };
            let by = read.records.iter().find_map(|r| match &r.event {
                RunEvent::Operator { action } if action.starts_with("disarm requested by") => {
                    Some(action.clone())
                }
                _ => None,
            });
            if let Some(by) = by {
                let _ = commands.send(Command::DisarmedElsewhere { by });
                return;
            }
        }
    }
}

/// The message naming hosts that may still fire, and how to take them back.
pub fn may_fire(hosts: &[String], run_id: &str) -> String {
    if hosts.is_empty() {
        return "cutover: no host is armed as far as the journal shows".into();
    }
    format!(
        "cutover: {} host(s) may STILL FIRE: {}\n  take them back from any terminal: cutover disarm {run_id}",
        hosts.len(),
        crate::executor::nodeset::compact(hosts)
    )
}

/// Exit code: the run completed.
pub const EXIT_COMPLETE: u8 = 0;
/// Exit code: the run failed; nothing is left armed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the operator or a signal aborted the run; every armed host was disarmed.
pub const EXIT_ABORTED: u8 = 3;
/// Exit code: hosts may still fire (left armed, or a disarm not confirmed).
pub const EXIT_MAY_FIRE: u8 = 4;

/// The exit code of a run, telling the operator about hosts that may still fire: 0 complete;
/// 1 failed; 3 aborted (everything disarmed); 4 hosts may still fire.
pub fn exit(
    outcome: Option<&crate::run::Outcome>,
    armed: &[String],
    fire: chrono::DateTime<chrono::Utc>,
    run_id: &str,
    aborted: bool,
) -> std::process::ExitCode {
    let code = match outcome {
        Some(crate::run::Outcome::Complete) => {
            return std::process::ExitCode::from(EXIT_COMPLETE);
        }
        Some(crate::run::Outcome::Failed(_)) if !armed.is_empty() && crate::clock::now() < fire => {
            eprintln!("{}", may_fire(armed, run_id));
            EXIT_MAY_FIRE
        }
        Some(crate::run::Outcome::Failed(_)) if aborted => EXIT_ABORTED,
        Some(crate::run::Outcome::Failed(_)) => EXIT_FAILED,
        None => {
            eprintln!(
                "cutover: you quit leaving the run armed; it fires at {} UTC regardless.\n{}\n  follow it: cutover watch {run_id}",
                fire.format("%Y-%m-%d %H:%M:%S"),
                may_fire(armed, run_id)
            );
            EXIT_MAY_FIRE
        }
    };
    std::process::ExitCode::from(code)
}
