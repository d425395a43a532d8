//! Whether an ssh config tells hosts apart, so one `ssh -G` can stand for every host.
//!
//! `ssh -G` costs a process start (a few ms of CPU on a VM); at 10,000 hosts asking it once per
//! host was three quarters of the orchestrator's CPU. A config whose every line applies to every
//! host (no `Host` pattern but `*`, no `Match` but `all`, no `%` token, no `HostName` and no
//! canonicalisation) resolves every alias the same way, apart from the host name itself, so the
//! resolver asks once per user and port. The scan is pure and errs towards "per host": anything
//! it does not recognise as uniform sends every host to `ssh -G` as before. Files and `Include`s
//! are read by [`config_is_uniform`].

use std::path::{Path, PathBuf};

/// `Include` depth past which the config counts as per host (OpenSSH stops at 16).
const MAX_INCLUDE_DEPTH: usize = 16;

/// What one config file's text says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Every line applies to every host; these `Include` arguments still have to be read.
    Uniform {
        /// The arguments of every `Include` line, as written.
        includes: Vec<String>,
    },
    /// Some line may resolve one host differently from another.
    PerHost,
}

/// Scans one config file's text (pure).
pub fn scan(text: &str) -> Scan {
    let mut includes = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('%') {
            return Scan::PerHost;
        }
        let (keyword, rest) = split_keyword(line);
        let args: Vec<&str> = rest.split_whitespace().collect();
        match keyword.to_ascii_lowercase().as_str() {
            "host" if args.iter().all(|a| *a == "*" || *a == "\"*\"") => {}
            "match" if args.iter().all(|a| a.eq_ignore_ascii_case("all")) => {}
            "host" | "match" | "hostname" | "canonicalizehostname" | "canonicaldomains" => {
                return Scan::PerHost;
            }
            "include" => includes.extend(args.iter().map(|a| a.trim_matches('"').to_string())),
            _ => {}
        }
    }
    Scan::Uniform { includes }
}

/// `Keyword value` or `Keyword=value`.
fn split_keyword(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    (&line[..end], rest)
}

/// Whether `name` matches `pattern` (`*` any run, `?` one character), as `Include` globs do:
/// case-sensitive, unlike host patterns.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    crate::transport::known_hosts::glob(&p, &n)
}

/// Whether the config ssh would read (`config`, or the account's `~/.ssh/config` and
/// `/etc/ssh/ssh_config`) with every `Include` is [`Scan::Uniform`]. Any file that exists but
/// cannot be read, or an `Include` glob outside the file name, counts as per host.
pub fn config_is_uniform(config: Option<&Path>, home: &Path) -> bool {
    let user_dir = home.join(".ssh");
    let files: Vec<(PathBuf, PathBuf)> = match config {
        Some(path) => vec![(path.to_path_buf(), user_dir)],
        None => vec![
            (user_dir.join("config"), user_dir),
            (
                PathBuf::from("/etc/ssh/ssh_config"),
                PathBuf::from("/etc/ssh"),
            ),
        ],
    };
    files
        .iter()
        .all(|(file, base)| file_is_uniform(file, base, home, 0))
}

fn file_is_uniform(file: &Path, base: &Path, home: &Path, depth: usize) -> bool {
    if depth > MAX_INCLUDE_DEPTH {
        return false;
    }
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return e.kind() == std::io::ErrorKind::NotFound,
    };
    let Scan::Uniform { includes } = scan(&text) else {
        return false;
    };
    includes.iter().all(|inc| {
        let path = super::expand(inc, home);
        let path = if path.is_absolute() {
            path
        } else {
            base.join(path)
        };
        match included(&path) {
            Some(files) => files
                .iter()
                .all(|f| file_is_uniform(f, base, home, depth + 1)),
            None => false,
        }
    })
}

/// The files an `Include` path names: itself, or the matches of a glob in its file name
/// (`None`: a glob elsewhere in the path, or a directory that cannot be listed).
fn included(path: &Path) -> Option<Vec<PathBuf>> {
    let globbed = |s: &str| s.contains(['*', '?', '[']);
    let (dir, name) = (path.parent()?, path.file_name()?.to_str()?);
    if globbed(&dir.to_string_lossy()) {
        return None;
    }
    if !globbed(name) {
        return Some(vec![path.to_path_buf()]);
    }
    if name.contains('[') {
        return None;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Vec::new()),
        Err(_) => return None,
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| glob_match(name, n)))
        .map(|e| e.path())
        .collect();
    files.sort();
    Some(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(includes: &[&str]) -> Scan {
        Scan::Uniform {
            includes: includes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn the_debian_default_config_is_the_same_for_every_host() {
        let debian = "Include /etc/ssh/ssh_config.d/*.conf\n\nHost *\n#   ForwardAgent no\n    SendEnv LANG LC_*\n    HashKnownHosts yes\n    GSSAPIAuthentication yes\n";
        assert_eq!(scan(debian), uniform(&["/etc/ssh/ssh_config.d/*.conf"]));
        assert_eq!(scan(""), uniform(&[]));
        assert_eq!(
            scan("Match all\nUser=ops\nServerAliveInterval 10\n"),
            uniform(&[])
        );
    }

    #[test]
    fn anything_that_can_tell_hosts_apart_sends_each_host_to_ssh_g() {
        for text in [
            "Host bastion\n  User jump\n",
            "Host * !bastion\n  User ops\n",
            "Host *.prod\n",
            "Match host db-*\n",
            "Match exec \"true\"\n",
            "Match canonical all\n",
            "Host *\n  HostName real.example\n",
            "Host *\n  IdentityFile ~/.ssh/%h\n",
            "CanonicalizeHostname yes\n",
            "canonicaldomains example.com\n",
            "HOST=lab-1\n",
        ] {
            assert_eq!(scan(text), Scan::PerHost, "{text:?}");
        }
    }

    #[test]
    fn include_globs_match_file_names() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(glob_match("*.conf", ".conf"));
        assert!(!glob_match("*.conf", "a.conf.bak"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*", "anything"));
    }

    #[test]
    fn a_config_and_its_includes_are_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let d = home.join("conf.d");
        std::fs::create_dir(&d).unwrap();
        let main = home.join("config");
        std::fs::write(
            &main,
            format!("Include {}/*.conf\nHost *\n  User ops\n", d.display()),
        )
        .unwrap();
        std::fs::write(d.join("a.conf"), "ServerAliveInterval 5\n").unwrap();
        std::fs::write(d.join("b.txt"), "Host special\n").unwrap();
        assert!(config_is_uniform(Some(&main), home));
        std::fs::write(d.join("c.conf"), "Host special\n  User root\n").unwrap();
        assert!(!config_is_uniform(Some(&main), home));
        // A missing file reads as empty, as ssh reads it; a glob in a directory does not scan.
        assert!(config_is_uniform(Some(&home.join("absent")), home));
        std::fs::write(&main, "Include /etc/*/x.conf\n").unwrap();
        assert!(!config_is_uniform(Some(&main), home));
    }

    #[test]
    fn includes_that_loop_count_as_per_host() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("config");
        std::fs::write(&main, format!("Include {}\n", main.display())).unwrap();
        assert!(!config_is_uniform(Some(&main), dir.path()));
    }
}
