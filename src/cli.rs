//! Command-line layer: argument syntax, dispatch, and the one place errors become exit codes.

/// Entry point used by `main.rs`.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
