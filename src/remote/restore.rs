//! The shell of `cutover rollback` on a host: read the checksums of staged files and their
//! backups, put the originals back (every guard first, then every move, so a guard that
//! fails leaves the host untouched), and re-enable units; plus the pure output parsers.

use super::quote;

/// Prints the sha256 of a path, or `MISSING`.
const SHA: &str = "sha() { if [ -e \"$1\" ]; then sha256sum -- \"$1\" | cut -d' ' -f1; else echo MISSING; fi; }\n";

/// Where staging kept a file's original.
pub fn backup_of(file: &str) -> String {
    format!("{file}.cutover-bak")
}

/// The script printing, for each file, two lines: its sha256 and its backup's (or `MISSING`).
pub fn seen_script(files: &[&str]) -> String {
    let mut s = String::from(SHA);
    for f in files {
        s.push_str(&format!("sha {}\nsha {}\n", quote(f), quote(&backup_of(f))));
    }
    s
}

/// A file's sha256 and its backup's, as read (`None`: missing).
pub type Pair = (Option<String>, Option<String>);

/// What `seen_script` printed: `(live, backup)` per file, `None` for missing.
pub fn parse_seen(stdout: &str, files: usize) -> Result<Vec<Pair>, String> {
    let lines = parse_shas(stdout, files * 2)?;
    Ok(lines
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect())
}

/// One change of a restore script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Put {
    /// Move `FILE.cutover-bak` (whose sha256 must be `original`) over `FILE`.
    Back {
        /// The file.
        file: String,
        /// What the file must still be (sha256, `None`: missing) when the move runs.
        live: Option<String>,
        /// The backup's (the original's) sha256.
        original: String,
    },
    /// Remove `FILE` (staging created it), which must still be `live`.
    Remove {
        /// The file.
        file: String,
        /// What it must still be.
        live: Option<String>,
    },
}

impl Put {
    /// The file it changes.
    pub fn file(&self) -> &str {
        match self {
            Put::Back { file, .. } | Put::Remove { file, .. } => file,
        }
    }
}

/// The script that checks every file and backup is still as read (exit 3 if not, nothing
/// changed), then restores them, fsyncs their directories and prints each file's sha256 (or
/// `MISSING`) in order.
pub fn restore_script(puts: &[Put]) -> String {
    let mut s = String::from("set -eu\n");
    s.push_str(SHA);
    s.push_str("guard() { [ \"$(sha \"$1\")\" = \"$2\" ] || { echo \"cutover: $1 changed since it was read; nothing restored\" >&2; exit 3; }; }\n");
    let want = |sha: &Option<String>| quote(sha.as_deref().unwrap_or("MISSING"));
    for p in puts {
        match p {
            Put::Back {
                file,
                live,
                original,
            } => s.push_str(&format!(
                "guard {} {}\nguard {} {}\n",
                quote(file),
                want(live),
                quote(&backup_of(file)),
                quote(original)
            )),
            Put::Remove { file, live } => {
                s.push_str(&format!("guard {} {}\n", quote(file), want(live)))
            }
        }
    }
    for p in puts {
        let f = quote(p.file());
        match p {
            Put::Back { file, .. } => {
                s.push_str(&format!("mv -f -- {} {f}\n", quote(&backup_of(file))))
            }
            Put::Remove { .. } => s.push_str(&format!("rm -f -- {f}\n")),
        }
        s.push_str(&format!("sync \"$(dirname -- {f})\" 2>/dev/null || true\n"));
    }
    for p in puts {
        s.push_str(&format!("sha {}\n", quote(p.file())));
    }
    s
}

/// What `restore_script` printed at its end: each file's sha256 (`None`: missing).
pub fn parse_restored(stdout: &str, files: usize) -> Result<Vec<Option<String>>, String> {
    parse_shas(stdout, files)
}

/// The script that enables and starts each unit, then proves it is enabled and active.
pub fn enable_script(units: &[String]) -> String {
    let mut s = String::new();
    for u in units {
        let q = quote(u);
        s.push_str(&format!(
            "systemctl enable --now {q}\nsystemctl is-enabled --quiet {q} || {{ echo {m1} >&2; exit 1; }}\nsystemctl is-active --quiet {q} || {{ echo {m2} >&2; exit 1; }}\n",
            m1 = quote(&format!("{u} is not enabled after systemctl enable")),
            m2 = quote(&format!("{u} is not active after systemctl enable --now")),
        ));
    }
    s
}

/// The last `n` lines of `stdout`, each a sha256 or `MISSING`.
fn parse_shas(stdout: &str, n: usize) -> Result<Vec<Option<String>>, String> {
    let lines: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() < n {
        return Err(format!(
            "expected {n} checksum line(s), got {}: {}",
            lines.len(),
            stdout.trim()
        ));
    }
    lines[lines.len() - n..]
        .iter()
        .map(|l| match *l {
            "MISSING" => Ok(None),
            sha if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Some(sha.to_string()))
            }
            other => Err(format!("unexpected checksum line `{other}`")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn seen_output_pairs_each_file_with_its_backup() {
        let out = format!("{A}\nMISSING\nMISSING\n{A}\n");
        assert_eq!(
            parse_seen(&out, 2).unwrap(),
            vec![(Some(A.into()), None), (None, Some(A.into()))]
        );
        assert!(parse_seen("MISSING\n", 1).is_err());
        assert!(parse_seen("garbage\nMISSING\n", 1).is_err());
    }

    #[test]
    fn every_guard_runs_before_any_move_and_paths_are_quoted() {
        let s = restore_script(&[
            Put::Back {
                file: "/etc/a b".into(),
                live: Some(A.into()),
                original: A.into(),
            },
            Put::Remove {
                file: "/etc/x$(id)".into(),
                live: None,
            },
        ]);
        let last_guard = s.rfind("guard '").unwrap();
        let first_move = s.find("mv -f").unwrap();
        assert!(last_guard < first_move, "{s}");
        assert!(
            s.contains("mv -f -- '/etc/a b.cutover-bak' '/etc/a b'"),
            "{s}"
        );
        assert!(s.contains("rm -f -- '/etc/x$(id)'"), "{s}");
        assert!(s.contains("guard '/etc/x$(id)' MISSING"), "{s}");
    }

    #[test]
    fn units_are_proved_enabled_and_active() {
        let s = enable_script(&["chef-client".into()]);
        assert!(s.starts_with("systemctl enable --now chef-client\n"));
        assert!(s.contains("is-active --quiet chef-client"));
    }
}
