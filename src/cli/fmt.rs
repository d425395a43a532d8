//! `cutover fmt [--check] PLAN...`: normalise plan files' layout, keeping every comment.

use super::CliError;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `cutover fmt`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Plan files to format in place.
    #[arg(required = true)]
    plans: Vec<PathBuf>,
    /// Change nothing; exit 1 and name each file that would change (for CI).
    #[arg(long)]
    check: bool,
}

/// Formats each plan (or, with `--check`, names those that are not formatted).
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let mut unformatted = Vec::new();
    for path in &args.plans {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
            path: shown.clone(),
            source,
        })?;
        let formatted = crate::plan::format::format(&text)
            .map_err(|e| CliError::Usage(format!("{shown}: {e}")))?;
        if formatted == text {
            continue;
        }
        if args.check {
            println!("{shown}: not formatted (run `cutover fmt {shown}`)");
            unformatted.push(shown);
        } else {
            super::write_file(path, &formatted)?;
            println!("formatted {shown}");
        }
    }
    Ok(if unformatted.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
