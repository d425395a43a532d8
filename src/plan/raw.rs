//! Plan file syntax: serde structs that mirror the TOML exactly and mean nothing yet.
//!
//! Every struct denies unknown fields, so a typo in a reviewed plan fails `cutover check`.
//! Tagged lists (`[[preflight]] check = ...`, `[[stage]] step = ...`) are dispatched by
//! `plan::parse` on their tag as externally tagged enums, so toml keeps precise spans for every
//! field error (serde's internally tagged enums buffer the input and lose them); for the JSON
//! Schema the same enums are internally tagged.

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// A whole plan file, as written (assembled section by section by `plan::parse`).
#[derive(Debug, Clone, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlan {
    /// What the change is and who owns it.
    pub plan: RawMeta,
    /// Which inventory the plan targets by default.
    #[serde(default)]
    pub inventory: Option<RawInventoryRef>,
    /// How to reach hosts.
    #[serde(default)]
    pub ssh: Option<RawSsh>,
    /// Batching, failure budget and pacing defaults.
    #[serde(default)]
    pub execution: Option<RawExecution>,
    /// Read-only checks that must pass on every host before anything changes.
    #[serde(default)]
    pub preflight: Vec<RawCheck>,
    /// Changes staged ahead of the fire time, in batches.
    #[serde(default)]
    pub stage: Vec<RawStep>,
    /// Checks re-run after staging and again right before arming and firing.
    #[serde(default)]
    pub verify: Vec<RawCheck>,
    /// The one simultaneous action.
    pub action: RawAction,
    /// What to watch after the fire and when the cutover counts as complete.
    #[serde(default)]
    pub watch: Option<RawWatch>,
    /// Steps after completion, in batches.
    #[serde(default)]
    pub post: Vec<RawStep>,
    /// Steps `cutover rollback` runs on each staged host after restoring its files and
    /// re-enabling what staging disabled (commands and services; no file steps).
    #[serde(default)]
    pub rollback: Vec<RawStep>,
    /// Named secrets, read at run time and used as `{{ secrets.NAME }}`; never in the plan.
    #[serde(default)]
    pub secrets: BTreeMap<String, RawSecret>,
}

/// One `[secrets]` entry: where its value comes from when the run starts (exactly one source).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// Read from this environment variable of the orchestrator.
    #[serde(default)]
    pub env: Option<String>,
    /// Read from this file (relative to the plan file; one trailing newline is dropped).
    #[serde(default)]
    pub file: Option<String>,
}

/// `[plan]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    /// Short identifier: lowercase letters, digits, `-` and `_`.
    pub name: String,
    /// What the change does and why.
    #[serde(default)]
    pub description: Option<String>,
    /// Ticket or merge request the change belongs to.
    #[serde(default)]
    pub change: Option<String>,
    /// Who runs it.
    #[serde(default)]
    pub owner: Option<String>,
    /// What to do if the cutover fails: printed on timeout or abort.
    #[serde(default)]
    pub break_glass: Option<String>,
}

/// `[inventory]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInventoryRef {
    /// Path to the inventory file, relative to the plan file; `--inventory` overrides it.
    pub path: String,
}

/// `[ssh]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    /// Remote user when the inventory names none.
    #[serde(default)]
    pub user: Option<String>,
    /// Identity files to offer, in order (only these are offered).
    #[serde(default)]
    pub identities: Vec<String>,
    /// Offer keys from the ssh-agent (`SSH_AUTH_SOCK`).
    #[serde(default)]
    pub use_agent: Option<bool>,
    /// known_hosts files, relative to the plan file; strict checking always applies.
    #[serde(default)]
    pub known_hosts: Vec<String>,
    /// Bastion to jump through, `[user@]host[:port]`.
    #[serde(default)]
    pub proxy_jump: Option<String>,
    /// Time to establish one connection, e.g. `"10s"`.
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// Keepalive interval, e.g. `"15s"`.
    #[serde(default)]
    pub keepalive: Option<String>,
}

