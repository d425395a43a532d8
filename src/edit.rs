//! File edits computed in memory, before anything is written: regex replacement, structured
//! keys (JSON/TOML/INI), templates; and the unified diff a reviewer sees. Pure.
//!
//! The staging shell reads a host's file, calls `apply`, shows `unified_diff`, and only then
//! writes atomically. Identical diffs across hosts are grouped by the caller.

mod structured;
pub mod template;

use crate::inventory::Host;
use crate::plan::model::Edit;

/// Why an edit cannot be applied to a host's file; nothing is written when this happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The replace pattern matched nothing: the file is not what the plan expects.
    #[error(
        "pattern /{pattern}/ matched nothing: the file differs from what the plan expects (already edited by hand?)"
    )]
    NoMatch {
        /// The regex.
        pattern: String,
    },
    /// The replace pattern matched a different number of times than `expect_matches`.
    #[error("pattern /{pattern}/ matched {found} times, the plan expects exactly {expected}")]
    MatchCount {
        /// The regex.
        pattern: String,
        /// From the plan.
        expected: usize,
        /// In the file.
        found: usize,
    },
    /// The file is not valid in the format the plan names.
    #[error("the file is not valid {format}: {message}")]
    Parse {
        /// json, toml or ini.
        format: &'static str,
        /// The parser's words.
        message: String,
    },
    /// A dotted key path runs through a value that is not a table/object.
    #[error("cannot set `{key}`: `{at}` is not a table")]
    NotATable {
        /// The full key path.
        key: String,
        /// The part that is not a table.
        at: String,
    },
    /// A template failed to render (unknown variable, syntax).
    #[error("template: {message}")]
    Template {
        /// What went wrong.
        message: String,
    },
}

/// Applies `edit` to `current` (the host's file content) and returns the new content.
pub fn apply(edit: &Edit, current: &str, host: &Host) -> Result<String, EditError> {
    match edit {
        Edit::Replace {
            pattern,
            with,
            expect_matches,
        } => replace(current, pattern, with, *expect_matches),
        Edit::SetKeys { format, keys } => structured::set_keys(*format, current, keys),
        Edit::Template { content } => template::render(content, host),
    }
}

fn replace(
    current: &str,
    pattern: &str,
    with: &str,
    expect: Option<usize>,
) -> Result<String, EditError> {
    let re = regex::Regex::new(pattern).map_err(|e| EditError::Template {
        message: e.to_string(),
    })?;
    let found = re.find_iter(current).count();
    match expect {
        Some(expected) if expected != found => {
            return Err(EditError::MatchCount {
                pattern: pattern.into(),
                expected,
                found,
            });
        }
        None if found == 0 => {
            return Err(EditError::NoMatch {
                pattern: pattern.into(),
            });
        }
        _ => {}
    }
    Ok(re.replace_all(current, with).into_owned())
}

/// A unified diff of one file, `--- path` / `+++ path`, three lines of context; empty when equal.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(path, path)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    pub(crate) fn host() -> Host {
        Host {
            name: "consul-01".into(),
            address: "10.0.0.1".into(),
            port: 22,
            user: None,
            groups: BTreeSet::from(["servers".to_string()]),
            labels: BTreeMap::new(),
            vars: BTreeMap::from([("dc".to_string(), "gprd".to_string())]),
            ssh: Default::default(),
        }
    }

    #[test]
    fn replace_requires_a_match() {
        let e = Edit::Replace {
            pattern: "verify = true".into(),
            with: "verify = false".into(),
            expect_matches: None,
        };
        assert_eq!(
            apply(&e, "a\nverify = true\n", &host()).unwrap(),
            "a\nverify = false\n"
        );
        assert_eq!(
            apply(&e, "a\n", &host()),
            Err(EditError::NoMatch {
                pattern: "verify = true".into()
            })
        );
    }

    #[test]
    fn replace_checks_the_expected_count() {
        let e = Edit::Replace {
            pattern: "x".into(),
            with: "y".into(),
            expect_matches: Some(1),
        };
        let err = apply(&e, "x x", &host()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pattern /x/ matched 2 times, the plan expects exactly 1"
        );
    }

    #[test]
    fn replace_supports_groups() {
        let e = Edit::Replace {
            pattern: r#""(verify_\w+)": true"#.into(),
            with: r#""$1": false"#.into(),
            expect_matches: Some(2),
        };
        let out = apply(
            &e,
            r#"{"verify_incoming": true, "verify_outgoing": true}"#,
            &host(),
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"verify_incoming": false, "verify_outgoing": false}"#
        );
    }

    #[test]
    fn diff_is_unified_with_headers() {
        let d = unified_diff("/etc/c.json", "a\nb\nc\n", "a\nB\nc\n");
        assert_eq!(
            d,
            "--- /etc/c.json\n+++ /etc/c.json\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
        );
        assert_eq!(unified_diff("/x", "same", "same"), "");
    }
}
