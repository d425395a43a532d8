//! TOML text to `RawPlan`, collecting every syntax and shape error with its span.
//!
//! Each section and each element of a tagged list is deserialized on its own, so one typo
//! does not hide the next. Tagged tables are rewritten `{ check = "clock", .. }` to
//! `{ clock = { .. } }` and read as externally tagged enums, which keeps toml's spans.

use super::diagnostic::{Diagnostic, did_you_mean};
use super::raw::{
    RawAction, RawCheck, RawCheckKind, RawCommon, RawExecution, RawInventoryRef, RawMeta, RawPlan,
    RawSecret, RawSsh, RawStep, RawStepKind, RawWatch,
};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

/// Where each key path of the document sits: `stage[2].batch_size` -> byte ranges.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    keys: BTreeMap<String, (Range<usize>, Range<usize>)>,
    /// The document, to find a part of a string value in it.
    text: String,
}

impl SpanIndex {
    /// Where `part` (a byte range of `value`, the string at `path`) is written in the file:
    /// found by its own text inside the value's span, so escapes and multi-line strings do
    /// not shift it. `None` when it cannot be found (the caller falls back to the value).
    pub fn inside(&self, path: &str, value: &str, part: Range<usize>) -> Option<Range<usize>> {
        let span = self.keys.get(path).map(|(_, v)| v.clone())?;
        let needle = value.get(part.clone())?;
        let nth = value[..part.start].matches(needle).count();
        let source = self.text.get(span.clone())?;
        let (at, _) = source.match_indices(needle).nth(nth)?;
        Some(span.start + at..span.start + at + needle.len())
    }

    /// The span of the value at `path`, falling back to its closest recorded parent.
    pub fn value(&self, path: &str) -> Option<Range<usize>> {
        self.lookup(path).map(|(_, v)| v)
    }

    /// The span of the key at `path` (the whole `[[stage]]` header for list elements).
    pub fn key(&self, path: &str) -> Option<Range<usize>> {
        self.lookup(path).map(|(k, _)| k)
    }

    fn lookup(&self, path: &str) -> Option<(Range<usize>, Range<usize>)> {
        let mut p = path;
        loop {
            if let Some(found) = self.keys.get(p) {
                return Some(found.clone());
            }
            p = &p[..p.rfind(['.', '['])?];
        }
    }

    fn record(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (k, v) in table.iter() {
            let path = join(prefix, k.get_ref());
            self.keys.insert(path.clone(), (k.span(), v.span()));
            self.record_value(&path, v);
        }
    }

