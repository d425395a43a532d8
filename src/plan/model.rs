//! The validated plan: typed, defaulted, and checked; nothing past `plan::validate` sees raw syntax.

use crate::inventory::Selector;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use std::time::Duration;

/// A plan that passed validation and can be rendered, digested and run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// What the change is and who owns it.
    pub meta: Meta,
    /// Inventory path from the plan (relative to the plan file), unless `--inventory` overrides.
    pub inventory_path: Option<String>,
    /// How to reach hosts.
    pub ssh: Ssh,
    /// Defaults for batching, failure budget and pacing.
    pub execution: Execution,
    /// Read-only checks before anything changes.
    pub preflight: Vec<Check>,
    /// Changes staged ahead of the fire time.
    pub stage: Vec<Step>,
    /// Checks after staging and at T-minus.
    pub verify: Vec<Check>,
    /// The simultaneous action.
    pub action: Action,
    /// Completion and abort conditions.
    pub watch: Option<Watch>,
    /// Steps after completion.
    pub post: Vec<Step>,
    /// Steps `cutover rollback` runs on each staged host after restoring its files (left
    /// out of the digest when empty, so plans without them keep their digest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<Step>,
    /// Secrets by name: where each value is read from at run time (never the value).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secrets: std::collections::BTreeMap<String, SecretSource>,
    /// Every local file the plan sends to hosts (upload sources), by path as written, with
    /// the sha256 of its content when the plan was loaded (`missing` when unreadable): part
    /// of the digest, so a file changed after review changes the digest.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, String>,
}

impl Plan {
    /// The local files the plan sends to hosts, as written (relative to the plan file).
    pub fn referenced_files(&self) -> Vec<&str> {
        self.stage
            .iter()
            .chain(&self.post)
            .filter_map(|s| match &s.kind {
                StepKind::Upload { source, .. } => Some(source.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Where a secret's value comes from; the plan, its digest and its runbook hold only this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// An environment variable of the orchestrator.
    Env(String),
    /// A file, relative to the plan file.
    File(String),
}

/// `[plan]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Slug naming the plan (run directories and locks use it).
    pub name: String,
    /// What and why.
    pub description: Option<String>,
    /// Ticket or merge request.
    pub change: Option<String>,
    /// Who runs it.
    pub owner: Option<String>,
    /// Printed on timeout or abort.
    pub break_glass: Option<String>,
}

/// `[ssh]`, validated and defaulted.
#[derive(Debug, Clone, Serialize)]
pub struct Ssh {
    /// Remote user when the inventory names none (default: the local user's name, resolved later).
    pub user: Option<String>,
    /// Identity files to offer, in order.
    pub identities: Vec<String>,
    /// Offer ssh-agent keys.
    pub use_agent: bool,
    /// Extra known_hosts files, relative to the plan.
    pub known_hosts: Vec<String>,
    /// Bastion, `[user@]host[:port]`.
    pub proxy_jump: Option<String>,
    /// Time to establish one connection.
    pub connect_timeout: Duration,
    /// Keepalive interval.
    pub keepalive: Duration,
}

/// `[execution]`, validated and defaulted.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    /// Hosts per batch.
    pub batch_size: usize,
    /// Failures tolerated per phase.
    pub max_failures: Budget,
    /// New SSH handshakes per second.
    pub connect_rate: f64,
    /// SSH handshakes in flight at once (left out of the digest at its default, so plans
    /// that do not set it keep their digest).
    #[serde(skip_serializing_if = "is_default_burst")]
    pub connect_burst: u32,
    /// Limit for one remote command.
    pub command_timeout: Duration,
    /// Bytes kept per command and stream.
    pub output_cap: u64,
}

fn is_default_burst(burst: &u32) -> bool {
    *burst == crate::plan::validate::DEFAULT_CONNECT_BURST
}

/// A failure budget over a phase (the executor's type: one definition for plan and run).
pub use crate::executor::FailureBudget as Budget;

/// Which hosts a step applies to: the selectors as written, and parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    /// Selectors as written, e.g. `["consul_servers", "!consul-05"]`.
    pub text: Vec<String>,
    /// Parsed selectors.
    #[serde(skip)]
    pub selectors: Vec<Selector>,
}

/// Settings every step and check carries, with execution defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct StepSettings {
    /// Shown in runbook and dashboard.
    pub name: String,
    /// Where the step sits in the plan, e.g. `stage[2]`.
    pub path: String,
    /// Hosts it runs on.
    pub targets: Targets,
    /// A word to type before it runs.
    pub gate: Option<String>,
    /// Run on one host of the targets only.
    pub once: bool,
    /// Through `sudo -n`.
    pub sudo: bool,
    /// Per-command limit.
    pub timeout: Duration,
    /// Hosts per batch.
    pub batch_size: usize,
    /// Failures tolerated in this step.
    pub max_failures: Budget,
}

