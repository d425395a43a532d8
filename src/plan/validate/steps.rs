//! Validation of `[[preflight]]`, `[[verify]]`, `[[stage]]` and `[[post]]` entries.

use super::{V, values};
use crate::plan::model::{
    Check, CheckKind, Edit, Execution, Mechanism, Step, StepKind, StepSettings,
};
use crate::plan::raw::{RawCheck, RawCheckKind, RawCommon, RawSetKeys, RawStep, RawStepKind};
use std::time::Duration;

impl V<'_> {
    pub(super) fn check(&mut self, list: &str, i: usize, raw: &RawCheck, ex: &Execution) -> Check {
        let path = format!("{list}[{i}]");
        let default_name = check_name(&raw.kind);
        let mut settings = self.settings(&path, &raw.common, ex, default_name, false);
        if raw.common.name.is_none() {
            settings.name = self.rendered_label(&settings);
        }
        let kind = self.check_kind(&path, &raw.kind);
        Check { settings, kind }
    }

    pub(super) fn step(&mut self, list: &str, i: usize, raw: &RawStep, ex: &Execution) -> Step {
        let path = format!("{list}[{i}]");
        let sudo_default = !matches!(
            raw.kind,
            RawStepKind::Local { .. } | RawStepKind::WaitFor { .. }
        );
        let mut settings =
            self.settings(&path, &raw.common, ex, step_name(&raw.kind), sudo_default);
        if raw.common.name.is_none() {
            settings.name = self.rendered_label(&settings);
        }
        let kind = self.step_kind(&path, &raw.kind);
        Step { settings, kind }
    }

    /// A `[[rollback]]` step: any step but a file edit or upload (files are undone from
    /// their checksummed backups; a rollback writes nothing new).
    pub(super) fn rollback_step(&mut self, i: usize, raw: &RawStep, ex: &Execution) -> Step {
        let step = self.step("rollback", i, raw, ex);
        if matches!(
            step.kind,
            StepKind::EditFile { .. } | StepKind::Upload { .. }
        ) {
            let d = self.error(
                &format!("rollback[{i}].step"),
                "a rollback step cannot edit or upload a file",
            );
            V::hint(
                d,
                "files staging wrote are restored from their backups by `cutover rollback` itself; use command, enable_service, disable_service, wait_for or local",
            );
        }
        step
    }

    /// A default label that names a templated path (`edit {{ vars.root }}/etc/x`), rendered
    /// when every target host renders it the same; as written otherwise.
    fn rendered_label(&self, s: &StepSettings) -> String {
        let Some(hosts) = self
            .cx
            .inventory
            .and_then(|inv| inv.select(&s.targets.selectors).ok())
        else {
            return s.name.clone();
        };
        let take = if s.once { 1 } else { hosts.len() };
        let mut labels = hosts.iter().take(take).map(|h| {
            crate::plan::template::render(&s.name, h, crate::plan::template::Quoting::Plain).ok()
        });
        match labels.next().flatten() {
            Some(first) if labels.all(|l| l.as_deref() == Some(first.as_str())) => first,
            _ => s.name.clone(),
        }
    }

    fn settings(
        &mut self,
        path: &str,
        c: &RawCommon,
        ex: &Execution,
        name: String,
        sudo: bool,
    ) -> StepSettings {
        let p = |f: &str| format!("{path}.{f}");
        let gate = c
            .gate
            .as_ref()
            .map(|g| self.value(&p("gate"), Some(g), String::new(), |g| values::gate(g)));
        StepSettings {
            name: c.name.clone().unwrap_or(name),
            path: path.to_string(),
            targets: self.targets(&p("targets"), values::targets(c.targets.as_ref())),
            gate,
            once: c.once.unwrap_or(false),
            sudo: c.sudo.unwrap_or(sudo),
            timeout: self.duration(&p("timeout"), c.timeout.as_ref(), ex.command_timeout),
            batch_size: self
                .batch_size(&p("batch_size"), c.batch_size)
                .unwrap_or(ex.batch_size),
            max_failures: self.value(
                &p("max_failures"),
                c.max_failures.as_ref(),
                ex.max_failures,
                values::budget,
            ),
        }
    }

    fn check_kind(&mut self, path: &str, raw: &RawCheckKind) -> CheckKind {
        let p = |f: &str| format!("{path}.{f}");
        match raw {
            RawCheckKind::Clock {
                max_offset,
                ntp_synchronized,
                timezone,
            } => CheckKind::Clock {
                max_offset: self.duration(
                    &p("max_offset"),
                    max_offset.as_ref(),
                    Duration::from_millis(500),
                ),
                ntp_synchronized: ntp_synchronized.unwrap_or(true),
                timezone: timezone.clone(),
            },
            RawCheckKind::Sudo {} => CheckKind::Sudo,
            RawCheckKind::Scheduler { mechanism } => CheckKind::Scheduler {
                mechanism: self.value(&p("mechanism"), mechanism.as_ref(), Mechanism::Auto, |m| {
                    values::mechanism(m)
                }),
            },
            RawCheckKind::Service {
                unit,
                state,
                enabled,
            } => {
                let active = self.value(&p("state"), state.as_ref(), None, |s| match s.as_str() {
                    "active" => Ok(Some(true)),
                    "inactive" => Ok(Some(false)),
                    _ => Err(format!("state `{s}` must be \"active\" or \"inactive\"")),
                });
                CheckKind::Service {
                    unit: unit.clone(),
                    active,
                    enabled: *enabled,
                }
            }
            RawCheckKind::AgentDisabled { unit, cron_pattern } => CheckKind::AgentDisabled {
                unit: unit.clone(),
                cron_pattern: cron_pattern.clone(),
            },
            RawCheckKind::File {
                path: file,
                sha256,
                contains,
                absent,
            } => self.file_check(path, file, sha256, contains, absent),
            RawCheckKind::Command {
                run,
                expect_exit,
                stdout_matches,
            } => CheckKind::Command {
                run: run.clone(),
                expect_exit: self.value(&p("expect_exit"), *expect_exit, 0, |n| {
                    i32::try_from(n)
                        .ok()
                        .filter(|n| (0..=255).contains(n))
                        .ok_or(format!("exit code {n} is not 0-255"))
                }),
                stdout_matches: self.regex(&p("stdout_matches"), stdout_matches.as_ref()),
            },
            RawCheckKind::Http {
                url,
                expect_status,
                body_matches,
            } => CheckKind::Http {
                url: self.url(&p("url"), url),
                expect_status: self.status(&p("expect_status"), *expect_status),
                body_matches: self.regex(&p("body_matches"), body_matches.as_ref()),
            },
            RawCheckKind::Tcp { port } => CheckKind::Tcp {
                port: self.value(&p("port"), Some(*port), 0, values::port),
            },
        }
    }

    fn file_check(
        &mut self,
        path: &str,
        file: &str,
        sha: &Option<String>,
        contains: &Option<String>,
        absent: &Option<String>,
    ) -> CheckKind {
        let p = |f: &str| format!("{path}.{f}");
        if sha.is_none() && contains.is_none() && absent.is_none() {
            let d = self.error(path, "this file check checks nothing");
            V::hint(d, "give sha256, contains or absent");
        }
        let sha256 = sha.as_ref().map(|s| {
            self.value(&p("sha256"), Some(s), String::new(), |s| {
                let ok = s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
                if ok {
                    Ok(s.to_ascii_lowercase())
                } else {
                    Err(format!("`{s}` is not a sha256 (64 hex digits)"))
                }
            })
        });
        CheckKind::File {
            path: self.value(&p("path"), Some(file), String::new(), values::abs_path),
            sha256,
            contains: self.regex(&p("contains"), contains.as_ref()),
            absent: self.regex(&p("absent"), absent.as_ref()),
        }
    }

    fn step_kind(&mut self, path: &str, raw: &RawStepKind) -> StepKind {
        let p = |f: &str| format!("{path}.{f}");
        match raw {
            RawStepKind::Command { run } => StepKind::Command { run: run.clone() },
            RawStepKind::DisableService { unit } => StepKind::DisableService { unit: unit.clone() },
            RawStepKind::EnableService { unit } => StepKind::EnableService { unit: unit.clone() },
            RawStepKind::EditFile {
                path: file,
                replace,
                set,
                template,
            } => {
                let file = self.value(
                    &p("path"),
                    Some(file.as_str()),
                    String::new(),
                    values::abs_path,
                );
                let edit = self.edit(path, replace, set, template);
                StepKind::EditFile { path: file, edit }
            }
            RawStepKind::Upload { source, dest, mode } => StepKind::Upload {
                source: source.clone(),
                dest: self.value(
                    &p("dest"),
                    Some(dest.as_str()),
                    String::new(),
                    values::abs_path,
                ),
                mode: self.value(&p("mode"), mode.as_ref(), 0o644, |m| values::mode(m)),
            },
            RawStepKind::WaitFor { run, interval } => StepKind::WaitFor {
                run: run.clone(),
                interval: self.duration(&p("interval"), interval.as_ref(), Duration::from_secs(2)),
            },
            RawStepKind::Local { run } => {
                if run.is_empty() || run[0].is_empty() {
                    let d = self.error(&p("run"), "a local step needs a program to run");
                    V::hint(
                        d,
                        "write run = [\"program\", \"arg\", ...]; it runs without a shell",
                    );
                }
                StepKind::Local { argv: run.clone() }
            }
        }
    }

    fn edit(
        &mut self,
        path: &str,
        replace: &Option<crate::plan::raw::RawReplace>,
        set: &Option<RawSetKeys>,
        template: &Option<String>,
    ) -> Edit {
        let given = usize::from(replace.is_some())
            + usize::from(set.is_some())
            + usize::from(template.is_some());
        if given != 1 {
            let d = self.error(
                path,
                format!("edit_file needs exactly one of replace, set or template (found {given})"),
            );
            V::hint(
                d,
                "split several edits of one file into several steps, in order",
            );
        }
        if let Some(r) = replace {
            let expect = r.expect_matches.map(|n| {
                self.value(&format!("{path}.replace.expect_matches"), Some(n), 1, |n| {
                    usize::try_from(n)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("expect_matches {n} must be 1 or more"))
                })
            });
            let pattern = self
                .regex(&format!("{path}.replace.pattern"), Some(&r.pattern))
                .unwrap_or_default();
            return Edit::Replace {
                pattern,
                with: r.with.clone(),
                expect_matches: expect,
            };
        }
        if let Some(s) = set {
            let format = self.value(
                &format!("{path}.set.format"),
                Some(&s.format),
                crate::plan::model::KeyFormat::Json,
                |f| values::key_format(f),
            );
            if s.keys.is_empty() {
                self.error(
                    &format!("{path}.set.keys"),
                    "set.keys is empty: nothing would change",
                );
            }
            return Edit::SetKeys {
                format,
                keys: s.keys.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            };
        }
        Edit::Template {
            content: template.clone().unwrap_or_default(),
        }
    }

    pub(super) fn regex(&mut self, path: &str, raw: Option<&String>) -> Option<String> {
        raw.map(|r| self.value(path, Some(r), String::new(), |r| values::regex(r)))
    }

    pub(super) fn url(&mut self, path: &str, url: &str) -> String {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            self.error(path, format!("`{url}` is not an http:// or https:// URL"));
        }
        url.to_string()
    }

    pub(super) fn status(&mut self, path: &str, raw: Option<i64>) -> u16 {
        self.value(path, raw, 200, |n| {
            u16::try_from(n)
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or(format!("{n} is not an HTTP status"))
        })
    }
}

