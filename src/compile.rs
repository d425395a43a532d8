//! Plan + inventory + the time now → the fixed run plan the executor carries out.
//!
//! Every choice is made here, once: which hosts each step runs on (in inventory order; `once`
//! takes the first), how many failures each step may absorb, the absolute T-minus times.
//! The executor never re-decides hosts, batches or times; resume replays this same plan.

use crate::inventory::Inventory;
use crate::plan::model::{Budget, Check, CheckKind, Plan, Step, StepKind, StepSettings, Targets};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A step or check with its hosts resolved.
#[derive(Debug, Clone)]
pub struct Resolved<T> {
    /// The plan's step or check.
    pub item: T,
    /// Host names it runs on, in inventory order.
    pub hosts: Vec<String>,
    /// Failures it may absorb (its budget applied to its host count).
    pub allowed_failures: usize,
}

/// The absolute times of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// When the action fires.
    pub fire: DateTime<Utc>,
    /// Earliest arming start.
    pub arm_opens: DateTime<Utc>,
    /// Arming must be complete by then.
    pub arm_deadline: DateTime<Utc>,
    /// Last drift check.
    pub reverify: DateTime<Utc>,
    /// The watch gives up then (if the plan watches).
    pub watch_deadline: Option<DateTime<Utc>>,
}

/// What the executor runs, fully decided.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Digest of plan + inventory.
    pub digest: String,
    /// Absolute times.
    pub times: Times,
    /// Read-only checks first.
    pub preflight: Vec<Resolved<Check>>,
    /// Staging steps.
    pub stage: Vec<Resolved<Step>>,
    /// The plan's verify checks plus the ones implied by staging (agents stay disabled).
    pub verify: Vec<Resolved<Check>>,
    /// Hosts the action is armed on, and the arming failure budget.
    pub action_hosts: Vec<String>,
    /// Failures arming may absorb (default 0: all or nothing).
    pub arm_allowed_failures: usize,
    /// Steps after completion.
    pub post: Vec<Resolved<Step>>,
    /// Steps `cutover rollback` runs on the staged hosts among their targets.
    pub rollback: Vec<Resolved<Step>>,
    /// Quorum member hosts the watch asks (empty without `[watch.quorum]`).
    pub quorum_hosts: Vec<String>,
    /// Each probe's target hosts by probe name (empty: probed from the orchestrator).
    pub probe_hosts: std::collections::BTreeMap<String, Vec<String>>,
    /// The action: command, mechanism, gate, budget (its hosts are `action_hosts`).
    pub action: crate::plan::model::Action,
    /// The quorum and health watch, if the plan watches.
    pub watch: Option<crate::plan::model::Watch>,
    /// What to do by hand when the cutover does not complete.
    pub break_glass: Option<String>,
    /// Hosts per batch for arming.
    pub batch_size: usize,
}

/// Why a plan cannot be compiled against an inventory (validation normally catches these first).
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A step's targets do not resolve.
    #[error("{step}: {message}")]
    Targets {
        /// Where in the plan.
        step: String,
        /// What is wrong.
        message: String,
    },
}

