//! What the tracker remembers and reports: outcomes, milestones, reasons and leaderless windows.

use crate::watch::verdict::Unsafe;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How the watch ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// Every `complete_when` condition held for `stable_for`.
    Complete {
        /// When it was decided.
        at: DateTime<Utc>,
    },
    /// `timeout` after the fire time passed first; `why` says what was still missing.
    TimedOut {
        /// When it was decided.
        at: DateTime<Utc>,
        /// Reasons at that moment.
        why: WhyNotDone,
    },
    /// An `abort_if` condition held before the fire time: the caller disarms.
    Abort {
        /// When it was decided.
        at: DateTime<Utc>,
        /// Which condition and why, e.g. `quorum_lost: no leader`.
        reason: String,
    },
}

/// A change worth an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "milestone")]
pub enum Milestone {
    /// After the fire time, no confirmed leader from here on.
    LeaderLost {
        /// Observation time.
        at: DateTime<Utc>,
    },
    /// A leader is confirmed again.
    LeaderBack {
        /// Observation time.
        at: DateTime<Utc>,
        /// Who leads.
        leader: String,
        /// How long there was none (between observations).
        leaderless_for: Duration,
    },
    /// Every completion condition holds; the `stable_for` count starts.
    AllGreen {
        /// Observation time.
        at: DateTime<Utc>,
    },
    /// A condition stopped holding; the count restarts at the next green.
    GreenBroken {
        /// Observation time.
        at: DateTime<Utc>,
        /// What broke.
        why: WhyNotDone,
    },
    /// The watch ended.
    Finished {
        /// How.
        outcome: Outcome,
    },
}

/// Why the cutover is not complete: every unmet condition, for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WhyNotDone {
    /// Reasons, in `complete_when` order.
    pub reasons: Vec<Reason>,
}

/// One reason the cutover is not complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Reason {
    /// The action has not fired yet.
    BeforeFire {
        /// Time left.
        remaining: Duration,
    },
    /// The quorum is not healthy.
    Quorum(Unsafe),
    /// `complete_when` names the quorum but the plan watches none.
    QuorumNotConfigured,
    /// A probe does not pass.
    Probe {
        /// Probe name.
        name: String,
        /// Why, e.g. `2/3 passed (need 100%): web-2: status 503`.
        detail: String,
    },
    /// The action has not finished and reported on every fired host yet.
    ActionsRunning {
        /// Hosts whose action finished.
        finished: usize,
        /// Hosts the action fired on.
        expected: usize,
    },
    /// The plan's `settle` after the fire has not passed yet.
    Settling {
        /// Time left.
        remaining: Duration,
    },
    /// `term_increased` or `leader_changed` has not been seen.
    ChangeNotSeen {
        /// What was seen instead.
        detail: String,
    },
    /// All conditions hold but not for long enough yet.
    NotStableYet {
        /// Held so far.
        held: Duration,
        /// Required.
        needed: Duration,
    },
}

impl std::fmt::Display for WhyNotDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, r) in self.reasons.iter().enumerate() {
            write!(f, "{}{r}", if i == 0 { "" } else { "; " })?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::BeforeFire { remaining } => write!(f, "fires in {}s", remaining.as_secs()),
            Reason::Quorum(u) => write!(f, "quorum: {u}"),
            Reason::QuorumNotConfigured => write!(f, "quorum: the plan watches no quorum"),
            Reason::Probe { name, detail } => write!(f, "probe {name}: {detail}"),
            Reason::ActionsRunning { finished, expected } => {
                write!(f, "the action finished on {finished} of {expected} host(s)")
            }
            Reason::Settling { remaining } => {
                write!(f, "settling after the fire, {}s left", remaining.as_secs())
            }
            Reason::ChangeNotSeen { detail } => write!(f, "no change seen yet: {detail}"),
            Reason::NotStableYet { held, needed } => {
                write!(f, "stable for {}s of {}s", held.as_secs(), needed.as_secs())
            }
        }
    }
}

/// A span after the fire time without a confirmed leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First observation without a leader.
    pub start: DateTime<Utc>,
    /// Until the first observation with one; `None` while open.
    pub length: Option<Duration>,
}

/// The watch's record, for the report and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The fire time.
    pub fire_at: DateTime<Utc>,
    /// From the fire time to the end of the first leaderless window (`None` if none closed).
    pub first_leader_after_fire: Option<Duration>,
    /// Leaderless windows after the fire time, in order.
    pub leaderless: Vec<Window>,
    /// First observation after the fire time where every condition held.
    pub first_all_green: Option<DateTime<Utc>>,
    /// When completion was decided.
    pub completed_at: Option<DateTime<Utc>>,
}

impl History {
    /// An empty record for a fire time.
    pub fn new(fire_at: DateTime<Utc>) -> Self {
        History {
            fire_at,
            first_leader_after_fire: None,
            leaderless: Vec::new(),
            first_all_green: None,
            completed_at: None,
        }
    }

    /// Closes the open window at `now` and returns its length.
    pub(crate) fn close_window(&mut self, now: DateTime<Utc>) -> Duration {
        match self.leaderless.last_mut() {
            Some(w) if w.length.is_none() => {
                let len = (now - w.start).to_std().unwrap_or_default();
                w.length = Some(len);
                len
            }
            _ => Duration::ZERO,
        }
    }
}
