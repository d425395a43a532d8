//! The terminal shell: raw mode and alternate screen, restored on quit, on error and on panic;
//! key presses and run events fed to `update`, redrawn about ten times a second.
//!
//! Run it on a blocking thread (`tokio::task::spawn_blocking` or `std::thread`): it polls the
//! keyboard with a short timeout and drains the event channel between polls.

use crate::clock::Clock;
use crate::tui::msg::{Command, Key, Level, Msg};
use crate::tui::state::Dashboard;
use crate::tui::{update, view};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::time::Duration;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Longest wait for a key before redrawing: ten frames a second keeps countdowns and timers live.
const FRAME: Duration = Duration::from_millis(100);

/// What can go wrong driving the terminal.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// Raw mode or the alternate screen could not be set up.
    #[error("cannot set up the terminal ({source}); use --plain or --json output instead")]
    Setup {
        /// The I/O error.
        source: std::io::Error,
    },
    /// Drawing failed.
    #[error(
        "cannot draw the dashboard ({source}); the run continues, `cutover watch RUN` reattaches"
    )]
    Draw {
        /// The I/O error.
        source: std::io::Error,
    },
    /// Reading the keyboard failed.
    #[error(
        "cannot read the keyboard ({source}); the run continues, `cutover watch RUN` reattaches"
    )]
    Input {
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Restores the terminal when dropped, whichever way the shell leaves.
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs the dashboard until the operator quits; returns its final state.
pub fn run_dashboard(
    mut dash: Dashboard,
    mut rx: UnboundedReceiver<Msg>,
    cmd_tx: UnboundedSender<Command>,
    clock: &dyn Clock,
) -> Result<Dashboard, TerminalError> {
    // try_init installs a panic hook that restores the terminal before the panic message.
    let mut term = ratatui::try_init().map_err(|source| TerminalError::Setup { source })?;
    let _restore = Restore;
    let mut open = true;
    loop {
        let now = clock.now();
        (term.draw(|f| view::render(&dash, now, f)))
            .map_err(|source| TerminalError::Draw { source })?;
        let mut msgs = Vec::new();
        if let Some(key) = next_key(FRAME)? {
            msgs.push(Msg::Key(key));
        }
        while open {
            match rx.try_recv() {
                Ok(m) => msgs.push(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        for m in msgs {
            if matches!(m, Msg::Close) {
                return Ok(dash);
            }
            let cmds = update::update(&mut dash, m, clock.now());
            if send(&mut dash, cmds, &cmd_tx, clock) {
                return Ok(dash);
            }
        }
    }
}

/// Sends commands to the run; true when one of them ends the dashboard.
fn send(
    dash: &mut Dashboard,
    cmds: Vec<Command>,
    tx: &UnboundedSender<Command>,
    clock: &dyn Clock,
) -> bool {
    let mut quit = false;
    for c in cmds {
        quit |= matches!(
            c,
            Command::Quit | Command::QuitLeaveArmed | Command::DisarmAndQuit
        );
        if tx.send(c.clone()).is_err() {
            let text = format!("{c:?} not delivered: the run is no longer listening");
            dash.log.push(clock.now(), Level::Error, text);
        }
    }
    quit
}

/// Waits up to `timeout` for a key press.
fn next_key(timeout: Duration) -> Result<Option<Key>, TerminalError> {
    let input = |source| TerminalError::Input { source };
    if !event::poll(timeout).map_err(input)? {
        return Ok(None);
    }
    match event::read().map_err(input)? {
        Event::Key(k) if k.kind != KeyEventKind::Release => Ok(map_key(k)),
        _ => Ok(None),
    }
}

/// Maps a terminal key event to the dashboard's `Key`.
pub fn map_key(k: KeyEvent) -> Option<Key> {
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        _ => return None,
    })
}
