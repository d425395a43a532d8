//! Watching the cutover land: quorum readings and probes turned into fail-closed verdicts, and a
//! tracker that decides completion, timeout or abort and says why it is not done yet.
//!
//! Pure core: `reading`, `verdict`, `etcd`, `consul`, `probe`, `sample`, `tracker`, `load` (no
//! I/O, no clock).
//! Shell: `poller` (HTTP from the orchestrator, SSH through `RemoteRunner`, the clock by handle).

pub mod consul;
pub mod etcd;
pub mod load;
pub mod poller;
pub mod probe;
pub mod reading;
pub mod remote;
pub mod sample;
pub mod tracker;
pub mod verdict;

use probe::ProbeVerdict;
use reading::QuorumReading;
use serde::{Deserialize, Serialize};
use tracker::{Milestone, WhyNotDone};
use verdict::QuorumVerdict;

/// A source's output could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not the JSON we expected.
    #[error(
        "{what}: not the expected JSON ({source}); check the endpoint and the etcd/Consul version"
    )]
    Json {
        /// What was being parsed.
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Parsed, but a needed part is missing.
    #[error("{what}: {detail}")]
    Shape {
        /// What was being parsed.
        what: String,
        /// What is missing.
        detail: String,
    },
}

impl ParseError {
    fn json(what: &str, source: serde_json::Error) -> Self {
        ParseError::Json {
            what: what.to_string(),
            source,
        }
    }
}

/// The watch cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A probe's regex does not compile (validation should have caught it).
    #[error("probe `{probe}`: bad regex: {source}")]
    Regex {
        /// Probe name.
        probe: String,
        /// The regex error.
        source: regex::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {source}")]
    Http {
        /// The client error.
        source: reqwest::Error,
    },
}

/// What the watcher tells the journal and the dashboard; the journal stamps the time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum WatchEvent {
    /// The watch began: what it will poll, and how much it asks of the fleet a second.
    Started {
        /// Its sources and rates.
        load: load::Load,
    },
    /// One poll finished.
    Poll {
        /// The reading this poll brought (`None`: the source gave nothing).
        reading: Option<QuorumReading>,
        /// The quorum verdict after it (`None`: no quorum watched).
        verdict: Option<QuorumVerdict>,
        /// Probe verdicts of this poll.
        probes: Vec<ProbeVerdict>,
        /// Why the cutover is not done yet.
        why: WhyNotDone,
        /// How long the poll took, all its requests together (the watch's own lag).
        #[serde(default)]
        took: std::time::Duration,
    },
    /// A leader change, green change or the end.
    Milestone(Milestone),
}
