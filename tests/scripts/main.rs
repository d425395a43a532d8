//! Remote scripts (atomic file writes, arming, the job wrapper) run by a real `sh` on this
//! machine: the same scripts go to hosts over SSH.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod arm;
mod files;

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs a script with `sh -s`, as the transport does; returns (exit code, stdout, stderr).
fn sh(script: &str) -> (i32, String, String) {
    let mut child = Command::new("sh")
        .arg("-s")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}
