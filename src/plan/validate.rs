//! Raw plan to validated `Plan`: defaults applied, every value checked, every problem reported.
//!
//! Pure: the current time and the resolved inventory come in as `Context`.

mod action;
mod hostile;
mod secrets;
mod steps;
mod templates;
pub mod values;
mod watch;

use super::diagnostic::Diagnostic;
use super::model::{Budget, Execution, Meta, Plan, Ssh, Targets};
use super::parse::SpanIndex;
use super::raw::{RawExecution, RawMeta, RawPlan, RawSsh};
use crate::inventory::{Inventory, Selector};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Hosts per batch when the plan names none: the reference team's batch of 20, which their
/// SSH agent and hardware keys could keep up with.
pub const DEFAULT_BATCH_SIZE: usize = 20;
/// New handshakes per second when the plan names none. Each host's sshd sees one connection,
/// so this is about the orchestrator side: an ssh-agent with hardware keys signs one
/// handshake at a time (the reference team capped at 20 parallel for that reason), and a
/// plan that reaches hosts through a shared sshd (bastion without ProxyJump, sshguard) must
/// stay slow. Plans raise it when they know better; arming 500 hosts at 10/s takes ~50 s.
pub const DEFAULT_CONNECT_RATE: f64 = 10.0;
/// Largest `output_cap`: kept in memory per command and stream on every host of a batch,
/// so 64 MiB × 2 streams × a batch of 20 is already 2.5 GiB at worst.
pub const MAX_OUTPUT_CAP: u64 = 64 * 1024 * 1024;
/// How far ahead a fire time may be without a warning: a plan is reviewed for one window.
pub const MAX_FIRE_AHEAD_DAYS: i64 = 366;
/// How far ahead a fire time is refused outright (`at = 9999-...`). Not one year: run
/// snapshots are re-validated by `disarm`, `watch` and `resume` against today's clock.
pub const ABSURD_FIRE_AHEAD_DAYS: i64 = 3653;
/// SSH handshakes in flight at once when the plan names none. Each host's sshd only ever
/// sees one of them, so this protects the orchestrator: an ssh-agent holding hardware keys
/// (a YubiKey, a TPM) signs one authentication at a time, 50–200 ms each, so handshakes past
/// a handful only queue inside the agent and run down their `connect_timeout` there; and a
/// shared sshd (a bastion without ProxyJump) starts refusing at `MaxStartups 10`. Five in
/// flight is 1 s of signing at worst; at the default `connect_rate` of 10/s the rate, not
/// the burst, is the limit. Raise both for file keys or a local agent (64 arms 10,000
/// loopback hosts 2.5x faster than 5).
pub const DEFAULT_CONNECT_BURST: u32 = 5;
/// Most handshakes in flight accepted: past this the orchestrator's CPU (key exchange) is
/// the limit, and the file descriptors needed grow with no gain.
pub const MAX_CONNECT_BURST: u32 = 1024;
/// Largest batch accepted: a batch is one barrier's worth of parallel sessions.
pub const MAX_BATCH_SIZE: usize = 1000;

/// What validation may look at besides the plan: the time now and the resolved inventory.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Current time, for "fire time in the past / too soon".
    pub now: DateTime<Utc>,
    /// The inventory the plan would run against, if it could be loaded.
    pub inventory: Option<&'a Inventory>,
    /// Key paths that failed to parse (`Parsed::failed`): no follow-on diagnostics there.
    pub failed: &'a [String],
}

