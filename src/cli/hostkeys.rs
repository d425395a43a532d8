//! `cutover hostkeys scan`: collect host keys into a known_hosts file for review.
//!
//! Scanning trusts nothing: it records what each host presents and prints the SHA256
//! fingerprints, so a reviewer can compare them with the hosts' own (`ssh-keygen -lf
//! /etc/ssh/ssh_host_ed25519_key.pub`) before the file goes into the plan's merge request.

use super::CliError;
use crate::fleet;
use crate::inventory::{self, Selector};
use crate::transport::{SshSettings, fingerprint, known_hosts_line, scan_host_keys};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `cutover hostkeys ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Connect to every host, record its host key, print fingerprints, write known_hosts lines.
    Scan(ScanArgs),
}

/// Arguments of `cutover hostkeys scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Inventory file.
    #[arg(long, short = 'i')]
    inventory: PathBuf,
    /// Only these hosts (selectors, comma-separated).
    #[arg(long, short = 's', value_delimiter = ',')]
    select: Vec<String>,
    /// Write the known_hosts lines here instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// New handshakes per second.
    #[arg(long, default_value = "20")]
    connect_rate: f64,
    /// Time to wait for each host.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    connect_timeout: Duration,
    /// Resolve host names through this ssh config file instead of ssh's own.
    #[arg(long, value_name = "FILE", conflicts_with = "no_ssh_config")]
    ssh_config: Option<PathBuf>,
    /// Scan inventory addresses and ports as written, without the ssh config.
    #[arg(long)]
    no_ssh_config: bool,
}

/// Runs `cutover hostkeys`.
pub fn run(cmd: &Command) -> Result<ExitCode, CliError> {
    let Command::Scan(args) = cmd;
    let inv = inventory::load(&args.inventory).map_err(|e| CliError::Usage(e.to_string()))?;
    let sels = args
        .select
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let hosts = if sels.is_empty() {
        inv.hosts.iter().collect()
    } else {
        inv.select(&sels)
            .map_err(|e| CliError::Usage(e.to_string()))?
    };
    let ssh = super::ssh_args::SshArgs {
        ssh_config: args.ssh_config.clone(),
        no_ssh_config: args.no_ssh_config,
        ..Default::default()
    };
    let settings = SshSettings {
        connect_rate: args.connect_rate,
        connect_timeout: args.connect_timeout,
        ..ssh.over(SshSettings::default(), Vec::new(), Vec::new(), None, None)
    };
    // The address ssh would dial (HostName, Port), which is also the known_hosts name.
    let routes = fleet::routes(&mut settings.clone(), &hosts, &fleet::local_user())
        .map_err(|e| CliError::Usage(e.to_string()))?;
    for r in routes.iter().filter(|r| r.via.is_some()) {
        eprintln!(
            "cutover: {}: behind a bastion; scanned directly at {}:{}",
            r.endpoint.name, r.endpoint.address, r.endpoint.port
        );
    }
    let endpoints: Vec<_> = routes.into_iter().map(|r| r.endpoint).collect();
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    let results = rt.block_on(scan_host_keys(&endpoints, &settings));
    let (mut lines, mut failed) = (String::new(), 0);
    for (ep, result) in &results {
        match result {
            Ok(key) => {
                eprintln!(
                    "{:30} {}:{}  {}",
                    ep.name,
                    ep.address,
                    ep.port,
                    fingerprint(key)
                );
                lines.push_str(&known_hosts_line(ep, key));
                lines.push('\n');
            }
            Err(e) => {
                failed += 1;
                eprintln!("{:30} {}:{}  FAILED: {e}", ep.name, ep.address, ep.port);
            }
        }
    }
    match &args.output {
        Some(p) => std::fs::write(p, &lines).map_err(|source| CliError::Io {
            path: p.display().to_string(),
            source,
        })?,
        None => print!("{lines}"),
    }
    eprintln!(
        "{} host key(s) recorded, {failed} host(s) failed; compare the fingerprints before trusting the file",
        results.len() - failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
