//! The `cutover` binary: parses arguments and hands over to the library's CLI layer.

fn main() -> std::process::ExitCode {
    cutover::cli::main()
}
