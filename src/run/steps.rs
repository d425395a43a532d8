//! Running a staging or post step on one host: scripts, and file edits computed, shown as a
//! diff, then written atomically with a guard against the file changing in between.

use super::checks::unreachable;
use super::ctx::{Ctx, failure_reason};
use super::event::{Original, RunEvent};
use crate::edit;
use crate::executor::{CancelToken, HostOutcome, HostRun, HostRunner};
use crate::plan::model::{Edit, Step, StepKind};
use crate::plan::template::fields;
use crate::remote::files::{Backup, parse_read, read_script, sha256_hex, write_script_with};
use crate::remote::{self, Script, restore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A file change computed for one host, before anything is written.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The file on the host (templated paths rendered).
    pub file: String,
    /// Checksum of what is there now (`None`: the file does not exist).
    pub old_sha: Option<String>,
    /// The new content.
    pub content: Vec<u8>,
    /// Mode for new files and uploads.
    pub mode: Option<u32>,
    /// Unified diff (empty: no change).
    pub diff: String,
}

/// In `--dry-run`, earlier edits of a file are kept here so later steps diff against them.
pub type Overlay = Mutex<HashMap<(String, String), Vec<u8>>>;

/// Runs one step over the executor.
pub struct StepRunner {
    /// Shared context.
    pub ctx: Arc<Ctx>,
    /// The step.
    pub step: Step,
    /// Dry-run overlay of edited files.
    pub overlay: Arc<Overlay>,
    /// Changes computed by the prepare pass (whose diffs were shown), consumed by the write.
    pub prepared: Mutex<HashMap<String, Prepared>>,
}

impl HostRunner for StepRunner {
    type Output = String;

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<String> {
        tokio::select! {
            r = self.apply(host) => match r {
                Ok(detail) => HostRun::new(HostOutcome::Ok { detail: None }, detail),
                Err(HostOutcome::Unreachable { reason }) => HostRun::without_output(HostOutcome::Unreachable { reason }),
                Err(outcome) => HostRun::without_output(outcome),
            },
            () = cancel.cancelled() => HostRun::without_output(HostOutcome::Cancelled { started: true }),
        }
    }
}

fn failed(reason: String) -> HostOutcome {
    HostOutcome::Failed { reason, exit: None }
}

impl StepRunner {
    async fn apply(&self, host: &str) -> Result<String, HostOutcome> {
        let s = &self.step.settings;
        let kind = self
            .ctx
            .rendered(host, &self.step.kind, fields::step)
            .map_err(failed)?;
        match remote::step(&kind) {
            Script::Remote(script) if self.ctx.dry_run => Ok(format!(
                "would run: {}",
                script.lines().next().unwrap_or("")
            )),
            Script::Remote(script) => {
                if let StepKind::DisableService { unit } = &self.step.kind {
                    self.unit_before(host, unit).await?;
                }
                let r = self
                    .ctx
                    .run(host, script, s.sudo, s.timeout)
                    .await
                    .map_err(|e| HostOutcome::Unreachable {
                        reason: unreachable(e).reason().unwrap_or("").to_string(),
                    })?;
                match failure_reason(&r) {
                    None => Ok(r.stdout.text()),
                    Some(why) => Err(failed(why)),
                }
            }
            Script::PerHost(_) => self.file_step(host).await,
            Script::Local(_) => Ok(String::new()),
        }
    }

    /// Journals what a unit is before a `disable_service` step changes it (a rollback
    /// restores that); an answer that does not parse journals nothing (the rollback then
    /// enables and starts the unit).
    async fn unit_before(&self, host: &str, unit: &str) -> Result<(), HostOutcome> {
        let s = &self.step.settings;
        let r = self
            .ctx
            .run(host, restore::unit_state_script(unit), s.sudo, s.timeout)
            .await
            .map_err(|e| HostOutcome::Unreachable {
                reason: unreachable(e).reason().unwrap_or("").to_string(),
            })?;
        if let Some((enabled, active)) = restore::parse_unit_state(&r.stdout.text()) {
            self.ctx.emit(RunEvent::UnitBefore {
                host: host.into(),
                unit: unit.into(),
                enabled,
                active,
            });
        }
        Ok(())
    }

