//! `cutover demo`: the whole product in one command. Brings up a lab (embedded backend, etcd
//! when installed), writes the demo plan, runs it exactly as `cutover run --at now+30s --yes`
//! would, prints where the run and its report are, and tears the lab down (also on failure
//! and Ctrl-C).

use super::CliError;
use super::lab::{exe, lab_err};
use crate::lab::demo::{DemoOptions, PLAN_NAME, plan};
use crate::lab::faults::Faults;
use crate::lab::spec::{Backend, LabSpec};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The demo lab's addresses on loopback.
const DEFAULT_SUBNET: &str = "127.0.20";
/// The demo lab's addresses with `--backend nspawn`.
const NSPAWN_SUBNET: &str = "10.253.20";

/// Arguments of `cutover demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Lab hosts.
    #[arg(long, default_value_t = 5)]
    hosts: usize,
    /// SSH servers of the lab.
    #[arg(long, value_enum, default_value = "embedded")]
    backend: Backend,
    /// Skip etcd (and the quorum panel) even when it is installed.
    #[arg(long)]
    no_etcd: bool,
    /// When the restart fires, from the start of the run (arming needs 10s before it).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    fire_in: std::time::Duration,
    /// First three octets of the lab's addresses (nspawn: 10.253.20 unless given).
    #[arg(long, default_value = DEFAULT_SUBNET)]
    subnet: String,
    /// The lab's directory (removed afterwards); default: a fresh temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Where the run directory (journal, report) is kept.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    #[command(flatten)]
    view: super::run::output::ViewArgs,
    /// Leave the lab running afterwards (stop it with `cutover lab down --dir DIR`).
    #[arg(long)]
    keep: bool,
}

/// `cutover run`'s arguments, parsed from an argv like the command line would give them.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct RunArgv {
    #[command(flatten)]
    args: super::run::Args,
}

/// Tears the lab down when dropped (normal end, error or panic).
struct Teardown {
    dir: PathBuf,
    keep: bool,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if self.keep {
            println!(
                "lab kept: cutover lab status --dir {0}; cutover lab down --dir {0}",
                self.dir.display()
            );
            return;
        }
        match crate::lab::down::down(&self.dir) {
            Ok(s) => println!(
                "lab down: {} process(es) stopped, {} removed",
                s.stopped.len(),
                self.dir.display()
            ),
            Err(e) => eprintln!("cutover: lab teardown: {e}"),
        }
    }
}

/// Runs `cutover demo`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let dir = match &args.dir {
        Some(d) => std::path::absolute(d).map_err(|source| CliError::Io {
            path: d.display().to_string(),
            source,
        })?,
        None => std::env::temp_dir().join(format!("cutover-demo-{}", std::process::id())),
    };
    let nspawn = args.backend == Backend::Nspawn;
    // Real hosts run real units (`consul`, `chef-client`, and etcd members as `etcd.service`).
    let etcd = etcd_choice(args);
    let spec = LabSpec {
        hosts: args.hosts,
        etcd,
        backend: args.backend,
        dir: dir.clone(),
        subnet: match (nspawn, args.subnet.as_str()) {
            (true, DEFAULT_SUBNET) => NSPAWN_SUBNET.to_string(),
            _ => args.subnet.clone(),
        },
        port: if nspawn {
            22
        } else {
            crate::lab::spec::default_port()
        },
        faults: Faults::new(),
    };
    println!(
        "cutover demo: bringing up a {}-host lab ({} backend{}) in {}",
        spec.hosts,
        spec.backend.as_str(),
        etcd.map_or(String::new(), |n| format!(", {n} etcd members")),
        dir.display()
    );
    let state = crate::lab::up::up(spec, &exe()?).map_err(lab_err)?;
    let guard = Teardown {
        dir: dir.clone(),
        keep: args.keep,
    };
    on_interrupt(dir.clone(), args.keep);
    let plan_path = dir.join("demo.toml");
    let opts = DemoOptions {
        nominal_fire: crate::clock::now() + chrono::Duration::days(1),
        system_sudo: nspawn || system_sudo_works(),
    };
    super::write_file(&plan_path, &plan(&state.spec, &opts))?;
    println!("  plan      {}", plan_path.display());
    let code = super::run::run(&run_args(args, &plan_path)?)?;
    print_where(&args.runs_dir);
    drop(guard);
    Ok(code)
}

/// The built-in `sudo` check also runs the machine's own `/usr/bin/sudo -n`: use it only where
/// that cannot ask for a password (installed, and we are root); else check the lab's sudo.
fn system_sudo_works() -> bool {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    root && ["/usr/bin/sudo", "/bin/sudo"]
        .iter()
        .any(|p| Path::new(p).exists())
}

fn etcd_choice(args: &Args) -> Option<usize> {
    if args.no_etcd {
        return None;
    }
    if crate::lab::procs::find("etcd").is_some() && args.hosts >= 3 {
        return Some(3);
    }
    println!(
        "  (no etcd: the demo watches the service only; for the quorum panel: {})",
        crate::lab::etcd::INSTALL_HINT
    );
    None
}

/// `cutover run PLAN --at now+30s --yes --runs-dir DIR [--plain|--json]`, as parsed arguments.
fn run_args(args: &Args, plan: &Path) -> Result<super::run::Args, CliError> {
    let mut argv: Vec<String> = vec![
        plan.display().to_string(),
        "--at".into(),
        format!("now+{}s", args.fire_in.as_secs()),
        "--yes".into(),
        "--runs-dir".into(),
        args.runs_dir.display().to_string(),
    ];
    if args.view.json {
        argv.push("--json".into());
    } else if args.view.plain {
        argv.push("--plain".into());
    }
    RunArgv::try_parse_from(&argv)
        .map(|p| p.args)
        .map_err(|e| CliError::Usage(format!("internal: demo run arguments: {e}")))
}

/// On Ctrl-C (SIGINT) or SIGTERM: tear the lab down and exit 130, so no lab process outlives the demo.
fn on_interrupt(dir: PathBuf, keep: bool) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        });
        eprintln!("\ncutover demo: interrupted; tearing the lab down");
        drop(Teardown { dir, keep });
        std::process::exit(130);
    });
}

/// Prints the newest demo run directory and how to read its report.
fn print_where(runs_dir: &Path) {
    let newest = std::fs::read_dir(runs_dir).ok().and_then(|d| {
        d.flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains(&format!("Z-{PLAN_NAME}-")))
            })
            .max()
    });
    if let Some(run) = newest {
        println!("run dir: {}", run.display());
        println!("report:  cutover report {}", run.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Parser)]
    struct DemoCli {
        #[command(flatten)]
        demo: Args,
    }

    #[test]
    fn the_run_is_parsed_as_cutover_run_would_parse_it() {
        let cli = DemoCli::try_parse_from(["demo", "--plain", "--fire-in", "45s"]).unwrap();
        let run = run_args(&cli.demo, Path::new("/tmp/demo.toml"));
        assert!(run.is_ok(), "{run:?}");
    }
}
