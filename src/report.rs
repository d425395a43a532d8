//! The post-incident report: a run's journal folded into one [`Report`], shown as Markdown
//! (`cutover report RUN`) or as JSON with the same content (`--json`). Pure.
//!
//! The tool is the scribe: every phase with its duration, the staged diffs with the hosts
//! that share each, every failure and exclusion with hosts and reason, each host's
//! mechanism, job and fire receipt, the measured fire spread, the operator's actions, the
//! watch's milestones (and a probe that already failed before the fire), and the verdict:
//! ready to paste into the review. Hosts that share a fate share a row.

mod collect;
mod markdown;

use crate::arm::mechanism::Concrete;
use crate::arm::receipt::Spread;
use crate::journal::Record;
use crate::run::event::RunEvent;
use crate::run::phase::{Ending, Phase};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::run::reasons::ReasonGroup;

/// Everything the report says about a run; the Markdown and the JSON both render this.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The run id (its directory name).
    pub run: String,
    /// What was run against what; `None` when the journal has no start record.
    pub header: Option<Header>,
    /// How the last attempt ended; `None` while the journal ends without a result.
    pub verdict: Option<Verdict>,
    /// Attempts: 1 plus the number of `cutover resume`s.
    pub attempts: usize,
    /// Phases, steps, verdicts and notable moments, in time order.
    pub timeline: Vec<Entry>,
    /// The diffs staging (and post) computed, one per distinct change with its hosts.
    pub diffs: Vec<DiffGroup>,
    /// Failed and unreachable hosts per step, grouped by identical reason.
    pub failures: Vec<StepFailures>,
    /// Hosts that left the run, grouped by phase and reason.
    pub exclusions: Vec<ExclusionGroup>,
    /// Arming and the fire: each host's job and receipt, the spread.
    pub fire: Fire,
    /// The watch after (and before) the fire.
    pub watch: Watch,
    /// What people (and signals) did: confirmations, gates, pauses, aborts, disarms.
    pub operator: Vec<Entry>,
    /// Where every host ended up, one row per set of hosts with the same end.
    pub hosts: Vec<HostGroup>,
    /// What `cutover rollback` did (absent when it never ran).
    pub rollback: Option<Rollback>,
    /// True when the journal's last line was torn and left out.
    pub torn_tail: bool,
}

/// What `cutover rollback` restored, and which hosts it could not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollback {
    /// Hosts restored and verified.
    pub restored: Vec<String>,
    /// `restored`, compact.
    pub restored_hostlist: String,
    /// Hosts not rolled back, with why.
    pub failed: Vec<(String, String)>,
}

/// The run's `started` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// Plan name.
    pub plan: String,
    /// Plan and inventory digest.
    pub digest: String,
    /// Inventory name.
    pub inventory: String,
    /// Whether the inventory is production.
    pub production: bool,
    /// Hosts in the inventory.
    pub hosts: usize,
    /// Who started it (user@host).
    pub operator: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// The planned fire time.
    pub fire_at: DateTime<Utc>,
    /// True for a dry run.
    pub dry_run: bool,
}

/// How the last attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The outcome.
    pub outcome: Ending,
    /// Why, for anything but complete.
    pub reason: Option<String>,
    /// When it ended.
    pub ended: DateTime<Utc>,
    /// From the start record to the end, seconds.
    pub took_s: Option<f64>,
    /// From the planned fire time to the watch's complete verdict, seconds.
    pub fire_to_complete_s: Option<f64>,
}

/// One moment: when and what. `hosts` lists the hosts it concerns, if any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When (the journal's time).
    pub at: DateTime<Utc>,
    /// What happened, one line (Markdown emphasis marks what needs attention).
    pub what: String,
    /// The hosts it concerns (grouped moments: hosts leaving the run, disarms).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The line with `{hosts}` where the host set goes (grouped moments only).
    #[serde(skip)]
    template: Option<String>,
}

