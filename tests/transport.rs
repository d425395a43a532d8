//! Transport against real sshd: connections, host keys, auth, commands, output, pacing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

#[path = "support/mod.rs"]
mod support;

#[path = "transport/commands.rs"]
mod commands;
#[path = "transport/connect.rs"]
mod connect;
#[path = "transport/host_keys.rs"]
mod host_keys;
#[path = "transport/output.rs"]
mod output;

use cutover::transport::{CommandResult, Connection, Limit, RemoteCommand};
use std::time::Duration;

/// A plain (non-sudo) command with a 30 s timeout and a 64 KiB cap.
pub fn script(text: &str) -> RemoteCommand {
    RemoteCommand {
        script: text.to_string(),
        sudo: false,
        timeout: Duration::from_secs(30),
        limit: Limit::Remote,
        output_cap: 64 * 1024,
    }
}

/// Runs `text` and returns the result, panicking on transport errors.
pub async fn run(conn: &Connection, text: &str) -> CommandResult {
    conn.run(&script(text)).await.expect("command runs")
}
