//! The account's login shell, learned from the first command on a connection (pure).
//!
//! sshd hands every command line to the account's login shell (`$SHELL -c LINE`), which is
//! why cutover's line is only `exec … sh -s`: it reads the same in sh, bash, csh and fish.
//! Once a host's login shell is known to be a POSIX shell, cutover's own self-bounded
//! scripts ([`super::Limit::Script`]) go as the line itself and the login shell runs them:
//! one process start per command on the host instead of two, which is most of what a disarm
//! round of thousands of hosts costs. The first command on each connection reports `$SHELL`
//! (set by sshd from the password database) as a marked first line of stdout, taken off
//! before anyone reads the output.

/// Whether the login shell runs a POSIX script as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginShell {
    /// sh, dash, bash, ash, ksh, mksh, yash, posh.
    Posix,
    /// Anything else (csh, tcsh, fish, zsh, nologin wrappers, unset): always `sh -s`.
    Other,
}

/// The first line of stdout of a command that reports the login shell.
pub const MARK: &[u8] = b"cutover-login-shell=";

/// The line put in front of a script while the login shell is not known: a builtin, no
/// process.
pub fn report_line() -> String {
    format!(
        "printf '%s\\n' \"{}${{SHELL:-}}\"\n",
        String::from_utf8_lossy(MARK)
    )
}

/// The start of a stdout that should begin with the report line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// Not a whole line yet, and it could still be the report.
    Partial,
    /// The report: `$SHELL`, and the bytes after its line.
    Shell(String, Vec<u8>),
    /// Something else came first (a login script printed): left as output.
    NotOne,
}

/// The longest report line taken: a `$SHELL` path longer than this is not believed.
const MAX_REPORT: usize = 1024;

/// Splits the report line off the start of stdout.
pub fn split_report(start: &[u8]) -> Report {
    let n = start.len().min(MARK.len());
    if start[..n] != MARK[..n] {
        return Report::NotOne;
    }
    match start.iter().position(|&b| b == b'\n') {
        Some(end) if end >= MARK.len() => Report::Shell(
            String::from_utf8_lossy(&start[MARK.len()..end]).into_owned(),
            start[end + 1..].to_vec(),
        ),
        Some(_) => Report::NotOne,
        None if start.len() > MAX_REPORT => Report::NotOne,
        None => Report::Partial,
    }
}

/// What `$SHELL` names.
pub fn classify(shell: &str) -> LoginShell {
    let name = shell.trim().rsplit('/').next().unwrap_or("");
    match name {
        "sh" | "dash" | "bash" | "ash" | "ksh" | "ksh93" | "mksh" | "yash" | "posh" => {
            LoginShell::Posix
        }
        _ => LoginShell::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_posix_shells_run_scripts_as_the_line() {
        for s in [
            "/bin/sh",
            "/bin/bash",
            "/usr/bin/dash",
            "/bin/ksh93",
            "bash",
        ] {
            assert_eq!(classify(s), LoginShell::Posix, "{s}");
        }
        for s in [
            "",
            "/bin/zsh",
            "/usr/bin/fish",
            "/bin/tcsh",
            "/bin/csh",
            "/usr/sbin/nologin",
            "/bin/sh/evil/fish",
        ] {
            assert_eq!(classify(s), LoginShell::Other, "{s}");
        }
    }

    #[test]
    fn the_report_line_is_split_off_however_it_arrives() {
        let all = b"cutover-login-shell=/bin/bash\nhello\n";
        for cut in 1..all.len() {
            let mut seen = all[..cut].to_vec();
            let (shell, mut rest) = match split_report(&seen) {
                Report::Partial => {
                    seen.extend_from_slice(&all[cut..]);
                    match split_report(&seen) {
                        Report::Shell(s, r) => (s, r),
                        other => panic!("cut at {cut}: {other:?}"),
                    }
                }
                Report::Shell(s, mut r) => {
                    r.extend_from_slice(&all[cut..]);
                    (s, r)
                }
                Report::NotOne => panic!("cut at {cut}"),
            };
            rest.truncate(6);
            assert_eq!(
                (shell.as_str(), rest.as_slice()),
                ("/bin/bash", &b"hello\n"[..]),
                "cut at {cut}"
            );
        }
        assert_eq!(
            split_report(b"Welcome!\ncutover-login-shell=/bin/sh\n"),
            Report::NotOne
        );
        assert_eq!(split_report(b"cutover"), Report::Partial);
        assert_eq!(split_report(&[b'c'; 2000]), Report::NotOne);
    }

    #[test]
    fn the_report_is_a_builtin_and_marked() {
        let out = std::process::Command::new("sh")
            .args(["-c", &report_line()])
            .env("SHELL", "/bin/bash")
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"cutover-login-shell=/bin/bash\n");
        assert!(report_line().starts_with("printf "));
    }
}
