//! `cutover report RUN`: the run's report as Markdown, the same report as JSON (`--json`),
//! or the journal's raw records (`--records`).

use super::CliError;
use crate::journal::rundir::RunDir;
use crate::journal::{Record, reader};
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
    /// The same report as one JSON object (stable field names), for automation.
    #[arg(long, conflicts_with = "records")]
    json: bool,
    /// The journal's raw records (side journals merged in) as one JSON array.
    #[arg(long)]
    records: bool,
}

/// Runs `cutover report`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let dir =
        RunDir::open(&args.runs_dir, &args.run).map_err(|e| CliError::Usage(e.to_string()))?;
    let (records, torn_tail) = records(&dir)?;
    if args.records {
        println!(
            "{}",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        );
    } else if args.json {
        let report = crate::report::build(&dir.id, &records, torn_tail);
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", crate::report::markdown(&dir.id, &records, torn_tail));
    }
    Ok(ExitCode::SUCCESS)
}

/// A run's whole timeline: its journal with its side journals (disarms) merged in by time,
/// and whether the journal's last line was torn.
pub(super) fn records(dir: &RunDir) -> Result<(Vec<Record<RunEvent>>, bool), CliError> {
    let read =
        reader::read::<RunEvent>(&dir.journal()).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok((with_side_journals(dir, read.records)?, read.torn_tail))
}

/// The journal's records with the side journals' merged in.
pub(super) fn with_side_journals(
    dir: &RunDir,
    main: Vec<Record<RunEvent>>,
) -> Result<Vec<Record<RunEvent>>, CliError> {
    let usage = |e: crate::journal::JournalError| CliError::Usage(e.to_string());
    let mut sides = Vec::new();
    for path in dir.side_journals().map_err(usage)? {
        sides.push(reader::read::<RunEvent>(&path).map_err(usage)?.records);
    }
    Ok(reader::merge(main, sides))
}
