//! `[secrets]`: each entry names exactly one source, and every `{{ secrets.NAME }}` the plan
//! uses is declared. Values are never read here: validation and the digest see references.

use super::V;
use crate::plan::model::{Plan, SecretSource};
use crate::plan::raw::RawSecret;
use std::collections::{BTreeMap, BTreeSet};

impl V<'_> {
    /// Validates the `[secrets]` table.
    pub(super) fn secrets(
        &mut self,
        raw: &BTreeMap<String, RawSecret>,
    ) -> BTreeMap<String, SecretSource> {
        let mut out = BTreeMap::new();
        for (name, s) in raw {
            let path = format!("secrets.{name}");
            if !is_identifier(name) {
                let d = self.error(&path, format!("secret name `{name}` is not an identifier"));
                V::hint(
                    d,
                    "use lowercase letters, digits and _, starting with a letter",
                );
            }
            match (&s.env, &s.file) {
                (Some(var), None) if !var.is_empty() => {
                    out.insert(name.clone(), SecretSource::Env(var.clone()));
                }
                (None, Some(file)) if !file.is_empty() => {
                    out.insert(name.clone(), SecretSource::File(file.clone()));
                }
                _ => {
                    let d = self.error(&path, format!("secret `{name}` needs exactly one source"));
                    V::hint(d, "write `{ env = \"VAR\" }` or `{ file = \"path\" }`");
                }
            }
        }
        out
    }

    /// Reports every `{{ secrets.NAME }}` the plan uses that `[secrets]` does not declare.
    pub(super) fn secret_references(&mut self, plan: &Plan) {
        let text = serde_json::to_string(plan).unwrap_or_default();
        for name in references(&text) {
            if !plan.secrets.contains_key(&name) {
                let at = if plan.secrets.is_empty() {
                    "plan"
                } else {
                    "secrets"
                };
                let d = self.error(
                    at,
                    format!(
                        "`{{{{ secrets.{name} }}}}` is used but no secret `{name}` is declared"
                    ),
                );
                V::hint(
                    d,
                    format!("declare it under [secrets]: `{name} = {{ env = \"VAR\" }}`"),
                );
            }
        }
    }
}

/// Every secret name referenced as `{{ secrets.NAME }}` (any spacing) in `text`.
pub fn references(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        if let Some(name) = after[..close].trim().strip_prefix("secrets.") {
            names.insert(name.trim().to_string());
        }
        rest = &after[close..];
    }
    names
}

fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_with_any_spacing() {
        let found =
            references("a {{ secrets.db }} b {{secrets.api_key}} {{ vars.x }} {{ host.name");
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["api_key", "db"]);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("db_pass2"));
        assert!(!is_identifier("2db"));
        assert!(!is_identifier("db-pass"));
    }
}
