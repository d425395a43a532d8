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
/// run any more: its receipt ends in `done=1` or `skipped=...`, or the run was disarmed and
/// the action never started. Prints `cleanup=removed|absent|kept`.
pub fn script(dir: &str) -> String {
    let files: Vec<String> = SENSITIVE.iter().map(|f| format!("\"$d\"/{f}")).collect();
    format!(
        "d={d}\n\
         if [ ! -d \"$d\" ]; then echo cleanup=absent; exit 0; fi\n\
         r=\"$d/receipt\"\n\
         if [ -f \"$r\" ] && grep -q '^done=1$' \"$r\"; then :\n\
         elif [ -f \"$r\" ] && grep -q '^skipped=' \"$r\"; then :\n\
         elif [ -e \"$d/disarmed\" ] && ! grep -qs '^started_ns=' \"$r\"; then :\n\
         else echo 'cleanup=kept the job may still fire or is running'; exit 0; fi\n\
         rm -f -- {files} || exit 1\n\
         echo cleanup=removed\n",
        d = quote(dir),
        files = files.join(" ")
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
            s.contains("rm -f -- \"$d\"/job.sh \"$d\"/job.sh.tmp \"$d\"/output \"$d\"/output.tail")
        );
        assert!(!s.contains("receipt\"\n rm") && !s.contains("/disarmed "));
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
