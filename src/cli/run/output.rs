//! Where a run's events go: the journal first, always, then one view: the dashboard on a
//! terminal, plain lines (`--plain`, or no terminal), or JSON lines (`--json`). `cutover watch`
//! uses the same views over a journal it follows.

use crate::compile::RunPlan;
use crate::executor::Control;
use crate::inventory::Inventory;
use crate::journal::Record;
use crate::journal::writer::{Durability, Writer};
use crate::plan::model::Plan;
use crate::run::event::RunEvent;
use crate::run::gate::GateMode;
use crate::run::print::Printer;
use crate::tui::adapt::Adapter;
use crate::tui::msg::{Command, Msg};
use crate::tui::terminal::{TerminalError, run_dashboard};
use crate::tui::theme::Theme;
use chrono::{Offset, TimeZone};
use std::io::{IsTerminal, Write};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// The output flags `run`, `resume` and `demo` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ViewArgs {
    /// One line per event instead of the dashboard (the default when stdout is not a terminal).
    #[arg(long, conflicts_with = "json")]
    pub plain: bool,
    /// The event stream as JSON lines (the journal's records), for automation.
    #[arg(long)]
    pub json: bool,
}

/// How the run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The full-screen dashboard (stdout and stdin are terminals).
    Dashboard,
    /// One or more plain lines per event.
    Plain,
    /// One JSON object per event, as the journal stores it.
    Json,
}

impl Mode {
    /// `--json`, else `--plain` (also for dry runs, whose diffs only plain output shows), else
    /// the dashboard when both stdout and stdin are terminals, else plain.
    pub fn choose(plain: bool, json: bool, dry_run: bool) -> Self {
        if json {
            Mode::Json
        } else if plain || dry_run {
            Mode::Plain
        } else if std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
            Mode::Dashboard
        } else {
            Mode::Plain
        }
    }
}

/// One view of the event stream.
pub enum View {
    /// Plain lines.
    Plain(Box<Printer>),
    /// JSON lines.
    Json,
    /// The dashboard, fed through the adapter; plain lines once it has closed.
    Dashboard {
        /// RunEvent to Msg.
        adapter: Box<Adapter>,
        /// To the dashboard thread.
        tx: UnboundedSender<Msg>,
    },
}

/// A running dashboard: its thread and a handle to send it key presses (Ctrl-C).
pub struct DashboardThread {
    /// The terminal thread; returns when the operator quits.
    pub thread: std::thread::JoinHandle<Result<crate::tui::Dashboard, TerminalError>>,
    /// The dashboard's input.
    pub tx: UnboundedSender<Msg>,
}

impl View {
    /// Starts the dashboard for this run on its own thread; keys come back as `Command`s.
    pub fn dashboard(
        parts: (&RunPlan, &Plan, &Inventory),
        run_id: &str,
        commands: UnboundedSender<Command>,
        read_only: bool,
    ) -> (View, DashboardThread) {
        let adapter = Adapter::new(parts.0, parts.1);
        let fire = parts.0.times.fire;
        let local = chrono::Local
            .offset_from_utc_datetime(&fire.naive_utc())
            .fix();
        let theme = Theme::from_no_color(std::env::var("NO_COLOR").ok().as_deref());
        let mut dash = adapter.dashboard(parts, local, theme);
        dash.read_only = read_only;
        dash.run_id = run_id.to_string();
        let (tx, rx) = unbounded_channel();
        let thread = std::thread::spawn(move || {
            run_dashboard(dash, rx, commands, &crate::clock::SystemClock)
        });
        let view = View::Dashboard {
            adapter: Box::new(adapter),
            tx: tx.clone(),
        };
        (view, DashboardThread { thread, tx })
    }

