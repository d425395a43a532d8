//! Command-line layer: argument syntax, dispatch, and the one place errors become exit codes.
//!
//! Exit codes: 0 success; 1 the tool worked and found problems (a plan with errors, a host
//! that failed); 2 usage or I/O error (unreadable file, bad flag).

mod check;
mod demo;
mod disarm;
mod exec;
mod fmt;
mod hostkeys;
mod inventory;
mod lab;
mod load;
mod render;
mod report;
mod resume;
mod rollback;
pub(crate) mod run;
mod schema;
mod ssh_args;
mod start;
mod watch;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `cutover`: change a whole fleet at the same instant, from a reviewed plan file.
#[derive(Debug, Parser)]
#[command(name = "cutover", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole product in one command: a lab, a plan, a simultaneous restart, a report.
    Demo(demo::Args),
    /// Lint a plan: report every problem with file:line:col, a snippet and a hint.
    Check(check::Args),
    /// Carry out a plan: preflight, stage (diffs first), verify. `--dry-run` changes nothing.
    Run(run::Args),
    /// Continue a run whose orchestrator stopped (crash, kill, lost terminal) from its journal.
    Resume(resume::Args),
    /// The post-incident timeline of a run, from its journal (Markdown, or --json).
    Report(report::Args),
    /// Take the action back on every host a run's journal shows armed (from any terminal).
    Disarm(disarm::Args),
    /// Undo a stopped run's staging on every host it changed: files from their checksummed
    /// backups, disabled agents re-enabled, the plan's [[rollback]] steps (before the fire).
    Rollback(rollback::Args),
    /// Follow a running or finished run from its journal: the dashboard read-only, or --plain.
    Watch(watch::Args),
    /// Render a plan as a Markdown runbook for the merge request.
    Render(render::Args),
    /// Print the JSON Schema of the plan format (for taplo / Even Better TOML).
    Schema,
    /// Normalise plan files' layout, keeping every comment (`--check`: exit 1 if any would change).
    Fmt(fmt::Args),
    /// Run a command on many hosts at once, output folded by identical result.
    Exec(exec::Args),
    /// Collect host keys into a reviewable known_hosts file.
    #[command(subcommand)]
    Hostkeys(hostkeys::Command),
    /// A rehearsal fleet on loopback: `lab up`, `lab status`, `lab down`.
    #[command(subcommand)]
    Lab(lab::Command),
    /// Inspect inventories.
    #[command(subcommand)]
    Inventory(inventory::Command),
}

/// An error that ends the command: what went wrong and, where known, what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else that is the user's to fix.
    #[error("{0}")]
    Usage(String),
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Resume(args) => resume::run(&args),
        Command::Disarm(args) => disarm::run(&args),
        Command::Rollback(args) => rollback::run(&args),
        Command::Watch(args) => watch::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Schema => schema::run(),
        Command::Fmt(args) => fmt::run(&args),
        Command::Exec(args) => exec::run(&args),
        Command::Hostkeys(cmd) => hostkeys::run(&cmd),
        Command::Inventory(cmd) => inventory::run(&cmd),
        Command::Lab(cmd) => lab::run(&cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cutover: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes a file, naming it in the error.
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|source| CliError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a file, naming it in the error.
pub(crate) fn read(path: &std::path::Path) -> Result<String, CliError> {
    let io = |source| CliError::Io {
        path: path.display().to_string(),
        source,
    };
    let bytes = std::fs::read(path).map_err(io)?;
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "invalid UTF-8 at {}: save the file as UTF-8",
                utf8_location(e.as_bytes(), bad)
            ),
        ))
    })
}

/// `line L, column C (byte N)` of byte offset `at` in `bytes` (1-based, columns in characters).
fn utf8_location(bytes: &[u8], at: usize) -> String {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    format!("line {line}, column {column} (byte {at})")
}

/// Writes text to standard output, ignoring a closed pipe (`cutover run … | head`): what a run
/// prints is a view, and a reader that went away must never stop (or panic) a run that may
/// hold armed hosts; the journal keeps everything.
pub(crate) fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
