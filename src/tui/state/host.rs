//! One host as the dashboard shows it: state, groups, checks, last output and receipt.

use crate::arm::receipt::Receipt;
use crate::checks::Verdict;
use serde::Serialize;

/// Where a host is in the run; the failure states carry a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostState {
    /// Nothing has run on it yet.
    Pending,
    /// A step or check is running on it.
    Running,
    /// Its changes are staged.
    Staged,
    /// Verification passed.
    Verified,
    /// The action is armed and will fire at the fire time.
    Armed,
    /// The action fired.
    Fired,
    /// Healthy after the fire.
    Healthy,
    /// A step or check failed.
    Failed {
        /// Why, one line.
        reason: String,
    },
    /// It could not be reached.
    Unreachable {
        /// Why, one line.
        reason: String,
    },
    /// A staged change was altered behind our back.
    Drifted {
        /// What drifted.
        reason: String,
    },
    /// It was armed and has been disarmed.
    Disarmed,
}

/// The states in legend order (the failure states with an empty reason).
pub const LEGEND: [HostState; 11] = [
    HostState::Pending,
    HostState::Running,
    HostState::Staged,
    HostState::Verified,
    HostState::Armed,
    HostState::Fired,
    HostState::Healthy,
    HostState::Failed {
        reason: String::new(),
    },
    HostState::Unreachable {
        reason: String::new(),
    },
    HostState::Drifted {
        reason: String::new(),
    },
    HostState::Disarmed,
];

impl HostState {
    /// Lower-case label, e.g. `armed`, `unreachable`.
    pub fn label(&self) -> &'static str {
        match self {
            HostState::Pending => "pending",
            HostState::Running => "running",
            HostState::Staged => "staged",
            HostState::Verified => "verified",
            HostState::Armed => "armed",
            HostState::Fired => "fired",
            HostState::Healthy => "healthy",
            HostState::Failed { .. } => "failed",
            HostState::Unreachable { .. } => "unreachable",
            HostState::Drifted { .. } => "drifted",
            HostState::Disarmed => "disarmed",
        }
    }

    /// Position in `LEGEND`, for counting per state.
    pub fn index(&self) -> usize {
        LEGEND
            .iter()
            .position(|s| s.label() == self.label())
            .unwrap_or(0)
    }

    /// The reason of a failure state.
    pub fn reason(&self) -> Option<&str> {
        match self {
            HostState::Failed { reason }
            | HostState::Unreachable { reason }
            | HostState::Drifted { reason } => Some(reason),
            _ => None,
        }
    }

    /// True for states that need the operator's attention.
    pub fn is_problem(&self) -> bool {
        self.reason().is_some()
    }
}

/// Everything the dashboard knows about one host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostView {
    /// Inventory name.
    pub name: String,
    /// Inventory groups, the first one is where the host panel shows it.
    pub groups: Vec<String>,
    /// Current state.
    pub state: HostState,
    /// Latest output, already sanitized.
    pub output: String,
    /// Check verdicts, latest per check name.
    pub checks: Vec<(String, Verdict)>,
    /// Fire receipt, once read.
    pub receipt: Option<Receipt>,
}

impl HostView {
    /// A pending host in these groups.
    pub fn new(name: impl Into<String>, groups: Vec<String>) -> Self {
        Self {
            name: name.into(),
            groups,
            state: HostState::Pending,
            output: String::new(),
            checks: Vec::new(),
            receipt: None,
        }
    }

    /// The group the host panel files it under.
    pub fn primary_group(&self) -> &str {
        self.groups.first().map_or("ungrouped", String::as_str)
    }

    /// Records a check verdict, replacing an earlier one with the same name.
    pub fn set_check(&mut self, check: String, verdict: Verdict) {
        match self.checks.iter_mut().find(|(name, _)| *name == check) {
            Some(slot) => slot.1 = verdict,
            None => self.checks.push((check, verdict)),
        }
    }

    /// True when the filter text (case-insensitive) appears in name, group, state or reason.
    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.to_lowercase();
        let hit = |s: &str| s.to_lowercase().contains(&f);
        hit(&self.name)
            || self.groups.iter().any(|g| hit(g))
            || hit(self.state.label())
            || self.state.reason().is_some_and(hit)
    }
}
