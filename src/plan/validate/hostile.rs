//! Hostile text in a plan: bidi and invisible characters in commands and paths (Trojan
//! Source: what the reviewer reads is not what runs), and `{{ secrets.NAME }}` references
//! that cannot be passed to a command as data (`crate::remote::secret_refs`).

use super::V;
use crate::plan::model::{CheckKind, Plan, StepKind};
use crate::remote::secret_refs;
use crate::sanitize;

/// How a field is used: shell command text (secret references checked) or a path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Command,
    Path,
}

impl V<'_> {
    /// Reports hidden characters in every command and path, and unsafe secret references.
    pub(super) fn hostile_text(&mut self, plan: &Plan) {
        for (path, text, use_) in fields(plan) {
            if let Some((at, c)) = sanitize::first_hidden(&text) {
                let what = if sanitize::is_bidi(c) {
                    "a bidirectional control"
                } else {
                    "an invisible or control character"
                };
                let d = self.error(
                    &path,
                    format!(
                        "{what} U+{:04X} at byte {at}: the command a reviewer reads is not the one that runs",
                        c as u32
                    ),
                );
                V::hint(
                    d,
                    "remove it; if the character is really needed, write it as an escape the program decodes (printf '\\342\\200\\256')",
                );
            }
            if use_ != Use::Command {
                continue;
            }
            if let Err(e) = secret_refs::rewrite(&text, |n| plan.secrets.contains_key(n)) {
                let d = self.error(&path, format!("secret reference at byte {}: {e}", e.offset));
                V::hint(
                    d,
                    "a secret reaches a command as a quoted variable (\"$CUTOVER_SECRET_NAME\"), never as shell text",
                );
            }
        }
    }
}

/// Every command and path of the plan, with its key path.
fn fields(plan: &Plan) -> Vec<(String, String, Use)> {
    let mut out = Vec::new();
    for (list, checks) in [("preflight", &plan.preflight), ("verify", &plan.verify)] {
        for (i, c) in checks.iter().enumerate() {
            let p = |f: &str| format!("{list}[{i}].{f}");
            match &c.kind {
                CheckKind::Command { run, .. } => out.push((p("run"), run.clone(), Use::Command)),
                CheckKind::File { path, .. } => out.push((p("path"), path.clone(), Use::Path)),
                _ => {}
            }
        }
    }
    for (list, steps) in [
        ("stage", &plan.stage),
        ("post", &plan.post),
        ("rollback", &plan.rollback),
    ] {
        for (i, s) in steps.iter().enumerate() {
            let p = |f: &str| format!("{list}[{i}].{f}");
            match &s.kind {
                StepKind::Command { run } | StepKind::WaitFor { run, .. } => {
                    out.push((p("run"), run.clone(), Use::Command))
                }
                StepKind::EditFile { path, .. } => out.push((p("path"), path.clone(), Use::Path)),
                StepKind::Upload { source, dest, .. } => {
                    out.push((p("source"), source.clone(), Use::Path));
                    out.push((p("dest"), dest.clone(), Use::Path));
                }
                StepKind::Local { argv } => {
                    out.extend(argv.iter().map(|a| (p("run"), a.clone(), Use::Path)))
                }
                StepKind::DisableService { unit } | StepKind::EnableService { unit } => {
                    out.push((p("unit"), unit.clone(), Use::Path))
                }
            }
        }
    }
    out.push(("action.run".into(), plan.action.run.clone(), Use::Command));
    out
}
