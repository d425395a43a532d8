//! Quorum verdicts: healthy only with a fresh reading, one confirmed leader and a voter majority.

use super::reading::QuorumReading;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Readings older than this many poll intervals are stale: two missed polls are noise, three are
/// a source that stopped answering.
pub const STALE_AFTER_POLLS: u32 = 3;

/// The quorum's state as far as a cutover may rely on it; anything unproven is `Unsafe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum QuorumVerdict {
    /// A fresh reading shows one leader and a majority of the expected voters.
    Healthy {
        /// The leader's name.
        leader: String,
        /// Voters that answered.
        live_voters: usize,
        /// Voters the plan expects.
        expected_voters: usize,
    },
    /// Why the quorum cannot be called healthy.
    Unsafe(Unsafe),
}

/// Reasons a quorum is not healthy; each names what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unsafe")]
pub enum Unsafe {
    /// No member confirms it leads.
    NoLeader,
    /// Fewer voters answer than a majority of the expected voters.
    VotersBelowQuorum {
        /// Voters that answered.
        live: usize,
        /// Majority of the expected voters.
        needed: usize,
    },
    /// The newest reading is too old to trust.
    StaleReading {
        /// Its age.
        age: Duration,
    },
    /// No reading has arrived from this source or host.
    ProbeMissing {
        /// Source or host that gave nothing.
        host: String,
    },
    /// More than one member claims leadership.
    SplitLeadership {
        /// Members claiming it.
        leaders: Vec<String>,
    },
}

impl QuorumVerdict {
    /// True only for `Healthy`.
    pub fn is_healthy(&self) -> bool {
        matches!(self, QuorumVerdict::Healthy { .. })
    }

    /// The confirmed leader, only when healthy.
    pub fn leader(&self) -> Option<&str> {
        match self {
            QuorumVerdict::Healthy { leader, .. } => Some(leader),
            QuorumVerdict::Unsafe(_) => None,
        }
    }
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unsafe::NoLeader => write!(f, "no leader"),
            Unsafe::VotersBelowQuorum { live, needed } => {
                write!(f, "{live} voters answer, {needed} needed for quorum")
            }
            Unsafe::StaleReading { age } => {
                write!(f, "newest quorum reading is {}ms old", age.as_millis())
            }
            Unsafe::ProbeMissing { host } => write!(f, "no quorum reading from {host}"),
            Unsafe::SplitLeadership { leaders } => {
                write!(f, "split leadership: {}", leaders.join(", "))
            }
        }
    }
}

/// A majority of `expected` voters.
pub fn needed(expected: usize) -> usize {
    expected / 2 + 1
}

/// Judges `reading` at `now`: fails closed on missing, stale, split, short or leaderless readings.
///
/// `expected_voters` comes from the plan (`voters`, else the quorum targets' count); the larger of
/// it and the voters the reading lists is used, so a source listing more members cannot lower
/// the bar. `source` names the source when there is no reading at all.
pub fn judge(
    reading: Option<&QuorumReading>,
    source: &str,
    expected_voters: usize,
    now: DateTime<Utc>,
    max_age: Duration,
) -> QuorumVerdict {
    let Some(r) = reading else {
        return unsafe_(Unsafe::ProbeMissing {
            host: source.to_string(),
        });
    };
    let age = (now - r.taken_at).to_std().unwrap_or(Duration::ZERO);
    if age > max_age {
        return unsafe_(Unsafe::StaleReading { age });
    }
    let leaders = r.claimed_leaders();
    if leaders.len() > 1 {
        return unsafe_(Unsafe::SplitLeadership { leaders });
    }
    let expected = expected_voters.max(r.listed_voters());
    let (live, need) = (r.live_voters(), needed(expected));
    if !r.members.is_empty() && live < need {
        return unsafe_(Unsafe::VotersBelowQuorum { live, needed: need });
    }
    let Some(leader) = r.leader.clone() else {
        return unsafe_(Unsafe::NoLeader);
    };
    if live < need {
        return unsafe_(Unsafe::VotersBelowQuorum { live, needed: need });
    }
    QuorumVerdict::Healthy {
        leader,
        live_voters: live,
        expected_voters: expected,
    }
}

/// The age past which a reading is stale, for a poll interval.
pub fn max_age(poll_interval: Duration) -> Duration {
    poll_interval * STALE_AFTER_POLLS
}

fn unsafe_(u: Unsafe) -> QuorumVerdict {
    QuorumVerdict::Unsafe(u)
}

#[cfg(test)]
#[path = "verdict/tests.rs"]
mod tests;
