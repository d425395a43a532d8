//! The typed vocabulary of a run's events: which phase a step belongs to, and how an attempt
//! ended. Their journal spellings are the ones earlier versions wrote as strings, so old
//! journals and fixtures still read; nothing matches on those spellings any more.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where in the run a step, a check round or a phase verdict belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    /// Read-only checks before anything changes.
    #[serde(rename = "preflight")]
    Preflight,
    /// A staging step's read-and-diff pass (nothing written).
    #[serde(rename = "stage (read and diff, nothing written)")]
    StageDiff,
    /// Staging: the writes.
    #[serde(rename = "stage")]
    Stage,
    /// The checks after staging.
    #[serde(rename = "verify")]
    Verify,
    /// The drift check when the arming window opens.
    #[serde(rename = "before arming")]
    BeforeArming,
    /// Arming the action on every host.
    #[serde(rename = "arm")]
    Arm,
    /// The last drift check before the fire.
    #[serde(rename = "at T-minus")]
    TMinus,
    /// The commit round: one write per host makes the armed jobs live.
    #[serde(rename = "commit")]
    Commit,
    /// The fire and its receipts.
    #[serde(rename = "fire")]
    Fire,
    /// The quorum and health watch.
    #[serde(rename = "watch")]
    Watch,
    /// A post step's read-and-diff pass.
    #[serde(rename = "post (read and diff, nothing written)")]
    PostDiff,
    /// Steps after completion.
    #[serde(rename = "post")]
    Post,
    /// `cutover rollback`: staged files restored from their backups, what staging disabled
    /// re-enabled, the plan's `[[rollback]]` steps.
    #[serde(rename = "rollback")]
    Rollback,
}

/// The phases a run shows as columns (dashboard, report), in run order.
pub const SHOWN: [Phase; 7] = [
    Phase::Preflight,
    Phase::Stage,
    Phase::Verify,
    Phase::Arm,
    Phase::Fire,
    Phase::Watch,
    Phase::Post,
];

impl Phase {
    /// The journal's (and the views') spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::StageDiff => "stage (read and diff, nothing written)",
            Phase::Stage => "stage",
            Phase::Verify => "verify",
            Phase::BeforeArming => "before arming",
            Phase::Arm => "arm",
            Phase::TMinus => "at T-minus",
            Phase::Commit => "commit",
            Phase::Fire => "fire",
            Phase::Watch => "watch",
            Phase::PostDiff => "post (read and diff, nothing written)",
            Phase::Post => "post",
            Phase::Rollback => "rollback",
        }
    }

    /// The shown phase this one belongs to: a diff pass to its step's phase, the drift check
    /// before arming to `arm`, the one at T-minus to `fire`.
    pub fn shown(self) -> Phase {
        match self {
            Phase::StageDiff => Phase::Stage,
            Phase::PostDiff => Phase::Post,
            Phase::BeforeArming => Phase::Arm,
            Phase::TMinus | Phase::Commit => Phase::Fire,
            p => p,
        }
    }

    /// True for the drift checks that only re-verify hosts already verified or armed.
    pub fn is_recheck(self) -> bool {
        matches!(self, Phase::BeforeArming | Phase::TMinus)
    }

    /// True for a step pass that changes hosts (its host outcomes mean "done").
    pub fn is_write_pass(self) -> bool {
        matches!(self, Phase::Stage | Phase::Post)
    }

    /// True for a round of read-only checks (every host is checked, the budget judged at the end).
    pub fn is_check(self) -> bool {
        matches!(
            self,
            Phase::Preflight | Phase::Verify | Phase::BeforeArming | Phase::TMinus
        )
    }

    /// The read-and-diff pass of a step phase (`stage`, `post`); itself otherwise.
    pub fn diff_pass(self) -> Phase {
        match self {
            Phase::Stage => Phase::StageDiff,
            Phase::Post => Phase::PostDiff,
            p => p,
        }
    }

    /// The phase whose failure budget a host failing here spends: a diff pass spends its
    /// step phase's, a drift check the verify budget.
    pub fn budget_phase(self) -> Phase {
        match self {
            Phase::StageDiff => Phase::Stage,
            Phase::PostDiff => Phase::Post,
            Phase::BeforeArming | Phase::TMinus => Phase::Verify,
            Phase::Commit => Phase::Arm,
            p => p,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one attempt of a run ended (the `finished` record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ending {
    /// Every phase within budget; fired, watched, post steps done.
    #[serde(rename = "complete")]
    Complete,
    /// A dry run showed everything it would do.
    #[serde(rename = "dry-run complete")]
    DryRunComplete,
    /// `--stop-after-verify`: staged and verified, nothing armed.
    #[serde(rename = "staged and verified")]
    StagedAndVerified,
    /// A phase failed (over budget, a failed action, drift, a lost journal).
    #[serde(rename = "failed")]
    Failed,
    /// The operator or a signal aborted it.
    #[serde(rename = "aborted")]
    Aborted,
}

impl Ending {
    /// The journal's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Complete => "complete",
            Ending::DryRunComplete => "dry-run complete",
            Ending::StagedAndVerified => "staged and verified",
            Ending::Failed => "failed",
            Ending::Aborted => "aborted",
        }
    }

    /// True when the attempt did everything it set out to do.
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            Ending::Complete | Ending::DryRunComplete | Ending::StagedAndVerified
        )
    }
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_spellings_are_unchanged() {
        for p in [
            Phase::Preflight,
            Phase::StageDiff,
            Phase::Stage,
            Phase::Verify,
            Phase::BeforeArming,
            Phase::Arm,
            Phase::TMinus,
            Phase::Commit,
            Phase::Fire,
            Phase::Watch,
            Phase::PostDiff,
            Phase::Post,
            Phase::Rollback,
        ] {
            let json = serde_json::to_string(&p).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<Phase>(&json).ok(), Some(p));
        }
        for e in [
            Ending::Complete,
            Ending::DryRunComplete,
            Ending::StagedAndVerified,
            Ending::Failed,
            Ending::Aborted,
        ] {
            let json = serde_json::to_string(&e).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
        }
    }

    #[test]
    fn passes_belong_to_their_shown_phase() {
        assert_eq!(Phase::StageDiff.shown(), Phase::Stage);
        assert_eq!(Phase::TMinus.shown(), Phase::Fire);
        assert_eq!(Phase::BeforeArming.shown(), Phase::Arm);
        assert!(Phase::Stage.is_write_pass() && !Phase::StageDiff.is_write_pass());
        assert_eq!(Phase::TMinus.budget_phase(), Phase::Verify);
    }
}
