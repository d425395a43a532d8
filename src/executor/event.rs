//! The typed events the executor sends on its one channel, and the host outcomes they carry.
//!
//! Events hold no timestamps: the journal stamps each one as it appends it. Batch indexes
//! are 0-based (`index` of `of` batches); views add one when they print "batch 3/13".

use serde::{Deserialize, Serialize};
use std::fmt;

/// The name of a plan phase (`preflight`, `stage`, `verify`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PhaseName(pub String);

impl fmt::Display for PhaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PhaseName {
    fn from(name: &str) -> Self {
        Self(name.to_owned())
    }
}

/// How one host ended in a phase; failed (it answered, badly) and unreachable are distinct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum HostOutcome {
    /// The host did what the phase asked.
    Ok {
        /// Optional short note for views (e.g. "unchanged").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The host answered but the step failed.
    Failed {
        /// What failed, for the operator.
        reason: String,
        /// The remote exit status, when the failure was a non-zero exit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<i32>,
    },
    /// The host could not be reached (connect, auth or host-key failure, lost session).
    Unreachable {
        /// Why the host could not be reached.
        reason: String,
    },
    /// The host was never started because the phase stopped first (e.g. budget exceeded).
    Skipped {
        /// Why the host was skipped.
        why: String,
    },
    /// The host was cancelled by an abort; `started` says whether it was mid-run.
    Cancelled {
        /// True when the host was running when stopped (its state may be half-changed).
        started: bool,
    },
}

impl HostOutcome {
    /// Whether this outcome spends the failure budget (failed or unreachable).
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, Self::Failed { .. } | Self::Unreachable { .. })
    }
}

/// What to do with hosts already running when an abort arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortMode {
    /// Start nothing new; let running hosts finish their step.
    LetInFlightFinish,
    /// Start nothing new and tell running hosts to stop now.
    StopInFlight,
}

/// Why a phase ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "ending", rename_all = "snake_case")]
pub enum PhaseEnding {
    /// Every batch ran and the failure budget held.
    Completed,
    /// More hosts failed than the budget allows; later batches were skipped.
    BudgetExceeded {
        /// Failed and unreachable hosts so far.
        failed: usize,
        /// Failures the budget allows for this phase.
        allowed: usize,
    },
    /// The operator (or a lost journal) aborted the phase.
    Aborted {
        /// How in-flight hosts were treated.
        mode: AbortMode,
        /// Why the phase was aborted.
        reason: String,
    },
}

/// Per-outcome host counts of a phase, plus how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Hosts that succeeded.
    pub ok: usize,
    /// Hosts that answered and failed.
    pub failed: usize,
    /// Hosts that could not be reached.
    pub unreachable: usize,
    /// Hosts skipped after the phase stopped.
    pub skipped: usize,
    /// Hosts cancelled by an abort.
    pub cancelled: usize,
    /// Why the phase ended.
    pub ending: PhaseEnding,
}

impl PhaseSummary {
    /// Counts `outcomes` and records how the phase ended.
    pub fn new<'a>(
        outcomes: impl IntoIterator<Item = &'a HostOutcome>,
        ending: PhaseEnding,
    ) -> Self {
        let mut summary = Self {
            ok: 0,
            failed: 0,
            unreachable: 0,
            skipped: 0,
            cancelled: 0,
            ending,
        };
        for outcome in outcomes {
            let slot = match outcome {
                HostOutcome::Ok { .. } => &mut summary.ok,
                HostOutcome::Failed { .. } => &mut summary.failed,
                HostOutcome::Unreachable { .. } => &mut summary.unreachable,
                HostOutcome::Skipped { .. } => &mut summary.skipped,
                HostOutcome::Cancelled { .. } => &mut summary.cancelled,
            };
            *slot += 1;
        }
        summary
    }

    /// Whether the phase completed within its budget, so the run may go on.
    pub fn succeeded(&self) -> bool {
        self.ending == PhaseEnding::Completed
    }
}

