//! What every runner of a run shares: the fleet, the hosts, where the plan lives, the events.

use super::event::RunEvent;
use super::phase::Phase;
use super::state::RunState;
use crate::clock::{Clock, SystemClock};
use crate::fleet::{Fleet, FleetError};
use crate::inventory::Host;
use crate::transport::{CommandResult, ExitStatus, Limit, RemoteCommand};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// A boxed future, for the object-safe [`Hosts`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// How a run reaches its hosts: the SSH fleet, or a scripted fake in unit tests of the engine.
pub trait Hosts: Send + Sync {
    /// Runs a command on `host`.
    fn run<'a>(
        &'a self,
        host: &'a str,
        cmd: &'a RemoteCommand,
    ) -> BoxFuture<'a, Result<CommandResult, FleetError>>;
    /// Closes every open connection.
    fn close(&self) -> BoxFuture<'_, ()>;
}

impl<T: Hosts> Hosts for Arc<T> {
    fn run<'a>(
        &'a self,
        host: &'a str,
        cmd: &'a RemoteCommand,
    ) -> BoxFuture<'a, Result<CommandResult, FleetError>> {
        T::run(self, host, cmd)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        T::close(self)
    }
}

impl Hosts for Fleet {
    fn run<'a>(
        &'a self,
        host: &'a str,
        cmd: &'a RemoteCommand,
    ) -> BoxFuture<'a, Result<CommandResult, FleetError>> {
        Box::pin(Fleet::run(self, host, cmd))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(Fleet::close(self))
    }
}

/// Shared, read-only context of a run's runners.
pub struct Ctx {
    /// Connections.
    pub fleet: Arc<dyn Hosts>,
    /// Inventory hosts by name.
    pub hosts: HashMap<String, Host>,
    /// The plan file's directory (uploads and templates are relative to it).
    pub plan_dir: PathBuf,
    /// Output kept per command and stream.
    pub output_cap: usize,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// Who runs it (`user@host`), written into host leases.
    pub operator: String,
    /// Where events go (journal and views).
    pub events: UnboundedSender<RunEvent>,
    /// The run's id made safe for unit names and paths, which names armed jobs on hosts.
    pub run_id: String,
    /// The run's id as its directory is named (what `cutover disarm RUN` takes).
    pub run_name: String,
    /// Clock offsets measured by the preflight (host minus orchestrator, ns).
    pub offsets: std::sync::Mutex<HashMap<String, i128>>,
    /// Operator gates: how they are answered, and which were.
    pub gates: super::gate::Gates,
    /// The run's secret values: expanded into scripts, redacted out of every event.
    pub secrets: Arc<crate::redact::Secrets>,
    /// The one fold of this run's events: what earlier attempts did (for a resume) and
    /// every event emitted since, applied as it is emitted.
    pub state: Arc<std::sync::Mutex<RunState>>,
    /// Where the engine reads the time (a manual clock in tests).
    pub clock: Arc<dyn Clock>,
}