    async fn file_step(&self, host: &str) -> Result<String, HostOutcome> {
        let ready = self
            .prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(host);
        let p = match ready {
            Some(p) => p,
            None => self.prepare(host).await?,
        };
        if self.ctx.dry_run {
            let mut overlay = self.overlay.lock().unwrap_or_else(|e| e.into_inner());
            overlay.insert((host.to_string(), p.file.clone()), p.content.clone());
            return Ok(p.diff);
        }
        if p.diff.is_empty() && p.old_sha.is_some() {
            return Ok("unchanged".into());
        }
        let s = &self.step.settings;
        // The run's first write of this file backs up what it found (what a rollback puts
        // back), replacing a backup an earlier run left; later writes keep it.
        let first = !self
            .ctx
            .state()
            .originals
            .contains_key(&(host.to_string(), p.file.clone()));
        let backup = if first {
            Backup::Fresh
        } else {
            Backup::KeepFirst
        };
        let script = write_script_with(&p.file, &p.content, p.old_sha.as_deref(), p.mode, backup);
        let r = self
            .ctx
            .run_big(host, script, s.sudo, s.timeout)
            .await
            .map_err(|e| HostOutcome::Unreachable {
                reason: e.to_string(),
            })?;
        if let Some(why) = failure_reason(&r) {
            return Err(failed(why));
        }
        let written = r.stdout.text().trim().to_string();
        let expected = sha256_hex(&p.content);
        if written != expected {
            return Err(failed(format!(
                "{}: checksum after write is {written}, expected {expected}",
                p.file
            )));
        }
        self.ctx.emit(RunEvent::Staged {
            path: s.path.clone(),
            host: host.into(),
            file: p.file.clone(),
            sha256: expected,
            original: Some(match p.old_sha {
                Some(sha) => Original::Sha256(sha),
                None => Original::Absent,
            }),
        });
        Ok(p.diff)
    }

    /// Reads the host's file and computes the new content and diff.
    pub async fn prepare(&self, host: &str) -> Result<Prepared, HostOutcome> {
        let h = self
            .ctx
            .hosts
            .get(host)
            .ok_or_else(|| failed("unknown host".into()))?;
        let kind = self
            .ctx
            .rendered(host, &self.step.kind, fields::step)
            .map_err(failed)?;
        let (file, mode) = match &kind {
            StepKind::EditFile { path, .. } => (path.clone(), None),
            StepKind::Upload { dest, mode, .. } => (dest.clone(), Some(*mode)),
            _ => return Err(failed("internal: not a file step".into())),
        };
        if !file.starts_with('/') {
            return Err(failed(format!(
                "`{file}` is not an absolute path on {host}"
            )));
        }
        let s = &self.step.settings;
        let r = self
            .ctx
            .run_big(host, read_script(&file), s.sudo, s.timeout)
            .await
            .map_err(|e| HostOutcome::Unreachable {
                reason: e.to_string(),
            })?;
        if let Some(why) = failure_reason(&r) {
            return Err(failed(format!("reading {file}: {why}")));
        }
        let current =
            parse_read(&r.stdout.text()).map_err(|e| failed(format!("reading {file}: {e}")))?;
        let old_sha = current.as_ref().map(|c| c.sha256.clone());
        let overlaid = self
            .overlay
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(host.to_string(), file.clone()))
            .cloned();
        let before = overlaid
            .or_else(|| current.map(|c| c.content))
            .unwrap_or_default();
        let content = self.new_content(h, &kind, &file, &before)?;
        // The header names the path as the plan writes it, so hosts whose paths differ only
        // by their variables still group by identical change; `show_diffs` then names the
        // rendered path wherever a group's hosts share it.
        let written = match &self.step.kind {
            StepKind::EditFile { path, .. } => path.clone(),
            StepKind::Upload { dest, .. } => dest.clone(),
            _ => file.clone(),
        };
        let diff = edit::unified_diff(
            &written,
            &String::from_utf8_lossy(&before),
            &String::from_utf8_lossy(&content),
        );
        Ok(Prepared {
            file,
            old_sha,
            content,
            mode,
            diff,
        })
    }

    fn new_content(
        &self,
        h: &crate::inventory::Host,
        kind: &StepKind,
        file: &str,
        before: &[u8],
    ) -> Result<Vec<u8>, HostOutcome> {
        match kind {
            StepKind::EditFile { edit: e, .. } => {
                let text = std::str::from_utf8(before).map_err(|_| {
                    failed(format!(
                        "{file} is not UTF-8 text; cutover edits text files"
                    ))
                })?;
                edit::apply(&with_secrets(e, &self.ctx.secrets), text, h)
                    .map(String::into_bytes)
                    .map_err(|e| failed(format!("{file}: {e}")))
            }
            StepKind::Upload { source, .. } => {
                let local = self.ctx.plan_dir.join(source);
                std::fs::read(&local)
                    .map_err(|e| failed(format!("cannot read {}: {e}", local.display())))
            }
            _ => Err(failed("internal: not a file step".into())),
        }
    }
}

