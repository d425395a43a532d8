//! One quorum reading: what a source said about members and leadership at one instant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a quorum source reported at `taken_at`; `error` keeps what went wrong, even partially.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumReading {
    /// When the reading was taken (the poll's start, from the clock).
    pub taken_at: DateTime<Utc>,
    /// Where it came from (endpoint URL or host), for reasons.
    pub source: String,
    /// Members as the source sees them.
    pub members: Vec<Member>,
    /// The leader's name, only when a member confirms it leads.
    pub leader: Option<String>,
    /// Highest raft term seen, when the source reports one.
    pub term: Option<u64>,
    /// Errors from the source, joined with `; `.
    pub error: Option<String>,
}

/// One raft member as seen in a reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Name (etcd member name, Consul node, or the endpoint when nothing better is known).
    pub name: String,
    /// Raft id as the source prints it (etcd: hex; Consul: server ID).
    pub id: String,
    /// Counts towards quorum.
    pub voter: bool,
    /// Answered this poll (for sources that cannot tell, true when listed by a leader).
    pub reachable: bool,
    /// This member says it is the leader.
    pub is_leader: bool,
    /// The member's raft term, when known.
    pub raft_term: Option<u64>,
}

impl QuorumReading {
    /// A reading with no members, leader or term: the source answered only with an error.
    pub fn failed(taken_at: DateTime<Utc>, source: &str, error: impl Into<String>) -> Self {
        QuorumReading {
            taken_at,
            source: source.to_string(),
            members: Vec::new(),
            leader: None,
            term: None,
            error: Some(error.into()),
        }
    }

    /// Voters that answered.
    pub fn live_voters(&self) -> usize {
        self.members
            .iter()
            .filter(|m| m.voter && m.reachable)
            .count()
    }

    /// Voters listed, reachable or not.
    pub fn listed_voters(&self) -> usize {
        self.members.iter().filter(|m| m.voter).count()
    }

    /// Names of members that claim leadership.
    pub fn claimed_leaders(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.is_leader && m.reachable)
            .map(|m| m.name.clone())
            .collect()
    }
}

/// The one member that says it leads; `None` for none or several (several is split leadership,
/// which the verdict reports from the members).
pub fn sole_leader(members: &[Member]) -> Option<String> {
    let mut leaders = members.iter().filter(|m| m.is_leader);
    match (leaders.next(), leaders.next()) {
        (Some(one), None) => Some(one.name.clone()),
        _ => None,
    }
}

#[derive(serde::Deserialize)]
struct CommandOutput {
    leader: Option<String>,
    #[serde(default)]
    members: Vec<CommandMember>,
}

#[derive(serde::Deserialize)]
struct CommandMember {
    name: String,
    #[serde(default = "yes")]
    voter: bool,
    #[serde(default = "yes")]
    reachable: bool,
}

fn yes() -> bool {
    true
}

/// Parses a `command` quorum source's stdout: `{"leader": "name" | null, "members": [{"name":
/// "a", "voter": true, "reachable": true}]}`; the leader must be one of the members.
pub fn parse_command_output(
    stdout: &str,
    taken_at: DateTime<Utc>,
    source: &str,
) -> Result<QuorumReading, super::ParseError> {
    let raw: CommandOutput = serde_json::from_str(stdout.trim())
        .map_err(|e| super::ParseError::json("quorum command output", e))?;
    let leader = raw
        .leader
        .filter(|l| raw.members.iter().any(|m| &m.name == l));
    let members = raw
        .members
        .into_iter()
        .map(|m| Member {
            is_leader: leader.as_deref() == Some(m.name.as_str()),
            id: m.name.clone(),
            name: m.name,
            voter: m.voter,
            reachable: m.reachable,
            raft_term: None,
        })
        .collect();
    Ok(QuorumReading {
        taken_at,
        source: source.to_string(),
        members,
        leader,
        term: None,
        error: None,
    })
}
