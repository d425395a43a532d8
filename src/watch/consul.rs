//! Consul readings: `/v1/status/leader`, `/v1/operator/raft/configuration`, and the
//! `consul operator raft list-peers` table with its failure outputs.

use super::ParseError;
use super::reading::{Member, QuorumReading, sole_leader};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The command a server runs to list raft peers (over SSH, via `RemoteRunner`).
pub const LIST_PEERS: &str = "consul operator raft list-peers";

#[derive(Deserialize)]
struct RawConfiguration {
    #[serde(rename = "Servers", default)]
    servers: Vec<RawServer>,
}

#[derive(Deserialize)]
struct RawServer {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Node")]
    node: String,
    #[serde(rename = "Address", default)]
    address: String,
    #[serde(rename = "Leader", default)]
    leader: bool,
    #[serde(rename = "Voter", default)]
    voter: bool,
}

/// Parses `/v1/status/leader`: the leader's raft address, `None` for `""` (no leader).
pub fn parse_status_leader(body: &str) -> Result<Option<String>, ParseError> {
    let s: String =
        serde_json::from_str(body).map_err(|e| ParseError::json("consul status/leader", e))?;
    Ok((!s.is_empty()).then_some(s))
}

/// Parses `/v1/operator/raft/configuration` into a reading; `leader_addr` is what
/// `/v1/status/leader` said, and a leader counts only when both agree.
///
/// Consul serves the configuration through the leader, so listed servers count as reachable.
pub fn parse_raft_configuration(
    body: &str,
    leader_addr: Option<&str>,
    taken_at: DateTime<Utc>,
    source: &str,
) -> Result<QuorumReading, ParseError> {
    let raw: RawConfiguration =
        serde_json::from_str(body).map_err(|e| ParseError::json("consul raft configuration", e))?;
    let members: Vec<Member> = raw
        .servers
        .iter()
        .map(|s| Member {
            name: s.node.clone(),
            id: if s.id.is_empty() {
                s.address.clone()
            } else {
                s.id.clone()
            },
            voter: s.voter,
            reachable: true,
            is_leader: s.leader,
            raft_term: None,
        })
        .collect();
    let leader = raw
        .servers
        .iter()
        .find(|s| s.leader && leader_addr.is_none_or(|a| a == s.address))
        .map(|s| s.node.clone());
    let error = match (leader_addr, &leader) {
        (Some(a), None) => Some(format!("status/leader says {a} but no listed server leads")),
        _ => None,
    };
    Ok(QuorumReading {
        taken_at,
        source: source.to_string(),
        members,
        leader,
        term: None,
        error,
    })
}

/// Parses `consul operator raft list-peers` output: the table, or one of its failures
/// (`Unexpected response code: 500 (No cluster leader)`, connection refused), which become a
/// reading with no members and the message as its error.
pub fn parse_list_peers(
    stdout: &str,
    stderr: &str,
    taken_at: DateTime<Utc>,
    source: &str,
) -> Result<QuorumReading, ParseError> {
    let mut lines = stdout.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines
        .next()
        .filter(|h| h.split_whitespace().next() == Some("Node"))
    else {
        let msg = first_line(stderr).or_else(|| first_line(stdout));
        return Ok(QuorumReading::failed(
            taken_at,
            source,
            msg.unwrap_or("list-peers printed nothing"),
        ));
    };
    let cols = Columns::from_header(header)?;
    let members = lines.map(|l| cols.row(l)).collect::<Result<Vec<_>, _>>()?;
    Ok(QuorumReading {
        taken_at,
        source: source.to_string(),
        leader: sole_leader(&members),
        members,
        term: None,
        error: None,
    })
}

/// Where the columns cutover reads sit; later columns (`Commit Index`, `Trails Leader By`)
/// have spaces in their names, so only columns before them are located by word position.
struct Columns {
    node: usize,
    id: usize,
    state: usize,
    voter: usize,
}

impl Columns {
    fn from_header(header: &str) -> Result<Self, ParseError> {
        let cols: Vec<&str> = header.split_whitespace().collect();
        let col = |name: &str| cols.iter().position(|c| *c == name);
        let need = |name: &str| {
            col(name).ok_or_else(|| shape(format!("header has no `{name}` column: {header}")))
        };
        Ok(Columns {
            node: need("Node")?,
            id: col("ID").map_or_else(|| need("Address"), Ok)?,
            state: need("State")?,
            voter: need("Voter")?,
        })
    }

    fn row(&self, line: &str) -> Result<Member, ParseError> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let get = |i: usize| {
            f.get(i)
                .copied()
                .ok_or_else(|| shape(format!("short row: {line}")))
        };
        Ok(Member {
            name: get(self.node)?.to_string(),
            id: get(self.id)?.to_string(),
            voter: get(self.voter)? == "true",
            reachable: true,
            is_leader: get(self.state)? == "leader",
            raft_term: None,
        })
    }
}

fn shape(detail: String) -> ParseError {
    ParseError::Shape {
        what: "consul list-peers".into(),
        detail,
    }
}

fn first_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).find(|l| !l.is_empty())
}

#[cfg(test)]
#[path = "consul/tests.rs"]
mod tests;
