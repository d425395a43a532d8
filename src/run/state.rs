//! The one truth about a run: its journal (main and side journals, in time order) folded
//! into `RunState`. Run, resume, disarm, watch, the dashboard's counters, plain output and
//! the report all read this fold; none keeps its own. Pure: records in, state out, no clock,
//! no I/O.
//!
//! What counts as done is only what the journal proves: a phase whose `PhaseDone` is ok, a
//! host whose write pass of a step finished ok, a host whose armed job was verified (and not
//! taken back since), a host whose receipt was collected. A host that failed anywhere is
//! excluded for the rest of the run.

use super::event::{Original, RunEvent};
use super::phase::{Ending, Phase};
use crate::arm::mechanism::Concrete;
use crate::arm::receipt::Receipt;
use crate::executor::{Event, HostOutcome};
use crate::journal::Record;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// A host armed by a run, as its journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmedJob {
    /// How it is armed.
    pub mechanism: Concrete,
    /// Timer unit, at job number or waiter pid.
    pub id: String,
}

/// Why a host left the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// The phase it failed in; `None`: the operator excluded it before the run.
    pub phase: Option<Phase>,
    /// Why.
    pub reason: String,
    /// It left the run before arming started: no arm command ever reached it, in this attempt
    /// or any later one (an excluded host is never touched again), so it holds no job.
    pub before_arming: bool,
}

/// Where one host stands, as far as the journal proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// In the run; nothing armed yet.
    Targeted,
    /// Left the run (failed a check or step, or excluded by the operator); never armed.
    Excluded(Exclusion),
    /// Arming started and no verified `armed` record yet: its job may or may not exist.
    /// `live`: such a job would act on its own (runs before the commit protocol).
    Arming {
        /// Whether a job it may hold fires without a commit.
        live: bool,
    },
    /// Armed and verified; not taken back. `live`: its job will act at the fire time (the
    /// run committed on it, or the commit round may have reached it, or the run predates
    /// the commit protocol); an uncommitted job skips itself.
    Armed {
        /// How.
        job: ArmedJob,
        /// Whether it will fire on its own.
        live: bool,
    },
    /// Its job was verified taken back.
    Disarmed,
    /// A disarm was tried and not confirmed: it may still fire.
    DisarmFailed {
        /// Why.
        detail: String,
    },
    /// Its receipt shows the action started.
    Fired {
        /// The action's exit code, once it ended.
        exit: Option<i32>,
    },
    /// After the fire, its receipt could not be read (or showed no start).
    NoReceipt,
}

impl HostState {
    /// True when the host's job may still fire (armed, mid-arming, or a disarm that failed).
    pub fn may_fire(&self) -> bool {
        matches!(
            self,
            HostState::Arming { live: true }
                | HostState::Armed { live: true, .. }
                | HostState::DisarmFailed { .. }
        )
    }
}

/// What a run's journal says was done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunState {
    /// The digest the run started with (from its `started` event).
    pub digest: Option<String>,
    /// The fire time it started with (`--at` included).
    pub fire_at: Option<DateTime<Utc>>,
    /// Phases that ended within budget.
    pub phases_done: BTreeSet<Phase>,
    /// Per step path (`stage[1]`, `post[0]`): hosts whose write pass finished ok.
    pub host_steps: BTreeMap<String, BTreeSet<String>>,
    /// Files staging wrote: `(host, file, sha256)`, re-verified before arming.
    pub staged: Vec<(String, String, String)>,
    /// Hosts that left the run, and why.
    pub excluded: BTreeMap<String, Exclusion>,
    /// Hosts armed (verified) and not disarmed since.
    pub armed: BTreeMap<String, ArmedJob>,
    /// Every host's last verified job, kept after a disarm or the fire (the report's
    /// mechanism and job id per host).
    pub jobs: BTreeMap<String, ArmedJob>,
    /// Hosts whose armed job was verified taken back.
    pub disarmed: BTreeSet<String>,
    /// Hosts whose disarm was not confirmed (they may still fire), with why.
    pub disarm_failed: BTreeMap<String, String>,
    /// True while an arming round is in flight (started, not ended): a host may be armed
    /// before its record is written.
    pub arming: bool,
    /// True once any arming round started: from then on every targeted host may hold a job.
    pub arming_started: bool,
    /// True when the run's jobs act only once committed (runs of this version).
    pub commit_protocol: bool,
    /// True once a commit round started (a crash from here on may have committed any host).
    pub commit_started: bool,
    /// True while a commit round is in flight.
    pub committing: bool,
    /// Hosts the commit round confirmed.
    pub committed: BTreeSet<String>,
    /// Receipts collected, by host (a host with a fired receipt has fired).
    pub receipts: BTreeMap<String, Receipt>,
    /// True once the fire spread was measured (the fire is over).
    pub spread_measured: bool,
    /// How the last attempt ended, if it ended.
    pub finished: Option<Ending>,
    /// How many times the run was resumed before.
    pub resumes: usize,
    /// The last record's sequence number and time.
    pub last: Option<(u64, DateTime<Utc>)>,
    /// The phase of the step in progress (its host outcomes count as done in a write pass).
    pub step_phase: Option<Phase>,
    /// What each staged file was before the run first wrote it, by `(host, file)` (`None`:
    /// the journal predates recording it).
    pub originals: BTreeMap<(String, String), Option<Original>>,
    /// What each unit a `disable_service` step stopped was before, by `(host, unit)`:
    /// `(enabled, active)`, as first found in the run.
    pub units_before: BTreeMap<(String, String), (bool, bool)>,
    /// Hosts `cutover rollback` restored and verified.
    pub rolled_back: BTreeSet<String>,
    /// Hosts a rollback tried and did not finish, with why.
    pub rollback_failed: BTreeMap<String, String>,
}

