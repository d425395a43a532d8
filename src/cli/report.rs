//! `cutover report RUN`: the run's timeline as Markdown (or its records as JSON).

use super::CliError;
use crate::journal::reader;
use crate::journal::rundir::RunDir;
use crate::run::event::RunEvent;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cutover report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id (directory name under --runs-dir) or its directory.
    run: String,
    /// Where run directories live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Print the journal's records as one JSON array instead.
    #[arg(long)]
    json: bool,
}

/// Runs `cutover report`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let dir =
        RunDir::open(&args.runs_dir, &args.run).map_err(|e| CliError::Usage(e.to_string()))?;
    let read =
        reader::read::<RunEvent>(&dir.journal()).map_err(|e| CliError::Usage(e.to_string()))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&read.records).unwrap_or_default()
        );
    } else {
        print!(
            "{}",
            crate::report::markdown(&dir.id, &read.records, read.torn_tail)
        );
    }
    Ok(ExitCode::SUCCESS)
}