    fn record_value(&mut self, path: &str, v: &Spanned<DeValue<'_>>) {
        match v.get_ref() {
            DeValue::Table(t) => self.record(path, t),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    self.keys.insert(p.clone(), (item.span(), item.span()));
                    self.record_value(&p, item);
                }
            }
            _ => {}
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The result of parsing: the raw plan when its shape is right, and every problem found.
#[derive(Debug)]
pub struct Parsed {
    /// The plan as written, best effort: `None` only on TOML syntax errors. Sections or list
    /// entries that failed to deserialize hold placeholders and are named in `failed`.
    pub raw: Option<RawPlan>,
    /// Key paths (`plan`, `stage[2]`) that failed to deserialize: validation stays quiet about
    /// them, so one typo does not cause a cascade of follow-on errors.
    pub failed: Vec<String>,
    /// Where each key sits, for semantic diagnostics.
    pub spans: SpanIndex,
    /// Every syntax and shape problem.
    pub diagnostics: Vec<Diagnostic>,
}

const SECTIONS: [&str; 12] = [
    "plan",
    "inventory",
    "ssh",
    "execution",
    "preflight",
    "stage",
    "verify",
    "action",
    "watch",
    "post",
    "secrets",
    "rollback",
];
const COMMON_KEYS: [&str; 8] = [
    "name",
    "targets",
    "gate",
    "once",
    "sudo",
    "timeout",
    "batch_size",
    "max_failures",
];

/// Parses plan text; never panics, whatever the bytes.
pub fn parse(text: &str) -> Parsed {
    let (root, errors) = DeTable::parse_recoverable(text);
    let mut spans = SpanIndex::default();
    if !errors.is_empty() {
        let diagnostics = errors.iter().map(toml_diagnostic).collect();
        return Parsed {
            raw: None,
            failed: Vec::new(),
            spans,
            diagnostics,
        };
    }
    spans.text = text.to_string();
    spans.record("", root.get_ref());
    let mut cx = Cx {
        diags: Vec::new(),
        failed: Vec::new(),
        doc_span: root.span(),
    };
    let raw = cx.plan(root.get_ref());
    for d in &mut cx.diags {
        super::hints::type_hint(d, text);
    }
    Parsed {
        raw: Some(raw),
        failed: cx.failed,
        spans,
        diagnostics: cx.diags,
    }
}

struct Cx {
    diags: Vec<Diagnostic>,
    failed: Vec<String>,
    doc_span: Range<usize>,
}

/// What stands in for a list entry that failed to parse (validation ignores it).
trait Placeholder {
    fn placeholder() -> Self;
}

impl Placeholder for RawCheckKind {
    fn placeholder() -> Self {
        RawCheckKind::Sudo {}
    }
}

impl Placeholder for RawStepKind {
    fn placeholder() -> Self {
        RawStepKind::Command { run: String::new() }
    }
}

impl Cx {
    fn plan(&mut self, root: &DeTable<'_>) -> RawPlan {
        self.unknown_sections(root);
        let mut plan = RawPlan::default();
        let meta = self.required::<RawMeta>(root, "plan", "[plan]\nname = \"my-change\"");
        let action = self.required::<RawAction>(root, "action", "[action]\nat = ...\nrun = ...");
        plan.inventory = self.section::<RawInventoryRef>(root, "inventory");
        plan.ssh = self.section::<RawSsh>(root, "ssh");
        plan.execution = self.section::<RawExecution>(root, "execution");
        plan.watch = self.section::<RawWatch>(root, "watch");
        plan.secrets = self
            .section::<BTreeMap<String, RawSecret>>(root, "secrets")
            .unwrap_or_default();
        if self.failed.iter().any(|f| f == "watch") {
            plan.watch = Some(RawWatch::default());
        }
        let check = |(common, kind)| RawCheck { common, kind };
        let step = |(common, kind)| RawStep { common, kind };
        plan.preflight = self
            .list::<RawCheckKind>(root, "preflight", "check")
            .map(check)
            .collect();
        plan.verify = self
            .list::<RawCheckKind>(root, "verify", "check")
            .map(check)
            .collect();
        plan.stage = self
            .list::<RawStepKind>(root, "stage", "step")
            .map(step)
            .collect();
        plan.post = self
            .list::<RawStepKind>(root, "post", "step")
            .map(step)
            .collect();
        plan.rollback = self
            .list::<RawStepKind>(root, "rollback", "step")
            .map(step)
            .collect();
        plan.plan = meta;
        plan.action = action;
        plan
    }

    fn unknown_sections(&mut self, root: &DeTable<'_>) {
        for (k, _) in root.iter() {
            let name = k.get_ref().as_ref();
            if !SECTIONS.contains(&name) {
                let mut d = Diagnostic::error(format!("unknown section `{name}`"), Some(k.span()));
                d = match did_you_mean(name, SECTIONS) {
                    Some(s) => d.with_hint(format!("did you mean `{s}`?")),
                    None => d.with_hint(format!("sections are: {}", SECTIONS.join(", "))),
                };
                self.diags.push(d);
            }
        }
    }

    fn required<T: DeserializeOwned + Default>(
        &mut self,
        root: &DeTable<'_>,
        key: &str,
        eg: &str,
    ) -> T {
        if root.get(key).is_none() {
            let d = Diagnostic::error(
                format!("missing [{key}] section"),
                Some(self.doc_span.start..self.doc_span.start),
            )
            .with_hint(format!("add it, e.g.\n{eg}"));
            self.diags.push(d);
            self.failed.push(key.to_string());
            return T::default();
        }
        self.section(root, key).unwrap_or_default()
    }