/// `[execution]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExecution {
    /// Hosts per batch (a barrier separates batches).
    #[serde(default)]
    pub batch_size: Option<i64>,
    /// Failures tolerated per phase: a count (`2`) or a percentage (`"5%"`).
    #[serde(default)]
    pub max_failures: Option<RawBudget>,
    /// New SSH handshakes per second across the run.
    #[serde(default)]
    pub connect_rate: Option<f64>,
    /// SSH handshakes in flight at once (and in a burst) across the run.
    #[serde(default)]
    pub connect_burst: Option<i64>,
    /// Time limit for one remote command, e.g. `"60s"`.
    #[serde(default)]
    pub command_timeout: Option<String>,
    /// Output kept per command and stream, e.g. `"64KiB"` (head and tail).
    #[serde(default)]
    pub output_cap: Option<String>,
}

/// A failure budget as written: a count or a percentage string.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawBudget {
    /// A number of hosts.
    Count(i64),
    /// A percentage such as `"5%"`, or a count as a string.
    Text(String),
}

/// Fields every step and check may carry.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCommon {
    /// Human name shown in the runbook and dashboard.
    #[serde(default)]
    pub name: Option<String>,
    /// Host selectors: `"all"`, a group, `"label:k=v"`, `"host:NAME"`, `"!group"`.
    #[serde(default)]
    pub targets: Option<RawTargets>,
    /// A word the operator must type before this step runs.
    #[serde(default)]
    pub gate: Option<String>,
    /// Run on one host of the targets only (e.g. pause Patroni from one member).
    #[serde(default)]
    pub once: Option<bool>,
    /// Run the remote command through `sudo -n`.
    #[serde(default)]
    pub sudo: Option<bool>,
    /// Overrides `[execution] command_timeout` for this step.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Overrides `[execution] batch_size` for this step.
    #[serde(default)]
    pub batch_size: Option<i64>,
    /// Overrides `[execution] max_failures` for this step.
    #[serde(default)]
    pub max_failures: Option<RawBudget>,
}

/// Targets as written: one selector or a list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawTargets {
    /// One selector.
    One(String),
    /// Several selectors, united.
    Many(Vec<String>),
}

/// A check as written (`[[preflight]]`, `[[verify]]`): common fields plus its kind.
#[derive(Debug, Clone, JsonSchema)]
pub struct RawCheck {
    /// Fields every check may carry.
    #[schemars(flatten)]
    pub common: RawCommon,
    /// The kind and its own fields.
    #[schemars(flatten)]
    pub kind: RawCheckKind,
}

/// The kinds of read-only check.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[schemars(tag = "check")]
pub enum RawCheckKind {
    /// Clock offset from the orchestrator, NTP sync and time zone.
    Clock {
        /// Largest tolerated offset, e.g. `"500ms"`.
        max_offset: Option<String>,
        /// Require NTP synchronisation (default true).
        ntp_synchronized: Option<bool>,
        /// Expected time zone, e.g. `"UTC"`.
        timezone: Option<String>,
    },
    /// `sudo -n` works without a password, also in the arming context.
    Sudo {},
    /// The arming mechanism works on the host.
    Scheduler {
        /// Mechanism to check; defaults to the action's.
        mechanism: Option<String>,
    },
    /// A systemd unit is in the expected state.
    Service {
        /// Unit name, e.g. `"consul.service"`.
        unit: String,
        /// `"active"` or `"inactive"`.
        state: Option<String>,
        /// Expected enablement.
        enabled: Option<bool>,
    },
    /// A configuration agent (e.g. chef-client) is stopped, disabled, and has no cron entry.
    AgentDisabled {
        /// Unit name, e.g. `"chef-client.service"`.
        unit: String,
        /// A pattern that must not appear in crontabs, e.g. `"chef-client"`.
        cron_pattern: Option<String>,
    },
    /// A file has a checksum or contains a pattern.
    File {
        /// Absolute path on the host.
        path: String,
        /// Expected sha256, hex.
        sha256: Option<String>,
        /// A regular expression the content must match.
        contains: Option<String>,
        /// A regular expression the content must not match.
        absent: Option<String>,
    },
    /// A command's exit code and stdout.
    Command {
        /// Shell script run on the host.
        run: String,
        /// Expected exit code (default 0).
        expect_exit: Option<i64>,
        /// Regular expression stdout must match.
        stdout_matches: Option<String>,
    },
    /// An HTTP endpoint answers, probed from the orchestrator.
    Http {
        /// URL; `{{ host.address }}` and `{{ host.name }}` are filled per host.
        url: String,
        /// Expected status (default 200).
        expect_status: Option<i64>,
        /// Regular expression the body must match.
        body_matches: Option<String>,
    },
    /// A TCP port accepts connections, probed from the orchestrator.
    Tcp {
        /// Port on each target host's address.
        port: i64,
    },
}

