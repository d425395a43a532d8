//! The journal folded into what a run already did, so `cutover resume` can continue it
//! without doing anything twice. Pure: records in, `Progress` out, no clock, no I/O.
//!
//! What counts as done is only what the journal proves: a phase whose `PhaseDone` is ok, a
//! host whose write pass of a step finished ok, a host whose armed job was verified (and not
//! taken back since), a host whose receipt was collected.

use super::event::RunEvent;
use crate::arm::receipt::Receipt;
use crate::executor::{Event, HostOutcome};
use crate::journal::Record;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// A host armed by a run, as its journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmedJob {
    /// `systemd`, `at` or `waiter`.
    pub mechanism: String,
    /// Timer unit, at job number or waiter pid.
    pub id: String,
}

/// What a run's journal says was done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The digest the run started with (from its `started` event).
    pub digest: Option<String>,
    /// The fire time it started with (`--at` included).
    pub fire_at: Option<DateTime<Utc>>,
    /// Phases that ended within budget: `preflight`, `stage`, `verify`, `arm`, `post`.
    pub phases_done: BTreeSet<String>,
    /// Per step path (`stage[1]`, `post[0]`): hosts whose write pass finished ok.
    pub host_steps: BTreeMap<String, BTreeSet<String>>,
    /// Files staging wrote: `(host, file, sha256)`, re-verified before arming.
    pub staged: Vec<(String, String, String)>,
    /// Hosts armed (verified) and not disarmed since.
    pub armed: BTreeMap<String, ArmedJob>,
    /// Hosts whose armed job was verified taken back.
    pub disarmed: BTreeSet<String>,
    /// Receipts collected, by host (a host with a fired receipt has fired).
    pub receipts: BTreeMap<String, Receipt>,
    /// True once the fire spread was measured (the fire is over).
    pub spread_measured: bool,
    /// How the last attempt ended, if it ended (`complete`, `failed`, ...).
    pub finished: Option<String>,
    /// How many times the run was resumed before.
    pub resumes: usize,
    /// The last record's sequence number and time.
    pub last: Option<(u64, DateTime<Utc>)>,
}

impl Progress {
    /// True when the journal shows `phase` ended within budget.
    pub fn phase_done(&self, phase: &str) -> bool {
        self.phases_done.contains(phase)
    }

    /// Hosts of a step still to do: `hosts` minus those whose write pass finished ok.
    pub fn remaining(&self, path: &str, hosts: &[String]) -> Vec<String> {
        let done = self.host_steps.get(path);
        hosts
            .iter()
            .filter(|h| done.is_none_or(|d| !d.contains(*h)))
            .cloned()
            .collect()
    }

    /// True when the fire time has passed at `now` (the armed jobs fire without us).
    pub fn fire_passed(&self, now: DateTime<Utc>) -> bool {
        self.fire_at.is_some_and(|f| now >= f)
    }

    /// Hosts whose receipt shows the action started: they fired and must never be armed again.
    pub fn fired(&self) -> BTreeSet<String> {
        self.receipts
            .iter()
            .filter(|(_, r)| r.started_ns.is_some())
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// True when this is an earlier attempt's progress, not a fresh run's.
    pub fn is_resume(&self) -> bool {
        self.last.is_some()
    }

    /// True when the last attempt ended complete: there is nothing to resume.
    pub fn complete(&self) -> bool {
        self.finished.as_deref() == Some("complete")
    }
}

/// Folds a run's records (main journal and side journals, in time order) into its progress.
pub fn fold(records: &[Record<RunEvent>]) -> Progress {
    let mut p = Progress::default();
    let mut step_phase = String::new();
    for r in records {
        p.last = Some((r.seq, r.ts));
        apply(&mut p, &mut step_phase, &r.event);
    }
    p
}

fn apply(p: &mut Progress, step_phase: &mut String, event: &RunEvent) {
    match event {
        RunEvent::Started {
            digest, fire_at, ..
        } => {
            p.digest.get_or_insert_with(|| digest.clone());
            p.fire_at.get_or_insert(*fire_at);
        }
        RunEvent::Resumed { .. } => {
            p.resumes += 1;
            p.finished = None;
        }
        RunEvent::Step { phase, .. } => step_phase.clone_from(phase),
        RunEvent::Exec(Event::HostFinished {
            phase,
            host,
            outcome: HostOutcome::Ok { .. },
        }) if is_write_pass(step_phase) => {
            p.host_steps
                .entry(phase.0.clone())
                .or_default()
                .insert(host.clone());
        }
        RunEvent::Staged {
            host, file, sha256, ..
        } => p.staged.push((host.clone(), file.clone(), sha256.clone())),
        RunEvent::Armed {
            host,
            mechanism,
            id,
        } => {
            p.disarmed.remove(host);
            p.armed.insert(
                host.clone(),
                ArmedJob {
                    mechanism: mechanism.clone(),
                    id: id.clone(),
                },
            );
        }
        RunEvent::Disarmed { host, ok: true, .. } => {
            p.armed.remove(host);
            p.disarmed.insert(host.clone());
        }
        RunEvent::Receipt { host, receipt } => {
            p.receipts.insert(host.clone(), receipt.clone());
        }
        RunEvent::Spread { .. } => p.spread_measured = true,
        RunEvent::PhaseDone {
            phase, ok: true, ..
        } => {
            p.phases_done.insert(phase.clone());
        }
        RunEvent::Finished { outcome, .. } => p.finished = Some(outcome.clone()),
        _ => {}
    }
}

/// Host outcomes count only in a step's write pass, not in its read-and-diff pass.
fn is_write_pass(step_phase: &str) -> bool {
    matches!(step_phase, "stage" | "post")
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
