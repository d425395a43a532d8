//! `cutover schema`: the plan format's JSON Schema, committed as `docs/plan.schema.json`.

use super::CliError;
use std::process::ExitCode;

/// Prints the schema.
pub fn run() -> Result<ExitCode, CliError> {
    println!("{}", crate::plan::schema::json());
    Ok(ExitCode::SUCCESS)
}