/// Where one host stands with `cutover rollback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollback {
    /// Never tried.
    NotTried,
    /// Restored and verified.
    RolledBack,
    /// Tried; not finished (why).
    Failed(String),
}

impl RunState {
    /// True when the journal shows `phase` ended within budget.
    pub fn phase_done(&self, phase: Phase) -> bool {
        self.phases_done.contains(&phase)
    }

    /// Hosts of a step still to do: `hosts` minus those done and those excluded.
    pub fn remaining(&self, path: &str, hosts: &[String]) -> Vec<String> {
        let done = self.host_steps.get(path);
        hosts
            .iter()
            .filter(|h| done.is_none_or(|d| !d.contains(*h)))
            .filter(|h| !self.excluded.contains_key(*h))
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
        self.finished == Some(Ending::Complete)
    }

    /// Where `host` stands. A host the journal never mentions is `Targeted`; once arming
    /// started, a targeted host with no record is `Arming` (it may hold a job).
    pub fn host(&self, host: &str) -> HostState {
        if let Some(r) = self.receipts.get(host) {
            return match r.started_ns {
                Some(_) => HostState::Fired { exit: r.exit },
                None => HostState::NoReceipt,
            };
        }
        if let Some(job) = self.armed.get(host) {
            let live = !self.commit_protocol || self.committed.contains(host) || self.committing;
            return HostState::Armed {
                job: job.clone(),
                live,
            };
        }
        if let Some(detail) = self.disarm_failed.get(host) {
            return HostState::DisarmFailed {
                detail: detail.clone(),
            };
        }
        if self.disarmed.contains(host) {
            return HostState::Disarmed;
        }
        if let Some(e) = self.excluded.get(host) {
            return HostState::Excluded(e.clone());
        }
        if self.arming {
            return HostState::Arming {
                live: !self.commit_protocol,
            };
        }
        HostState::Targeted
    }

