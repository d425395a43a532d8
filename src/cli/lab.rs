//! `cutover lab up|status|down`: a rehearsal fleet on loopback (see `docs/rehearsal.md`).

use super::CliError;
use crate::lab::faults::{self, Faults};
use crate::lab::spec::{Backend, DEFAULT_DIR, DEFAULT_SUBNET, LabSpec};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `cutover lab` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Start a lab: hosts, keys, inventory, known_hosts, services (and etcd with --etcd).
    Up(UpArgs),
    /// Show the lab's hosts, backend, processes and etcd health.
    Status(DirArg),
    /// Stop exactly the processes the lab started and remove its directory.
    Down(DirArg),
    /// Run the embedded SSH servers of a lab (started detached by `lab up`).
    #[command(hide = true)]
    Serve(DirArg),
}

/// Arguments of `cutover lab up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Number of hosts (lab-1 .. lab-N).
    #[arg(long, default_value_t = 5)]
    pub hosts: usize,
    /// Run an etcd cluster of 3 or 5 members on the first hosts (needs the `etcd` binary).
    #[arg(long)]
    pub etcd: Option<usize>,
    /// SSH servers: embedded (no system package needed) or sshd (real OpenSSH).
    #[arg(long, value_enum, default_value = "embedded")]
    pub backend: Backend,
    /// The lab's directory (the lab plan's inventory points at the default).
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// First three octets of the hosts' loopback addresses.
    #[arg(long, default_value = DEFAULT_SUBNET)]
    pub subnet: String,
    /// SSH port of every host (default: 22 as root, 2222 otherwise).
    #[arg(long)]
    pub port: Option<u16>,
    /// Inject a fault: HOST=KIND[:ARG], e.g. lab-2=clock-skew:3s (repeatable).
    #[arg(long = "fault", value_name = "HOST=KIND[:ARG]")]
    pub faults: Vec<String>,
    /// A lab file of faults: `[faults]` then `lab-2 = ["sudo-password"]`.
    #[arg(long = "faults", value_name = "FILE")]
    pub faults_file: Option<PathBuf>,
}

/// A lab directory.
#[derive(Debug, clap::Args)]
pub struct DirArg {
    /// The lab's directory.
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
}

/// Runs a `cutover lab` subcommand.
pub fn run(cmd: &Command) -> Result<ExitCode, CliError> {
    match cmd {
        Command::Up(args) => {
            let spec = spec(args)?;
            let state = crate::lab::up::up(spec, &exe()?).map_err(lab_err)?;
            print!(
                "{}",
                crate::lab::status::status(&state.spec.dir).map_err(lab_err)?
            );
            if state.spec.dir == Path::new(DEFAULT_DIR) {
                println!(
                    "  rehearse:    cutover run plans/lab-rehearsal.toml --inventory {} --at now+1m",
                    state.spec.inventory_path().display()
                );
            }
            println!(
                "  stop it with: cutover lab down --dir {}",
                state.spec.dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Status(d) => {
            print!(
                "{}",
                crate::lab::status::status(&absolute(&d.dir)?).map_err(lab_err)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Down(d) => {
            let stopped = crate::lab::down::down(&absolute(&d.dir)?).map_err(lab_err)?;
            for s in &stopped.stopped {
                println!("stopped {s}");
            }
            for s in &stopped.gone {
                println!("already gone: {s}");
            }
            println!("removed {}", d.dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(d) => serve(&absolute(&d.dir)?),
    }
}

/// The validated lab options of `lab up`.
pub fn spec(args: &UpArgs) -> Result<LabSpec, CliError> {
    let mut f = Faults::new();
    if let Some(path) = &args.faults_file {
        let text = super::read(path)?;
        faults::parse_file(&text, &mut f)
            .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    }
    for flag in &args.faults {
        faults::add_flag(&mut f, flag).map_err(CliError::Usage)?;
    }
    let spec = LabSpec {
        hosts: args.hosts,
        etcd: args.etcd,
        backend: args.backend,
        dir: absolute(&args.dir)?,
        subnet: args.subnet.clone(),
        port: args.port.unwrap_or_else(crate::lab::spec::default_port),
        faults: f,
    };
    spec.validate().map_err(CliError::Usage)?;
    Ok(spec)
}

fn serve(dir: &Path) -> Result<ExitCode, CliError> {
    crate::lab::serve::serve(dir).map_err(lab_err)?;
    Ok(ExitCode::SUCCESS)
}

/// The running cutover binary (the embedded backend re-runs it as `lab serve`).
pub fn exe() -> Result<PathBuf, CliError> {
    std::env::current_exe().map_err(|source| CliError::Io {
        path: "current executable".into(),
        source,
    })
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|source| CliError::Io {
        path: p.display().to_string(),
        source,
    })
}

/// A lab error as a CLI error.
pub fn lab_err(e: crate::lab::LabError) -> CliError {
    CliError::Usage(e.to_string())
}