/// A step as written (`[[stage]]`, `[[post]]`): common fields plus its kind.
#[derive(Debug, Clone, JsonSchema)]
pub struct RawStep {
    /// Fields every step may carry.
    #[schemars(flatten)]
    pub common: RawCommon,
    /// The kind and its own fields.
    #[schemars(flatten)]
    pub kind: RawStepKind,
}

/// The kinds of staging or post step.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[schemars(tag = "step")]
pub enum RawStepKind {
    /// A shell script on each host.
    Command {
        /// The script.
        run: String,
    },
    /// Stop and disable a systemd unit (e.g. chef-client so it cannot revert the config).
    DisableService {
        /// Unit name.
        unit: String,
    },
    /// Enable and start a systemd unit.
    EnableService {
        /// Unit name.
        unit: String,
    },
    /// Edit a file atomically, keeping owner, mode and a backup.
    EditFile {
        /// Absolute path on the host.
        path: String,
        /// Replace a regular expression.
        replace: Option<RawReplace>,
        /// Set keys in a structured file.
        set: Option<RawSetKeys>,
        /// Full new content, a template with `{{ host.* }}` and `{{ vars.* }}`.
        template: Option<String>,
    },
    /// Copy a local file to each host.
    Upload {
        /// Local path, relative to the plan file.
        source: String,
        /// Absolute destination path on the host.
        dest: String,
        /// File mode, e.g. `"0644"`.
        mode: Option<String>,
    },
    /// Poll a command until it succeeds.
    WaitFor {
        /// The script to poll.
        run: String,
        /// Poll interval (default `"2s"`).
        interval: Option<String>,
    },
    /// A command on the orchestrator (e.g. an API call to drain a load balancer).
    Local {
        /// Program and arguments, run without a shell.
        run: Vec<String>,
    },
}

/// `replace = { pattern = "...", with = "..." }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReplace {
    /// Regular expression.
    pub pattern: String,
    /// Replacement (`$1` refers to groups).
    pub with: String,
    /// Exact number of matches expected (default: at least one).
    pub expect_matches: Option<i64>,
}

/// `set = { format = "json", keys = { "a.b" = false } }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetKeys {
    /// `"json"`, `"toml"` or `"ini"`.
    pub format: String,
    /// Dotted key paths and their new values.
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub keys: BTreeMap<String, toml::Value>,
}

/// `[action]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAction {
    /// Human name.
    pub name: Option<String>,
    /// Fire time, RFC 3339 with an explicit offset (UTC recommended).
    #[schemars(with = "Option<String>")]
    pub at: Option<RawTime>,
    /// The command fired on every host.
    pub run: String,
    /// Run it through sudo (default true).
    pub sudo: Option<bool>,
    /// `"systemd"`, `"at"`, `"waiter"` or `"auto"`.
    pub mechanism: Option<String>,
    /// Earliest arming start before the fire time, e.g. `"15m"`.
    pub arm_window: Option<String>,
    /// Arming must finish this long before the fire time, leaving room to disarm.
    pub arm_deadline: Option<String>,
    /// Re-verify staged changes this long before the fire time (T-minus drift check).
    pub reverify_before: Option<String>,
    /// Host selectors.
    pub targets: Option<RawTargets>,
    /// A word the operator must type before arming.
    pub gate: Option<String>,
    /// Failures tolerated while arming (default 0: all or nothing).
    pub max_failures: Option<RawBudget>,
}

