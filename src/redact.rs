//! Secrets at run time: their values read once when a run starts, put into what goes to the
//! hosts (`{{ secrets.NAME }}`), and taken out of everything that comes back or is recorded.
//!
//! Redaction replaces each value with its reference, so a journal line, a diff or a failure
//! reason reads `password={{ secrets.db }}` instead of the password, in every encoding the
//! value can take on the way out (JSON-escaped, shell-quoted, URL- or base64-encoded, split
//! across lines: see `encodings`). In shell commands a reference becomes a quoted variable
//! filled from base64 by a preamble, so a value is data and never shell text
//! (`crate::remote::secret_refs`). Pure: the environment and the file system come in as
//! functions.

pub mod encodings;

use crate::plan::model::SecretSource;
use crate::remote::secret_refs;
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
    /// The value holds a NUL byte, which no shell variable or command line can carry.
    #[error("secret `{name}` contains a NUL byte; cutover passes secrets as text")]
    Nul {
        /// The secret.
        name: String,
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

/// Why an event could not be redacted: it is withheld rather than recorded unredacted.
#[derive(Debug, thiserror::Error)]
#[error("an event was withheld: it could not be checked for secret values ({0})")]
pub struct Withheld(String);

/// The run's secret values by name, with every encoded form redaction looks for.
#[derive(Default, Clone)]
pub struct Secrets {
    values: BTreeMap<String, String>,
    /// `(encoded form, name)`, longest form first.
    needles: Vec<(String, String)>,
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
            values.insert(name.clone(), value);
        }
        Self::from_values(values)
    }

    /// Secrets from their values (checked like `resolve` checks them).
    pub fn from_values(values: BTreeMap<String, String>) -> Result<Self, SecretError> {
        let mut needles = Vec::new();
        for (name, value) in &values {
            if value.chars().count() < MIN_SECRET_LEN {
                return Err(SecretError::TooShort { name: name.clone() });
            }
            if value.contains('\0') {
                return Err(SecretError::Nul { name: name.clone() });
            }
            needles.extend(
                encodings::needles(value)
                    .into_iter()
                    .map(|n| (n, name.clone())),
            );
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
        Ok(Self { values, needles })
    }

    /// True when the run has no secrets.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every `{{ secrets.NAME }}` replaced by its value: for data that never
    /// reaches a shell (file content, a `local` step's argv). Shell text goes through `shell`.
    pub fn expand(&self, text: &str) -> String {
        self.substitute(text, |v| v.to_string())
    }

    /// A shell script with its `{{ secrets.NAME }}` references as quoted variables, preceded
    /// by the assignments that fill them from base64: no value is ever shell text. A reference
    /// that cannot be made safe turns the script into one that refuses to run (exit 125,
    /// naming the secret, never its value): fail closed.
    pub fn shell(&self, script: &str) -> String {
        if self.values.is_empty() || !script.contains("{{") {
            return script.to_string();
        }
        match secret_refs::rewrite(script, |n| self.values.contains_key(n)) {
            Ok(r) if r.used.is_empty() => r.script,
            Ok(r) => {
                let mut out = String::new();
                for name in &r.used {
                    let value = self
                        .values
                        .get(name)
                        .map(String::as_str)
                        .unwrap_or_default();
                    out.push_str(&assignment(name, value));
                }
                out + &r.script
            }
            Err(e) => format!(
                "echo {} >&2\nexit 125\n",
                crate::remote::quote(&format!("cutover refused to run this command: {e}"))
            ),
        }
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

    /// `text` with every secret value, in any of its encodings and also when split across
    /// lines (a wrapped base64 block, a diff's `+`/`-` prefixed lines), replaced by its
    /// `{{ secrets.NAME }}` reference.
    pub fn redact(&self, text: &str) -> String {
        if self.needles.is_empty() {
            return text.to_string();
        }
        let mut spans = Vec::new();
        for (needle, name) in &self.needles {
            spans.extend(
                text.match_indices(needle.as_str())
                    .map(|(at, n)| (at, at + n.len(), name)),
            );
        }
        if text.contains('\n') {
            spans.extend(self.split_spans(text));
        }
        replace_spans(text, spans)
    }

    /// Matches that cross line breaks: searched in the text with every `\n` (and the
    /// one-character diff prefix after it) removed, mapped back to the original text.
    fn split_spans<'a>(&'a self, text: &str) -> Vec<(usize, usize, &'a String)> {
        let mut flat = String::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len());
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c == '\r' && chars.peek().is_some_and(|(_, n)| *n == '\n') {
                continue;
            }
            if c == '\n' {
                if chars
                    .peek()
                    .is_some_and(|(_, n)| matches!(n, '+' | '-' | ' '))
                {
                    chars.next();
                }
                continue;
            }
            for b in 0..c.len_utf8() {
                origin.push((at + b, at + c.len_utf8()));
            }
            flat.push(c);
        }
        let mut spans = Vec::new();
        for (needle, name) in &self.needles {
            let needle: String = needle
                .chars()
                .filter(|c| !matches!(c, '\n' | '\r'))
                .collect();
            if needle.is_empty() {
                continue;
            }
            for (at, n) in flat.match_indices(needle.as_str()) {
                let (Some(first), Some(last)) = (origin.get(at), origin.get(at + n.len() - 1))
                else {
                    continue;
                };
                spans.push((first.0, last.1, name));
            }
        }
        spans
    }

    /// A value (an event) with every string in it (and every map key) redacted and made
    /// visible (`crate::sanitize::visible`): the one seal on everything a run records or shows.
    ///
    /// Fails closed: when the value does not survive the JSON round trip the event is
    /// withheld (`Err`), never returned unredacted.
    pub fn redact_value<T: Serialize + DeserializeOwned>(&self, value: T) -> Result<T, Withheld> {
        let mut json = serde_json::to_value(&value).map_err(|e| Withheld(e.to_string()))?;
        if !self.walk(&mut json) {
            return Ok(value);
        }
        serde_json::from_value(json).map_err(|e| Withheld(e.to_string()))
    }

    /// Redacts and sanitises every string and key in `v`; true when anything changed.
    fn walk(&self, v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => self.seal(s),
            serde_json::Value::Array(items) => {
                items.iter_mut().fold(false, |c, i| self.walk(i) | c)
            }
            serde_json::Value::Object(map) => {
                let mut changed = false;
                let old = std::mem::take(map);
                for (mut k, mut item) in old {
                    changed |= self.seal(&mut k);
                    changed |= self.walk(&mut item);
                    map.insert(k, item);
                }
                changed
            }
            _ => false,
        }
    }

    fn seal(&self, s: &mut String) -> bool {
        let r = crate::sanitize::visible(&self.redact(s));
        let changed = r != *s;
        *s = r;
        changed
    }
}

