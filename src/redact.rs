//! Secrets at run time: their values read once when a run starts, put into what goes to the
//! hosts (`{{ secrets.NAME }}`), and taken out of everything that comes back or is recorded.
//!
//! Redaction replaces each value with its reference, so a journal line, a diff or a failure
//! reason reads `password={{ secrets.db }}` instead of the password. Pure: the environment and
//! the file system come in as functions.

use crate::plan::model::SecretSource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::Path;

/// Shortest value accepted: a shorter one would redact common words along with the secret.
pub const MIN_SECRET_LEN: usize = 6;

/// Why a secret could not be read; names the source, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("secret `{name}`: environment variable {var} is not set; export it before the run")]
    MissingEnv {
        /// The secret.
        name: String,
        /// The variable.
        var: String,
    },
    /// The file could not be read.
    #[error("secret `{name}`: cannot read {path}: {reason}")]
    File {
        /// The secret.
        name: String,
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The value is too short to redact reliably.
    #[error(
        "secret `{name}` is shorter than {MIN_SECRET_LEN} characters: it could not be redacted reliably from output"
    )]
    TooShort {
        /// The secret.
        name: String,
    },
}

/// The run's secret values by name.
#[derive(Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.values.keys()).finish()
    }
}

impl Secrets {
    /// Reads every secret from its source (`file` relative to `plan_dir`).
    pub fn resolve(
        sources: &BTreeMap<String, SecretSource>,
        plan_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
        read: impl Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Self, SecretError> {
        let mut values = BTreeMap::new();
        for (name, source) in sources {
            let value = match source {
                SecretSource::Env(var) => env(var).ok_or_else(|| SecretError::MissingEnv {
                    name: name.clone(),
                    var: var.clone(),
                })?,
                SecretSource::File(file) => {
                    let path = plan_dir.join(file);
                    let text = read(&path).map_err(|e| SecretError::File {
                        name: name.clone(),
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                    text.strip_suffix('\n').unwrap_or(&text).to_string()
                }
            };
            if value.chars().count() < MIN_SECRET_LEN {
                return Err(SecretError::TooShort { name: name.clone() });
            }
            values.insert(name.clone(), value);
        }
        Ok(Self { values })
    }

    /// True when the run has no secrets.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every `{{ secrets.NAME }}` replaced by its value (for scripts).
    pub fn expand(&self, text: &str) -> String {
        self.substitute(text, |v| v.to_string())
    }

    /// Like `expand`, for template text: the value is inserted raw, never parsed as a template.
    pub fn expand_template(&self, text: &str) -> String {
        self.substitute(text, |v| format!("{{% raw %}}{v}{{% endraw %}}"))
    }

    fn substitute(&self, text: &str, value: impl Fn(&str) -> String) -> String {
        if self.values.is_empty() || !text.contains("{{") {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else { break };
            let inner = after[..close].trim();
            let known = inner
                .strip_prefix("secrets.")
                .and_then(|n| self.values.get(n.trim()));
            out.push_str(&rest[..open]);
            match known {
                Some(v) => out.push_str(&value(v)),
                None => out.push_str(&rest[open..open + 2 + close + 2]),
            }
            rest = &after[close + 2..];
        }
        out.push_str(rest);
        out
    }

    /// `text` with every secret value replaced by its `{{ secrets.NAME }}` reference.
    pub fn redact(&self, text: &str) -> String {
        let mut by_length: Vec<(&String, &String)> = self.values.iter().collect();
        by_length.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut out = text.to_string();
        for (name, value) in by_length {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), &format!("{{{{ secrets.{name} }}}}"));
            }
        }
        out
    }

    /// A value (an event) with every string in it redacted; unchanged when there are no secrets.
    pub fn redact_value<T: Serialize + DeserializeOwned>(&self, value: T) -> T {
        if self.values.is_empty() {
            return value;
        }
        let Ok(mut json) = serde_json::to_value(&value) else {
            return value;
        };
        if !self.walk(&mut json) {
            return value;
        }
        serde_json::from_value(json).unwrap_or(value)
    }

    /// Redacts every string in `v`; true when anything changed.
    fn walk(&self, v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => {
                let r = self.redact(s);
                let changed = r != *s;
                *s = r;
                changed
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().fold(false, |c, i| self.walk(i) | c)
            }
            serde_json::Value::Object(map) => map.values_mut().fold(false, |c, i| self.walk(i) | c),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        let sources = BTreeMap::from([
            ("db".to_string(), SecretSource::Env("DB".into())),
            ("key".to_string(), SecretSource::File("key.txt".into())),
        ]);
        Secrets::resolve(
            &sources,
            Path::new("/plans"),
            |v| (v == "DB").then(|| "hunter2-db".to_string()),
            |p| {
                assert_eq!(p, Path::new("/plans/key.txt"));
                Ok("s3cr3t-key\n".into())
            },
        )
        .unwrap()
    }

    #[test]
    fn expands_references_and_leaves_others() {
        let s = secrets();
        assert_eq!(
            s.expand("psql -p '{{ secrets.db }}' {{secrets.key}} {{ vars.x }} {{ secrets.nope }}"),
            "psql -p 'hunter2-db' s3cr3t-key {{ vars.x }} {{ secrets.nope }}"
        );
        assert_eq!(
            s.expand_template("k={{ secrets.key }}"),
            "k={% raw %}s3cr3t-key{% endraw %}"
        );
    }

    #[test]
    fn redacts_values_back_into_references() {
        let s = secrets();
        assert_eq!(
            s.redact("error: auth hunter2-db failed (s3cr3t-key)"),
            "error: auth {{ secrets.db }} failed ({{ secrets.key }})"
        );
    }

    #[test]
    fn redacts_every_string_of_an_event() {
        let s = secrets();
        let v = serde_json::json!({"a": ["x hunter2-db"], "b": {"c": "s3cr3t-key"}, "n": 1});
        let r = s.redact_value(v);
        assert_eq!(
            r,
            serde_json::json!({"a": ["x {{ secrets.db }}"], "b": {"c": "{{ secrets.key }}"}, "n": 1})
        );
    }

    #[test]
    fn missing_or_short_secrets_are_refused_without_showing_a_value() {
        let sources = BTreeMap::from([("db".to_string(), SecretSource::Env("DB".into()))]);
        let e = Secrets::resolve(&sources, Path::new("."), |_| None, |_| Ok(String::new()))
            .unwrap_err();
        assert!(e.to_string().contains("DB is not set"), "{e}");
        let e = Secrets::resolve(
            &sources,
            Path::new("."),
            |_| Some("abc".into()),
            |_| Ok(String::new()),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("abc"), "{e}");
    }
}
