//! What `cutover rollback` does, decided from the run's fold and its compiled plan. Pure.
//!
//! Refused as a whole while any host holds (or may hold) an armed job, and once the action
//! fired on any host unless forced. Otherwise each staged host gets its own undo: the files
//! staging wrote (the original's checksum as journaled, the last staged checksum), the units
//! a `disable_service` step stopped on it, and the plan's `[[rollback]]` steps that target it.

use crate::compile::{Resolved, RunPlan};
use crate::plan::model::{Step, StepKind};
use crate::remote::restore::UnitBack;
use crate::run::event::Original;
use crate::run::state::{Rollback, RunState};
use std::collections::{BTreeMap, BTreeSet};

/// Why a rollback is refused for the whole run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Some hosts hold, or may hold, an armed job: restoring files under it would let it fire
    /// against the old config.
    #[error(
        "{} host(s) hold or may hold an armed job ({}): disarm first with `cutover disarm {run}`, then roll back",
        hosts.len(), hosts.join(", ")
    )]
    Armed {
        /// The run id.
        run: String,
        /// The hosts.
        hosts: Vec<String>,
    },
    /// The action ran on some hosts: their service already runs the staged config.
    #[error(
        "the action fired on {} host(s) ({}): restoring the old config under a service that already runs the new one splits the fleet; pass --force if that is what you want",
        hosts.len(), hosts.join(", ")
    )]
    Fired {
        /// The hosts.
        hosts: Vec<String>,
    },
}

/// One file to put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUndo {
    /// The file on the host.
    pub file: String,
    /// The sha256 of what the run last wrote there.
    pub staged: String,
    /// What it was before the run (`None`: not journaled, cannot be restored).
    pub original: Option<Original>,
}

/// Everything to undo on one host, in order: files, units, steps.
#[derive(Debug, Clone)]
pub struct HostUndo {
    /// Files staging wrote.
    pub files: Vec<FileUndo>,
    /// Units a `disable_service` step stopped and disabled, to enable and start again as
    /// they were before it.
    pub units: Vec<UnitBack>,
    /// The plan's `[[rollback]]` steps targeting it.
    pub steps: Vec<Step>,
}

/// What happens to one staged host.
#[derive(Debug, Clone)]
pub enum Visit {
    /// Undo these.
    Undo(HostUndo),
    /// A rollback already restored and verified it.
    AlreadyRolledBack,
}

/// Per staged host (sorted), what to do; or why nothing may be done.
pub fn decide(
    state: &RunState,
    plan: &RunPlan,
    force: bool,
    run: &str,
) -> Result<Vec<(String, Visit)>, Refusal> {
    let holding = state.holding_jobs(&plan.action_hosts);
    if !holding.is_empty() {
        return Err(Refusal::Armed {
            run: run.to_string(),
            hosts: holding,
        });
    }
    let fired: Vec<String> = state.fired().into_iter().collect();
    if !fired.is_empty() && !force {
        return Err(Refusal::Fired { hosts: fired });
    }
    Ok(staged_hosts(state, &plan.stage)
        .into_iter()
        .map(|h| {
            let visit = match state.rollback(&h) {
                Rollback::RolledBack => Visit::AlreadyRolledBack,
                _ => Visit::Undo(undo(state, plan, &h)),
            };
            (h, visit)
        })
        .collect())
}

/// Hosts staging changed, as far as the journal proves: a file written, or a staging step
/// finished on them.
pub fn staged_hosts(state: &RunState, stage: &[Resolved<Step>]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = state.staged.iter().map(|(h, _, _)| h.clone()).collect();
    for s in stage {
        if let Some(done) = state.host_steps.get(&s.item.settings.path) {
            out.extend(done.iter().cloned());
        }
    }
    out
}

fn undo(state: &RunState, plan: &RunPlan, host: &str) -> HostUndo {
    // The last checksum written to each file (several steps may edit one file).
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for (h, file, sha) in &state.staged {
        if h == host {
            last.insert(file, sha);
        }
    }
    let files = last
        .into_iter()
        .map(|(file, sha)| FileUndo {
            file: file.to_string(),
            staged: sha.to_string(),
            original: state
                .originals
                .get(&(host.to_string(), file.to_string()))
                .cloned()
                .flatten(),
        })
        .collect();
    let mut units: Vec<UnitBack> = Vec::new();
    for s in &plan.stage {
        let done = state
            .host_steps
            .get(&s.item.settings.path)
            .is_some_and(|d| d.contains(host));
        if let (StepKind::DisableService { unit }, true) = (&s.item.kind, done)
            && !units.iter().any(|u| &u.unit == unit)
        {
            // Unrecorded (a journal of an older version): it is assumed enabled and running.
            let (enable, start) = state
                .units_before
                .get(&(host.to_string(), unit.clone()))
                .copied()
                .unwrap_or((true, true));
            if enable || start {
                units.push(UnitBack {
                    unit: unit.clone(),
                    enable,
                    start,
                });
            }
        }
    }
    let steps = plan
        .rollback
        .iter()
        .filter(|s| s.hosts.iter().any(|h| h == host))
        .map(|s| s.item.clone())
        .collect();
    HostUndo {
        files,
        units,
        steps,
    }
}

/// What a host's file and its backup are now (sha256, `None`: missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The live file.
    pub live: Option<String>,
    /// `FILE.cutover-bak`.
    pub backup: Option<String>,
}

/// What to do with one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    /// It is already the original.
    Nothing,
    /// Move the backup (whose checksum is the original's) over it.
    Restore {
        /// The original's sha256 (the backup's, checked again on the host).
        original: String,
    },
    /// Staging created it: remove it.
    Remove,
}

/// Judges one file from what is on the host; `Err` refuses the whole host with the reason.
pub fn judge(f: &FileUndo, seen: &Seen, force: bool) -> Result<FileAction, String> {
    let file = &f.file;
    let Some(original) = &f.original else {
        return Err(format!(
            "{file}: the journal does not record what it was before the run (a run of an older version): restore it by hand from {file}.cutover-bak"
        ));
    };
    let already = match original {
        Original::Sha256(o) => seen.live.as_deref() == Some(o.as_str()),
        Original::Absent => seen.live.is_none(),
    };
    if already {
        return Ok(FileAction::Nothing);
    }
    if seen.live.as_deref() != Some(f.staged.as_str()) && !force {
        return Err(format!(
            "{file} is neither what staging wrote (sha256 {}) nor the original: it was changed since (sha256 {}); nothing restored on this host; pass --force to restore the original over it",
            short(&f.staged),
            seen.live.as_deref().map_or("missing", short)
        ));
    }
    match original {
        Original::Absent => Ok(FileAction::Remove),
        Original::Sha256(o) if seen.backup.as_deref() == Some(o.as_str()) => {
            Ok(FileAction::Restore {
                original: o.clone(),
            })
        }
        Original::Sha256(o) => Err(format!(
            "{file}.cutover-bak is not the original: its sha256 is {}, the journal recorded {} before the run wrote the file (changed since, or left by another run); nothing restored on this host",
            seen.backup.as_deref().map_or("missing", short),
            short(o)
        )),
    }
}

/// The first 12 hex digits of a checksum, for messages.
pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
