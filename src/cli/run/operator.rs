//! The operator's hands on a running `cutover run`: dashboard commands, gate answers and
//! Ctrl-C become pause, resume, abort (which disarms), gate passes or a quit, each journaled
//! as `RunEvent::Operator` with who did it.

use super::output::Armed;
use crate::executor::{AbortMode, Control};
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use crate::tui::msg::{Command, Key, Msg};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    armed: Arc<Armed>,
    run_id: String,
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
        let hosts = armed.list();
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
                eprintln!("{}", may_fire(&hosts, &run_id));
                std::process::exit(130);
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

/// The exit code of a run, telling the operator about hosts that may still fire: 0 complete;
/// 1 failed or aborted; 1 left armed (`outcome` none).
pub fn exit(
    outcome: Option<&crate::run::Outcome>,
    armed: &[String],
    fire: chrono::DateTime<chrono::Utc>,
    run_id: &str,
) -> std::process::ExitCode {
    match outcome {
        Some(crate::run::Outcome::Complete) => return std::process::ExitCode::SUCCESS,
        Some(crate::run::Outcome::Failed(_)) => {
            if !armed.is_empty() && crate::clock::now() < fire {
                eprintln!("{}", may_fire(armed, run_id));
            }
        }
        None => eprintln!(
            "cutover: you quit leaving the run armed; it fires at {} UTC regardless.\n{}\n  follow it: cutover watch {run_id}",
            fire.format("%Y-%m-%d %H:%M:%S"),
            may_fire(armed, run_id)
        ),
    }
    std::process::ExitCode::from(1)
}
