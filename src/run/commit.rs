//! Prepare, then commit. Arming leaves every job unable to act on its own; once every host
//! still in the run is armed, verified and re-verified at T-minus, one commit round (a single
//! parallel write per host over the open connections) makes the jobs live. The round's
//! duration is the one window in which a crash could split the fleet; it is measured and
//! journaled. Also here: the T-minus check of the armed jobs themselves.

use super::arm::{ARM_COMMAND_TIMEOUT, wrapper};
use super::ctx::{Ctx, failure_reason, round};
use super::error::RunError;
use super::event::RunEvent;
use super::phase::Phase;
use crate::arm::job::commit_script;
use crate::arm::mechanism::verify_script;
use crate::compile::RunPlan;
use crate::executor::{CancelToken, HostOutcome, HostRun, HostRunner};
use crate::remote::quote;
use crate::transport::Limit;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub use crate::plan::timeline::{COMMIT_BY, TMINUS_BY};

/// Runs the commit round on every host still in the run; any host not confirmed by
/// [`COMMIT_BY`] before the fire fails it (the caller withdraws by disarming everything).
pub async fn commit(ctx: &Arc<Ctx>, plan: &RunPlan) -> Result<(), RunError> {
    let hosts = ctx.state().in_run(&plan.action_hosts);
    let by = plan.times.fire - chrono::Duration::from_std(COMMIT_BY).unwrap_or_default();
    ctx.emit(RunEvent::Step {
        phase: Phase::Commit,
        name: "commit: make the armed jobs live".into(),
        path: "action".into(),
        hosts: hosts.len(),
    });
    let start = ctx.clock.instant();
    let collect = round(ctx, &hosts, |ctx, host| async move {
        let script = commit_script(&ctx.job_dir(&host));
        // Shell builtins only, bounded by itself: no `timeout` process in the window.
        let result = match ctx
            .run_own(&host, script, Limit::Script, ARM_COMMAND_TIMEOUT)
            .await
        {
            Ok(r) if r.stdout.text().trim() == "committed" => Ok(()),
            Ok(r) => Err(failure_reason(&r).unwrap_or_else(|| "not confirmed".into())),
            Err(e) => Err(format!("unreachable: {e}")),
        };
        if result.is_ok() {
            ctx.emit(RunEvent::Committed { host: host.clone() });
        }
        (host, result, ctx.clock.instant())
    });
    let results = tokio::select! {
        r = collect => Some(r),
        () = ctx.sleep_until(by) => None,
    };
    let Some(results) = results else {
        return done(
            ctx,
            Err(RunError::Arming(
                "the commit round was not confirmed on every host before the fire time".into(),
            )),
        );
    };
    let last = results.iter().map(|(_, _, t)| *t).max().unwrap_or(start);
    let window_ns = i64::try_from((last - start).as_nanos()).unwrap_or(i64::MAX);
    ctx.emit(RunEvent::CommitWindow {
        hosts: results.len(),
        window_ns,
    });
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(h, r, _)| r.as_ref().err().map(|why| format!("{h}: {why}")))
        .collect();
    if !failed.is_empty() {
        return done(
            ctx,
            Err(RunError::Arming(format!(
                "the commit round failed on {} host(s): {}",
                failed.len(),
                failed.join("; ")
            ))),
        );
    }
    if ctx.now() > by {
        return done(
            ctx,
            Err(RunError::Arming(
                "the commit round ended too close to the fire time".into(),
            )),
        );
    }
    let summary = format!(
        "committed on {} host(s) in {:.1} ms",
        results.len(),
        window_ns as f64 / 1e6
    );
    ctx.emit(RunEvent::PhaseDone {
        phase: Phase::Commit,
        ok: true,
        summary,
    });
    Ok(())
}

fn done(ctx: &Ctx, result: Result<(), RunError>) -> Result<(), RunError> {
    if let Err(e) = &result {
        ctx.emit(RunEvent::PhaseDone {
            phase: Phase::Commit,
            ok: false,
            summary: e.to_string(),
        });
    }
    result
}

/// The time by which the T-minus check must end.
pub fn tminus_bound(fire: DateTime<Utc>) -> DateTime<Utc> {
    fire - chrono::Duration::from_std(TMINUS_BY).unwrap_or_default()
}

/// At T-minus, proves each armed job is still there as armed: the wrapper's hash, the
/// mechanism still holding it (a killed waiter, a reboot that dropped a transient timer, an
/// `atrm` by someone else), and no tombstone (a disarm from another terminal).
pub struct JobCheck {
    /// Shared context.
    pub ctx: Arc<Ctx>,
    /// The compiled plan (action and fire time).
    pub plan: Arc<RunPlan>,
}

impl HostRunner for JobCheck {
    type Output = ();

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<()> {
        tokio::select! {
            outcome = self.check(host) => HostRun::without_output(outcome),
            () = cancel.cancelled() => HostRun::without_output(HostOutcome::Cancelled { started: true }),
        }
    }
}

impl JobCheck {
    async fn check(&self, host: &str) -> HostOutcome {
        let job = self.ctx.state().armed.get(host).cloned();
        let Some(job) = job else {
            return HostOutcome::Failed {
                reason: "no armed job is recorded for this host".into(),
                exit: None,
            };
        };
        let dir = self.ctx.job_dir(host);
        let sha = crate::remote::files::sha256_hex(
            wrapper(
                &self.ctx,
                host,
                &self.plan.action,
                self.plan.times.fire,
                &dir,
            )
            .as_bytes(),
        );
        let script = format!(
            "[ ! -e {d}/disarmed ] || {{ echo 'the run was disarmed on this host' >&2; exit 1; }}\n{}",
            verify_script(job.mechanism, &self.ctx.run_id, &dir, &sha),
            d = quote(&dir)
        );
        let limit = job.mechanism.limit();
        match self
            .ctx
            .run_own(host, script, limit, ARM_COMMAND_TIMEOUT)
            .await
        {
            Ok(r) if r.stdout.text().trim() == "verified" => HostOutcome::Ok { detail: None },
            Ok(r) => HostOutcome::Failed {
                reason: format!(
                    "the armed {} job is gone or changed ({})",
                    job.mechanism,
                    failure_reason(&r).unwrap_or_else(|| "not verified".into())
                ),
                exit: None,
            },
            Err(e) => HostOutcome::Unreachable {
                reason: e.to_string(),
            },
        }
    }
}
