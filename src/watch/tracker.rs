//! The completion tracker: a state machine fed `(now, observation)` that decides completion,
//! timeout or abort, explains why it is not done, and keeps the leaderless history.

mod conditions;
pub mod history;

use super::probe::ProbeVerdict;
use super::reading::QuorumReading;
use super::verdict::{QuorumVerdict, judge, max_age};
use crate::plan::model::{AbortCondition, Condition, Watch};
use chrono::{DateTime, Utc};
use history::{History, Window};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

pub use history::{Milestone, Outcome, Reason, WhyNotDone};

/// What the tracker judges against: the plan's `[watch]` with the fire time and voter count.
#[derive(Debug, Clone, Serialize)]
pub struct TrackerConfig {
    /// When the action fires.
    pub fire_at: DateTime<Utc>,
    /// Poll interval (readings older than three of these are stale).
    pub poll_interval: Duration,
    /// How long all conditions must hold.
    pub stable_for: Duration,
    /// After the fire, how long before the `stable_for` count may start.
    pub settle: Duration,
    /// The count also waits until every fired host's action has finished and reported
    /// (fed as [`Observation::actions`]); set by a watch that runs inside a run.
    pub awaits_actions: bool,
    /// Failure this long after `fire_at`.
    pub timeout: Duration,
    /// All must hold for completion.
    pub complete_when: Vec<Condition>,
    /// Any of these before `fire_at` aborts.
    pub abort_if: Vec<AbortCondition>,
    /// Expected voters (plan `voters`, else the quorum targets' count).
    pub expected_voters: usize,
    /// The quorum source's name, `None` when the plan has no quorum.
    pub quorum_source: Option<String>,
    /// Probe names in plan order.
    pub probes: Vec<String>,
    /// Probes polled on their own interval (others follow `poll_interval`): a result is
    /// stale after three of its probe's intervals.
    pub probe_intervals: BTreeMap<String, Duration>,
}

impl TrackerConfig {
    /// How often the probe `name` is polled.
    pub fn probe_interval(&self, name: &str) -> Duration {
        self.probe_intervals
            .get(name)
            .copied()
            .unwrap_or(self.poll_interval)
    }
}

impl TrackerConfig {
    /// From a validated `[watch]`; `expected_voters` is `voters` or the resolved targets' count.
    pub fn from_watch(
        watch: &Watch,
        fire_at: DateTime<Utc>,
        expected_voters: usize,
        source: &str,
    ) -> Self {
        TrackerConfig {
            fire_at,
            poll_interval: watch.poll_interval,
            stable_for: watch.stable_for,
            settle: watch.settle,
            awaits_actions: false,
            timeout: watch.timeout,
            complete_when: watch.complete_when.clone(),
            abort_if: watch.abort_if.clone(),
            expected_voters,
            quorum_source: watch.quorum.as_ref().map(|_| source.to_string()),
            probes: watch.probes.iter().map(|p| p.name.clone()).collect(),
            probe_intervals: watch
                .probes
                .iter()
                .filter_map(|p| Some((p.name.clone(), p.interval?)))
                .collect(),
        }
    }
}

/// What one poll brought: a quorum reading if the source answered, and probe verdicts.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// `None` when the source gave nothing this poll (the last reading then ages).
    pub quorum: Option<QuorumReading>,
    /// This poll's probe verdicts.
    pub probes: Vec<ProbeVerdict>,
    /// How many fired hosts' actions have finished and reported, when the run says.
    pub actions: Option<ActionProgress>,
}

/// The action's progress across the fired hosts, as the run's receipt collection knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ActionProgress {
    /// Hosts whose action finished and reported (or whose receipt collection ended).
    pub finished: usize,
    /// Hosts the action fired on.
    pub expected: usize,
}

impl ActionProgress {
    /// True once every fired host is accounted for.
    pub fn done(&self) -> bool {
        self.finished >= self.expected
    }
}

/// What the quorum looked like last before the fire, and whether a change was seen after it.
#[derive(Debug, Clone, Default)]
struct Change {
    /// Leader and term of the newest reading taken before the fire.
    before: Option<(Option<String>, Option<u64>)>,
    /// A leaderless reading, or a different leader, after the fire.
    leader_changed: bool,
    /// A term above the one before the fire, after it.
    term_increased: bool,
}

/// The completion state machine; pure, time comes in with each observation.
#[derive(Debug, Clone)]
pub struct Tracker {
    cfg: TrackerConfig,
    reading: Option<QuorumReading>,
    probes: BTreeMap<String, ProbeVerdict>,
    green_since: Option<DateTime<Utc>>,
    history: History,
    outcome: Option<Outcome>,
    actions: Option<ActionProgress>,
    change: Change,
}

impl Tracker {
    /// A tracker that has seen nothing yet.
    pub fn new(cfg: TrackerConfig) -> Self {
        let history = History::new(cfg.fire_at);
        Tracker {
            cfg,
            reading: None,
            probes: BTreeMap::new(),
            green_since: None,
            history,
            outcome: None,
            actions: None,
            change: Change::default(),
        }
    }

    /// From here on, completion also waits for [`Observation::actions`] to be done.
    pub fn await_actions(&mut self) {
        self.cfg.awaits_actions = true;
    }