/// Validates a raw plan; returns the plan only if no error was found.
pub fn validate(
    raw: &RawPlan,
    spans: &SpanIndex,
    cx: Context<'_>,
) -> (Option<Plan>, Vec<Diagnostic>) {
    let mut v = V {
        spans,
        cx,
        diags: Vec::new(),
        suppressed: Vec::new(),
    };
    let meta = v.meta(&raw.plan);
    let ssh = v.ssh(raw.ssh.as_ref());
    let execution = v.execution(raw.execution.as_ref());
    let preflight = raw
        .preflight
        .iter()
        .enumerate()
        .map(|(i, c)| v.check("preflight", i, c, &execution))
        .collect();
    let verify = raw
        .verify
        .iter()
        .enumerate()
        .map(|(i, c)| v.check("verify", i, c, &execution))
        .collect();
    let stage = raw
        .stage
        .iter()
        .enumerate()
        .map(|(i, s)| v.step("stage", i, s, &execution))
        .collect();
    let post = raw
        .post
        .iter()
        .enumerate()
        .map(|(i, s)| v.step("post", i, s, &execution))
        .collect();
    let rollback = raw
        .rollback
        .iter()
        .enumerate()
        .map(|(i, s)| v.rollback_step(i, s, &execution))
        .collect();
    let action = v.action(&raw.action, &execution);
    let watch = v.watch(raw.watch.as_ref());
    let secrets = v.secrets(&raw.secrets);
    let failed = v
        .diags
        .iter()
        .any(|d| d.severity == super::diagnostic::Severity::Error);
    let plan = action.filter(|_| !failed).map(|action| Plan {
        meta,
        inventory_path: raw.inventory.as_ref().map(|i| i.path.clone()),
        ssh,
        execution,
        preflight,
        stage,
        verify,
        action,
        watch,
        post,
        rollback,
        secrets,
        files: std::collections::BTreeMap::new(),
    });
    if let Some(p) = &plan {
        v.secret_references(p);
        v.hostile_text(p);
        v.templates(p);
    }
    let failed = v
        .diags
        .iter()
        .any(|d| d.severity == super::diagnostic::Severity::Error);
    (plan.filter(|_| !failed), v.diags)
}

/// The validator's working state: span lookup, context and the problems found so far.
struct V<'a> {
    spans: &'a SpanIndex,
    cx: Context<'a>,
    diags: Vec<Diagnostic>,
    /// Follow-on problems under paths that failed to parse: collected, never shown.
    suppressed: Vec<Diagnostic>,
}

