//! `cutover check`: lint a plan and its inventory, reporting every problem at once.

use super::CliError;
use super::load::{PlanArgs, load};
use crate::plan::diagnostic::Severity;
use crate::plan::digest::digest;
use crate::sanitize::visible;
use std::process::ExitCode;

/// Arguments of `cutover check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    plan: PlanArgs,
    /// Print diagnostics as JSON (one array) for CI annotations.
    #[arg(long)]
    json: bool,
}

/// Runs the check; exit 0 when the plan has no error (warnings allowed), 1 otherwise.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let loaded = load(&args.plan)?;
    let errors = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = loaded.diagnostics.len() - errors;
    if args.json {
        let items: Vec<_> = loaded.diagnostics.iter().map(|d| {
            let src = loaded.source_of(d);
            let (line, column) = d.span.as_ref().map_or((0, 0), |s| src.line_col(s.start));
            serde_json::json!({ "severity": d.severity, "file": visible(src.name), "line": line, "column": column, "message": visible(&d.message), "hint": d.hint.as_deref().map(visible) })
        }).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        );
    } else {
        if !loaded.diagnostics.is_empty() {
            eprintln!("{}", loaded.render_diagnostics());
        }
        match &loaded.plan {
            Some(plan) => {
                let hosts = loaded.inventory.as_ref().map_or(0, |i| i.hosts.len());
                println!(
                    "{}: ok ({} hosts, {warnings} warning(s)), digest {}",
                    loaded.plan_name,
                    hosts,
                    digest(plan, loaded.inventory.as_ref())
                );
            }
            None => eprintln!(
                "{}: {errors} error(s), {warnings} warning(s)",
                loaded.plan_name
            ),
        }
    }
    Ok(if loaded.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
