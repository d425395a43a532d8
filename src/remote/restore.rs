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

/// A unit to bring back as it was: enabled and/or started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitBack {
    /// The unit.
    pub unit: String,
    /// It was enabled: enable it.
    pub enable: bool,
    /// It was running: start it.
    pub start: bool,
}

/// The script that enables and/or starts each unit, then proves it.
pub fn enable_script(units: &[UnitBack]) -> String {
    let mut s = String::new();
    for u in units {
        let q = quote(&u.unit);
        if u.enable {
            s.push_str(&format!(
                "systemctl enable {q}\nsystemctl is-enabled --quiet {q} || {{ echo {m} >&2; exit 1; }}\n",
                m = quote(&format!("{} is not enabled after systemctl enable", u.unit)),
            ));
        }
        if u.start {
            s.push_str(&format!(
                "systemctl start {q}\nsystemctl is-active --quiet {q} || {{ echo {m} >&2; exit 1; }}\n",
                m = quote(&format!("{} is not active after systemctl start", u.unit)),
            ));
        }
    }
    s
}

/// The script printing whether a unit is enabled and active (two words).
pub fn unit_state_script(unit: &str) -> String {
    let q = quote(unit);
    format!(
        "if systemctl is-enabled --quiet {q}; then echo enabled; else echo disabled; fi\nif systemctl is-active --quiet {q}; then echo active; else echo inactive; fi\n"
    )
}

/// What `unit_state_script` printed: `(enabled, active)`.
pub fn parse_unit_state(stdout: &str) -> Option<(bool, bool)> {
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let enabled = match *words.first()? {
        "enabled" => true,
        "disabled" => false,
        _ => return None,
    };
    let active = match *words.get(1)? {
        "active" => true,
        "inactive" => false,
        _ => return None,
    };
    Some((enabled, active))
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
    fn units_come_back_as_they_were_and_are_proved() {
        let s = enable_script(&[UnitBack {
            unit: "chef-client".into(),
            enable: true,
            start: true,
        }]);
        assert!(s.starts_with("systemctl enable chef-client\n"), "{s}");
        assert!(s.contains("systemctl start chef-client\nsystemctl is-active --quiet chef-client"));
        let s = enable_script(&[UnitBack {
            unit: "chef-client".into(),
            enable: true,
            start: false,
        }]);
        assert!(!s.contains("start"), "{s}");
        assert_eq!(parse_unit_state("enabled\ninactive\n"), Some((true, false)));
        assert_eq!(parse_unit_state("Failed to get unit\n"), None);
    }
}
