//! pdsh/pssh-style host ranges (`web[01-20]`, `db[1-3,7]`) and the host-list file format.

use std::collections::BTreeMap;

use super::{DEFAULT_PORT, Host, HostlistError, Inventory, InventoryError, InventorySource};
use super::{Position, stem_name};

/// Most names one pattern may expand to: far above any real fleet, low enough that a typo
/// like `[0-99999999]` fails fast instead of exhausting memory.
pub const MAX_EXPANSION: usize = 100_000;

/// One piece of a pattern: literal text or the list of alternatives of a bracket group.
enum Part {
    Literal(String),
    Choices(Vec<String>),
}

/// Expands every bracket group of `pattern` and returns the cartesian product, left to right.
pub fn expand_hostlist(pattern: &str) -> Result<Vec<String>, HostlistError> {
    if pattern.trim().is_empty() {
        return Err(HostlistError::Empty);
    }
    let parts = split_parts(pattern)?;
    let total = parts.iter().try_fold(1usize, |acc, part| match part {
        Part::Literal(_) => Some(acc),
        Part::Choices(c) => acc.checked_mul(c.len()),
    });
    if total.is_none_or(|t| t > MAX_EXPANSION) {
        return Err(too_large(pattern));
    }
    let mut names = vec![String::new()];
    for part in &parts {
        names = match part {
            Part::Literal(lit) => names.into_iter().map(|n| n + lit).collect(),
            Part::Choices(choices) => names
                .iter()
                .flat_map(|n| choices.iter().map(move |c| format!("{n}{c}")))
                .collect(),
        };
    }
    Ok(names)
}

fn too_large(pattern: &str) -> HostlistError {
    HostlistError::TooLarge {
        pattern: pattern.to_string(),
        limit: MAX_EXPANSION,
    }
}

fn split_parts(pattern: &str) -> Result<Vec<Part>, HostlistError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut chars = pattern.char_indices();
    while let Some((start, ch)) = chars.next() {
        match ch {
            '[' => {
                let col = pattern[..start].chars().count() + 1;
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some((_, ']')) => break,
                        Some((i, '[')) => return Err(stray(pattern, '[', i)),
                        Some((_, c)) => body.push(c),
                        None => {
                            let pattern = pattern.to_string();
                            return Err(HostlistError::Unclosed { pattern, col });
                        }
                    }
                }
                parts.push(Part::Literal(std::mem::take(&mut literal)));
                parts.push(Part::Choices(expand_body(pattern, &body)?));
            }
            ']' => return Err(stray(pattern, ']', start)),
            c => literal.push(c),
        }
    }
    parts.push(Part::Literal(literal));
    Ok(parts)
}

fn stray(pattern: &str, ch: char, offset: usize) -> HostlistError {
    let col = pattern[..offset.min(pattern.len())].chars().count() + 1;
    HostlistError::Stray {
        pattern: pattern.to_string(),
        ch,
        col,
    }
}

/// Expands the inside of one bracket group: `1-3,7,10-12` with zero padding kept.
fn expand_body(pattern: &str, body: &str) -> Result<Vec<String>, HostlistError> {
    let mut out = Vec::new();
    for item in body.split(',') {
        let bad = || HostlistError::BadItem {
            pattern: pattern.to_string(),
            item: item.to_string(),
        };
        let (lo, hi) = item.split_once('-').unwrap_or((item, item));
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(lo) || !digits(hi) {
            return Err(bad());
        }
        let (start, end): (u64, u64) = (
            lo.parse().map_err(|_| bad())?,
            hi.parse().map_err(|_| bad())?,
        );
        if end < start {
            let item = item.to_string();
            return Err(HostlistError::Backwards {
                pattern: pattern.to_string(),
                item,
            });
        }
        if (end - start) as usize >= MAX_EXPANSION
            || out.len() + ((end - start) as usize) >= MAX_EXPANSION
        {
            return Err(too_large(pattern));
        }
        let width = if lo.len() > 1 && lo.starts_with('0') {
            lo.len()
        } else {
            0
        };
        out.extend((start..=end).map(|n| format!("{n:0width$}")));
    }
    Ok(out)
}

/// Parses a host-list file: every host is in no group but the implicit `all`.
pub(super) fn parse_file(text: &str, source: InventorySource) -> Result<Inventory, InventoryError> {
    if let Some((kind, at)) = ansible_source(text) {
        return Err(InventoryError::AnsibleSource {
            origin: source.origin,
            at,
            kind,
        });
    }
    let mut hosts: Vec<Host> = Vec::new();
    let mut seen: BTreeMap<String, Position> = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let at = Position::line(index + 1);
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        for host in parse_line(line, at, &source.origin)? {
            if let Some(first) = seen.insert(host.name.clone(), at) {
                return Err(InventoryError::DuplicateHost {
                    origin: source.origin.clone(),
                    name: host.name,
                    first,
                    second: at,
                });
            }
            hosts.push(host);
        }
    }
    Ok(Inventory {
        name: stem_name(&source.origin),
        production: false,
        hosts,
        source,
    })
}