/// A change one step makes (or would make) to one file, the same on `hosts` (their context
/// lines may differ).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffGroup {
    /// The step's plan path, e.g. `stage[1]`.
    pub step: String,
    /// The file on the hosts.
    pub file: String,
    /// Hosts making this change, in natural order.
    pub hosts: Vec<String>,
    /// The hosts, compactly.
    pub hostlist: String,
    /// The first host's unified diff; empty when the file was already as planned.
    pub diff: String,
    /// True when the hosts' diffs differ in context lines only (the first one is shown).
    pub context_differs: bool,
    /// Of `hosts`, how many the journal shows written (and checksummed).
    pub written: usize,
}

/// One step's failures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepFailures {
    /// The step's plan path, e.g. `preflight[0]`.
    pub step: String,
    /// Its hosts grouped by reason, most hosts first.
    pub groups: Vec<ReasonGroup>,
}

/// Hosts that left the run in the same phase for the same reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExclusionGroup {
    /// The phase they failed in; `None`: excluded by the operator (`--exclude`).
    pub phase: Option<Phase>,
    /// Why (the step and its reason).
    pub reason: String,
    /// The hosts.
    pub hosts: Vec<String>,
    /// The hosts, compactly.
    pub hostlist: String,
}

/// Arming and the fire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fire {
    /// The planned fire time.
    pub planned: Option<DateTime<Utc>>,
    /// The commit round's window (first commit sent to last confirmed), ms.
    pub commit_window_ms: Option<f64>,
    /// The measured spread, once measured.
    pub spread: Option<Spread>,
    /// The spread in one sentence.
    pub spread_text: Option<String>,
    /// Every host that was armed or reported a receipt.
    pub hosts: Vec<HostFire>,
}

/// One host's job and what its receipt says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostFire {
    /// The host.
    pub host: String,
    /// How it was armed.
    pub mechanism: Option<Concrete>,
    /// Timer unit, at job number or waiter pid.
    pub job: Option<String>,
    /// True when the commit round confirmed it; `None` for runs before the commit protocol.
    pub committed: Option<bool>,
    /// When the mechanism woke the job.
    pub woke: Option<DateTime<Utc>>,
    /// When the action started.
    pub started: Option<DateTime<Utc>>,
    /// When the action ended.
    pub ended: Option<DateTime<Utc>>,
    /// Start minus planned fire time, ms (host clock).
    pub late_ms: Option<f64>,
    /// The action's exit code.
    pub exit: Option<i32>,
    /// Why it did not fire, when its receipt says it skipped.
    pub skipped: Option<String>,
}

/// The watch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watch {
    /// Leader changes, green and broken, the end.
    pub milestones: Vec<Entry>,
    /// Probes already failing before the fire: the first such poll of each probe.
    pub probe_failures_before_fire: Vec<ProbeFailure>,
    /// How the watch ended, in words.
    pub outcome: Option<String>,
    /// What the watch itself asked of the fleet: its sources and their rates, in words.
    pub load: Option<String>,
    /// Polls made.
    pub polls: usize,
    /// The slowest poll, in milliseconds (the watch's own lag).
    pub slowest_poll_ms: u64,
}

/// A probe that failed on some of its targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFailure {
    /// When the poll was taken.
    pub at: DateTime<Utc>,
    /// Probe name.
    pub probe: String,
    /// Targets that passed.
    pub passed: usize,
    /// Targets probed.
    pub total: usize,
    /// Failing targets grouped by reason.
    pub groups: Vec<ReasonGroup>,
}

/// Hosts that ended the same way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostGroup {
    /// Where they stand, in words.
    pub state: String,
    /// True when they may still fire or fired with a failure: look at them.
    pub attention: bool,
    /// The hosts.
    pub hosts: Vec<String>,
    /// The hosts, compactly.
    pub hostlist: String,
}

/// Folds a run's records (with its side journals merged in) into its report.
pub fn build(run_id: &str, records: &[Record<RunEvent>], torn_tail: bool) -> Report {
    collect::report(run_id, records, torn_tail)
}

/// Renders the report for a run's records as Markdown.
pub fn markdown(run_id: &str, records: &[Record<RunEvent>], torn_tail: bool) -> String {
    markdown::render(&build(run_id, records, torn_tail))
}
