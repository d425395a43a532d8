//! Host selectors (`all`, `group`, `label:k=v`, `host:name`, `!sel`) and their resolution.

use std::collections::BTreeSet;
use std::fmt;

use super::{Host, Inventory, SelectError, SelectorError};

/// One term of a host selection, parsed from the command line or a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selector {
    /// Every host.
    All,
    /// Hosts in this group.
    Group(String),
    /// Hosts whose label `key` equals `value`.
    Label {
        /// Label key.
        key: String,
        /// Label value.
        value: String,
    },
    /// The host with this name.
    Host(String),
    /// Hosts *not* matched by the inner selector (subtracted from the union of positives).
    Not(Box<Selector>),
}

/// Whether `s` is a usable group or host name: letters, digits, `_`, `-`, `.`.
pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Selector {
    /// Parses `all`, a group name, `label:key=value`, `host:name` or `!<selector>`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let input = s.trim();
        if let Some(inner) = input.strip_prefix('!') {
            if inner.trim_start().starts_with('!') {
                return Err(SelectorError::DoubleNegation {
                    input: input.to_string(),
                });
            }
            return Ok(Selector::Not(Box::new(Selector::parse(inner)?)));
        }
        let bad_name = |name: &str| SelectorError::BadName {
            input: input.to_string(),
            name: name.to_string(),
        };
        if input.is_empty() {
            Err(SelectorError::Empty)
        } else if input == "all" {
            Ok(Selector::All)
        } else if let Some(rest) = input.strip_prefix("label:") {
            match rest.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                    Ok(Selector::Label {
                        key: k.trim().to_string(),
                        value: v.trim().to_string(),
                    })
                }
                _ => Err(SelectorError::BadLabel {
                    input: input.to_string(),
                }),
            }
        } else if let Some(name) = input.strip_prefix("host:") {
            valid_name(name)
                .then(|| Selector::Host(name.to_string()))
                .ok_or_else(|| bad_name(name))
        } else {
            valid_name(input)
                .then(|| Selector::Group(input.to_string()))
                .ok_or_else(|| bad_name(input))
        }
    }

    fn matches(&self, host: &Host) -> bool {
        match self {
            Selector::All => true,
            Selector::Group(g) => host.groups.contains(g),
            Selector::Label { key, value } => host.labels.get(key) == Some(value),
            Selector::Host(name) => host.name == *name,
            Selector::Not(inner) => !inner.matches(host),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::All => f.write_str("all"),
            Selector::Group(g) => f.write_str(g),
            Selector::Label { key, value } => write!(f, "label:{key}={value}"),
            Selector::Host(h) => write!(f, "host:{h}"),
            Selector::Not(inner) => write!(f, "!{inner}"),
        }
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl Inventory {
    /// Union of the positive selectors minus the negated ones, in inventory order.
    ///
    /// Only negations (`!canary`) means "all hosts except"; an empty slice selects nothing.
    /// A group, host or label value that matches no host is an error, so typos never shrink
    /// a run silently.
    pub fn select(&self, sels: &[Selector]) -> Result<Vec<&Host>, SelectError> {
        for sel in sels {
            self.check_known(sel)?;
        }
        let (negative, positive): (Vec<&Selector>, Vec<&Selector>) =
            sels.iter().partition(|s| matches!(s, Selector::Not(_)));
        let only_negations = positive.is_empty() && !negative.is_empty();
        Ok(self
            .hosts
            .iter()
            .filter(|h| only_negations || positive.iter().any(|s| s.matches(h)))
            .filter(|h| negative.iter().all(|s| s.matches(h)))
            .collect())
    }

    /// Errors if `sel` names a group, host or label value that no host has.
    fn check_known(&self, sel: &Selector) -> Result<(), SelectError> {
        match sel {
            Selector::All => Ok(()),
            Selector::Not(inner) => self.check_known(inner),
            Selector::Group(name) if !self.hosts.iter().any(|h| h.groups.contains(name)) => {
                let known: Vec<String> = self.groups().into_keys().collect();
                let suggestion = closest(name, known.iter().map(String::as_str));
                Err(SelectError::UnknownGroup {
                    name: name.clone(),
                    suggestion,
                    known,
                })
            }
            Selector::Host(name) if self.host(name).is_none() => {
                let suggestion = closest(name, self.hosts.iter().map(|h| h.name.as_str()));
                Err(SelectError::UnknownHost {
                    name: name.clone(),
                    suggestion,
                })
            }
            Selector::Label { key, value } if !self.hosts.iter().any(|h| sel.matches(h)) => {
                let known: BTreeSet<&String> = self
                    .hosts
                    .iter()
                    .filter_map(|h| h.labels.get(key))
                    .collect();
                let known_values = known.into_iter().cloned().collect();
                Err(SelectError::NoLabelMatch {
                    key: key.clone(),
                    value: value.clone(),
                    known_values,
                })
            }
            _ => Ok(()),
        }
    }
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub(super) fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_string())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{Selector, SelectorError, closest, edit_distance};

    #[test]
    fn parses_every_selector_form() {
        assert_eq!(Selector::parse("all"), Ok(Selector::All));
        assert_eq!(
            Selector::parse("consul_servers"),
            Ok(Selector::Group("consul_servers".into()))
        );
        assert_eq!(
            Selector::parse("label:zone=b"),
            Ok(Selector::Label {
                key: "zone".into(),
                value: "b".into()
            })
        );
        assert_eq!(
            Selector::parse("host:consul-01"),
            Ok(Selector::Host("consul-01".into()))
        );
        assert_eq!(
            Selector::parse("!canary"),
            Ok(Selector::Not(Box::new(Selector::Group("canary".into()))))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "all",
            "web",
            "label:zone=b",
            "host:x-1",
            "!label:a=b",
            "!host:h",
        ] {
            assert_eq!(Selector::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_selectors() {
        assert_eq!(Selector::parse(""), Err(SelectorError::Empty));
        assert_eq!(Selector::parse("!"), Err(SelectorError::Empty));
        assert!(matches!(
            Selector::parse("!!web"),
            Err(SelectorError::DoubleNegation { .. })
        ));
        assert!(matches!(
            Selector::parse("label:zone"),
            Err(SelectorError::BadLabel { .. })
        ));
        assert!(matches!(
            Selector::parse("label:=b"),
            Err(SelectorError::BadLabel { .. })
        ));
        assert!(matches!(
            Selector::parse("web servers"),
            Err(SelectorError::BadName { .. })
        ));
        assert!(matches!(
            Selector::parse("host:"),
            Err(SelectorError::BadName { .. })
        ));
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let known = ["consul_servers", "consul_clients"];
        assert_eq!(
            closest("consul_server", known.into_iter()),
            Some("consul_servers".into())
        );
        assert_eq!(closest("etcd", known.into_iter()), None);
    }
}
