//! The dashboard's input (`Msg`: run events and key presses) and output (`Command`s for the shell).
//!
//! These are the dashboard's own types: the executor, watch and transport keep their events,
//! and `tui::adapt` translates them into `Msg`.

use crate::arm::receipt::{Receipt, Spread};
use crate::checks::Verdict;
use crate::tui::state::HostState;
use serde::Serialize;

/// One input to `update`: something happened in the run, or the operator pressed a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Msg {
    /// A phase (preflight, stage, verify, arm, fire, watch, post) began.
    PhaseStarted {
        /// Phase name, as given to `Dashboard::new`.
        phase: String,
        /// Hosts the phase runs on.
        hosts: usize,
        /// Number of batches.
        batches: usize,
        /// Failures the phase's budget allows.
        budget: usize,
    },
    /// A batch of a phase began.
    BatchStarted {
        /// Phase name.
        phase: String,
        /// 1-based batch number.
        batch: usize,
        /// Hosts in the batch.
        hosts: Vec<String>,
    },
    /// Hosts finished and failed so far in a phase (counted by the executor).
    PhaseProgress {
        /// Phase name.
        phase: String,
        /// Hosts done (passed or failed).
        done: usize,
        /// Hosts failed.
        failed: usize,
    },
    /// A phase ended.
    PhaseFinished {
        /// Phase name.
        phase: String,
        /// `None` when it succeeded; otherwise why it stopped.
        error: Option<String>,
    },
    /// A host moved to a new state.
    HostChanged {
        /// Host name.
        host: String,
        /// New state (failures carry their reason).
        state: HostState,
        /// Latest output, already sanitized.
        output: Option<String>,
    },
    /// A check's verdict on a host.
    CheckResult {
        /// Host name.
        host: String,
        /// Check name.
        check: String,
        /// Verdict with reason.
        verdict: Verdict,
    },
    /// A host's fire receipt was read.
    ReceiptRead {
        /// Host name.
        host: String,
        /// The receipt.
        receipt: Receipt,
    },
    /// A quorum reading from the watch.
    Quorum(QuorumReading),
    /// A health probe reading.
    Probe(ProbeReading),
    /// The post-fire spread was measured.
    SpreadMeasured {
        /// The measurement.
        spread: Spread,
        /// Hosts starting later than this after the fire time are listed as late.
        late_after_ms: u64,
    },
    /// A free-form log line.
    Log {
        /// Severity.
        level: Level,
        /// Text, already sanitized.
        text: String,
    },
    /// A file step's change on a group of hosts, shown before anything is written.
    DiffShown {
        /// The step's plan path (a new step's diffs replace the last step's).
        step: String,
        /// The file on the hosts.
        file: String,
        /// The hosts, compact (`lab-[1-253]`), with their count.
        hosts: String,
        /// The unified diff (empty: already as planned).
        diff: String,
        /// The hosts' diffs differ in context lines only.
        context_varies: bool,
    },
    /// The run waits for the operator to type a gate word.
    GateRequested {
        /// Step path or name the gate guards, e.g. `stage[2] restart servers`.
        step: String,
        /// The word to type.
        word: String,
    },
    /// The executor stopped after its current batch, as asked.
    Paused,
    /// The run ended.
    Finished {
        /// How it ended.
        outcome: Outcome,
    },
    /// The operator pressed a key.
    #[serde(skip)]
    Key(Key),
    /// The run ended on a signal: close the dashboard and restore the terminal, unasked.
    #[serde(skip)]
    Close,
    /// A message that happened at a known time (a journal record's), not when it arrived.
    #[serde(skip)]
    At {
        /// When it happened.
        at: chrono::DateTime<chrono::Utc>,
        /// What happened.
        msg: Box<Msg>,
    },
}

/// A quorum reading: members, leader, term and the watch's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuorumReading {
    /// Cluster members.
    pub members: Vec<Member>,
    /// Leader's name, if any.
    pub leader: Option<String>,
    /// Raft term.
    pub term: u64,
    /// Voters answering.
    pub voters_live: usize,
    /// Voters expected.
    pub voters_expected: usize,
    /// `None` when the watch judged quorum safe; otherwise why not.
    pub problem: Option<String>,
}

/// One cluster member as the quorum source reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Member name.
    pub name: String,
    /// Role, e.g. `leader`, `follower`, `candidate`.
    pub role: String,
    /// Counts towards quorum.
    pub voter: bool,
    /// Answered the last poll.
    pub reachable: bool,
}

/// One health-probe reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeReading {
    /// Probe name.
    pub name: String,
    /// The probe passed (its `min_pass` fraction of targets).
    pub ok: bool,
    /// A number to plot (latency in ms or the probe's metric), if any.
    pub value: Option<f64>,
    /// Why it failed, one line.
    pub reason: Option<String>,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Routine.
    Info,
    /// Needs a look.
    Warn,
    /// Something failed.
    Error,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every phase passed and the watch's completion held.
    Complete,
    /// Stopped by the operator or an abort condition; armed hosts were disarmed.
    Aborted {
        /// Why.
        reason: String,
    },
    /// A phase failed beyond its budget or the watch timed out.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Enter / Return.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Ctrl-C (never kills silently: it asks like `q`).
    CtrlC,
}

/// What the shell must do after an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Stop after the current batch.
    Pause,
    /// Continue after a pause.
    Resume,
    /// Cancel pending work and disarm every armed host.
    Abort,
    /// Abort before anything is armed, then undo staging (`cutover rollback`).
    AbortAndRollBack,
    /// The operator typed the gate word for this step.
    Go {
        /// The step, as in `Msg::GateRequested`.
        step: String,
    },
    /// Leave the dashboard; nothing is armed.
    Quit,
    /// Leave the dashboard; armed hosts stay armed and fire regardless.
    QuitLeaveArmed,
    /// Disarm every armed host, then leave.
    DisarmAndQuit,
    /// A signal (SIGTERM, SIGHUP) asks the run to abort: disarm every armed host.
    Signal {
        /// The signal's name.
        name: String,
    },
    /// `cutover disarm RUN` ran from another terminal: stop, disarm every armed host.
    DisarmedElsewhere {
        /// Who, as its journal says (`disarm requested by user@host`).
        by: String,
    },
}