fn check_name(kind: &RawCheckKind) -> String {
    match kind {
        RawCheckKind::Clock { .. } => "clock in sync".into(),
        RawCheckKind::Sudo {} => "sudo without password".into(),
        RawCheckKind::Scheduler { .. } => "scheduler available".into(),
        RawCheckKind::Service { unit, .. } => format!("service {unit}"),
        RawCheckKind::AgentDisabled { unit, .. } => format!("{unit} disabled"),
        RawCheckKind::File { path, .. } => format!("file {path}"),
        RawCheckKind::Command { .. } => "command".into(),
        RawCheckKind::Http { url, .. } => format!("http {url}"),
        RawCheckKind::Tcp { port } => format!("tcp port {port}"),
    }
}

fn step_name(kind: &RawStepKind) -> String {
    match kind {
        RawStepKind::Command { .. } => "command".into(),
        RawStepKind::DisableService { unit } => format!("disable {unit}"),
        RawStepKind::EnableService { unit } => format!("enable {unit}"),
        RawStepKind::EditFile { path, .. } => format!("edit {path}"),
        RawStepKind::Upload { dest, .. } => format!("upload {dest}"),
        RawStepKind::WaitFor { .. } => "wait for".into(),
        RawStepKind::Local { .. } => "local command".into(),
    }
}