impl V<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::error(message, self.spans.value(path));
        self.push(d, path)
    }

    /// An error at `span` (inside the value at `path`), quiet like `error` under failed paths.
    fn error_at(
        &mut self,
        path: &str,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let d = Diagnostic::error(message, span.or_else(|| self.spans.value(path)));
        self.push(d, path)
    }

    fn warning(&mut self, path: &str, message: impl Into<String>) -> &mut Diagnostic {
        let d = Diagnostic::warning(message, self.spans.value(path));
        self.push(d, path)
    }

    fn push(&mut self, d: Diagnostic, path: &str) -> &mut Diagnostic {
        let quiet = self.cx.failed.iter().any(|f| {
            path == f
                || path
                    .strip_prefix(f.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        });
        let list = if quiet {
            &mut self.suppressed
        } else {
            &mut self.diags
        };
        list.push(d);
        let last = list.len() - 1;
        &mut list[last]
    }

    fn hint(d: &mut Diagnostic, hint: impl Into<String>) {
        d.hint = Some(hint.into());
    }

    /// Runs a value parser; on error reports it at `path` and returns the fallback.
    fn value<T, R>(
        &mut self,
        path: &str,
        raw: Option<R>,
        default: T,
        parse: impl FnOnce(R) -> Result<T, String>,
    ) -> T {
        let Some(raw) = raw else { return default };
        match parse(raw) {
            Ok(v) => v,
            Err(msg) => {
                self.error(path, msg);
                default
            }
        }
    }

    fn duration(&mut self, path: &str, raw: Option<&String>, default: Duration) -> Duration {
        self.value(path, raw, default, |s| values::duration(s))
    }

    fn meta(&mut self, raw: &RawMeta) -> Meta {
        let slug = !raw.name.is_empty()
            && raw.name.len() <= 64
            && raw
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !slug {
            let d = self.error(
                "plan.name",
                format!("plan name `{}` is not a slug", raw.name),
            );
            V::hint(
                d,
                "use lowercase letters, digits, - and _ (it names run directories and locks)",
            );
        }
        Meta {
            name: raw.name.clone(),
            description: raw.description.clone(),
            change: raw.change.clone(),
            owner: raw.owner.clone(),
            break_glass: raw.break_glass.clone(),
        }
    }

    fn ssh(&mut self, raw: Option<&RawSsh>) -> Ssh {
        let d = RawSsh::default();
        let raw = raw.unwrap_or(&d);
        Ssh {
            user: raw.user.clone(),
            identities: raw.identities.clone(),
            use_agent: raw.use_agent.unwrap_or(true),
            known_hosts: raw.known_hosts.clone(),
            proxy_jump: raw.proxy_jump.clone(),
            connect_timeout: self.duration(
                "ssh.connect_timeout",
                raw.connect_timeout.as_ref(),
                Duration::from_secs(10),
            ),
            keepalive: self.duration(
                "ssh.keepalive",
                raw.keepalive.as_ref(),
                Duration::from_secs(15),
            ),
        }
    }

    fn execution(&mut self, raw: Option<&RawExecution>) -> Execution {
        let d = RawExecution::default();
        let raw = raw.unwrap_or(&d);
        let batch_size = self
            .batch_size("execution.batch_size", raw.batch_size)
            .unwrap_or(DEFAULT_BATCH_SIZE);
        let rate = raw.connect_rate.unwrap_or(DEFAULT_CONNECT_RATE);
        if !(rate > 0.0 && rate.is_finite()) {
            let d = self.error(
                "execution.connect_rate",
                format!("connect_rate {rate} must be above 0"),
            );
            V::hint(
                d,
                "it is new SSH handshakes per second; 10 keeps well under sshd MaxStartups",
            );
        }
        Execution {
            batch_size,
            max_failures: self.value(
                "execution.max_failures",
                raw.max_failures.as_ref(),
                Budget::Count(0),
                values::budget,
            ),
            connect_rate: if rate > 0.0 && rate.is_finite() {
                rate
            } else {
                DEFAULT_CONNECT_RATE
            },
            connect_burst: self.connect_burst(raw.connect_burst),
            command_timeout: self.duration(
                "execution.command_timeout",
                raw.command_timeout.as_ref(),
                Duration::from_secs(60),
            ),
            output_cap: self.value(
                "execution.output_cap",
                raw.output_cap.as_ref(),
                64 * 1024,
                |s| {
                    values::size(s).and_then(|n| {
                        if n <= MAX_OUTPUT_CAP {
                            Ok(n)
                        } else {
                            Err(format!("output_cap `{s}` is above the 64 MiB cutover keeps per command and stream (it is held in memory for every host)"))
                        }
                    })
                },
            ),
        }
    }

    fn connect_burst(&mut self, raw: Option<i64>) -> u32 {
        let Some(n) = raw else {
            return DEFAULT_CONNECT_BURST;
        };
        match u32::try_from(n) {
            Ok(n) if (1..=MAX_CONNECT_BURST).contains(&n) => n,
            _ => {
                let d = self.error(
                    "execution.connect_burst",
                    format!("connect_burst {n} is out of range"),
                );
                V::hint(
                    d,
                    format!(
                        "use 1 to {MAX_CONNECT_BURST} handshakes in flight; keep {DEFAULT_CONNECT_BURST} with an agent holding hardware keys"
                    ),
                );
                DEFAULT_CONNECT_BURST
            }
        }
    }

    fn batch_size(&mut self, path: &str, raw: Option<i64>) -> Option<usize> {
        let n = raw?;
        match usize::try_from(n) {
            Ok(n) if (1..=MAX_BATCH_SIZE).contains(&n) => Some(n),
            _ => {
                let d = self.error(path, format!("batch_size {n} is out of range"));
                V::hint(
                    d,
                    format!("use 1 to {MAX_BATCH_SIZE}; the reference run used 20"),
                );
                None
            }
        }
    }

    /// Parses selectors and, with an inventory, checks they select at least one host.
    fn targets(&mut self, path: &str, text: Vec<String>) -> Targets {
        let mut selectors = Vec::new();
        for (i, s) in text.iter().enumerate() {
            let at = if text.len() > 1 {
                format!("{path}[{i}]")
            } else {
                path.to_string()
            };
            match Selector::parse(s) {
                Ok(sel) => selectors.push(sel),
                Err(e) => {
                    self.error(&at, e.to_string());
                }
            }
        }
        let targets = Targets { text, selectors };
        self.check_selection(path, &targets);
        targets
    }

    fn check_selection(&mut self, path: &str, targets: &Targets) {
        let Some(inv) = self.cx.inventory else { return };
        match inv.select(&targets.selectors) {
            Ok(hosts) if hosts.is_empty() => {
                let d = self.error(
                    path,
                    format!(
                        "targets {:?} select no host in inventory `{}`",
                        targets.text, inv.name
                    ),
                );
                V::hint(d, "check the group names with `cutover inventory show`");
            }
            Ok(_) => {}
            Err(e) => {
                let d = self.error(path, e.to_string());
                V::hint(d, "check the group names with `cutover inventory show`");
            }
        }
    }

    /// Number of hosts a target set selects, when an inventory is known.
    fn host_count(&self, targets: &Targets) -> Option<usize> {
        self.cx
            .inventory?
            .select(&targets.selectors)
            .ok()
            .map(|h| h.len())
    }
}
