//! The way back: a run stopped before its action (a failed verify, an abort before arming)
//! is undone on every host staging changed, in one parallel round journaled as the
//! `rollback` phase. Per host, in order: the files staging wrote are put back from their
//! checksummed backups (both checksums proved against the journal, the result proved
//! after), the units a `disable_service` step stopped are enabled and started again, and the
//! plan's `[[rollback]]` steps run. A host whose file is neither what staging wrote nor the
//! original, or whose backup is not the journaled original, is refused (nothing changed on
//! it) unless forced. Called by `cutover rollback` and by `cutover run --rollback-on-failure`.

pub mod decide;

use super::ctx::{Ctx, failure_reason, round};
use super::event::RunEvent;
use super::lease;
use super::phase::Phase;
use crate::compile::RunPlan;
use crate::remote::restore::{self, Put};
use crate::remote::{self, Script};
use decide::{FileAction, HostUndo, Refusal, Seen, Visit};
use std::sync::Arc;
use std::time::Duration;

/// Reading checksums, moving files back, enabling a unit: small commands.
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// How a rollback ended, per host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Hosts restored and verified now.
    pub rolled_back: Vec<String>,
    /// Hosts a rollback had already restored (nothing done).
    pub already: Vec<String>,
    /// Hosts not (or not fully) restored, with why.
    pub failed: Vec<(String, String)>,
}