/// `text` with each span (merged where they overlap) replaced by its secret's reference.
fn replace_spans(text: &str, mut spans: Vec<(usize, usize, &String)>) -> String {
    if spans.is_empty() {
        return text.to_string();
    }
    spans.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut i = 0;
    while i < spans.len() {
        let (start, mut end, name) = spans[i];
        i += 1;
        while i < spans.len() && spans[i].0 < end {
            end = end.max(spans[i].1);
            i += 1;
        }
        out.push_str(text.get(done..start).unwrap_or_default());
        out.push_str(&format!("{{{{ secrets.{name} }}}}"));
        done = end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    out
}

/// The preamble line that fills secret `name`'s variable from base64 (shell-safe alphabet)
/// without the value ever being shell text; a host without `base64 -d` refuses (exit 125).
fn assignment(name: &str, value: &str) -> String {
    use base64::Engine;
    let var = secret_refs::var_name(name);
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    format!(
        "{var}=$(printf '%s' '{b64}' | base64 -d && printf .) || {{ echo 'cutover: base64 -d failed: secrets need coreutils base64 on the host' >&2; exit 125; }}\n{var}=${{{var}%.}}\n"
    )
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
        let r = s.redact_value(v).unwrap();
        assert_eq!(
            r,
            serde_json::json!({"a": ["x {{ secrets.db }}"], "b": {"c": "{{ secrets.key }}"}, "n": 1})
        );
    }

    #[test]
    fn an_event_that_cannot_be_checked_is_withheld_not_passed_through() {
        #[derive(Serialize, serde::Deserialize, Debug)]
        enum Tag {
            Hunter2Db,
        }
        let s = Secrets::from_values(BTreeMap::from([("t".to_string(), "Hunter2Db".to_string())]))
            .unwrap();
        assert!(
            s.redact_value(Tag::Hunter2Db).is_err(),
            "tag no longer parses"
        );
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let e = secrets().redact_value(bad).map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("withheld"), "{e}");
    }

    #[test]
    fn events_are_sanitised_even_without_secrets() {
        let v = serde_json::json!({"diff": "+x \u{1b}]52;c;AAAA\u{7} \u{202e}", "k\u{9b}": 1});
        let r = Secrets::default().redact_value(v).unwrap();
        assert_eq!(
            r,
            serde_json::json!({"diff": "+x \\u{1b}]52;c;AAAA\\u{7} \\u{202e}", "k\\u{9b}": 1})
        );
    }

    #[test]
    fn a_json_escaped_secret_in_a_diff_is_redacted() {
        let s = Secrets::from_values(BTreeMap::from([(
            "tok".to_string(),
            r"Ab\cd9SECRETjson/x".to_string(),
        )]))
        .unwrap();
        let diff = crate::edit::unified_diff(
            "/etc/a.json",
            "{}\n",
            &format!(
                "{}\n",
                serde_json::json!({"acl_token": r"Ab\cd9SECRETjson/x"})
            ),
        );
        assert!(diff.contains(r#""Ab\\cd9SECRETjson/x""#), "{diff}");
        let r = s.redact(&diff);
        assert!(r.contains(r#""acl_token":"{{ secrets.tok }}""#), "{r}");
    }

    #[test]
    fn base64_wrapped_over_diff_lines_is_redacted() {
        use base64::Engine;
        let value = "a-long-secret-value-that-wraps-over-a-line-of-base64-".repeat(3);
        let s = Secrets::from_values(BTreeMap::from([("k".to_string(), value.clone())])).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("key: {value}\n"));
        let wrapped: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("+{}", String::from_utf8_lossy(c)))
            .collect();
        let r = s.redact(&wrapped.join("\n"));
        assert!(r.contains("{{ secrets.k }}"), "{r}");
        let core = &b64[8..b64.len() - 8];
        assert!(!r.replace("\n+", "").contains(&core[..12]), "{r}");
    }

    #[test]
    fn a_match_across_lines_keeps_the_text_around_it() {
        use base64::Engine;
        let value = "Ab\\cd9\"SEC'RET\nzweite Zeile";
        let s =
            Secrets::from_values(BTreeMap::from([("tok".to_string(), value.to_string())])).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        let wrapped: Vec<&str> = b64
            .as_bytes()
            .chunks(16)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let text = format!("auth failed for Ab\n{}\n", wrapped.join("\n"));
        let r = s.redact(&text);
        assert!(
            r.starts_with("auth failed for Ab\n{{ secrets.tok }}"),
            "{r}"
        );
    }

    #[test]
    fn shell_text_carries_base64_and_quoted_variables_only() {
        let s = Secrets::from_values(BTreeMap::from([(
            "tok".to_string(),
            "hunter2\"; Kx7SECRETFRAGMENTq #".to_string(),
        )]))
        .unwrap();
        let script = s.shell("echo \"stage sees {{ secrets.tok }}\"");
        assert!(!script.contains("Kx7SECRETFRAGMENTq"), "{script}");
        assert!(
            script.ends_with("echo \"stage sees ${CUTOVER_SECRET_tok}\""),
            "{script}"
        );
        let refused = s.shell("echo 'x {{ secrets.tok }}'");
        assert!(
            refused.contains("exit 125") && !refused.contains("Kx7"),
            "{refused}"
        );
        assert_eq!(s.shell("echo {{ vars.x }}"), "echo {{ vars.x }}");
    }

    mod property {
        use super::*;
        use base64::Engine;
        use proptest::prelude::*;

        fn one_char() -> impl Strategy<Value = char> {
            let special = proptest::sample::select(vec![
                '"', '\\', '\'', '\n', '$', '(', '`', 'é', '€', '😀', '\u{1b}', '\u{202e}', ' ',
                '/', '+', '%', '#',
            ]);
            prop_oneof![
                2 => special,
                3 => proptest::char::range('a', 'z'),
                1 => proptest::char::range('0', '9'),
            ]
        }

        fn secret() -> impl Strategy<Value = String> {
            prop_oneof![
                proptest::collection::vec(one_char(), 6..12),
                proptest::collection::vec(one_char(), 12..80),
                proptest::collection::vec(one_char(), 1000..1500),
            ]
            .prop_map(|v| v.into_iter().collect())
        }

        fn sinks(v: &str, pre: &str, post: &str) -> Vec<(&'static str, String, String)> {
            let b64 = base64::engine::general_purpose::STANDARD;
            let json = serde_json::to_string(v).unwrap();
            let json = json[1..json.len() - 1].to_string();
            let url: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    b => format!("%{b:02X}"),
                })
                .collect();
            let stream = format!("{pre}{v}{post}");
            let encoded = b64.encode(&stream);
            let first = (pre.len() * 8).div_ceil(6);
            let end = (pre.len() + v.len()) * 8 / 6;
            let core = encoded[first..end].to_string();
            let wrapped: Vec<String> = encoded
                .as_bytes()
                .chunks(76)
                .map(|c| format!("+{}", String::from_utf8_lossy(c)))
                .collect();
            let diff = crate::edit::unified_diff(
                "/etc/app.json",
                "{}\n",
                &format!("{{\"token\": \"{json}\"}}\n"),
            );
            vec![
                ("raw", format!("{pre}{v}{post}"), v.to_string()),
                ("json", format!("{pre}\"{json}\"{post}"), json.clone()),
                ("diff", diff, json.clone()),
                (
                    "error",
                    format!("failed: {:?}", format!("{pre}{v}{post}")),
                    format!("{v:?}").trim_matches('"').to_string(),
                ),
                (
                    "shell word",
                    format!("psql -p {} -h db", crate::remote::quote(v)),
                    crate::remote::quote(v),
                ),
                (
                    "xtrace",
                    format!("+ echo '{}'", stream.replace('\'', r"'\''")),
                    v.replace('\'', r"'\''"),
                ),
                ("url", format!("https://x/?a={url}&b"), url),
                ("base64", encoded.clone(), core.clone()),
                ("base64 wrapped", wrapped.join("\n"), core),
                (
                    "visible",
                    crate::sanitize::visible(&stream),
                    crate::sanitize::visible(v),
                ),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn no_sink_keeps_a_secret_in_any_encoding(
                v in secret(),
                pre in "[a-z =:]{0,5}",
                post in "[a-z ,;]{0,5}",
            ) {
                let s = Secrets::from_values(BTreeMap::from([("tok".to_string(), v.clone())])).unwrap();
                for (sink, text, encoded) in sinks(&v, &pre, &post) {
                    let out = s.redact(&text);
                    let flat = out.replace("\n+", "");
                    prop_assert!(
                        !out.contains(&encoded) && !flat.contains(&encoded),
                        "{} kept {:?} in {:?}", sink, encoded, out
                    );
                    prop_assert!(out.contains("{{ secrets.tok }}"), "{}: {:?}", sink, out);
                }
                let event = serde_json::json!({"reason": format!("exit 3: {v}"), "diff": [v.clone()]});
                let sealed = serde_json::to_string(&s.redact_value(event).unwrap()).unwrap();
                prop_assert!(!sealed.contains(&v));
            }
        }
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
