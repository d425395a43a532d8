//! The watch side of the dashboard: quorum panel, probe sparklines, log tail and fire spread.

use crate::arm::receipt::Spread;
use crate::tui::msg::{Level, Member, ProbeReading, QuorumReading};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;

/// Log lines kept for the tail: enough to scroll back over a few minutes of a 1,000-host run
/// without the dashboard's memory growing with the run (the journal keeps everything).
pub const LOG_CAPACITY: usize = 200;

/// Probe readings kept per sparkline: one minute at the default 1 s poll interval.
pub const PROBE_HISTORY: usize = 60;

/// The quorum panel: the latest reading and the leaderless timer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuorumView {
    /// Members from the latest reading.
    pub members: Vec<Member>,
    /// Leader, if any.
    pub leader: Option<String>,
    /// Raft term.
    pub term: u64,
    /// Voters answering.
    pub voters_live: usize,
    /// Voters expected.
    pub voters_expected: usize,
    /// Why the watch judges quorum unsafe, if it does.
    pub problem: Option<String>,
    /// Start of the current leaderless window.
    pub leaderless_since: Option<DateTime<Utc>>,
    /// Length of the last leaderless window that ended.
    pub last_leaderless: Option<chrono::Duration>,
    /// When the latest reading arrived.
    pub read_at: Option<DateTime<Utc>>,
}

impl QuorumView {
    /// Takes a reading, opening or closing the leaderless window.
    pub fn apply(&mut self, r: QuorumReading, now: DateTime<Utc>) {
        match (&r.leader, self.leaderless_since) {
            (None, None) => self.leaderless_since = Some(now),
            (Some(_), Some(since)) => {
                self.last_leaderless = Some(now - since);
                self.leaderless_since = None;
            }
            _ => {}
        }
        self.members = r.members;
        self.leader = r.leader;
        self.term = r.term;
        self.voters_live = r.voters_live;
        self.voters_expected = r.voters_expected;
        self.problem = r.problem;
        self.read_at = Some(now);
    }
}

/// Whether a probe passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeState {
    /// No reading yet (counted as not passing).
    Unknown,
    /// The latest reading passed.
    Passing,
    /// The latest reading failed.
    Failing {
        /// Why, one line.
        reason: String,
    },
}

/// One probe in the health panel.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeView {
    /// Probe name.
    pub name: String,
    /// Latest state.
    pub state: ProbeState,
    /// Latest values, oldest first, at most `PROBE_HISTORY`.
    pub readings: VecDeque<f64>,
}

impl ProbeView {
    /// A probe with no reading yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: ProbeState::Unknown,
            readings: VecDeque::new(),
        }
    }

    /// Takes a reading.
    pub fn apply(&mut self, r: ProbeReading) {
        self.state = if r.ok {
            ProbeState::Passing
        } else {
            ProbeState::Failing {
                reason: r.reason.unwrap_or_else(|| "failing".into()),
            }
        };
        if let Some(v) = r.value {
            if self.readings.len() == PROBE_HISTORY {
                self.readings.pop_front();
            }
            self.readings.push_back(v);
        }
    }
}

/// One line of the log tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// When it was logged.
    pub at: DateTime<Utc>,
    /// Severity.
    pub level: Level,
    /// Text.
    pub text: String,
}

/// A bounded ring of log lines, oldest dropped first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogRing {
    lines: VecDeque<LogLine>,
}

impl LogRing {
    /// Appends a line, dropping the oldest beyond `LOG_CAPACITY`.
    pub fn push(&mut self, at: DateTime<Utc>, level: Level, text: impl Into<String>) {
        if self.lines.len() == LOG_CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine {
            at,
            level,
            text: text.into(),
        });
    }

    /// The newest `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> impl Iterator<Item = &LogLine> {
        self.lines.iter().skip(self.lines.len().saturating_sub(n))
    }

    /// Number of lines kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// The measured fire spread and the lateness threshold it is shown against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpreadView {
    /// The measurement.
    pub spread: Spread,
    /// Starts later than this (ms after the fire time) are listed as late.
    pub late_after_ms: u64,
}

impl SpreadView {
    /// Hosts that started later than the threshold, latest first, with lateness in ns.
    pub fn late(&self) -> Vec<(&str, i64)> {
        let limit = i64::try_from(self.late_after_ms)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000);
        let mut late: Vec<(&str, i64)> = (self.spread.fired.iter())
            .filter(|f| f.late_ns > limit)
            .map(|f| (f.host.as_str(), f.late_ns))
            .collect();
        late.sort_by_key(|l| std::cmp::Reverse(l.1));
        late
    }
}