    /// Shows one journaled event.
    pub fn show(&mut self, r: &Record<RunEvent>) {
        let text = match self {
            View::Plain(p) => p.line(&r.event),
            View::Json => serde_json::to_string(r).map_or(String::new(), |l| l + "\n"),
            View::Dashboard { adapter, tx } => {
                let msgs = adapter.adapt(&r.event);
                let at = |m| Msg::At {
                    at: r.ts,
                    msg: Box::new(m),
                };
                if msgs.into_iter().all(|m| tx.send(at(m)).is_ok()) {
                    return;
                }
                // The operator closed the dashboard while the run goes on (disarming, say).
                let mut p = Printer::default();
                let text = p.line(&r.event);
                *self = View::Plain(Box::new(p));
                text
            }
        };
        // A closed stdout (`| head`) is not the run's business: the journal has everything.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// The one consumer of a run's events: journal, then the view.
pub struct Sink {
    /// The journal (none in a dry run).
    pub journal: Option<Writer>,
    /// The view.
    pub view: View,
    /// Stopped (fail closed) when a journal record cannot be written.
    pub control: Control,
    /// True once a journal record could not be written.
    pub journal_lost: bool,
    /// Plain mode on a terminal: gates are asked on stdin and answered here.
    pub prompt: Option<UnboundedSender<Command>>,
    /// State transitions written but not yet fsynced (see [`SYNC_GROUP`]).
    pub unsynced: usize,
}

/// Group commit: a state transition is fsynced before the sink waits for the next event, or
/// once this many are written, whichever comes first. A burst (10,000 hosts disarmed in one
/// round) shares its fsyncs instead of queueing one per host behind the disk; nothing waits
/// for an fsync, so a record is on disk no later than it was with one fsync per record.
pub const SYNC_GROUP: usize = 256;

/// Gates are asked where someone can answer: the dashboard, or a prompt on a terminal.
pub fn gate_mode(mode: Mode) -> GateMode {
    match mode {
        Mode::Dashboard => GateMode::Ask,
        Mode::Plain if std::io::stdin().is_terminal() => GateMode::Ask,
        _ => GateMode::Refuse,
    }
}

impl Sink {
    /// The sink for a run shown in `mode` (starting the dashboard, whose keys go to `commands`).
    pub fn start(
        mode: Mode,
        gates: GateMode,
        journal: Option<Writer>,
        parts: (&RunPlan, &Plan, &Inventory),
        run_id: &str,
        commands: &UnboundedSender<Command>,
        control: &Control,
    ) -> (Sink, Option<DashboardThread>) {
        let (view, dashboard) = match mode {
            Mode::Dashboard => {
                let (view, thread) = View::dashboard(parts, run_id, commands.clone(), false);
                (view, Some(thread))
            }
            Mode::Plain => (View::Plain(Box::default()), None),
            Mode::Json => (View::Json, None),
        };
        let prompt = mode == Mode::Plain && gates == GateMode::Ask;
        let sink = Sink {
            journal,
            view,
            control: control.clone(),
            journal_lost: false,
            prompt: prompt.then(|| commands.clone()),
            unsynced: 0,
        };
        (sink, dashboard)
    }

    /// Consumes events until every sender is gone; returns the run's last lines (spread, outcome).
    pub fn consume(mut self, mut rx: UnboundedReceiver<RunEvent>) -> Option<String> {
        let mut last = None;
        let mut seq = 0;
        while let Some(event) = self.next(&mut rx) {
            let ts = crate::clock::now();
            seq = self.append(ts, &event).unwrap_or(seq + 1);
            if let (RunEvent::Gate { step, word }, Some(tx)) = (&event, &self.prompt) {
                ask_gate(step.clone(), word.clone(), tx.clone());
            }
            // What the dashboard showed last stays on the terminal after it closes.
            if let RunEvent::Spread { .. } | RunEvent::Finished { .. } = &event {
                let line = Printer::default().line(&event);
                last = Some(format!("{}{line}", last.unwrap_or_default()));
            }
            // The plain header was printed before the confirmation prompt.
            if !(matches!(event, RunEvent::Started { .. }) && matches!(self.view, View::Plain(_))) {
                self.view.show(&Record { seq, ts, event });
            }
        }
        self.sync();
        if let View::Plain(p) = &mut self.view {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(p.flush().as_bytes());
            let _ = out.flush();
        }
        // Once the view fell back to plain lines, the last one was printed already.
        last.filter(|_| matches!(self.view, View::Dashboard { .. }))
    }

    /// The next event. Plain output holds a step's diffs to group them; once the stream has
    /// been quiet for a moment it shows them (the run may be waiting for a decision on them).
    fn next(&mut self, rx: &mut UnboundedReceiver<RunEvent>) -> Option<RunEvent> {
        if let Ok(e) = rx.try_recv() {
            return Some(e);
        }
        // Nothing queued: what was written goes to disk before the sink waits.
        self.sync();
        if let View::Plain(p) = &mut self.view
            && p.holds_diffs()
        {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if let Ok(e) = rx.try_recv() {
                return Some(e);
            }
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(p.idle().as_bytes());
            let _ = out.flush();
        }
        rx.blocking_recv()
    }

    fn append(&mut self, ts: chrono::DateTime<chrono::Utc>, e: &RunEvent) -> Option<u64> {
        let w = self.journal.as_mut()?;
        match w.append(ts, e, Durability::Written) {
            Ok(seq) => {
                if crate::cli::start::durability(e) == Durability::Synced {
                    self.unsynced += 1;
                }
                if self.unsynced >= SYNC_GROUP {
                    self.sync();
                }
                Some(seq)
            }
            Err(err) => {
                self.lost(&err);
                None
            }
        }
    }

    /// Fsyncs the state transitions written since the last sync.
    fn sync(&mut self) {
        if self.unsynced == 0 {
            return;
        }
        self.unsynced = 0;
        if let Some(w) = self.journal.as_mut()
            && let Err(err) = w.sync()
        {
            self.lost(&err);
        }
    }

    /// Fail closed: a run whose journal is lost cannot be resumed or disarmed from another
    /// terminal, so it stops before the next host effect and disarms.
    fn lost(&mut self, err: &crate::journal::JournalError) {
        if !self.journal_lost {
            self.journal_lost = true;
            eprintln!("cutover: journal write failed: {err}; stopping the run and disarming");
            self.control.abort_because(
                crate::executor::AbortMode::StopInFlight,
                format!("the journal could not be written ({err})"),
            );
        }
    }
}

/// Asks for a gate word on the terminal, on its own thread so the run's events keep flowing.
fn ask_gate(step: String, word: String, tx: UnboundedSender<Command>) {
    std::thread::spawn(move || {
        loop {
            eprint!("GATE {step}: type `{word}` and Enter to go on (Ctrl-C twice aborts): ");
            let mut line = String::new();
            match std::io::stdin().read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line.trim() == word => {
                    let _ = tx.send(Command::Go { step });
                    return;
                }
                Ok(_) => eprintln!("that is not `{word}`; the run keeps waiting"),
            }
        }
    });
}