/// A fire time as written: a TOML datetime or a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawTime {
    /// A native TOML datetime (may lack an offset, which is an error).
    Toml(toml::value::Datetime),
    /// A string, parsed as RFC 3339.
    Text(String),
}

/// `[watch]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    /// Poll interval (default `"1s"`, at least `"100ms"`).
    pub poll_interval: Option<String>,
    /// How long `complete_when` must hold continuously.
    pub stable_for: Option<String>,
    /// Give up after this long from the fire time: the run fails and prints break-glass.
    pub timeout: Option<String>,
    /// Extra time after the fire before `stable_for` may start counting (default `"0s"`); the
    /// count also waits for every fired host's action to finish and report.
    pub settle: Option<String>,
    /// Conditions: `"quorum"`, `"probe:NAME"`, `"all_probes"`, `"term_increased"`,
    /// `"leader_changed"`.
    #[serde(default)]
    pub complete_when: Vec<String>,
    /// Conditions checked before the fire time that disarm: `"quorum_lost"`, `"probe:NAME"`, `"drift"`.
    #[serde(default)]
    pub abort_if: Vec<String>,
    /// Cluster quorum source.
    pub quorum: Option<RawQuorum>,
    /// Health probes.
    #[serde(default)]
    pub probe: Vec<RawProbe>,
}

/// `[watch.quorum]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawQuorum {
    /// `"etcd"`, `"consul"` or `"command"`.
    pub source: String,
    /// Hosts that are cluster members (voters).
    pub targets: Option<RawTargets>,
    /// Expected number of voters; defaults to the number of target hosts.
    pub voters: Option<i64>,
    /// HTTP endpoints (etcd/consul API) queried from the orchestrator.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// For `command`: a script printing JSON or returning an exit code.
    pub run: Option<String>,
}

/// `[[watch.probe]]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProbe {
    /// Name used in `complete_when` and `abort_if`.
    pub name: String,
    /// `"http"`, `"tcp"` or `"command"`.
    pub kind: String,
    /// For http: URL (may use `{{ host.address }}` with targets).
    pub url: Option<String>,
    /// For http: expected status (default 200).
    pub expect_status: Option<i64>,
    /// For http: regular expression the body must match.
    pub body_matches: Option<String>,
    /// For http: slowest acceptable answer, e.g. `"500ms"`.
    pub max_latency: Option<String>,
    /// For http: a user-facing symptom metric read from the body with a regex's first group...
    pub metric: Option<String>,
    /// ...which must stay at or below this value.
    pub max_value: Option<f64>,
    /// ...or at or above this value.
    pub min_value: Option<f64>,
    /// For tcp: port on each target host.
    pub port: Option<i64>,
    /// For command: script run on each target host.
    pub run: Option<String>,
    /// Hosts the probe runs against.
    pub targets: Option<RawTargets>,
    /// Fraction of targets that must pass, e.g. `"100%"` (default) or `"90%"`.
    pub min_pass: Option<String>,
    /// Probe only some targets, spread evenly over them: a count (`20`) or a percentage
    /// (`"10%"`); default all.
    pub sample: Option<RawSample>,
    /// This probe's own poll interval, e.g. `"5s"` (default the watch's `poll_interval`).
    pub interval: Option<String>,
}

/// A probe sample as written: a count of hosts, a percentage string, or a count per group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawSample {
    /// A number of hosts.
    Count(i64),
    /// A percentage such as `"10%"`.
    Text(String),
    /// `{ per_group = 2 }`: this many hosts of every inventory group among the targets.
    PerGroup {
        /// Hosts per group.
        per_group: i64,
    },
}
