//! Proving staged changes are in place (checksums of written files) and running local steps.

use super::ctx::{Ctx, failure_reason};
use super::error::RunError;
use super::event::RunEvent;
use super::phase::Phase;
use crate::executor::{CancelToken, Control, HostOutcome, HostRun, HostRunner};
use crate::plan::model::{StepSettings, Targets};
use crate::remote::quote;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Re-checks the checksum of every file staging wrote, on every host still in the run that
/// got one; a host whose files changed leaves the run (the caller judges the budget).
pub async fn staged_files(
    ctx: &Arc<Ctx>,
    control: &Control,
    phase: Phase,
    in_run: &[String],
) -> Result<(), RunError> {
    let mut per_host: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let staged = ctx.state().staged.clone();
    for (host, file, sha) in staged.iter().filter(|(h, _, _)| in_run.contains(h)) {
        per_host
            .entry(host.clone())
            .or_default()
            .push((file.clone(), sha.clone()));
    }
    if per_host.is_empty() {
        return Ok(());
    }
    let hosts: Vec<String> = per_host.keys().cloned().collect();
    let settings = StepSettings {
        name: "staged files unchanged".into(),
        path: "verify[staged]".into(),
        targets: Targets {
            text: vec![],
            selectors: vec![],
        },
        gate: None,
        once: false,
        sudo: true,
        timeout: Duration::from_secs(30),
        batch_size: 50,
        max_failures: crate::executor::FailureBudget::Count(0),
    };
    let runner = Arc::new(StagedRunner {
        ctx: ctx.clone(),
        files: per_host,
        settings: settings.clone(),
    });
    let report = super::execute(ctx, phase, &settings, hosts, runner, control, None).await;
    super::stopped(control, &report)
}

struct StagedRunner {
    ctx: Arc<Ctx>,
    files: BTreeMap<String, Vec<(String, String)>>,
    settings: StepSettings,
}

impl HostRunner for StagedRunner {
    type Output = ();

    async fn run(&self, host: &str, _cancel: CancelToken) -> HostRun<()> {
        let files = self.files.get(host).cloned().unwrap_or_default();
        let script: String = files
            .iter()
            .map(|(f, _)| {
                format!(
                    "sha256sum -- {} || echo \"missing {}\"\n",
                    quote(f),
                    quote(f)
                )
            })
            .collect();
        let r = match self
            .ctx
            .run(host, script, self.settings.sudo, self.settings.timeout)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                return HostRun::without_output(HostOutcome::Unreachable {
                    reason: e.to_string(),
                });
            }
        };
        let out = r.stdout.text();
        for (file, sha) in &files {
            let actual = out
                .lines()
                .find(|l| l.ends_with(file.as_str()))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or("missing");
            let verdict = if actual == sha {
                crate::checks::Verdict::Pass
            } else {
                crate::checks::Verdict::fail(format!(
                    "{file}: sha256 is {actual}, staged {sha} (drifted?)"
                ))
            };
            self.ctx.emit(RunEvent::Check {
                path: self.settings.path.clone(),
                host: host.into(),
                verdict: verdict.clone(),
            });
            if let Some(reason) = verdict.reason() {
                return HostRun::without_output(HostOutcome::Failed {
                    reason: reason.into(),
                    exit: None,
                });
            }
        }
        match failure_reason(&r) {
            Some(why) => HostRun::without_output(HostOutcome::Failed {
                reason: why,
                exit: None,
            }),
            None => HostRun::new(HostOutcome::Ok { detail: None }, ()),
        }
    }
}

/// Runs a `local` step on the orchestrator, without a shell (printed only in `--dry-run`).
pub async fn local(ctx: &Ctx, argv: &[String], timeout: Duration) -> Result<(), String> {
    let shown: Vec<String> = argv.iter().map(|a| quote(a)).collect();
    if ctx.dry_run {
        ctx.emit(RunEvent::Operator {
            action: format!("would run locally: {}", shown.join(" ")),
        });
        return Ok(());
    }
    let argv: Vec<String> = argv.iter().map(|a| ctx.secrets.expand(a)).collect();
    let Some((program, args)) = argv.split_first() else {
        return Err("local step has no program".into());
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(timeout, child).await {
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(format!(
            "local `{}` failed ({}): {}",
            shown.join(" "),
            out.status,
            crate::sanitize::clean(&out.stderr).trim()
        )),
        Ok(Err(e)) => Err(format!("local `{}` could not start: {e}", shown.join(" "))),
        Err(_) => Err(format!(
            "local `{}` timed out after {}s",
            shown.join(" "),
            timeout.as_secs()
        )),
    }
}