/// An Ansible INI or YAML inventory passed as is: a `[group]` header or `host key=value`
/// line (INI), or a `---` / `key:` line (YAML), none of which a host list can have.
fn ansible_source(text: &str) -> Option<(&'static str, Position)> {
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let at = Position::line(index + 1);
        if (line.starts_with('[') && line.ends_with(']')) || line.contains('=') {
            return Some(("INI", at));
        }
        if line == "---" || line.ends_with(':') || line.contains(": ") {
            return Some(("YAML", at));
        }
    }
    None
}

/// Parses one `[user@]pattern[:port]` entry into hosts whose address is their name.
fn parse_line(line: &str, at: Position, origin: &str) -> Result<Vec<Host>, InventoryError> {
    let host_err = |problem: String| InventoryError::Host {
        origin: origin.to_string(),
        at,
        problem,
    };
    if line.split_whitespace().nth(1).is_some() {
        return Err(host_err(format!(
            "`{line}` has spaces: write one host pattern per line"
        )));
    }
    let (user, rest) = match line.split_once('@') {
        Some((u, r)) if !u.is_empty() => (Some(u.to_string()), r),
        Some(_) => return Err(host_err(format!("`{line}` has an empty user before `@`"))),
        None => (None, line),
    };
    let (pattern, port) = match rest.rsplit_once(':') {
        Some((p, port)) => {
            let port = port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| {
                    host_err(format!(
                        "`{line}`: port `{port}` is not a number from 1 to 65535"
                    ))
                })?;
            (p, port)
        }
        None => (rest, DEFAULT_PORT),
    };
    let names = expand_hostlist(pattern).map_err(|source| InventoryError::Range {
        origin: origin.to_string(),
        at,
        source,
    })?;
    if let Some(problem) = names.iter().find_map(|n| super::check_address(n).err()) {
        return Err(host_err(problem));
    }
    Ok(names
        .into_iter()
        .map(|name| Host {
            port,
            user: user.clone(),
            ..Host::new(name.clone(), name)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{HostlistError, expand_hostlist};

    fn names(p: &str) -> Vec<String> {
        expand_hostlist(p).unwrap()
    }

    #[test]
    fn plain_names_pass_through() {
        assert_eq!(names("web01"), ["web01"]);
    }

    #[test]
    fn ranges_keep_zero_padding() {
        assert_eq!(names("web[08-10]"), ["web08", "web09", "web10"]);
        assert_eq!(names("c-[001-002]"), ["c-001", "c-002"]);
        assert_eq!(names("n[9-10]"), ["n9", "n10"]);
    }

    #[test]
    fn lists_and_multiple_groups_multiply() {
        assert_eq!(names("w[1-2,5]"), ["w1", "w2", "w5"]);
        assert_eq!(names("r[1-2]n[1-2]"), ["r1n1", "r1n2", "r2n1", "r2n2"]);
        assert_eq!(names("10.0.[0-1].[1-2]").len(), 4);
    }

    #[test]
    fn malformed_ranges_are_errors() {
        assert!(matches!(
            expand_hostlist("web[1-"),
            Err(HostlistError::Unclosed { col: 4, .. })
        ));
        assert!(matches!(
            expand_hostlist("web]"),
            Err(HostlistError::Stray {
                ch: ']',
                col: 4,
                ..
            })
        ));
        assert!(matches!(
            expand_hostlist("*[1-*]"),
            Err(HostlistError::BadItem { .. })
        ));
        assert!(matches!(
            expand_hostlist("w[a-c]"),
            Err(HostlistError::BadItem { .. })
        ));
        assert!(matches!(
            expand_hostlist("w[]"),
            Err(HostlistError::BadItem { .. })
        ));
        assert!(matches!(
            expand_hostlist("w[5-1]"),
            Err(HostlistError::Backwards { .. })
        ));
        assert!(matches!(
            expand_hostlist("w[[1]]"),
            Err(HostlistError::Stray { ch: '[', .. })
        ));
        assert!(matches!(expand_hostlist(""), Err(HostlistError::Empty)));
    }

    #[test]
    fn huge_expansions_are_refused() {
        let err = expand_hostlist("w[0-999999999]").unwrap_err();
        assert!(matches!(err, HostlistError::TooLarge { .. }));
        let err = expand_hostlist("a[1-1000]b[1-1000]").unwrap_err();
        assert!(matches!(err, HostlistError::TooLarge { .. }));
    }
}
