//! `cutover lab up|status|down`: a rehearsal fleet on loopback (see `docs/rehearsal.md`).

use super::CliError;
use crate::lab::faults::{self, Faults};
use crate::lab::spec::{Backend, DEFAULT_DIR, LabSpec};
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
    /// Set or clear a network fault on a host of a running `nspawn` lab.
    Fault(FaultArgs),
    /// Run the embedded SSH servers of a lab (started detached by `lab up`).
    #[command(hide = true)]
    Serve(ServeArgs),
    /// Delay and shape the packets of NFQUEUE `--queue` (started inside a host's namespace by
    /// a `delay` or `rate` fault of an nspawn lab).
    #[command(hide = true)]
    Delay(DelayArgs),
}

/// Arguments of `cutover lab serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The lab's directory.
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// Which of the lab's server processes this is (0-based); a lab larger than one process's
    /// open-file limit allows is served by several.
    #[arg(long, default_value_t = 0)]
    pub part: usize,
}

/// Arguments of `cutover lab up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Number of hosts (lab-1 .. lab-N).
    #[arg(long, default_value_t = 5)]
    pub hosts: usize,
    /// Run an etcd cluster of 3 or 5 members on the first hosts (needs the `etcd` binary; on
    /// nspawn each member is an `etcd.service` unit running the machine's binary).
    #[arg(long)]
    pub etcd: Option<usize>,
    /// SSH servers: embedded (no system package needed), sshd (real OpenSSH), or nspawn (real
    /// systemd hosts in containers; root only).
    #[arg(long, value_enum, default_value = "embedded")]
    pub backend: Backend,
    /// The lab's directory (the lab plan's inventory points at the default).
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
    /// First three octets of the hosts' addresses (default: 127.0.10 on loopback, 10.253.0
    /// for nspawn, inside namespaces the lab creates).
    #[arg(long)]
    pub subnet: Option<String>,
    /// SSH port of every host (default: 22 as root, 2222 otherwise).
    #[arg(long)]
    pub port: Option<u16>,
    /// Inject a fault: HOST=KIND[:ARG], e.g. lab-2=clock-skew:3s, or with nspawn
    /// lab-2=blackhole|loss:PCT|delay:MS|rate:KBIT|partition:HOST,... (repeatable).
    #[arg(long = "fault", value_name = "HOST=KIND[:ARG]")]
    pub faults: Vec<String>,
    /// A lab file of faults: `[faults]` then `lab-2 = ["sudo-password"]`.
    #[arg(long = "faults", value_name = "FILE")]
    pub faults_file: Option<PathBuf>,
}

/// Arguments of `cutover lab fault`.
#[derive(Debug, clap::Args)]
pub struct FaultArgs {
    /// The host, e.g. lab-2.
    pub host: String,
    /// blackhole, loss:PCT, delay:MS, rate:KBIT (kbit/s), partition:HOST[,HOST...], or clear.
    pub kind: String,
    /// The lab's directory.
    #[arg(long, default_value = DEFAULT_DIR)]
    pub dir: PathBuf,
}

/// Arguments of the hidden `cutover lab delay`.
#[derive(Debug, clap::Args)]
pub struct DelayArgs {
    /// NFQUEUE number.
    #[arg(long)]
    pub queue: u16,
    /// Milliseconds each packet the host sends is held.
    #[arg(long, default_value_t = 0)]
    pub ms: u64,
    /// Rate of each direction in kbit/s (a token bucket), if shaped.
    #[arg(long)]
    pub kbit: Option<u64>,
    /// The namespace it serves (for `lab down` to recognise it).
    #[arg(long)]
    pub netns: String,
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
        Command::Fault(f) => {
            let fault = match f.kind.as_str() {
                "clear" => None,
                kind => Some(faults::Fault::parse(kind).map_err(CliError::Usage)?),
            };
            let now = crate::lab::nspawn::set_fault(&absolute(&f.dir)?, &f.host, fault)
                .map_err(lab_err)?;
            let list: Vec<String> = now.iter().map(ToString::to_string).collect();
            println!(
                "{}: {}",
                f.host,
                if list.is_empty() {
                    "no network faults".to_string()
                } else {
                    list.join(" ")
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(d) => serve(&absolute(&d.dir)?, d.part),
        Command::Delay(d) => {
            let shaping = crate::lab::nspawn::delay::Shaping {
                millis: d.ms,
                kbit: d.kbit,
            };
            crate::lab::nspawn::delay::serve(d.queue, shaping).map_err(|source| CliError::Io {
                path: format!("NFQUEUE {} in {}", d.queue, d.netns),
                source,
            })?;
            Ok(ExitCode::SUCCESS)
        }
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
        subnet: args
            .subnet
            .clone()
            .unwrap_or_else(|| args.backend.default_subnet().to_string()),
        port: match args.backend {
            Backend::Nspawn => 22,
            Backend::Embedded | Backend::Sshd => {
                args.port.unwrap_or_else(crate::lab::spec::default_port)
            }
        },
        faults: f,
    };
    spec.validate().map_err(CliError::Usage)?;
    Ok(spec)
}

fn serve(dir: &Path, part: usize) -> Result<ExitCode, CliError> {
    crate::lab::serve::serve(dir, part).map_err(lab_err)?;
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