/// An edit with its `{{ secrets.NAME }}` references filled in (templates keep them raw).
fn with_secrets(e: &Edit, secrets: &crate::redact::Secrets) -> Edit {
    if secrets.is_empty() {
        return e.clone();
    }
    match e {
        Edit::Template { content } => Edit::Template {
            content: secrets.expand_template(content),
        },
        Edit::Replace {
            pattern,
            with,
            expect_matches,
        } => Edit::Replace {
            pattern: pattern.clone(),
            with: secrets.expand(with),
            expect_matches: *expect_matches,
        },
        Edit::SetKeys { format, keys } => Edit::SetKeys {
            format: *format,
            keys: keys
                .iter()
                .map(|(k, v)| (k.clone(), expand_value(v, secrets)))
                .collect(),
        },
    }
}

fn expand_value(v: &toml::Value, secrets: &crate::redact::Secrets) -> toml::Value {
    match v {
        toml::Value::String(s) => toml::Value::String(secrets.expand(s)),
        toml::Value::Array(a) => {
            toml::Value::Array(a.iter().map(|v| expand_value(v, secrets)).collect())
        }
        toml::Value::Table(t) => toml::Value::Table(
            t.iter()
                .map(|(k, v)| (k.clone(), expand_value(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A grouped diff's header with the plan's path (`written`) replaced by the path its hosts
/// share once rendered (`rendered`), or marked as rendered per host when they differ.
pub fn rendered_header(diff: &str, written: &str, rendered: Option<&str>) -> String {
    let name = match rendered {
        Some(file) => file.to_string(),
        None if written.contains("{{") => format!("{written} (rendered per host)"),
        None => return diff.to_string(),
    };
    let mut out = String::with_capacity(diff.len());
    for (i, line) in diff.split_inclusive('\n').enumerate() {
        match line
            .strip_prefix("--- ")
            .or_else(|| line.strip_prefix("+++ "))
        {
            Some(rest) if i < 2 && rest.trim_end() == written => {
                out.push_str(&line[..4]);
                out.push_str(&name);
                out.push('\n');
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The prepare pass of a file step: read, edit in memory, diff; nothing is written.
pub struct PrepareRunner(pub Arc<StepRunner>);

impl HostRunner for PrepareRunner {
    type Output = Prepared;

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<Prepared> {
        tokio::select! {
            r = self.0.prepare(host) => match r {
                Ok(p) => HostRun::new(HostOutcome::Ok { detail: None }, p),
                Err(outcome) => HostRun::without_output(outcome),
            },
            () = cancel.cancelled() => HostRun::without_output(HostOutcome::Cancelled { started: true }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grouped_diff_names_the_rendered_path_its_hosts_share() {
        let diff = edit::unified_diff("{{ vars.root }}/x", "a\n", "b\n");
        let shared = rendered_header(&diff, "{{ vars.root }}/x", Some("/srv/x"));
        assert!(shared.starts_with("--- /srv/x\n+++ /srv/x\n"), "{shared}");
        let differ = rendered_header(&diff, "{{ vars.root }}/x", None);
        assert!(
            differ.starts_with("--- {{ vars.root }}/x (rendered per host)\n"),
            "{differ}"
        );
        assert_eq!(rendered_header(&diff, "/etc/x", None), diff);
    }
}