impl Ctx {
    /// A context for the hosts of `inventory`, its events going to `events`.
    pub fn new(
        fleet: impl Hosts + 'static,
        inventory: &crate::inventory::Inventory,
        plan_dir: PathBuf,
        run_id: &str,
        events: UnboundedSender<RunEvent>,
    ) -> Self {
        Self {
            fleet: Arc::new(fleet),
            hosts: inventory
                .hosts
                .iter()
                .map(|h| (h.name.clone(), h.clone()))
                .collect(),
            plan_dir,
            output_cap: 64 * 1024,
            dry_run: false,
            operator: String::new(),
            events,
            run_id: crate::arm::safe_run_id(run_id),
            run_name: run_id.to_string(),
            offsets: std::sync::Mutex::new(HashMap::new()),
            gates: super::gate::Gates::default(),
            secrets: Arc::new(crate::redact::Secrets::default()),
            state: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sends an event, every secret value in it redacted (the one way out to the journal,
    /// the printed lines and the dashboard); a closed channel means the run is ending anyway.
    pub fn emit(&self, e: RunEvent) {
        let e = self
            .secrets
            .redact_value(e)
            .unwrap_or_else(|w| RunEvent::Operator {
                action: w.to_string(),
            });
        self.state().apply(&e);
        let _ = self.events.send(e);
    }

    /// The run's state, as folded so far.
    pub fn state(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wall-clock time now, from the run's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Takes `host` out of the run for good (journaled once, with the first reason).
    pub fn exclude(&self, host: &str, phase: Option<Phase>, reason: String) {
        if self.state().excluded.contains_key(host) {
            return;
        }
        self.emit(RunEvent::Excluded {
            host: host.into(),
            phase,
            reason,
        });
    }

    /// Sleeps until `until` by the run's clock.
    pub async fn sleep_until(&self, until: chrono::DateTime<chrono::Utc>) {
        let left = (until - self.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(left).await;
    }

    /// The cutover base directory on `host` (`/var/tmp/cutover`, or the host variable
    /// `cutover_dir`): run directories and the ownership lease live under it.
    pub fn cutover_base(&self, host: &str) -> String {
        match self.hosts.get(host).and_then(|h| h.vars.get("cutover_dir")) {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => crate::arm::BASE_DIR.to_string(),
        }
    }

    /// Where this run's job, receipt and output live on `host`: `/var/tmp/cutover/<run>`, or
    /// under the host variable `cutover_dir` (hosts sharing one machine, as in a lab).
    pub fn job_dir(&self, host: &str) -> String {
        format!("{}/{}", self.cutover_base(host), self.run_id)
    }

    /// `item` with its host and variable templates rendered for `host` (`fields` names
    /// which of its fields hold templates and how each is quoted).
    pub fn rendered<T: Clone>(
        &self,
        host: &str,
        item: &T,
        fields: impl FnOnce(&mut T) -> Vec<crate::plan::template::fields::Field<'_>>,
    ) -> Result<T, String> {
        let h = self
            .hosts
            .get(host)
            .ok_or_else(|| format!("{host} is not in the inventory"))?;
        crate::plan::template::fields::rendered(item, fields, h).map_err(|e| e.to_string())
    }

    /// A plan's shell command rendered for `host`; one that cannot be rendered becomes a
    /// command that refuses to run, naming why (fail closed: `check` reports it first).
    pub fn shell_for(&self, host: &str, command: &str) -> String {
        let rendered = self.hosts.get(host).map_or_else(
            || Err(format!("{host} is not in the inventory")),
            |h| {
                crate::plan::template::render(command, h, crate::plan::template::Quoting::Shell)
                    .map_err(|e| e.to_string())
            },
        );
        rendered.unwrap_or_else(|e| {
            format!(
                "echo {} >&2\nexit 125\n",
                crate::remote::quote(&format!("cutover refused to run this command: {e}"))
            )
        })
    }

    /// Runs a script on a host.
    pub async fn run(
        &self,
        host: &str,
        script: String,
        sudo: bool,
        timeout: Duration,
    ) -> Result<CommandResult, FleetError> {
        self.run_capped(host, script, sudo, timeout, Limit::Remote, self.output_cap)
            .await
            .map(|r| self.redacted(r))
    }

    /// Runs one of cutover's own scripts (never the operator's, never with a secret), as the
    /// connecting user, bounded as `limit` says: [`Limit::Script`] for one that bounds every
    /// wait itself (no `timeout` process on the host, and it may go as the command line).
    pub async fn run_own(
        &self,
        host: &str,
        script: String,
        limit: Limit,
        timeout: Duration,
    ) -> Result<CommandResult, FleetError> {
        self.run_capped(host, script, false, timeout, limit, self.output_cap)
            .await
            .map(|r| self.redacted(r))
    }

    /// Runs a script that bounds itself but carries secrets (the arming: the job wrapper),
    /// as the connecting user: on stdin, never as a command line, under `timeout` only when
    /// `limit` (the mechanism's) says the script asks something that can hang.
    pub async fn run_sealed(
        &self,
        host: &str,
        script: String,
        limit: Limit,
        timeout: Duration,
    ) -> Result<CommandResult, FleetError> {
        let limit = match limit {
            Limit::Remote => Limit::Remote,
            Limit::Script | Limit::Sealed => Limit::Sealed,
        };
        self.run_capped(host, script, false, timeout, limit, self.output_cap)
            .await
            .map(|r| self.redacted(r))
    }

    /// Runs a script that must return a whole file (base64), so its cap fits the largest editable file.
    pub async fn run_big(
        &self,
        host: &str,
        script: String,
        sudo: bool,
        timeout: Duration,
    ) -> Result<CommandResult, FleetError> {
        let cap = (crate::remote::files::MAX_EDIT_BYTES as usize) * 2;
        self.run_capped(host, script, sudo, timeout, Limit::Remote, cap)
            .await
    }

    async fn run_capped(
        &self,
        host: &str,
        script: String,
        sudo: bool,
        timeout: Duration,
        limit: Limit,
        output_cap: usize,
    ) -> Result<CommandResult, FleetError> {
        // cutover's own scripts reference no secret; one that may travel as a command line
        // must never have a secret spliced in (a `{{ secrets.* }}` in a lease's operator
        // name stays text).
        let script = match limit {
            Limit::Remote | Limit::Sealed => self.secrets.shell(&script),
            Limit::Script => script,
        };
        let cmd = RemoteCommand {
            script,
            sudo,
            timeout,
            limit,
            output_cap,
        };
        self.fleet.run(host, &cmd).await
    }

    /// Output redacted before anything takes a line or a tail of it (where a secret split
    /// across the cut would leak); not for `run_big`, whose output is a file's base64.
    fn redacted(&self, mut r: CommandResult) -> CommandResult {
        if !self.secrets.is_empty() {
            r.stdout.rewrite(|t| self.secrets.redact(t));
            r.stderr.rewrite(|t| self.secrets.redact(t));
        }
        r
    }
}

/// One parallel round: `f` on every host at once (all spawned before any is awaited, never
/// one host after another), results in the order of `hosts`; a task that panicked is left out.
pub async fn round<T, F, Fut>(ctx: &Arc<Ctx>, hosts: &[String], f: F) -> Vec<T>
where
    F: Fn(Arc<Ctx>, String) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = hosts
        .iter()
        .map(|h| tokio::spawn(f(ctx.clone(), h.clone())))
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(v) = t.await {
            out.push(v);
        }
    }
    out
}

/// A one-line reason for a command that did not succeed.
pub fn failure_reason(r: &CommandResult) -> Option<String> {
    if r.sudo_password_required {
        return Some("sudo: a password is required (cutover only uses sudo -n)".into());
    }
    let first = |t: String| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_string)
    };
    let detail = first(r.stderr.text())
        .or_else(|| first(r.stdout.text()))
        .unwrap_or_default();
    let status = match &r.status {
        ExitStatus::Code(0) => return None,
        ExitStatus::Code(c) => format!("exit {c}"),
        ExitStatus::Signal { signal, .. } => format!("killed by SIG{signal}"),
        ExitStatus::TimedOut => "timed out".to_string(),
        ExitStatus::NoStatus => "no exit status: the connection dropped".to_string(),
    };
    Some(if detail.is_empty() {
        status
    } else {
        format!("{status}: {detail}")
    })
}
