//! Which fields of steps, checks, the action and probes hold templates, and how each is
//! used: one list that validation, the runbook and every runner share. Pure.

use super::{Host, Quoting, RenderError, render};
use crate::plan::model::{CheckKind, Edit, ProbeKind, Quorum, StepKind};

/// One templated field of an item: its key (`run`, `path`), its text, and its quoting.
pub type Field<'a> = (String, &'a mut String, Quoting);

/// The templated fields of a staging or post step (a `local` step runs on the
/// orchestrator, not per host, and a `template` edit's content is rendered by the edit).
pub fn step(kind: &mut StepKind) -> Vec<Field<'_>> {
    match kind {
        StepKind::Command { run } | StepKind::WaitFor { run, .. } => {
            vec![("run".into(), run, Quoting::Shell)]
        }
        StepKind::DisableService { unit } | StepKind::EnableService { unit } => {
            vec![("unit".into(), unit, Quoting::Plain)]
        }
        StepKind::EditFile { path, edit } => {
            let mut out = vec![("path".into(), path, Quoting::Plain)];
            match edit {
                Edit::Replace { with, .. } => {
                    out.push(("replace.with".into(), with, Quoting::Plain))
                }
                Edit::SetKeys { keys, .. } => {
                    for (k, v) in keys.iter_mut() {
                        strings(&format!("set.{k}"), v, &mut out);
                    }
                }
                Edit::Template { .. } => {}
            }
            out
        }
        StepKind::Upload { dest, .. } => vec![("dest".into(), dest, Quoting::Plain)],
        StepKind::Local { .. } => Vec::new(),
    }
}

fn strings<'a>(key: &str, v: &'a mut toml::Value, out: &mut Vec<Field<'a>>) {
    match v {
        toml::Value::String(s) => out.push((key.to_string(), s, Quoting::Plain)),
        toml::Value::Array(items) => {
            for item in items.iter_mut() {
                strings(key, item, out);
            }
        }
        toml::Value::Table(t) => {
            for (k, item) in t.iter_mut() {
                strings(&format!("{key}.{k}"), item, out);
            }
        }
        _ => {}
    }
}

/// The templated fields of a preflight or verify check.
pub fn check(kind: &mut CheckKind) -> Vec<Field<'_>> {
    match kind {
        CheckKind::Command { run, .. } => vec![("run".into(), run, Quoting::Shell)],
        CheckKind::File { path, .. } => vec![("path".into(), path, Quoting::Plain)],
        CheckKind::Service { unit, .. } => vec![("unit".into(), unit, Quoting::Plain)],
        CheckKind::AgentDisabled { unit, .. } => vec![("unit".into(), unit, Quoting::Plain)],
        CheckKind::Http { url, .. } => vec![("url".into(), url, Quoting::Plain)],
        CheckKind::Clock { .. }
        | CheckKind::Sudo
        | CheckKind::Scheduler { .. }
        | CheckKind::Tcp { .. } => Vec::new(),
    }
}

/// The templated fields of a health probe.
pub fn probe(kind: &mut ProbeKind) -> Vec<Field<'_>> {
    match kind {
        ProbeKind::Command { run } => vec![("run".into(), run, Quoting::Shell)],
        ProbeKind::Http { url, .. } => vec![("url".into(), url, Quoting::Plain)],
        ProbeKind::Tcp { .. } => Vec::new(),
    }
}

/// The templated fields of the quorum source.
pub fn quorum(q: &mut Quorum) -> Vec<Field<'_>> {
    let mut out: Vec<Field<'_>> = q
        .endpoints
        .iter_mut()
        .map(|e| ("endpoints".to_string(), e, Quoting::Plain))
        .collect();
    if let Some(run) = &mut q.run {
        out.push(("run".into(), run, Quoting::Shell));
    }
    out
}

/// `item` with every templated field (as `fields` lists them) rendered for `host`.
pub fn rendered<T: Clone>(
    item: &T,
    fields: impl FnOnce(&mut T) -> Vec<Field<'_>>,
    host: &Host,
) -> Result<T, RenderError> {
    let mut out = item.clone();
    for (_, text, quoting) in fields(&mut out) {
        *text = render(text, host, quoting)?;
    }
    Ok(out)
}

/// The fields of `item` as `(key, text, quoting)`, read-only.
pub fn listed<T: Clone>(
    item: &T,
    fields: impl FnOnce(&mut T) -> Vec<Field<'_>>,
) -> Vec<(String, String, Quoting)> {
    let mut copy = item.clone();
    fields(&mut copy)
        .into_iter()
        .map(|(k, t, q)| (k, t.clone(), q))
        .collect()
}