/// A read-only check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Common settings.
    pub settings: StepSettings,
    /// What it checks.
    pub kind: CheckKind,
}

/// The kinds of check, validated.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "check")]
pub enum CheckKind {
    /// Clock offset, NTP sync, time zone.
    Clock {
        /// Largest tolerated offset.
        max_offset: Duration,
        /// Require NTP synchronisation.
        ntp_synchronized: bool,
        /// Expected zone.
        timezone: Option<String>,
    },
    /// Passwordless sudo, also in the arming context.
    Sudo,
    /// The arming mechanism works.
    Scheduler {
        /// Mechanism checked.
        mechanism: Mechanism,
    },
    /// A unit's state.
    Service {
        /// Unit name.
        unit: String,
        /// Expected activity.
        active: Option<bool>,
        /// Expected enablement.
        enabled: Option<bool>,
    },
    /// An agent is stopped, disabled and not in cron.
    AgentDisabled {
        /// Unit name.
        unit: String,
        /// Crontab pattern that must be absent.
        cron_pattern: Option<String>,
    },
    /// File checksum or content.
    File {
        /// Absolute path.
        path: String,
        /// Expected sha256 (lowercase hex).
        sha256: Option<String>,
        /// Regex that must match.
        contains: Option<String>,
        /// Regex that must not match.
        absent: Option<String>,
    },
    /// A command's exit code and stdout.
    Command {
        /// Script.
        run: String,
        /// Expected exit code.
        expect_exit: i32,
        /// Regex stdout must match.
        stdout_matches: Option<String>,
    },
    /// HTTP from the orchestrator.
    Http {
        /// URL template.
        url: String,
        /// Expected status.
        expect_status: u16,
        /// Regex the body must match.
        body_matches: Option<String>,
    },
    /// TCP from the orchestrator.
    Tcp {
        /// Port.
        port: u16,
    },
}

/// A staging or post step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Common settings.
    pub settings: StepSettings,
    /// What it does.
    pub kind: StepKind,
}

/// The kinds of step, validated.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum StepKind {
    /// A script on each host.
    Command {
        /// Script.
        run: String,
    },
    /// Stop and disable a unit.
    DisableService {
        /// Unit.
        unit: String,
    },
    /// Enable and start a unit.
    EnableService {
        /// Unit.
        unit: String,
    },
    /// An atomic file edit.
    EditFile {
        /// Absolute path.
        path: String,
        /// The edit.
        edit: Edit,
    },
    /// Copy a local file.
    Upload {
        /// Local path relative to the plan.
        source: String,
        /// Absolute destination.
        dest: String,
        /// File mode.
        mode: u32,
    },
    /// Poll until success.
    WaitFor {
        /// Script.
        run: String,
        /// Poll interval.
        interval: Duration,
    },
    /// Run on the orchestrator, without a shell.
    Local {
        /// Program and arguments.
        argv: Vec<String>,
    },
}

/// How a file is edited.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Edit {
    /// Regex replacement.
    Replace {
        /// Regex.
        pattern: String,
        /// Replacement.
        with: String,
        /// Exact match count expected, if given.
        expect_matches: Option<usize>,
    },
    /// Structured keys.
    SetKeys {
        /// File format.
        format: KeyFormat,
        /// Dotted paths and TOML-typed values, in key order.
        keys: Vec<(String, toml::Value)>,
    },
    /// Full content from a template.
    Template {
        /// Template text.
        content: String,
    },
}

/// Structured file formats `set` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyFormat {
    /// JSON.
    Json,
    /// TOML.
    Toml,
    /// INI (`section.key`).
    Ini,
}

/// How the action is armed on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// systemd-run transient timer, AccuracySec=1us.
    Systemd,
    /// `at`, minute resolution.
    At,
    /// A detached sleeper process.
    Waiter,
    /// Picked per host.
    Auto,
}

impl Mechanism {
    /// The plan-file spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mechanism::Systemd => "systemd",
            Mechanism::At => "at",
            Mechanism::Waiter => "waiter",
            Mechanism::Auto => "auto",
        }
    }
}