    fn section<T: DeserializeOwned>(&mut self, root: &DeTable<'_>, key: &str) -> Option<T> {
        let value = root.get(key)?;
        let Some(table) = value.get_ref().as_table() else {
            self.diags.push(Diagnostic::error(
                format!("`{key}` must be a table: [{key}]"),
                Some(value.span()),
            ));
            self.failed.push(key.to_string());
            return None;
        };
        let parsed = self.de(Spanned::new(value.span(), table.clone()));
        if parsed.is_none() {
            self.failed.push(key.to_string());
        }
        parsed
    }

    fn de<T: DeserializeOwned>(&mut self, table: Spanned<DeTable<'_>>) -> Option<T> {
        match T::deserialize(toml::de::Deserializer::from(table)) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags.push(toml_diagnostic(&e));
                None
            }
        }
    }

    fn list<K: DeserializeOwned + Placeholder>(
        &mut self,
        root: &DeTable<'_>,
        key: &str,
        tag: &str,
    ) -> std::vec::IntoIter<(RawCommon, K)> {
        let Some(value) = root.get(key) else {
            return Vec::new().into_iter();
        };
        let Some(items) = value.get_ref().as_array() else {
            let msg = format!("`{key}` must be a list of tables: [[{key}]]");
            self.diags.push(Diagnostic::error(msg, Some(value.span())));
            return Vec::new().into_iter();
        };
        let mut parsed = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match self.tagged(item, key, tag) {
                Some(entry) => parsed.push(entry),
                None => {
                    self.failed.push(format!("{key}[{i}]"));
                    parsed.push((RawCommon::default(), K::placeholder()));
                }
            }
        }
        parsed.into_iter()
    }

    fn tagged<K: DeserializeOwned>(
        &mut self,
        item: &Spanned<DeValue<'_>>,
        key: &str,
        tag: &str,
    ) -> Option<(RawCommon, K)> {
        let Some(table) = item.get_ref().as_table() else {
            let msg = format!("each `{key}` entry must be a table: [[{key}]]");
            self.diags.push(Diagnostic::error(msg, Some(item.span())));
            return None;
        };
        let Some(kind) = table
            .iter()
            .find(|(k, _)| k.get_ref() == tag)
            .map(|(_, v)| v)
        else {
            let msg = format!("this [[{key}]] entry has no `{tag}` kind");
            self.diags
                .push(Diagnostic::error(msg, Some(item.span())).with_hint(kind_hint(tag)));
            return None;
        };
        let Some(kind_name) = kind.get_ref().as_str() else {
            self.diags.push(Diagnostic::error(
                format!("`{tag}` must be a string"),
                Some(kind.span()),
            ));
            return None;
        };
        let (common, rest) = split_common(table, tag);
        let common = self.de::<RawCommon>(Spanned::new(item.span(), common));
        let mut wrapped = DeTable::new();
        let kind_key = Spanned::new(kind.span(), DeString::from(kind_name.to_string()));
        wrapped.insert(kind_key, Spanned::new(item.span(), DeValue::Table(rest)));
        let kind = self.de::<K>(Spanned::new(item.span(), wrapped));
        Some((common?, kind?))
    }
}

fn split_common<'i>(table: &DeTable<'i>, tag: &str) -> (DeTable<'i>, DeTable<'i>) {
    let mut common = DeTable::new();
    let mut rest = DeTable::new();
    for (k, v) in table.iter() {
        let name = k.get_ref().as_ref();
        if name == tag {
            continue;
        }
        let target = if COMMON_KEYS.contains(&name) {
            &mut common
        } else {
            &mut rest
        };
        target.insert(k.clone(), v.clone());
    }
    (common, rest)
}

fn kind_hint(tag: &str) -> String {
    match tag {
        "check" => "add e.g. `check = \"sudo\"`; kinds: clock, sudo, scheduler, service, agent_disabled, file, command, http, tcp".into(),
        _ => "add e.g. `step = \"command\"`; kinds: command, disable_service, enable_service, edit_file, upload, wait_for, local".into(),
    }
}

