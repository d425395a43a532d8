//! The known_hosts index: lines parsed once, exact names hashed, wildcard and hashed lines apart.
//!
//! A fleet of N hosts checked against an N-line file used to cost N² pattern matches, each
//! allocating; the index makes a lookup one hash probe for literal names (the common case:
//! what `cutover hostkeys scan` and `ssh-keyscan` write), plus one glob per wildcard line and
//! one HMAC per hashed line, with nothing compiled per lookup but the looked-up name.

use super::{Entry, Marker, Verdict, decide, decode_hashed, glob};
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::PublicKey;
use russh::keys::ssh_key::public::KeyData;
use sha1::Sha1;
use std::collections::HashMap;

/// known_hosts entries indexed for lookups; agrees with [`super::check`] on every input.
#[derive(Debug, Default)]
pub struct KnownHosts {
    /// Every parsed entry, in file order (files in search order).
    entries: Vec<Entry>,
    /// How each entry matches a name, aligned with `entries`.
    matchers: Vec<Matcher>,
    /// The first `@revoked` entry per key.
    revoked: HashMap<KeyData, usize>,
    /// Lowercased literal name → trusted entries whose positive patterns are all literal and
    /// include it, ascending.
    exact: HashMap<String, Vec<usize>>,
    /// Trusted entries that must be tried on every lookup (a wildcard positive, or hashed),
    /// ascending.
    scan: Vec<usize>,
}

/// How one trusted entry's host field matches, compiled once.
#[derive(Debug)]
enum Matcher {
    /// Revoked or CA lines, undecodable hashes, and fields with no positive pattern.
    Never,
    /// `|1|salt|hash`: the HMAC already keyed with the salt (half its work), and the hash.
    Hashed(Keyed),
    /// A comma list of patterns, lowercased.
    Patterns(Vec<Pattern>),
}

/// A hashed entry's HMAC-SHA1, keyed with its salt once, and the hash it must produce.
#[derive(Clone)]
struct Keyed {
    mac: Hmac<Sha1>,
    hash: Vec<u8>,
}

impl std::fmt::Debug for Keyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyed").field("hash", &self.hash).finish()
    }
}

/// One pattern of a comma list.
#[derive(Debug)]
struct Pattern {
    negated: bool,
    chars: Vec<char>,
}

impl Pattern {
    fn is_literal(&self) -> bool {
        !self.chars.iter().any(|c| *c == '*' || *c == '?')
    }
}

impl KnownHosts {
    /// Indexes `entries` (in file order).
    pub fn new(entries: Vec<Entry>) -> Self {
        let mut index = KnownHosts::default();
        for (i, entry) in entries.iter().enumerate() {
            if entry.marker == Marker::Revoked {
                index
                    .revoked
                    .entry(entry.key.key_data().clone())
                    .or_insert(i);
            }
            let matcher = compile(entry);
            match &matcher {
                Matcher::Never => {}
                Matcher::Hashed(_) => index.scan.push(i),
                Matcher::Patterns(patterns) => index.place(i, patterns),
            }
            index.matchers.push(matcher);
        }
        index.entries = entries;
        index
    }

    /// Files an entry of patterns under its literal names, or on the scan list.
    fn place(&mut self, i: usize, patterns: &[Pattern]) {
        let positives = || patterns.iter().filter(|p| !p.negated);
        if !positives().all(Pattern::is_literal) {
            self.scan.push(i);
            return;
        }
        for p in positives() {
            let name: String = p.chars.iter().collect();
            let slot = self.exact.entry(name).or_default();
            if slot.last() != Some(&i) {
                slot.push(i);
            }
        }
    }

    /// How many entries were parsed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was parsed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks `key` presented by the host looked up as `name`, fail-closed.
    pub fn check(&self, name: &str, key: &PublicKey) -> Verdict {
        let revoked = self.revoked.get(key.key_data()).map(|&i| &self.entries[i]);
        let lower = name.to_lowercase();
        let chars: Vec<char> = lower.chars().collect();
        let literal = self.exact.get(&lower).map(Vec::as_slice).unwrap_or(&[]);
        let for_host: Vec<&Entry> = merge(literal, &self.scan)
            .filter(|&i| self.matchers[i].matches(name, &chars))
            .map(|i| &self.entries[i])
            .collect();
        decide(revoked, &for_host, key)
    }
}

/// Compiles a trusted entry's host field; anything else never matches a host.
fn compile(entry: &Entry) -> Matcher {
    if entry.marker != Marker::Trusted {
        return Matcher::Never;
    }
    if let Some(hashed) = entry.hosts.strip_prefix("|1|") {
        return match decode_hashed(hashed) {
            Some((salt, hash)) => match <Hmac<Sha1> as KeyInit>::new_from_slice(&salt) {
                Ok(mac) => Matcher::Hashed(Keyed { mac, hash }),
                Err(_) => Matcher::Never,
            },
            None => Matcher::Never,
        };
    }
    let patterns: Vec<Pattern> = entry
        .hosts
        .split(',')
        .map(|p| {
            let (negated, body) = match p.strip_prefix('!') {
                Some(body) => (true, body),
                None => (false, p),
            };
            let chars = body.to_lowercase().chars().collect();
            Pattern { negated, chars }
        })
        .collect();
    if patterns.iter().all(|p| p.negated) {
        return Matcher::Never;
    }
    Matcher::Patterns(patterns)
}

impl Matcher {
    /// Whether the host field matches `name` (`lower` is its lowercased characters).
    fn matches(&self, name: &str, lower: &[char]) -> bool {
        match self {
            Matcher::Never => false,
            Matcher::Hashed(keyed) => {
                let mut mac = keyed.mac.clone();
                mac.update(name.as_bytes());
                mac.verify_slice(&keyed.hash).is_ok()
            }
            Matcher::Patterns(patterns) => {
                let mut positive = false;
                for p in patterns {
                    let hit = glob(&p.chars, lower);
                    if p.negated && hit {
                        return false;
                    }
                    positive |= !p.negated && hit;
                }
                positive
            }
        }
    }
}

/// Two ascending index lists merged into one ascending sequence (they share no index).
fn merge<'a>(a: &'a [usize], b: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
    let (mut a, mut b) = (a.iter().peekable(), b.iter().peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x <= y => a.next().copied(),
        (_, Some(_)) => b.next().copied(),
        (Some(_), None) => a.next().copied(),
        (None, None) => None,
    })
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
