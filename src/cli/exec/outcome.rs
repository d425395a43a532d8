//! One host's exec result: the runner over the fleet, what is folded and printed, the exit code.

use crate::executor::{CancelToken, HostOutcome, HostReport, HostRun, HostRunner, PhaseReport};
use crate::fleet::{Fleet, FleetError};
use crate::transport::{CommandResult, ExitStatus, RemoteCommand};
use std::sync::Arc;

/// What a host printed and how its command ended (all text sanitized).
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code, when the command exited.
    pub exit: Option<u32>,
    /// Milliseconds from channel open to close.
    pub elapsed_ms: u128,
    /// The text hosts are grouped by: output, then a status line unless it exited 0.
    pub folded: String,
}

/// Runs the exec command on each host over its pooled connection.
pub struct ExecRunner {
    /// The connections.
    pub fleet: Arc<Fleet>,
    /// The command.
    pub command: RemoteCommand,
}

impl HostRunner for ExecRunner {
    type Output = ExecOutput;

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<ExecOutput> {
        let run = tokio::select! {
            r = self.fleet.run(host, &self.command) => outcome(r),
            () = cancel.cancelled() => HostRun::without_output(HostOutcome::Cancelled { started: true }),
        };
        // One command per host: its connection is not needed again.
        self.fleet.release(host).await;
        run
    }
}

fn outcome(r: Result<CommandResult, FleetError>) -> HostRun<ExecOutput> {
    let r = match r {
        Ok(r) => r,
        Err(FleetError::Unreachable(e)) => {
            // A cause on this machine is the same for every host: fold it into one group.
            let out = match e.exhausted() {
                Some(kind) => folded_only(format!("[unreachable: {kind}]")),
                None => folded_only(format!("[unreachable: {e}]")),
            };
            return HostRun::new(
                HostOutcome::Unreachable {
                    reason: e.to_string(),
                },
                out,
            );
        }
        Err(e) => {
            let out = folded_only(format!("[connection lost: {e}]"));
            return HostRun::new(
                HostOutcome::Failed {
                    reason: e.to_string(),
                    exit: None,
                },
                out,
            );
        }
    };
    let (stdout, stderr) = (r.stdout.text(), r.stderr.text());
    let status = status_line(&r);
    let mut folded = format!("{stdout}{stderr}");
    if let Some(s) = &status {
        if !folded.is_empty() && !folded.ends_with('\n') {
            folded.push('\n');
        }
        folded.push_str(&format!("[{s}]\n"));
    }
    let exit = match r.status {
        ExitStatus::Code(c) => Some(c),
        _ => None,
    };
    let host_outcome = match status {
        None => HostOutcome::Ok { detail: None },
        Some(reason) => HostOutcome::Failed {
            reason,
            exit: exit.map(|c| c as i32),
        },
    };
    HostRun::new(
        host_outcome,
        ExecOutput {
            stdout,
            stderr,
            exit,
            elapsed_ms: r.elapsed.as_millis(),
            folded,
        },
    )
}

fn folded_only(text: String) -> ExecOutput {
    ExecOutput {
        stdout: String::new(),
        stderr: String::new(),
        exit: None,
        elapsed_ms: 0,
        folded: format!("{text}\n"),
    }
}

/// `None` for success, else a one-line reason.
fn status_line(r: &CommandResult) -> Option<String> {
    if r.sudo_password_required {
        return Some("sudo: a password is required (cutover only uses sudo -n)".into());
    }
    match &r.status {
        ExitStatus::Code(0) => None,
        ExitStatus::Code(c) => Some(format!("exit {c}")),
        ExitStatus::Signal { signal, .. } => Some(format!("killed by SIG{signal}")),
        ExitStatus::TimedOut => Some("timed out".into()),
        ExitStatus::NoStatus => Some("no exit status: the channel closed early".into()),
    }
}

/// The process exit code: the worst host's. 0 all ok; 255 any unreachable; 124 a timeout;
/// otherwise the highest remote exit code (1 when a host failed without one).
pub fn worst_exit(report: &PhaseReport<ExecOutput>) -> u8 {
    report.hosts.iter().map(host_code).max().unwrap_or(0)
}

fn host_code(h: &HostReport<ExecOutput>) -> u8 {
    match &h.outcome {
        HostOutcome::Ok { .. } => 0,
        HostOutcome::Unreachable { .. } => 255,
        HostOutcome::Failed { exit: Some(c), .. } => u8::try_from(*c).unwrap_or(1).max(1),
        HostOutcome::Failed { reason, .. } if reason == "timed out" => 124,
        HostOutcome::Failed { .. }
        | HostOutcome::Skipped { .. }
        | HostOutcome::Cancelled { .. } => 1,
    }
}

/// One host as JSON for `--json`.
pub fn host_json(h: &HostReport<ExecOutput>) -> serde_json::Value {
    let o = h.output.as_ref();
    serde_json::json!({
        "host": h.host,
        "batch": h.batch,
        "outcome": h.outcome,
        "exit": o.and_then(|o| o.exit),
        "stdout": o.map(|o| o.stdout.as_str()),
        "stderr": o.map(|o| o.stderr.as_str()),
        "elapsed_ms": o.map(|o| o.elapsed_ms),
    })
}
