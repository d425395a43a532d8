//! Leaving nothing sensitive on a host: once a host's job can no longer fire (it fired and
//! finished, skipped, or was disarmed), the job wrapper (which holds the action's command,
//! secrets included, base64-encoded) and the action's output are removed from the run's
//! directory; the receipt and the `disarmed` tombstone stay, so `report`, `resume` and a
//! late re-arm still know what happened. Pure: the script and the parsing of its answer.

use crate::remote::quote;

/// Files a cleanup removes: the job wrapper and everything the action printed.
pub const SENSITIVE: &[&str] = &["job.sh", "job.sh.tmp", "output", "output.tail"];

/// What a cleanup did on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    /// The sensitive files were removed (receipt and tombstone kept).
    Removed,
    /// The run's directory does not exist on the host (nothing was ever installed there).
    Absent,
    /// Kept, because the job may still run (no finished receipt and no tombstone).
    Kept {
        /// Why.
        reason: String,
    },
    /// The script's answer was not understood: treat the files as still there.
    Unknown {
        /// What the host printed.
        output: String,
    },
}

/// The script removing a host's sensitive run files from `dir`, only when the job cannot
/// run any more: its receipt has `done=1` or `skipped=...`, or the run was disarmed and the
/// action never started. Prints `cleanup=removed|absent|kept`. The receipt is read by shell
/// builtins (only a regular file: a FIFO put in its place cannot hang the script) and `rm`
/// runs only when there is something to remove, so the script bounds itself and costs the
/// host at most one process besides its shell. It never exits, so another script (the lease
/// release) may follow it in the same command.
pub fn script(dir: &str) -> String {
    let files = SENSITIVE.join(" ");
    format!(
        "d={d}\n\
         if [ ! -d \"$d\" ]; then echo cleanup=absent\n\
         else\n\
         r=\"$d/receipt\"; over=; started=\n\
         if [ -f \"$r\" ]; then while IFS= read -r l || [ -n \"$l\" ]; do case \"$l\" in done=1|skipped=*) over=1;; started_ns=*) started=1;; esac; done < \"$r\"; fi\n\
         if [ -n \"$over\" ] || {{ [ -e \"$d/disarmed\" ] && [ -z \"$started\" ]; }}; then\n\
         set --\n\
         for f in {files}; do if [ -e \"$d/$f\" ] || [ -L \"$d/$f\" ]; then set -- \"$@\" \"$d/$f\"; fi; done\n\
         if [ $# -eq 0 ] || rm -f -- \"$@\"; then echo cleanup=removed; else echo 'cleanup=failed: rm'; fi\n\
         else echo 'cleanup=kept the job may still fire or is running'; fi\n\
         fi\n",
        d = quote(dir),
    )
}

/// Reads the script's answer.
pub fn parse(stdout: &str) -> Cleanup {
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cleanup="));
    match line.and_then(|l| l.strip_prefix("cleanup=")) {
        Some("removed") => Cleanup::Removed,
        Some("absent") => Cleanup::Absent,
        Some(k) if k.starts_with("kept") => Cleanup::Kept {
            reason: k.trim_start_matches("kept").trim().to_string(),
        },
        _ => Cleanup::Unknown {
            output: crate::sanitize::visible(stdout.trim()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_is_quoted_and_only_sensitive_files_go() {
        let s = script("/var/tmp/cutover/r 1");
        assert!(s.starts_with("d='/var/tmp/cutover/r 1'\n"), "{s}");
        assert!(
            s.contains("for f in job.sh job.sh.tmp output output.tail; do"),
            "{s}"
        );
        assert!(!s.contains("grep"), "builtins only: {s}");
    }

    #[test]
    fn answers_are_parsed_and_anything_else_is_unknown() {
        assert_eq!(parse("cleanup=removed\n"), Cleanup::Removed);
        assert_eq!(parse("cleanup=absent\n"), Cleanup::Absent);
        assert_eq!(
            parse("cleanup=kept the job may still fire or is running\n"),
            Cleanup::Kept {
                reason: "the job may still fire or is running".into()
            }
        );
        assert!(
            matches!(parse("\u{1b}]52;c;x\u{7}"), Cleanup::Unknown { output } if output.contains("\\u{1b}"))
        );
    }
}