fn toml_diagnostic(e: &toml::de::Error) -> Diagnostic {
    let message = e.message().trim().replace('\n', " ");
    if let Some(rest) = message.strip_prefix("unexpected keys in table: ") {
        let (keys, available) = rest.split_once(", available keys:").unwrap_or((rest, ""));
        let d = Diagnostic::error(format!("unknown field `{keys}`"), e.span());
        return d.with_hint(super::hints::unexpected_keys(keys, available, &COMMON_KEYS));
    }
    let d = Diagnostic::error(message.clone(), e.span());
    match unknown_name(&message) {
        Some((wrong, expected)) => match did_you_mean(&wrong, expected.iter().map(String::as_str)) {
            Some(s) => d.with_hint(format!("did you mean `{s}`?")),
            None => d.with_hint("unknown names are errors so that a typo cannot pass review; see docs/plan-format.md"),
        },
        None => d,
    }
}

/// Pulls `wrong` and the expected names out of serde's "unknown field/variant" messages.
fn unknown_name(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (wrong, expected) = rest.split_once('`')?;
    let names = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((wrong.to_string(), names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OK: &str = "[plan]\nname = \"x\"\n[action]\nat = 2030-01-01T00:00:00Z\nrun = \"true\"\n";

    fn errors(text: &str) -> Vec<(String, String)> {
        parse(text)
            .diagnostics
            .iter()
            .map(|d| {
                let s = d.span.clone().unwrap_or(0..0);
                (d.message.clone(), text.get(s).unwrap_or("").to_string())
            })
            .collect()
    }

    #[test]
    fn a_minimal_plan_parses() {
        let p = parse(OK);
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        assert_eq!(p.raw.unwrap().plan.name, "x");
    }

    #[test]
    fn every_problem_is_reported_at_its_own_place() {
        let text = format!(
            "{OK}ownr = 1\n[[preflight]]\ncheck = \"clok\"\n[[preflight]]\ncheck = \"sudo\"\nfoo = 1\n[[stage]]\nstep = \"command\"\nrun = 3\n[exection]\n"
        );
        let e = errors(&text);
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(
            e.iter()
                .any(|(m, at)| m.contains("unknown section") && at == "exection")
        );
        assert!(
            e.iter()
                .any(|(m, at)| m.contains("unknown field `ownr`") && at == "ownr")
        );
        assert!(
            e.iter()
                .any(|(m, at)| m.contains("unknown variant `clok`") && at == "\"clok\"")
        );
        assert!(
            e.iter()
                .any(|(m, at)| m == "unknown field `foo`" && at == "foo")
        );
        assert!(
            e.iter()
                .any(|(m, at)| m.contains("expected a string") && at == "3")
        );
    }

    #[test]
    fn a_tagged_entry_without_its_kind_is_named() {
        let e = errors(&format!("{OK}[[stage]]\nrun = \"x\"\n"));
        assert_eq!(e[0].0, "this [[stage]] entry has no `step` kind");
    }

    #[test]
    fn missing_sections_are_reported() {
        let e = errors("[plan]\nname = \"x\"\n");
        assert_eq!(e[0].0, "missing [action] section");
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let p = parse("[plan\nname = 1\n");
        assert!(p.raw.is_none());
        assert_eq!(p.diagnostics[0].span.as_ref().map(|s| s.start), Some(5));
    }

    #[test]
    fn span_index_finds_nested_and_listed_keys() {
        let text = format!("{OK}[[stage]]\nstep = \"command\"\nrun = \"a\"\nbatch_size = 0\n");
        let p = parse(&text);
        let span = p.spans.value("stage[0].batch_size").unwrap();
        assert_eq!(&text[span], "0");
        let fallback = p.spans.value("stage[0].timeout").unwrap();
        let shown = &text[fallback];
        assert!(shown.contains("stage"), "{shown:?}");
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse(&text);
        }

        #[test]
        fn plan_like_text_never_panics(lines in proptest::collection::vec("(\\[\\[?[a-z]{1,9}\\]\\]?|[a-z_]{1,10} = (\"[a-z%0-9]*\"|[0-9-]{1,4}|true|\\[\\]|\\{\\}))", 0..20)) {
            let text = format!("{OK}{}", lines.join("\n"));
            let _ = parse(&text);
        }
    }
}
