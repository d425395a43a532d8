//! Preflight and verify checks: turning a host's command output into a verdict with a reason.
//!
//! Pure: the shell runs `remote::check` scripts and hands the output here. Every verdict that
//! is not a pass carries a one-line reason, identical across hosts for identical causes, so
//! the matrix can group them ("3 hosts: sudo: a password is required").

pub mod clock;
pub mod evaluate;

/// What a command returned, as far as checks care (sanitized text, exit code if any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Exit code; `None` when the command died by a signal or the channel closed without one.
    pub exit: Option<u32>,
    /// Standard output, sanitized.
    pub stdout: String,
    /// Standard error, sanitized.
    pub stderr: String,
}

/// A check's verdict on one host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The host is ready in this respect.
    Pass,
    /// The host is not ready; the reason says why, identically for identical causes.
    Fail {
        /// One line.
        reason: String,
    },
    /// The check could not run (unreachable host, timeout): never counted as a pass.
    Error {
        /// One line.
        reason: String,
    },
}

impl Verdict {
    /// A failure with a reason.
    pub fn fail(reason: impl Into<String>) -> Self {
        Verdict::Fail {
            reason: reason.into(),
        }
    }

    /// True only for `Pass`.
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    /// The reason, if not a pass.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Pass => None,
            Verdict::Fail { reason } | Verdict::Error { reason } => Some(reason),
        }
    }
}
