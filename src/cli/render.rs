//! `cutover render`: the plan as a deterministic Markdown runbook for the merge request.

use super::CliError;
use super::load::{PlanArgs, load};
use std::process::ExitCode;

/// Arguments of `cutover render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: PlanArgs,
    /// Write the runbook here instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<std::path::PathBuf>,
}

/// Renders the runbook; a plan with errors prints them and exits 1.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let loaded = load(&args.plan)?;
    let Some(plan) = &loaded.plan else {
        eprintln!("{}", loaded.render_diagnostics());
        eprintln!("cutover: the plan has errors; fix them (see `cutover check`) before rendering");
        return Ok(ExitCode::from(1));
    };
    let md = crate::plan::runbook::render(plan, loaded.inventory.as_ref());
    match &args.output {
        Some(path) => std::fs::write(path, md).map_err(|source| CliError::Io {
            path: path.display().to_string(),
            source,
        })?,
        None => print!("{md}"),
    }
    Ok(ExitCode::SUCCESS)
}