/// `[action]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// Human name.
    pub name: String,
    /// Fire time with the offset as written.
    pub at: DateTime<FixedOffset>,
    /// Command fired on every host.
    pub run: String,
    /// Through sudo.
    pub sudo: bool,
    /// Arming mechanism.
    pub mechanism: Mechanism,
    /// Earliest arming start before the fire time.
    pub arm_window: Duration,
    /// Arming must be done this long before the fire time.
    pub arm_deadline: Duration,
    /// T-minus re-verification before the fire time.
    pub reverify_before: Duration,
    /// Hosts.
    pub targets: Targets,
    /// Word to type before arming.
    pub gate: Option<String>,
    /// Failures tolerated while arming.
    pub max_failures: Budget,
}

/// `[watch]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    /// Poll interval.
    pub poll_interval: Duration,
    /// How long completion must hold.
    pub stable_for: Duration,
    /// After the fire, how long before `stable_for` may start counting (it also waits for
    /// every fired host's action to have finished and reported).
    pub settle: Duration,
    /// Failure after this long from the fire time.
    pub timeout: Duration,
    /// All must hold for completion.
    pub complete_when: Vec<Condition>,
    /// Any of these before the fire time disarms.
    pub abort_if: Vec<AbortCondition>,
    /// Quorum source.
    pub quorum: Option<Quorum>,
    /// Health probes.
    pub probes: Vec<Probe>,
}

/// A completion condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Quorum is healthy.
    Quorum,
    /// This probe passes.
    Probe(String),
    /// Every probe passes.
    AllProbes,
    /// The raft term after the fire is higher than the last one seen before it: an election
    /// happened, so the cluster really went through the change.
    TermIncreased,
    /// The leader after the fire differs from the last one seen before it, or members answered
    /// with none leading: the change really happened.
    LeaderChanged,
}

/// A pre-fire abort condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortCondition {
    /// Quorum is unhealthy.
    QuorumLost,
    /// This probe fails.
    ProbeFailing(String),
    /// A staged change drifted.
    Drift,
}

/// `[watch.quorum]`, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Quorum {
    /// Where readings come from.
    pub source: QuorumSource,
    /// Member hosts.
    pub targets: Targets,
    /// Expected voters, if given.
    pub voters: Option<usize>,
    /// HTTP API endpoints.
    pub endpoints: Vec<String>,
    /// For `command`.
    pub run: Option<String>,
}

/// Quorum sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuorumSource {
    /// etcd.
    Etcd,
    /// Consul.
    Consul,
    /// Any command.
    Command,
}

/// A health probe, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Name.
    pub name: String,
    /// Hosts it runs against (empty text means the orchestrator only).
    pub targets: Targets,
    /// Fraction of targets that must pass, 0..=1.
    pub min_pass: f64,
    /// What it probes.
    pub kind: ProbeKind,
    /// Only some of the targets are probed (`None`: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
    /// Its own poll interval (`None`: the watch's `poll_interval`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
}

/// How many of a probe's targets it polls: a fixed count, a fraction, or a count from every
/// inventory group among the targets; at least one host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sample {
    /// This many hosts (all when there are fewer).
    Count(usize),
    /// This fraction of the hosts, 0 < f ≤ 1, rounded up.
    Fraction(f64),
    /// This many hosts of every group a target belongs to (all of a smaller group), so each
    /// rack, zone or role is seen.
    PerGroup(usize),
}

impl Sample {
    /// How many of `total` hosts a count or a fraction takes: at least one when there is any.
    /// A per-group sample depends on the groups: it is the count for one group here.
    pub fn size(self, total: usize) -> usize {
        let n = match self {
            Sample::Count(n) | Sample::PerGroup(n) => n,
            Sample::Fraction(f) => (f * total as f64 - 1e-9).ceil().max(0.0) as usize,
        };
        n.clamp(total.min(1), total)
    }
}

/// Probe kinds.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ProbeKind {
    /// HTTP.
    Http {
        /// URL template.
        url: String,
        /// Expected status.
        expect_status: u16,
        /// Regex the body must match.
        body_matches: Option<String>,
        /// Slowest acceptable answer.
        max_latency: Option<Duration>,
        /// A user-facing symptom metric and its bounds.
        metric: Option<MetricBound>,
    },
    /// TCP connect.
    Tcp {
        /// Port.
        port: u16,
    },
    /// Command on each target.
    Command {
        /// Script.
        run: String,
    },
}

/// A number read from a probe's body and the range it must stay in.
#[derive(Debug, Clone, Serialize)]
pub struct MetricBound {
    /// Regex whose first group is the number.
    pub pattern: String,
    /// Inclusive upper bound.
    pub max: Option<f64>,
    /// Inclusive lower bound.
    pub min: Option<f64>,
}