/// Compiles `plan` for `inventory`, firing at `fire` (the plan's time, or a rehearsal override).
pub fn compile(
    plan: &Plan,
    inventory: &Inventory,
    fire: DateTime<Utc>,
    digest: String,
) -> Result<RunPlan, CompileError> {
    let a = &plan.action;
    let checks = |list: &[Check]| {
        list.iter()
            .map(|c| resolve(c.clone(), &c.settings, inventory))
            .collect::<Result<Vec<_>, _>>()
    };
    let steps = |list: &[Step]| {
        list.iter()
            .map(|s| resolve(s.clone(), &s.settings, inventory))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut verify = checks(&plan.verify)?;
    verify.extend(implied_checks(&plan.stage, inventory)?);
    let action_hosts = hosts(&a.targets, false, inventory, "action")?;
    Ok(RunPlan {
        digest,
        times: Times {
            fire,
            arm_opens: fire - dur(a.arm_window),
            arm_deadline: fire - dur(a.arm_deadline),
            reverify: fire - dur(a.reverify_before),
            watch_deadline: plan.watch.as_ref().map(|w| fire + dur(w.timeout)),
        },
        preflight: checks(&plan.preflight)?,
        stage: steps(&plan.stage)?,
        verify,
        arm_allowed_failures: a.max_failures.allowed(action_hosts.len()),
        action_hosts,
        post: steps(&plan.post)?,
        rollback: steps(&plan.rollback)?,
        quorum_hosts: match plan.watch.as_ref().and_then(|w| w.quorum.as_ref()) {
            Some(q) => hosts(&q.targets, false, inventory, "watch.quorum")?,
            None => Vec::new(),
        },
        probe_hosts: plan
            .watch
            .iter()
            .flat_map(|w| &w.probes)
            .filter(|p| !p.targets.text.is_empty())
            .map(|p| hosts(&p.targets, false, inventory, &p.name).map(|h| (p.name.clone(), h)))
            .collect::<Result<_, _>>()?,
        action: a.clone(),
        watch: plan.watch.clone(),
        break_glass: plan.meta.break_glass.clone(),
        batch_size: plan.execution.batch_size,
    })
}

fn resolve<T>(item: T, s: &StepSettings, inv: &Inventory) -> Result<Resolved<T>, CompileError> {
    let hosts = hosts(&s.targets, s.once, inv, &s.path)?;
    Ok(Resolved {
        allowed_failures: s.max_failures.allowed(hosts.len()),
        hosts,
        item,
    })
}

fn hosts(
    t: &Targets,
    once: bool,
    inv: &Inventory,
    step: &str,
) -> Result<Vec<String>, CompileError> {
    let selected = inv
        .select(&t.selectors)
        .map_err(|e| CompileError::Targets {
            step: step.into(),
            message: e.to_string(),
        })?;
    let take = if once { 1 } else { selected.len() };
    Ok(selected.iter().take(take).map(|h| h.name.clone()).collect())
}

/// A disabled agent must still be disabled at verify and at T-minus (chef re-enabled itself
/// on some of the reference fleet's nodes mid-run).
fn implied_checks(stage: &[Step], inv: &Inventory) -> Result<Vec<Resolved<Check>>, CompileError> {
    let mut out = Vec::new();
    for s in stage {
        if let StepKind::DisableService { unit } = &s.kind {
            let settings = StepSettings {
                name: format!("{unit} still disabled"),
                max_failures: Budget::Count(0),
                ..s.settings.clone()
            };
            let check = Check {
                settings: settings.clone(),
                kind: CheckKind::AgentDisabled {
                    unit: unit.clone(),
                    cron_pattern: None,
                },
            };
            out.push(resolve(check, &settings, inv)?);
        }
    }
    Ok(out)
}

fn dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

/// Parses a rehearsal fire time: `now+2m` (rounded up to the next whole minute when
/// `whole_minute`, as `at` needs) or an RFC 3339 instant.
pub fn parse_fire_override(
    text: &str,
    now: DateTime<Utc>,
    whole_minute: bool,
) -> Result<DateTime<Utc>, String> {
    let t = match text.strip_prefix("now+") {
        Some(d) => {
            now + dur(humantime::parse_duration(d)
                .map_err(|e| format!("`{text}`: {e}; write e.g. now+2m"))?)
        }
        None => DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}`: {e}; write now+2m or an RFC 3339 time"))?
            .to_utc(),
    };
    if !whole_minute {
        return Ok(t);
    }
    let secs = t.timestamp();
    let rounded = if secs % 60 == 0 && t.timestamp_subsec_nanos() == 0 {
        secs
    } else {
        (secs / 60 + 1) * 60
    };
    DateTime::from_timestamp(rounded, 0).ok_or_else(|| format!("`{text}` is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rehearsal_fire_times() {
        let now = Utc.with_ymd_and_hms(2027, 1, 14, 2, 5, 30).unwrap();
        assert_eq!(
            parse_fire_override("now+2m", now, false).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 14, 2, 7, 30).unwrap()
        );
        assert_eq!(
            parse_fire_override("now+2m", now, true).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 14, 2, 8, 0).unwrap()
        );
        assert_eq!(
            parse_fire_override("2027-01-14T03:00:00Z", now, true).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 14, 3, 0, 0).unwrap()
        );
        assert!(parse_fire_override("soon", now, false).is_err());
    }
}
