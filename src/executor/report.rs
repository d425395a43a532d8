//! What a phase run returns: every host's outcome and output, in plan order, plus a summary.

use super::event::{HostOutcome, PhaseName, PhaseSummary};
use super::fold::{OutputGroup, fold};

/// One host's result in a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport<O> {
    /// The host.
    pub host: String,
    /// The 0-based batch it belonged to.
    pub batch: usize,
    /// How it ended.
    pub outcome: HostOutcome,
    /// Its output, if it produced any.
    pub output: Option<O>,
}

/// The result of one phase: every host in plan order and the phase summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseReport<O> {
    /// The phase.
    pub phase: PhaseName,
    /// Every host of the phase, in plan order.
    pub hosts: Vec<HostReport<O>>,
    /// Counts and ending, as sent in `Event::PhaseFinished`.
    pub summary: PhaseSummary,
}

impl<O> PhaseReport<O> {
    /// Whether the phase completed within its budget, so the run may go on.
    pub fn succeeded(&self) -> bool {
        self.summary.succeeded()
    }

    /// The outcome of `host`, if it is in the phase.
    pub fn outcome(&self, host: &str) -> Option<&HostOutcome> {
        self.hosts
            .iter()
            .find(|h| h.host == host)
            .map(|h| &h.outcome)
    }
}

impl<O: AsRef<str>> PhaseReport<O> {
    /// Folds the hosts that produced output by identical output (`clush -b` style).
    pub fn fold_output(&self) -> Vec<OutputGroup> {
        fold(
            self.hosts
                .iter()
                .filter_map(|h| Some((h.host.as_str(), h.output.as_ref()?.as_ref()))),
        )
    }
}
