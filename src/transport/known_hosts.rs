//! Pure known_hosts parsing and strict host-key matching (plain, hashed, wildcard, negated, revoked).
//!
//! [`KnownHosts`] is what connections use: the files parsed once into an index, so a lookup
//! costs a hash probe plus the wildcard and hashed lines, not a scan of every line. [`check`]
//! is the plain linear matcher the index must agree with; the tests and the `known_hosts`
//! benchmark compare the two.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::PublicKey;
use sha1::Sha1;
use std::path::{Path, PathBuf};

mod index;

pub use index::KnownHosts;

/// What a known_hosts line says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// An ordinary trusted host key.
    Trusted,
    /// `@revoked`: this key must never be accepted.
    Revoked,
    /// `@cert-authority`: a CA key vouching for host certificates (see `host_cert`).
    CertAuthority,
}

/// One parsed known_hosts line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// File the line came from.
    pub file: PathBuf,
    /// 1-based line number in that file.
    pub line: usize,
    /// The line's marker.
    pub marker: Marker,
    /// The host field: a comma list of patterns, or one `|1|salt|hash` entry.
    pub hosts: String,
    /// The key on the line.
    pub key: PublicKey,
}

/// The verdict for a presented host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A trusted line matches host and key.
    Trusted,
    /// A `@revoked` line holds this key.
    Revoked {
        /// File holding the `@revoked` line.
        file: PathBuf,
        /// Its 1-based line number.
        line: usize,
    },
    /// The host is known, but with other keys; the named line is the first one for this host.
    Changed {
        /// File holding the line for this host.
        file: PathBuf,
        /// Its 1-based line number.
        line: usize,
    },
    /// No line names this host.
    Unknown,
}

/// The name OpenSSH looks up: `addr`, or `[addr]:port` when the port is not 22.
pub fn lookup_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// Parses a known_hosts file; unparsable lines are skipped, as OpenSSH does.
pub fn parse(file: &Path, text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| parse_line(file, i + 1, line))
        .collect()
}

/// Parses one line, or `None` for comments, blanks and malformed lines.
fn parse_line(file: &Path, line: usize, text: &str) -> Option<Entry> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return None;
    }
    let mut fields = text.split_whitespace();
    let mut first = fields.next()?;
    let marker = match first {
        "@revoked" => Marker::Revoked,
        "@cert-authority" => Marker::CertAuthority,
        m if m.starts_with('@') => return None,
        _ => Marker::Trusted,
    };
    if marker != Marker::Trusted {
        first = fields.next()?;
    }
    let (algo, blob) = (fields.next()?, fields.next()?);
    let key = PublicKey::from_openssh(&format!("{algo} {blob}")).ok()?;
    Some(Entry {
        file: file.to_path_buf(),
        line,
        marker,
        hosts: first.to_string(),
        key,
    })
}

/// Checks `key` presented by the host looked up as `name` against every entry, fail-closed.
///
/// This is the reference matcher: it scans every entry and compiles every pattern per call,
/// which is quadratic over a fleet. Connections use [`KnownHosts::check`], which agrees with it.
pub fn check(entries: &[Entry], name: &str, key: &PublicKey) -> Verdict {
    let revoked = entries
        .iter()
        .find(|e| e.marker == Marker::Revoked && e.key.key_data() == key.key_data());
    let for_host: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.marker == Marker::Trusted && host_matches(&e.hosts, name))
        .collect();
    decide(revoked, &for_host, key)
}

/// The verdict from the first `@revoked` line holding `key` and the trusted lines naming the
/// host, in file order: revoked beats trusted, and a changed key points at the first line of
/// the same algorithm, else the first line for the host.
fn decide(revoked: Option<&Entry>, for_host: &[&Entry], key: &PublicKey) -> Verdict {
    if let Some(e) = revoked {
        return Verdict::Revoked {
            file: e.file.clone(),
            line: e.line,
        };
    }
    if for_host.iter().any(|e| e.key.key_data() == key.key_data()) {
        return Verdict::Trusted;
    }
    let same_algo = for_host
        .iter()
        .find(|e| e.key.algorithm() == key.algorithm());
    match same_algo.or(for_host.first()) {
        Some(e) => Verdict::Changed {
            file: e.file.clone(),
            line: e.line,
        },
        None => Verdict::Unknown,
    }
}

/// Whether a host field matches `name`: hashed, or a comma list where any `!` match vetoes.
pub fn host_matches(hosts: &str, name: &str) -> bool {
    if let Some(hashed) = hosts.strip_prefix("|1|") {
        return hashed_matches(hashed, name);
    }
    let mut positive = false;
    for pattern in hosts.split(',') {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_matches(negated, name) => return false,
            Some(_) => {}
            None => positive |= wildcard_matches(pattern, name),
        }
    }
    positive
}

/// Matches `salt|hash` (base64) against HMAC-SHA1(salt, name).
fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    decode_hashed(salt_and_hash).is_some_and(|(salt, hash)| hmac_matches(&salt, &hash, name))
}

/// The decoded salt and hash of a `salt|hash` field, or `None` when it is not base64.
fn decode_hashed(salt_and_hash: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let (salt, hash) = salt_and_hash.split_once('|')?;
    Some((STANDARD.decode(salt).ok()?, STANDARD.decode(hash).ok()?))
}

/// Whether HMAC-SHA1(salt, name) is `hash`.
fn hmac_matches(salt: &[u8], hash: &[u8], name: &str) -> bool {
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(hash).is_ok()
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character), as in OpenSSH.
pub fn wildcard_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    glob(&p, &n)
}

/// Iterative glob with single-star backtracking (`*` any run, `?` one character), as given:
/// callers fold case where the match ignores it.
pub fn glob(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
#[path = "known_hosts_tests.rs"]
mod tests;