    /// Feeds one poll at `now`; returns what changed. After an outcome, nothing changes.
    pub fn observe(&mut self, now: DateTime<Utc>, obs: Observation) -> Vec<Milestone> {
        if self.outcome.is_some() {
            return Vec::new();
        }
        self.absorb(obs);
        if now < self.cfg.fire_at {
            return self
                .check_abort(now)
                .map(|o| self.finish(o))
                .into_iter()
                .collect();
        }
        let mut out = self.track_leader(now);
        out.extend(self.track_green(now));
        if let Some(o) = self.decide(now) {
            out.push(self.finish(o));
        }
        out
    }

    /// The quorum verdict at `now`, `None` when the plan watches no quorum.
    pub fn quorum_verdict(&self, now: DateTime<Utc>) -> Option<QuorumVerdict> {
        let source = self.cfg.quorum_source.as_deref()?;
        Some(judge(
            self.reading.as_ref(),
            source,
            self.cfg.expected_voters,
            now,
            max_age(self.cfg.poll_interval),
        ))
    }

    /// Every reason the cutover is not complete at `now` (empty once complete).
    pub fn why_not_done(&self, now: DateTime<Utc>) -> WhyNotDone {
        if matches!(self.outcome, Some(Outcome::Complete { .. })) {
            return WhyNotDone::default();
        }
        let mut reasons = Vec::new();
        if now < self.cfg.fire_at {
            let left = (self.cfg.fire_at - now).to_std().unwrap_or_default();
            reasons.push(Reason::BeforeFire { remaining: left });
        }
        reasons.extend(self.unmet(now));
        if let (true, Some(since)) = (reasons.is_empty(), self.green_since) {
            let held = (now - since).to_std().unwrap_or_default();
            reasons.push(Reason::NotStableYet {
                held,
                needed: self.cfg.stable_for,
            });
        }
        WhyNotDone { reasons }
    }

    /// Leaderless windows, time to leader, first green and completion times.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The outcome, once decided.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// The newest quorum reading.
    pub fn last_reading(&self) -> Option<&QuorumReading> {
        self.reading.as_ref()
    }

    fn absorb(&mut self, obs: Observation) {
        if let Some(a) = obs.actions {
            self.actions = Some(a);
        }
        if let Some(r) = &obs.quorum {
            self.note_change(r);
        }
        if let Some(r) = obs.quorum
            && self
                .reading
                .as_ref()
                .is_none_or(|old| old.taken_at <= r.taken_at)
        {
            self.reading = Some(r);
        }
        for p in obs.probes {
            self.probes.insert(p.name.clone(), p);
        }
    }

    /// Keeps the newest pre-fire leader and term, and latches a change seen after the fire.
    fn note_change(&mut self, r: &QuorumReading) {
        if r.error.is_some() && r.leader.is_none() && r.term.is_none() {
            return;
        }
        if r.taken_at < self.cfg.fire_at {
            self.change.before = Some((r.leader.clone(), r.term));
            return;
        }
        let Some((leader, term)) = &self.change.before else {
            return;
        };
        // A different leader, or members that answered with none leading (an error-free
        // reading): the cluster went through an election. A source that did not answer
        // shows nothing either way.
        let leaderless = r.leader.is_none() && r.error.is_none() && !r.members.is_empty();
        if leaderless || (r.leader.is_some() && r.leader != *leader) {
            self.change.leader_changed = true;
        }
        if let (Some(after), Some(before)) = (r.term, term)
            && after > *before
        {
            self.change.term_increased = true;
        }
    }

    fn track_leader(&mut self, now: DateTime<Utc>) -> Vec<Milestone> {
        let Some(v) = self.quorum_verdict(now) else {
            return Vec::new();
        };
        let open = self
            .history
            .leaderless
            .last()
            .is_some_and(|w| w.length.is_none());
        match (v.leader(), open) {
            (None, false) => {
                self.history.leaderless.push(Window {
                    start: now,
                    length: None,
                });
                vec![Milestone::LeaderLost { at: now }]
            }
            (Some(leader), true) => {
                let w = self.history.close_window(now);
                let after = (now - self.cfg.fire_at).to_std().unwrap_or_default();
                self.history.first_leader_after_fire.get_or_insert(after);
                vec![Milestone::LeaderBack {
                    at: now,
                    leader: leader.to_string(),
                    leaderless_for: w,
                }]
            }
            _ => Vec::new(),
        }
    }

    fn track_green(&mut self, now: DateTime<Utc>) -> Option<Milestone> {
        let unmet = self.unmet(now);
        match (unmet.is_empty(), self.green_since) {
            (true, None) => {
                self.green_since = Some(now);
                self.history.first_all_green.get_or_insert(now);
                Some(Milestone::AllGreen { at: now })
            }
            (false, Some(_)) => {
                self.green_since = None;
                Some(Milestone::GreenBroken {
                    at: now,
                    why: WhyNotDone { reasons: unmet },
                })
            }
            _ => None,
        }
    }

    fn decide(&mut self, now: DateTime<Utc>) -> Option<Outcome> {
        let held = self
            .green_since
            .map(|s| (now - s).to_std().unwrap_or_default());
        if held.is_some_and(|h| h >= self.cfg.stable_for) {
            self.history.completed_at = Some(now);
            return Some(Outcome::Complete { at: now });
        }
        let deadline = self.cfg.fire_at
            + chrono::Duration::from_std(self.cfg.timeout).unwrap_or(chrono::Duration::MAX);
        (now >= deadline).then(|| Outcome::TimedOut {
            at: now,
            why: self.why_not_done(now),
        })
    }

    fn finish(&mut self, o: Outcome) -> Milestone {
        self.outcome = Some(o.clone());
        Milestone::Finished { outcome: o }
    }
}

#[cfg(test)]
#[path = "tracker/tests.rs"]
mod tests;