    /// Of `targets`, the hosts that may still fire, sorted.
    pub fn may_fire(&self, targets: &[String]) -> Vec<String> {
        let mut out: Vec<String> = targets
            .iter()
            .filter(|h| self.host(h).may_fire())
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Of `targets`, the hosts that hold (or may hold) a job, live or not: what an abort
    /// takes back.
    pub fn holding_jobs(&self, targets: &[String]) -> Vec<String> {
        let mut out: Vec<String> = targets
            .iter()
            .filter(|h| {
                matches!(
                    self.host(h),
                    HostState::Arming { .. }
                        | HostState::Armed { .. }
                        | HostState::DisarmFailed { .. }
                )
            })
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The hosts excluded so far whose failure spends `phase`'s budget (a diff pass spends
    /// its step phase's, a drift check verify's), in host order.
    pub fn excluded_in(&self, phase: Phase) -> Vec<(&String, &Exclusion)> {
        let budget = phase.budget_phase();
        self.excluded
            .iter()
            .filter(|(_, e)| e.phase.map(Phase::budget_phase) == Some(budget))
            .collect()
    }

    /// Of `targets`, the hosts still in the run (not excluded).
    pub fn in_run(&self, targets: &[String]) -> Vec<String> {
        targets
            .iter()
            .filter(|h| !self.excluded.contains_key(*h))
            .cloned()
            .collect()
    }

    /// Where `host` stands with a rollback.
    pub fn rollback(&self, host: &str) -> Rollback {
        if self.rolled_back.contains(host) {
            return Rollback::RolledBack;
        }
        match self.rollback_failed.get(host) {
            Some(why) => Rollback::Failed(why.clone()),
            None => Rollback::NotTried,
        }
    }

    /// Follows one more event (what the live run's consumer does for every event).
    pub fn apply(&mut self, event: &RunEvent) {
        apply(self, event);
    }
}

/// Folds a run's records (main journal and side journals, in time order) into its progress.
pub fn fold(records: &[Record<RunEvent>]) -> RunState {
    let mut p = RunState::default();
    for r in records {
        p.last = Some((r.seq, r.ts));
        apply(&mut p, &r.event);
    }
    p
}

fn apply(p: &mut RunState, event: &RunEvent) {
    match event {
        RunEvent::Started {
            digest,
            fire_at,
            commit,
            ..
        } => {
            p.digest.get_or_insert_with(|| digest.clone());
            p.fire_at.get_or_insert(*fire_at);
            p.commit_protocol = *commit;
        }
        RunEvent::Resumed { .. } => {
            p.resumes += 1;
            p.finished = None;
            p.arming = false;
        }
        RunEvent::Step { phase, .. } => {
            p.step_phase = Some(*phase);
            if *phase == Phase::Arm {
                p.arming = true;
                p.arming_started = true;
            }
            if *phase == Phase::Commit {
                p.committing = true;
                p.commit_started = true;
            }
        }
        RunEvent::Committed { host } => {
            p.committed.insert(host.clone());
        }
        RunEvent::Exec(Event::HostFinished {
            phase,
            host,
            outcome: HostOutcome::Ok { .. },
        }) if p.step_phase.is_some_and(Phase::is_write_pass) => {
            p.host_steps
                .entry(phase.0.clone())
                .or_default()
                .insert(host.clone());
        }
        RunEvent::Excluded {
            host,
            phase,
            reason,
        } => {
            let before_arming = !p.arming_started;
            p.excluded.entry(host.clone()).or_insert(Exclusion {
                phase: *phase,
                reason: reason.clone(),
                before_arming,
            });
        }
        RunEvent::Staged {
            host,
            file,
            sha256,
            original,
            ..
        } => {
            // The first write of a file in the run found the original; later ones the
            // run's own content.
            p.originals
                .entry((host.clone(), file.clone()))
                .or_insert_with(|| original.clone());
            p.staged.push((host.clone(), file.clone(), sha256.clone()));
        }
        RunEvent::UnitBefore {
            host,
            unit,
            enabled,
            active,
        } => {
            p.units_before
                .entry((host.clone(), unit.clone()))
                .or_insert((*enabled, *active));
        }
        RunEvent::RolledBack { host, ok: true, .. } => {
            p.rollback_failed.remove(host);
            p.rolled_back.insert(host.clone());
        }
        RunEvent::RolledBack {
            host,
            ok: false,
            detail,
        } => {
            p.rollback_failed.insert(
                host.clone(),
                detail.clone().unwrap_or_else(|| "not confirmed".into()),
            );
        }
        RunEvent::Armed {
            host,
            mechanism,
            id,
        } => {
            p.disarmed.remove(host);
            p.disarm_failed.remove(host);
            let job = ArmedJob {
                mechanism: *mechanism,
                id: id.clone(),
            };
            p.jobs.insert(host.clone(), job.clone());
            p.armed.insert(host.clone(), job);
        }
        RunEvent::Disarmed { host, ok: true, .. } => {
            p.armed.remove(host);
            p.committed.remove(host);
            p.disarm_failed.remove(host);
            p.disarmed.insert(host.clone());
        }
        RunEvent::Disarmed {
            host,
            ok: false,
            detail,
        } => {
            p.disarm_failed.insert(
                host.clone(),
                detail.clone().unwrap_or_else(|| "not confirmed".into()),
            );
        }
        RunEvent::Receipt { host, receipt } => {
            p.armed.remove(host);
            p.receipts.insert(host.clone(), receipt.clone());
        }
        RunEvent::Spread { .. } => p.spread_measured = true,
        RunEvent::PhaseDone { phase, ok, .. } => {
            if *phase == Phase::Arm {
                p.arming = false;
            }
            if *phase == Phase::Commit {
                p.committing = false;
            }
            if *ok {
                p.phases_done.insert(*phase);
            }
        }
        RunEvent::Finished { outcome, .. } => {
            p.finished = Some(*outcome);
            p.arming = false;
            p.committing = false;
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
