//! etcd readings: `etcdctl endpoint status --cluster -w json` and the v3 HTTP (grpc-gateway) API.

use super::ParseError;
use super::reading::{Member, QuorumReading, sole_leader};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// The command a member runs to report the whole cluster (over SSH, via `RemoteRunner`).
pub const ETCDCTL_STATUS: &str =
    "ETCDCTL_API=3 etcdctl endpoint status --cluster -w json --command-timeout=2s";

/// One endpoint's answer to a status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    /// The answering member's id.
    pub member_id: u64,
    /// The leader it knows, if any (etcd omits the field when there is none).
    pub leader: Option<u64>,
    /// Its raft term.
    pub raft_term: u64,
    /// Errors it reports, e.g. `etcdserver: no leader`.
    pub errors: Vec<String>,
}

/// One entry of the member list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMember {
    /// Member id.
    pub id: u64,
    /// Member name (empty before it has started).
    pub name: String,
    /// Client URLs.
    pub client_urls: Vec<String>,
    /// Learners do not vote.
    pub is_learner: bool,
}

#[derive(Deserialize)]
struct RawStatus {
    header: RawHeader,
    #[serde(default, deserialize_with = "opt_u64")]
    leader: Option<u64>,
    #[serde(rename = "raftTerm", default, deserialize_with = "opt_u64")]
    raft_term: Option<u64>,
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(deserialize_with = "opt_u64")]
    member_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    raft_term: Option<u64>,
}

#[derive(Deserialize)]
struct CtlEntry {
    #[serde(rename = "Endpoint")]
    endpoint: String,
    #[serde(rename = "Status")]
    status: RawStatus,
}

#[derive(Deserialize)]
struct RawMembers {
    #[serde(default)]
    members: Vec<RawMember>,
}

#[derive(Deserialize)]
struct RawMember {
    #[serde(rename = "ID", deserialize_with = "opt_u64")]
    id: Option<u64>,
    #[serde(default)]
    name: String,
    #[serde(rename = "clientURLs", default)]
    client_urls: Vec<String>,
    #[serde(rename = "isLearner", default)]
    is_learner: bool,
}

/// grpc-gateway prints uint64 as strings, etcdctl as numbers: accept both.
fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Str(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Str(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl RawStatus {
    fn into_status(self, what: &str) -> Result<EndpointStatus, ParseError> {
        let member_id = self.header.member_id.ok_or_else(|| ParseError::Shape {
            what: what.to_string(),
            detail: "header.member_id is missing".into(),
        })?;
        Ok(EndpointStatus {
            member_id,
            leader: self.leader.filter(|l| *l != 0),
            raft_term: self.raft_term.or(self.header.raft_term).unwrap_or(0),
            errors: self.errors,
        })
    }
}

/// Parses a `POST /v3/maintenance/status` body.
pub fn parse_http_status(body: &str) -> Result<EndpointStatus, ParseError> {
    let raw: RawStatus =
        serde_json::from_str(body).map_err(|e| ParseError::json("etcd status", e))?;
    raw.into_status("etcd status")
}

/// Parses a `POST /v3/cluster/member/list` body (or `etcdctl member list -w json`).
pub fn parse_member_list(body: &str) -> Result<Vec<EtcdMember>, ParseError> {
    let raw: RawMembers =
        serde_json::from_str(body).map_err(|e| ParseError::json("etcd member list", e))?;
    Ok(raw
        .members
        .into_iter()
        .filter_map(|m| {
            Some(EtcdMember {
                id: m.id?,
                name: m.name,
                client_urls: m.client_urls,
                is_learner: m.is_learner,
            })
        })
        .collect())
}

/// Parses `etcdctl endpoint status --cluster -w json`: stdout lists members that answered,
/// stderr names each that did not (`Failed to get the status of endpoint URL (why)`).
pub fn parse_etcdctl_status(
    stdout: &str,
    stderr: &str,
    taken_at: DateTime<Utc>,
    source: &str,
) -> Result<QuorumReading, ParseError> {
    let json = stdout.trim();
    let entries: Vec<CtlEntry> = if json.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(json).map_err(|e| ParseError::json("etcdctl endpoint status", e))?
    };
    let mut answers = Vec::new();
    for e in entries {
        answers.push((
            e.endpoint,
            Ok(e.status.into_status("etcdctl endpoint status")?),
        ));
    }
    for line in stderr.lines() {
        if let Some(rest) = line
            .trim()
            .strip_prefix("Failed to get the status of endpoint ")
        {
            let (ep, why) = rest.split_once(' ').unwrap_or((rest, ""));
            let why = why.trim().trim_start_matches('(').trim_end_matches(')');
            answers.push((ep.to_string(), Err(why.to_string())));
        }
    }
    if answers.is_empty() {
        let err = stderr.lines().last().unwrap_or("etcdctl printed nothing");
        return Ok(QuorumReading::failed(taken_at, source, err.trim()));
    }
    Ok(assemble(taken_at, source, None, &answers))
}

/// Builds a reading from per-endpoint answers and, when known, the member list.
///
/// A member is reachable when an endpoint answered as it; it leads only when it says so itself
/// (a follower's belief about a leader it cannot confirm is not enough).
pub fn assemble(
    taken_at: DateTime<Utc>,
    source: &str,
    list: Option<&[EtcdMember]>,
    answers: &[(String, Result<EndpointStatus, String>)],
) -> QuorumReading {
    let mut members: Vec<Member> = list.unwrap_or_default().iter().map(listed).collect();
    let mut errors = Vec::new();
    for (endpoint, answer) in answers {
        match answer {
            Ok(s) => answered(&mut members, endpoint, s, &mut errors),
            Err(why) => {
                errors.push(format!("{endpoint}: {why}"));
                unanswered(&mut members, list, endpoint);
            }
        }
    }
    let leader = sole_leader(&members);
    QuorumReading {
        taken_at,
        source: source.to_string(),
        term: members.iter().filter_map(|m| m.raft_term).max(),
        leader,
        members,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

fn listed(m: &EtcdMember) -> Member {
    Member {
        name: if m.name.is_empty() {
            format!("{:x}", m.id)
        } else {
            m.name.clone()
        },
        id: format!("{:x}", m.id),
        voter: !m.is_learner,
        reachable: false,
        is_leader: false,
        raft_term: None,
    }
}

fn answered(
    members: &mut Vec<Member>,
    endpoint: &str,
    s: &EndpointStatus,
    errors: &mut Vec<String>,
) {
    let id = format!("{:x}", s.member_id);
    let idx = match members.iter().position(|m| m.id == id) {
        Some(i) => i,
        None => {
            members.push(Member {
                name: endpoint.to_string(),
                id,
                voter: true,
                reachable: false,
                is_leader: false,
                raft_term: None,
            });
            members.len() - 1
        }
    };
    let m = &mut members[idx];
    m.reachable = true;
    m.is_leader = s.leader == Some(s.member_id);
    m.raft_term = Some(s.raft_term);
    errors.extend(s.errors.iter().map(|e| format!("{}: {e}", m.name)));
}

fn unanswered(members: &mut Vec<Member>, list: Option<&[EtcdMember]>, endpoint: &str) {
    let known = list
        .unwrap_or_default()
        .iter()
        .any(|m| m.client_urls.iter().any(|u| u == endpoint));
    if !known && !members.iter().any(|m| m.name == endpoint) {
        members.push(Member {
            name: endpoint.to_string(),
            id: String::new(),
            voter: true,
            reachable: false,
            is_leader: false,
            raft_term: None,
        });
    }
}

#[cfg(test)]
#[path = "etcd/tests.rs"]
mod tests;
