//! The fixed remote command line and sudo-prompt detection (pure: no values in the shell line).

use super::Limit;
use std::time::Duration;

/// Seconds between the remote TERM and KILL when a command times out.
pub const KILL_AFTER_SECS: u64 = 2;

/// Exit code GNU `timeout` uses when the command timed out.
pub const TIMEOUT_EXIT: u32 = 124;

/// Exit code GNU `timeout` uses when it had to KILL the command.
pub const TIMEOUT_KILLED_EXIT: u32 = 137;

/// The exec line: `timeout` (own process group, kills it all) around `sh -s` reading stdin.
///
/// Only numbers are formatted in; the script itself travels on stdin.
/// A script that bounds itself ([`Limit::Script`]) runs as `exec sh -s`, without `timeout`.
pub fn exec_line(sudo: bool, timeout: Duration, limit: Limit) -> String {
    let secs = timeout.as_secs().max(1);
    let sudo = if sudo { "sudo -n -- " } else { "" };
    match limit {
        Limit::Remote => format!("exec timeout -k {KILL_AFTER_SECS} {secs} {sudo}sh -s"),
        Limit::Script | Limit::Sealed => format!("exec {sudo}sh -s"),
    }
}

/// The line for a self-bounded script on stdin once the login shell is known to be POSIX:
/// that shell reads the script itself (one process on the host, not two); where
/// `/dev/stdin` cannot be read, a second shell does as before.
pub const SOURCE_STDIN: &str = "if [ -r /dev/stdin ]; then . /dev/stdin; else exec sh -s; fi";

/// Stderr fragments that mean sudo wants a password (and so the command did not run).
const SUDO_PROMPTS: &[&str] = &[
    "sudo: a password is required",
    "[sudo] password for",
    "sudo: a terminal is required",
];

/// Whether stderr so far shows sudo asking for a password.
pub fn sudo_wants_password(stderr: &[u8]) -> bool {
    let text = String::from_utf8_lossy(stderr);
    SUDO_PROMPTS.iter().any(|p| text.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_line_is_fixed_apart_from_the_timeout() {
        assert_eq!(
            exec_line(false, Duration::from_secs(30), Limit::Remote),
            "exec timeout -k 2 30 sh -s"
        );
        assert_eq!(
            exec_line(true, Duration::from_millis(200), Limit::Remote),
            "exec timeout -k 2 1 sudo -n -- sh -s"
        );
        assert_eq!(
            exec_line(true, Duration::from_secs(30), Limit::Script),
            "exec sudo -n -- sh -s"
        );
        assert_eq!(
            exec_line(false, Duration::from_secs(30), Limit::Sealed),
            "exec sh -s"
        );
    }

    #[test]
    fn sudo_prompts_are_recognised() {
        assert!(sudo_wants_password(b"sudo: a password is required\n"));
        assert!(sudo_wants_password(b"[sudo] password for deploy: "));
        assert!(!sudo_wants_password(b"permission denied\n"));
    }
}
