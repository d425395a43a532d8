//! `cutover exec`: an ad-hoc fan-out over an inventory, folded like `dshbak -c`.
//!
//! The first user-visible use of the transport and executor: batches with a barrier, a
//! failure budget, paced handshakes, bounded and sanitized output, exit code = worst host.

mod outcome;

use super::CliError;
use super::ssh_args::SshArgs;
use crate::executor::{Control, Event, Executor, FailureBudget, PhaseName, PhaseReport};
use crate::fleet::{self, Fleet};
use crate::inventory::{self, Host, Selector};
use crate::transport::{RemoteCommand, SshSettings};
use outcome::{ExecOutput, ExecRunner};
use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `cutover exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Inventory file (native TOML, `ansible-inventory --list` JSON, or a host list).
    #[arg(long, short = 'i')]
    inventory: PathBuf,
    /// Only these hosts: selectors, comma-separated (`servers,!host:srv-3`, `label:zone=b`).
    #[arg(long, short = 's', value_delimiter = ',')]
    select: Vec<String>,
    /// Only this group (shorthand for --select GROUP).
    #[arg(long, short = 'g')]
    group: Option<String>,
    /// Hosts per batch; a barrier separates batches (default: all hosts in one batch).
    #[arg(long)]
    batch: Option<NonZeroUsize>,
    /// Commands running at once within a batch.
    #[arg(long, default_value = "64")]
    fanout: NonZeroUsize,
    /// Failures tolerated before later batches are skipped: a count or "N%".
    #[arg(long, default_value = "100%")]
    max_failures: FailureBudget,
    /// Per-host command time limit; the remote process is killed when it passes.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Run the command through `sudo -n` (a password prompt fails fast).
    #[arg(long)]
    sudo: bool,
    /// Bytes of output kept per host and stream (head and tail).
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    output_cap: u64,
    #[command(flatten)]
    ssh: SshArgs,
    /// New SSH handshakes per second, fleet-wide. Each host's sshd sees one connection, so
    /// this protects the orchestrator's agent and hardware keys, not the hosts; lower it when
    /// every connection lands on one sshd (a shared bastion without -J, sshguard).
    #[arg(long, default_value = "200")]
    connect_rate: f64,
    /// Handshakes in a burst and in flight at once.
    #[arg(long, default_value = "64")]
    connect_burst: u32,
    /// Time to connect and authenticate.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
    /// Print one JSON document (per-host results and folded groups) instead of text.
    #[arg(long)]
    json: bool,
    /// The command, run by `sh` on each host (quote it, or put it after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    crate::plan::validate::values::size(s)
}

/// Runs `cutover exec`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(exec(args))
}

async fn exec(args: &Args) -> Result<ExitCode, CliError> {
    let inv = inventory::load(&args.inventory).map_err(|e| CliError::Usage(e.to_string()))?;
    let hosts = selected(&inv, args)?;
    if hosts.is_empty() {
        return Err(CliError::Usage("the selection matches no host".into()));
    }
    for h in &hosts {
        for note in &h.ssh.notes {
            eprintln!("cutover: {}: {note}", h.name);
        }
    }
    let fleet = Arc::new(
        Fleet::new(settings(args), &hosts, &fleet::local_user())
            .map_err(|e| CliError::Usage(e.to_string()))?,
    );
    let command = RemoteCommand {
        script: args.command.join(" "),
        sudo: args.sudo,
        timeout: args.timeout,
        limit: crate::transport::Limit::Remote,
        output_cap: args.output_cap as usize,
    };
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let mut executor = Executor::new(
        args.batch
            .unwrap_or(NonZeroUsize::MIN.saturating_add(names.len().saturating_sub(1))),
        args.max_failures,
    );
    executor.max_concurrency = args.fanout;
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let progress = tokio::spawn(progress(
        rx,
        names.len(),
        !args.json && std::io::stderr().is_terminal(),
    ));
    let runner = Arc::new(ExecRunner {
        fleet: fleet.clone(),
        command,
    });
    let report = executor
        .run_phase(PhaseName::from("exec"), names, runner, Control::new(), tx)
        .await;
    let _ = progress.await;
    fleet.close().await;
    print_report(&report, args.json);
    Ok(ExitCode::from(outcome::worst_exit(&report)))
}

fn selected<'a>(inv: &'a inventory::Inventory, args: &Args) -> Result<Vec<&'a Host>, CliError> {
    let mut texts = args.select.clone();
    texts.extend(args.group.clone());
    if texts.is_empty() {
        return Ok(inv.hosts.iter().collect());
    }
    let sels = texts
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    inv.select(&sels)
        .map_err(|e| CliError::Usage(e.to_string()))
}

fn settings(args: &Args) -> SshSettings {
    let base = SshSettings {
        use_agent: std::env::var_os("SSH_AUTH_SOCK").is_some(),
        connect_timeout: args.connect_timeout,
        connect_rate: args.connect_rate,
        connect_burst: args.connect_burst,
        ..SshSettings::default()
    };
    args.ssh.over(base, Vec::new(), Vec::new(), None, None)
}

/// A live `done/total` counter on stderr when it is a terminal.
async fn progress(mut rx: tokio::sync::mpsc::Receiver<Event>, total: usize, live: bool) {
    let (mut done, mut failed) = (0usize, 0usize);
    while let Some(ev) = rx.recv().await {
        if let Event::HostFinished { outcome, .. } = ev {
            done += 1;
            failed += usize::from(outcome.counts_as_failure());
            if live {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{done}/{total} done, {failed} failed");
                let _ = err.flush();
            }
        }
    }
    if live {
        eprint!("\r\x1b[2K");
    }
}

fn print_report(report: &PhaseReport<ExecOutput>, json: bool) {
    let folded = crate::executor::fold(report.hosts.iter().map(|h| {
        (
            h.host.as_str(),
            h.output.as_ref().map_or("", |o| o.folded.as_str()),
        )
    }));
    if json {
        let hosts: Vec<_> = report.hosts.iter().map(outcome::host_json).collect();
        let doc =
            serde_json::json!({ "summary": report.summary, "hosts": hosts, "groups": folded });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", crate::executor::render(&folded));
        let s = &report.summary;
        eprintln!(
            "{} ok, {} failed, {} unreachable, {} skipped, {} cancelled",
            s.ok, s.failed, s.unreachable, s.skipped, s.cancelled
        );
    }
}
