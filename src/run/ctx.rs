//! What every runner of a run shares: the fleet, the hosts, where the plan lives, the events.

use super::event::RunEvent;
use crate::fleet::{Fleet, FleetError};
use crate::inventory::Host;
use crate::transport::{CommandResult, ExitStatus, RemoteCommand};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// Shared, read-only context of a run's runners.
pub struct Ctx {
    /// Connections.
    pub fleet: Arc<Fleet>,
    /// Inventory hosts by name.
    pub hosts: HashMap<String, Host>,
    /// The plan file's directory (uploads and templates are relative to it).
    pub plan_dir: PathBuf,
    /// Output kept per command and stream.
    pub output_cap: usize,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// Where events go (journal and views).
    pub events: UnboundedSender<RunEvent>,
    /// Files written by staging: `(host, file, sha256)`, re-verified later.
    pub staged: std::sync::Mutex<Vec<(String, String, String)>>,
    /// The run's id (run directory name), which names armed jobs on hosts.
    pub run_id: String,
    /// Clock offsets measured by the preflight (host minus orchestrator, ns).
    pub offsets: std::sync::Mutex<HashMap<String, i128>>,
    /// Operator gates: how they are answered, and which were.
    pub gates: super::gate::Gates,
    /// The run's secret values: expanded into scripts, redacted out of every event.
    pub secrets: Arc<crate::redact::Secrets>,
    /// What an earlier attempt of this run already did (empty for a fresh run).
    pub resume: super::resume::Progress,
}

impl Ctx {
    /// A context for the hosts of `inventory`, its events going to `events`.
    pub fn new(
        fleet: Fleet,
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
            events,
            staged: std::sync::Mutex::new(Vec::new()),
            run_id: crate::arm::safe_run_id(run_id),
            offsets: std::sync::Mutex::new(HashMap::new()),
            gates: super::gate::Gates::default(),
            secrets: Arc::new(crate::redact::Secrets::default()),
            resume: super::resume::Progress::default(),
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
        if let RunEvent::Staged {
            host, file, sha256, ..
        } = &e
        {
            let mut staged = self.staged.lock().unwrap_or_else(|p| p.into_inner());
            staged.push((host.clone(), file.clone(), sha256.clone()));
        }
        let _ = self.events.send(e);
    }

    /// Where this run's job, receipt and output live on `host`: `/var/tmp/cutover/<run>`, or
    /// under the host variable `cutover_dir` (hosts sharing one machine, as in a lab).
    pub fn job_dir(&self, host: &str) -> String {
        match self.hosts.get(host).and_then(|h| h.vars.get("cutover_dir")) {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), self.run_id),
            None => crate::arm::run_dir(&self.run_id),
        }
    }

    /// Runs a script on a host.
    pub async fn run(
        &self,
        host: &str,
        script: String,
        sudo: bool,
        timeout: Duration,
    ) -> Result<CommandResult, FleetError> {
        self.run_capped(host, script, sudo, timeout, self.output_cap)
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
        self.run_capped(host, script, sudo, timeout, cap).await
    }

    async fn run_capped(
        &self,
        host: &str,
        script: String,
        sudo: bool,
        timeout: Duration,
        output_cap: usize,
    ) -> Result<CommandResult, FleetError> {
        let cmd = RemoteCommand {
            script: self.secrets.shell(&script),
            sudo,
            timeout,
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