impl Report {
    /// True when no host failed.
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Rolls back every staged host of the run (see the module doc); refused as a whole while
/// any host may hold an armed job, and after the fire unless `force`.
pub async fn rollback(ctx: &Arc<Ctx>, plan: &RunPlan, force: bool) -> Result<Report, Refusal> {
    let visits = decide::decide(&ctx.state(), plan, force, &ctx.run_name)?;
    let mut report = Report::default();
    let mut todo = Vec::new();
    for (host, visit) in visits {
        match visit {
            Visit::AlreadyRolledBack => report.already.push(host),
            Visit::Undo(u) => todo.push((host, u)),
        }
    }
    if todo.is_empty() {
        return Ok(report);
    }
    let hosts: Vec<String> = todo.iter().map(|(h, _)| h.clone()).collect();
    ctx.emit(RunEvent::Step {
        phase: Phase::Rollback,
        name: "restore staged files, re-enable what staging disabled, run the rollback steps"
            .into(),
        path: "rollback".into(),
        hosts: hosts.len(),
    });
    let sudo = Sudo::of(plan);
    let undo: Arc<std::collections::HashMap<String, HostUndo>> =
        Arc::new(todo.into_iter().collect());
    // One run per host holds for the way back too: each host is taken under this run's lease
    // (renewed if it still holds it) before anything on it changes, so a rollback never
    // restores files under another live run's staging.
    let lease = Arc::new(lease::Lease {
        run: ctx.run_name.clone(),
        operator: ctx.operator.clone(),
        digest: plan.digest.clone(),
        expires: (ctx.now() + chrono::Duration::from_std(lease::LEASE_GRACE).unwrap_or_default())
            .timestamp(),
    });
    let results = round(ctx, &hosts, |ctx, host| {
        let undo = undo.clone();
        let lease = lease.clone();
        async move {
            let result = match (undo.get(&host), lease::take(&ctx, &host, &lease).await) {
                (_, Err(refused)) => Err(format!("not rolled back, nothing changed: {refused}")),
                (Some(u), Ok(())) => one_host(&ctx, &host, u, sudo, force).await,
                (None, Ok(())) => Err("internal: no rollback for this host".into()),
            };
            ctx.emit(RunEvent::RolledBack {
                host: host.clone(),
                ok: result.is_ok(),
                detail: result.clone().err(),
            });
            (host, result)
        }
    })
    .await;
    for (host, r) in results {
        match r {
            Ok(()) => report.rolled_back.push(host),
            Err(why) => report.failed.push((host, why)),
        }
    }
    // Only this run's lease goes (the script checks): a host refused for another run's keeps it.
    lease::release(ctx, &hosts).await;
    if !report.rolled_back.is_empty() {
        local_steps(ctx, plan, &mut report).await;
    }
    let summary = match report.failed.len() {
        0 => format!("{} host(s) rolled back", report.rolled_back.len()),
        n => format!(
            "{} host(s) rolled back; {n} NOT: {}",
            report.rolled_back.len(),
            report
                .failed
                .iter()
                .map(|(h, _)| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    ctx.emit(RunEvent::PhaseDone {
        phase: Phase::Rollback,
        ok: report.ok(),
        summary,
    });
    Ok(report)
}

/// Whether file restores and unit enables go through `sudo -n`: as the staging steps that
/// made the change did.
#[derive(Debug, Clone, Copy)]
struct Sudo {
    files: bool,
    units: bool,
}

impl Sudo {
    fn of(plan: &RunPlan) -> Sudo {
        let any = |f: fn(&crate::plan::model::StepKind) -> bool| {
            plan.stage
                .iter()
                .any(|s| f(&s.item.kind) && s.item.settings.sudo)
        };
        use crate::plan::model::StepKind as K;
        Sudo {
            files: any(|k| matches!(k, K::EditFile { .. } | K::Upload { .. })),
            units: any(|k| matches!(k, K::DisableService { .. })),
        }
    }
}

async fn one_host(
    ctx: &Ctx,
    host: &str,
    u: &HostUndo,
    sudo: Sudo,
    force: bool,
) -> Result<(), String> {
    if !u.files.is_empty() {
        files(ctx, host, u, sudo.files, force).await?;
    }
    if !u.units.is_empty() {
        let r = ctx
            .run(
                host,
                restore::enable_script(&u.units),
                sudo.units,
                FILE_TIMEOUT,
            )
            .await
            .map_err(|e| format!("unreachable: {e}"))?;
        if let Some(why) = failure_reason(&r) {
            let names: Vec<&str> = u.units.iter().map(|u| u.unit.as_str()).collect();
            return Err(format!("re-enabling {}: {why}", names.join(", ")));
        }
    }
    for step in &u.steps {
        let s = &step.settings;
        let Script::Remote(script) = remote::step(&step.kind) else {
            continue;
        };
        let r = ctx
            .run(host, script, s.sudo, s.timeout)
            .await
            .map_err(|e| format!("{} ({}): unreachable: {e}", s.path, s.name))?;
        if let Some(why) = failure_reason(&r) {
            return Err(format!("{} ({}): {why}", s.path, s.name));
        }
    }
    Ok(())
}

/// Reads every staged file and its backup, judges them all (any refusal: nothing is
/// touched), restores, and proves each restored checksum.
async fn files(ctx: &Ctx, host: &str, u: &HostUndo, sudo: bool, force: bool) -> Result<(), String> {
    let names: Vec<&str> = u.files.iter().map(|f| f.file.as_str()).collect();
    let r = ctx
        .run(host, restore::seen_script(&names), sudo, FILE_TIMEOUT)
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    if let Some(why) = failure_reason(&r) {
        return Err(format!("reading the staged files: {why}"));
    }
    let seen = restore::parse_seen(&r.stdout.text(), names.len())
        .map_err(|e| format!("reading the staged files: {e}"))?;
    let mut puts = Vec::new();
    for (f, (live, backup)) in u.files.iter().zip(seen) {
        let action = decide::judge(
            f,
            &Seen {
                live: live.clone(),
                backup,
            },
            force,
        )?;
        match action {
            FileAction::Nothing => {}
            FileAction::Restore { original } => puts.push(Put::Back {
                file: f.file.clone(),
                live,
                original,
            }),
            FileAction::Remove => puts.push(Put::Remove {
                file: f.file.clone(),
                live,
            }),
        }
    }
    if puts.is_empty() {
        return Ok(());
    }
    let r = ctx
        .run(host, restore::restore_script(&puts), sudo, FILE_TIMEOUT)
        .await
        .map_err(|e| format!("unreachable while restoring (check the files by hand): {e}"))?;
    if let Some(why) = failure_reason(&r) {
        return Err(format!("restoring: {why}"));
    }
    let after = restore::parse_restored(&r.stdout.text(), puts.len())
        .map_err(|e| format!("restored, but the result could not be read: {e}"))?;
    for (p, sha) in puts.iter().zip(after) {
        let expected = match p {
            Put::Back { original, .. } => Some(original.clone()),
            Put::Remove { .. } => None,
        };
        if sha != expected {
            return Err(format!(
                "{}: after the restore its sha256 is {}, expected {}",
                p.file(),
                sha.as_deref().map_or("missing", decide::short),
                expected.as_deref().map_or("missing", decide::short),
            ));
        }
        ctx.emit(RunEvent::Restored {
            host: host.into(),
            file: p.file().into(),
            sha256: sha,
        });
    }
    Ok(())
}

/// The plan's `local` rollback steps, once, on the orchestrator.
async fn local_steps(ctx: &Ctx, plan: &RunPlan, report: &mut Report) {
    for s in &plan.rollback {
        let set = &s.item.settings;
        if let Script::Local(argv) = remote::step(&s.item.kind)
            && let Err(why) = super::verify::local(ctx, &argv, set.timeout).await
        {
            report.failed.push((
                "orchestrator".into(),
                format!("{} ({}): {why}", set.path, set.name),
            ));
        }
    }
}