/// One state change of the executor, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A phase began with `hosts` hosts cut into `batches` batches.
    PhaseStarted {
        /// The phase.
        phase: PhaseName,
        /// Number of hosts in the phase.
        hosts: usize,
        /// Number of batches.
        batches: usize,
    },
    /// Batch `index` (0-based) of `of` started with these hosts.
    BatchStarted {
        /// The phase.
        phase: PhaseName,
        /// 0-based batch index.
        index: usize,
        /// Number of batches in the phase.
        of: usize,
        /// The batch's hosts, in plan order.
        hosts: Vec<String>,
    },
    /// A host began its step.
    HostStarted {
        /// The phase.
        phase: PhaseName,
        /// The host.
        host: String,
    },
    /// A host ended; every host of a phase gets exactly one of these.
    HostFinished {
        /// The phase.
        phase: PhaseName,
        /// The host.
        host: String,
        /// How it ended.
        outcome: HostOutcome,
    },
    /// Every host of batch `index` ended (the barrier).
    BatchFinished {
        /// The phase.
        phase: PhaseName,
        /// 0-based batch index.
        index: usize,
        /// Number of batches in the phase.
        of: usize,
        /// Failed and unreachable hosts in the phase so far.
        failed_so_far: usize,
    },
    /// The phase is holding at the barrier before batch `next_batch`.
    Paused {
        /// The phase.
        phase: PhaseName,
        /// The batch that will start on resume.
        next_batch: usize,
    },
    /// The phase left its pause and starts batch `next_batch`.
    Resumed {
        /// The phase.
        phase: PhaseName,
        /// The batch that starts now.
        next_batch: usize,
    },
    /// Failures went over the budget; no further batch starts.
    BudgetExceeded {
        /// The phase.
        phase: PhaseName,
        /// Failed and unreachable hosts so far.
        failed: usize,
        /// Failures the budget allows.
        allowed: usize,
    },
    /// An abort was requested; pending hosts are cancelled.
    Aborted {
        /// The phase.
        phase: PhaseName,
        /// How in-flight hosts are treated.
        mode: AbortMode,
        /// Why the phase was aborted.
        reason: String,
    },
    /// The phase ended.
    PhaseFinished {
        /// The phase.
        phase: PhaseName,
        /// Counts and ending.
        summary: PhaseSummary,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialize_as_tagged_objects_without_timestamps() {
        let event = Event::HostFinished {
            phase: "stage".into(),
            host: "web01".into(),
            outcome: HostOutcome::Failed {
                reason: "exit 3".into(),
                exit: Some(3),
            },
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(
            value,
            json!({"event": "host_finished", "phase": "stage", "host": "web01",
                   "outcome": {"status": "failed", "reason": "exit 3", "exit": 3}})
        );
        assert_eq!(serde_json::from_value::<Event>(value).unwrap(), event);
    }

    #[test]
    fn summary_round_trips_and_counts_each_outcome() {
        let outcomes = [
            HostOutcome::Ok { detail: None },
            HostOutcome::Unreachable {
                reason: "refused".into(),
            },
            HostOutcome::Failed {
                reason: "x".into(),
                exit: None,
            },
            HostOutcome::Cancelled { started: true },
            HostOutcome::Skipped {
                why: "budget".into(),
            },
        ];
        let summary = PhaseSummary::new(&outcomes, PhaseEnding::Completed);
        assert_eq!((summary.ok, summary.failed, summary.unreachable), (1, 1, 1));
        assert_eq!((summary.skipped, summary.cancelled), (1, 1));
        assert!(summary.succeeded());
        let event = Event::PhaseFinished {
            phase: "verify".into(),
            summary,
        };
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    }

    #[test]
    fn only_failed_and_unreachable_spend_the_budget() {
        assert!(
            HostOutcome::Unreachable {
                reason: String::new()
            }
            .counts_as_failure()
        );
        assert!(
            HostOutcome::Failed {
                reason: String::new(),
                exit: None
            }
            .counts_as_failure()
        );
        assert!(!HostOutcome::Cancelled { started: true }.counts_as_failure());
        assert!(!HostOutcome::Skipped { why: String::new() }.counts_as_failure());
        assert!(!HostOutcome::Ok { detail: None }.counts_as_failure());
    }
}
