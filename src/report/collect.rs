//! One walk over a run's records into the [`Report`]; where a host stands comes from the
//! run's one fold (`run::state`), the moments from the records in order.

use super::{
    DiffGroup, Entry, ExclusionGroup, Fire, Header, HostFire, HostGroup, ProbeFailure, Report,
    StepFailures, Verdict, Watch,
};
use crate::arm::receipt::Receipt;
use crate::executor::Event;
use crate::executor::nodeset::{compact, natural_cmp};
use crate::journal::Record;
use crate::run::event::RunEvent;
use crate::run::phase::Phase;
use crate::run::reasons;
use crate::run::state::{HostState, RunState};
use crate::watch::WatchEvent;
use crate::watch::tracker::history::{Milestone, Outcome};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The report of `records`.
pub fn report(run_id: &str, records: &[Record<RunEvent>], torn_tail: bool) -> Report {
    let state = crate::run::state::fold(records);
    let header = header(records);
    let mut walk = Walk::default();
    for r in records {
        walk.record(r, header.as_ref().map(|h| h.fire_at));
    }
    Report {
        run: run_id.to_string(),
        verdict: verdict(records, header.as_ref()),
        attempts: state.resumes + 1,
        timeline: walk.timeline,
        diffs: diffs(&walk.diffs, &walk.written),
        failures: failures(walk.failures),
        exclusions: exclusions(&state),
        fire: Fire {
            planned: header.as_ref().map(|h| h.fire_at),
            commit_window_ms: walk.commit_window_ms,
            spread_text: walk
                .spread
                .as_ref()
                .map(|s| crate::run::print::spread_text(s).trim().to_string()),
            spread: walk.spread,
            hosts: fire_hosts(&state),
        },
        watch: Watch {
            outcome: walk.watch_outcome,
            load: walk.watch_load,
            polls: walk.polls,
            slowest_poll_ms: walk.slowest_poll_ms,
            milestones: walk.milestones,
            probe_failures_before_fire: walk.probe_failures.into_values().collect(),
        },
        operator: walk.operator,
        hosts: host_groups(&state, &walk.seen),
        rollback: rollback(&state),
        header,
        torn_tail,
    }
}

/// What `cutover rollback` did, from the fold; `None` when it never ran.
fn rollback(state: &RunState) -> Option<super::Rollback> {
    if state.rolled_back.is_empty() && state.rollback_failed.is_empty() {
        return None;
    }
    let restored: Vec<String> = state.rolled_back.iter().cloned().collect();
    Some(super::Rollback {
        restored_hostlist: compact(&restored),
        restored,
        failed: (state.rollback_failed.iter())
            .map(|(h, why)| (h.clone(), why.clone()))
            .collect(),
    })
}

/// What the walk gathers besides the fold.
#[derive(Default)]
struct Walk {
    timeline: Vec<Entry>,
    operator: Vec<Entry>,
    milestones: Vec<Entry>,
    phase_start: Option<(Phase, DateTime<Utc>)>,
    previous: Option<DateTime<Utc>>,
    /// (step, file, hosts, diff), as journaled.
    diffs: Vec<(String, String, Vec<String>, String)>,
    /// step -> (host, reason).
    failures: Vec<(String, Vec<(String, String)>)>,
    spread: Option<crate::arm::receipt::Spread>,
    commit_window_ms: Option<f64>,
    watch_outcome: Option<String>,
    watch_load: Option<String>,
    polls: usize,
    slowest_poll_ms: u64,
    probe_failures: BTreeMap<String, ProbeFailure>,
    /// Every host a batch named.
    seen: BTreeSet<String>,
    /// (step, host) of every file written.
    written: BTreeSet<(String, String)>,
}

impl Walk {
    fn record(&mut self, r: &Record<RunEvent>, fire_at: Option<DateTime<Utc>>) {
        let at = r.ts;
        match &r.event {
            RunEvent::Step {
                phase, name, hosts, ..
            } => {
                if self.phase_start.as_ref().is_none_or(|(p, _)| p != phase) {
                    self.phase_start = Some((*phase, at));
                }
                self.row(at, format!("{phase}: {name} on {hosts} host(s)"));
            }
            RunEvent::Exec(e) => self.exec(at, e),
            RunEvent::Resumed { .. } => {
                self.phase_start = None;
                let text = resumed(&r.event, self.previous.map(|p| at - p));
                self.row(at, text.clone());
                self.act(at, text);
            }
            RunEvent::PhaseDone { phase, ok, summary } => {
                let took = self
                    .phase_start
                    .as_ref()
                    .filter(|(p, _)| p == phase)
                    .map(|(_, s)| at - *s);
                let dur = took.map_or(String::new(), |d| format!(" after {}", secs(d)));
                let verdict = if *ok { "ok" } else { "**FAILED**" };
                self.row(at, format!("{phase} {verdict}{dur}: {summary}"));
                self.phase_start = None;
            }
            RunEvent::Operator { action } => {
                self.row(at, format!("operator: {action}"));
                self.act(at, action.clone());
            }
            RunEvent::Gate { step, word } => {
                let text = format!("gate before {step}: waited for `{word}`");
                self.row(at, text.clone());
                self.act(at, text);
            }
            RunEvent::Excluded {
                host,
                phase: Some(p),
                ..
            } => self.grouped(at, &format!("**{{hosts}} left the run** in {p}"), host),
            RunEvent::Excluded {
                host,
                phase: None,
                reason,
            } => self.grouped(
                at,
                &format!("**{{hosts}} excluded by the operator**: {reason}"),
                host,
            ),
            RunEvent::Disarmed { host, ok: true, .. } => self.grouped(at, "disarmed {hosts}", host),
            RunEvent::Disarmed {
                host,
                ok: false,
                detail,
            } => self.grouped(
                at,
                &format!(
                    "**could not disarm {{hosts}}: may still fire**: {}",
                    detail.as_deref().unwrap_or("not confirmed")
                ),
                host,
            ),
            RunEvent::Diff {
                path,
                file,
                hosts,
                diff,
                ..
            } => self.diff(path, file, hosts, diff),
            RunEvent::Staged { path, host, .. } => {
                self.written.insert((path.clone(), host.clone()));
            }
            RunEvent::CommitWindow { hosts, window_ns } => {
                let ms = *window_ns as f64 / 1e6;
                self.commit_window_ms = Some(ms);
                self.row(
                    at,
                    format!("commit round: {hosts} host(s) live within {ms:.1} ms"),
                );
            }
            RunEvent::Spread { spread } => {
                self.row(
                    at,
                    crate::run::print::spread_text(spread).trim().to_string(),
                );
                self.spread = Some(spread.clone());
            }
            RunEvent::Watch(w) => self.watch(at, w, fire_at),
            RunEvent::Finished { outcome, reason } => self.row(
                at,
                format!(
                    "**run {outcome}**{}",
                    reason
                        .as_ref()
                        .map_or(String::new(), |r| format!(": {}", one_line(r)))
                ),
            ),
            _ => {}
        }
        self.previous = Some(at);
    }

    fn exec(&mut self, at: DateTime<Utc>, e: &Event) {
        match e {
            Event::BatchStarted { hosts, .. } => self.seen.extend(hosts.iter().cloned()),
            Event::HostFinished {
                phase,
                host,
                outcome,
            } => {
                if let Some(reason) = reasons::of_outcome(outcome) {
                    match self.failures.iter_mut().find(|(s, _)| *s == phase.0) {
                        Some((_, list)) => list.push((host.clone(), reason)),
                        None => self
                            .failures
                            .push((phase.0.clone(), vec![(host.clone(), reason)])),
                    }
                }
            }
            Event::BudgetExceeded {
                failed, allowed, ..
            } => self.row(
                at,
                format!("**failure budget exceeded**: {failed} failed, {allowed} allowed"),
            ),
            Event::Paused { .. } => {
                self.row(at, "paused by the operator".into());
                self.act(at, "paused".into());
            }
            Event::Resumed { .. } => {
                self.row(at, "operator: go (resumed)".into());
                self.act(at, "go (resumed after a pause)".into());
            }
            Event::Aborted { reason, .. } => {
                self.row(at, format!("**aborted**: {reason}"));
                self.act(at, format!("abort: {reason}"));
            }
            _ => {}
        }
    }

    fn watch(&mut self, at: DateTime<Utc>, w: &WatchEvent, fire_at: Option<DateTime<Utc>>) {
        match w {
            WatchEvent::Milestone(m) => {
                let text = milestone(m);
                if let Milestone::Finished { outcome } = m {
                    self.watch_outcome = Some(outcome_words(outcome));
                }
                self.row(at, text.clone());
                self.milestones.push(Entry::new(at, text));
            }
            WatchEvent::Started { load } => {
                self.watch_load = Some(load.to_string());
            }
            WatchEvent::Poll { probes, took, .. } => {
                self.polls += 1;
                let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
                self.slowest_poll_ms = self.slowest_poll_ms.max(ms);
                if fire_at.is_none_or(|f| at >= f) {
                    return;
                }
                for p in probes.iter().filter(|p| !p.failures.is_empty()) {
                    self.probe_failures
                        .entry(p.name.clone())
                        .or_insert_with(|| ProbeFailure {
                            at: p.taken_at,
                            probe: p.name.clone(),
                            passed: p.passed,
                            total: p.total,
                            groups: reasons::group(
                                p.failures.iter().map(|(h, r)| (h.as_str(), r.as_str())),
                            ),
                        });
                }
            }
        }
    }

    fn diff(&mut self, path: &str, file: &str, hosts: &[String], diff: &str) {
        self.diffs.push((
            path.to_string(),
            file.to_string(),
            hosts.to_vec(),
            diff.to_string(),
        ));
    }

    fn row(&mut self, at: DateTime<Utc>, what: String) {
        self.timeline.push(Entry::new(at, what));
    }

    fn act(&mut self, at: DateTime<Utc>, what: String) {
        self.operator.push(Entry::new(at, what));
    }

    /// A moment about one host, merged into the previous row when that says the same about
    /// other hosts (255 hosts leaving the run are one row).
    fn grouped(&mut self, at: DateTime<Utc>, template: &str, host: &str) {
        if let Some(last) = self.timeline.last_mut()
            && last.template.as_deref() == Some(template)
        {
            last.hosts.push(host.to_string());
            last.what = template.replace("{hosts}", &compact(&last.hosts));
            return;
        }
        let mut e = Entry::new(at, template.replace("{hosts}", host));
        e.hosts = vec![host.to_string()];
        e.template = Some(template.to_string());
        self.timeline.push(e);
    }
}

impl Entry {
    fn new(at: DateTime<Utc>, what: String) -> Self {
        Entry {
            at,
            what,
            hosts: Vec::new(),
            template: None,
        }
    }
}

fn header(records: &[Record<RunEvent>]) -> Option<Header> {
    records.iter().find_map(|r| match &r.event {
        RunEvent::Started {
            plan,
            digest,
            inventory,
            production,
            hosts,
            fire_at,
            dry_run,
            operator,
            ..
        } => Some(Header {
            plan: plan.clone(),
            digest: digest.clone(),
            inventory: inventory.clone(),
            production: *production,
            hosts: *hosts,
            operator: operator.clone(),
            started: r.ts,
            fire_at: *fire_at,
            dry_run: *dry_run,
        }),
        _ => None,
    })
}

/// The last attempt's verdict: a resume after a `finished` reopens the run.
fn verdict(records: &[Record<RunEvent>], header: Option<&Header>) -> Option<Verdict> {
    let (ended, outcome, reason) = records.iter().rev().find_map(|r| match &r.event {
        RunEvent::Finished { outcome, reason } => Some(Some((r.ts, *outcome, reason.clone()))),
        RunEvent::Resumed { .. } => Some(None),
        _ => None,
    })??;
    let complete_at = records.iter().find_map(|r| match &r.event {
        RunEvent::Watch(WatchEvent::Milestone(Milestone::Finished {
            outcome: Outcome::Complete { at },
        })) => Some(*at),
        _ => None,
    });
    Some(Verdict {
        outcome,
        reason,
        ended,
        took_s: header.map(|h| seconds(ended - h.started)),
        fire_to_complete_s: header
            .zip(complete_at)
            .map(|(h, at)| seconds(at - h.fire_at)),
    })
}

fn diffs(
    list: &[(String, String, Vec<String>, String)],
    written: &BTreeSet<(String, String)>,
) -> Vec<DiffGroup> {
    let list = list
        .iter()
        .map(|(p, f, h, d)| (p.as_str(), f.as_str(), h.as_slice(), d.as_str()));
    crate::run::changes::group(list)
        .into_iter()
        .map(|g| {
            let written = g
                .hosts
                .iter()
                .filter(|h| written.contains(&(g.path.clone(), (*h).clone())))
                .count();
            DiffGroup {
                step: g.path,
                file: g.file,
                hosts: g.hosts,
                hostlist: g.hostlist,
                diff: g.diff,
                context_differs: g.context_differs,
                written,
            }
        })
        .collect()
}

fn failures(list: Vec<(String, Vec<(String, String)>)>) -> Vec<StepFailures> {
    list.into_iter()
        .map(|(step, hosts)| StepFailures {
            groups: reasons::group(hosts.iter().map(|(h, r)| (h.as_str(), r.as_str()))),
            step,
        })
        .collect()
}

fn exclusions(state: &RunState) -> Vec<ExclusionGroup> {
    let mut by_phase: BTreeMap<Option<Phase>, Vec<(&str, &str)>> = BTreeMap::new();
    for (host, e) in &state.excluded {
        by_phase
            .entry(e.phase)
            .or_default()
            .push((host.as_str(), e.reason.as_str()));
    }
    by_phase
        .into_iter()
        .flat_map(|(phase, list)| {
            reasons::group(list)
                .into_iter()
                .map(move |g| ExclusionGroup {
                    phase,
                    reason: g.reason,
                    hosts: g.hosts,
                    hostlist: g.hostlist,
                })
        })
        .collect()
}

fn fire_hosts(state: &RunState) -> Vec<HostFire> {
    let mut names: Vec<&String> = state.jobs.keys().chain(state.receipts.keys()).collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    names.dedup();
    names
        .into_iter()
        .map(|host| {
            let job = state.jobs.get(host);
            let r = state.receipts.get(host);
            let time =
                |f: fn(&Receipt) -> Option<i64>| r.and_then(f).map(DateTime::from_timestamp_nanos);
            HostFire {
                host: host.clone(),
                mechanism: job.map(|j| j.mechanism),
                job: job.map(|j| j.id.clone()),
                committed: state
                    .commit_protocol
                    .then(|| state.committed.contains(host)),
                woke: time(|r| r.woke_ns),
                started: time(|r| r.started_ns),
                ended: time(|r| r.ended_ns),
                late_ms: r.and_then(|r| Some((r.started_ns? - r.planned_ns?) as f64 / 1e6)),
                exit: r.and_then(|r| r.exit),
                skipped: match r {
                    Some(r) => skipped(r),
                    None if state.disarmed.contains(host) => {
                        Some("disarmed before the fire".into())
                    }
                    None => None,
                },
            }
        })
        .collect()
}

fn skipped(r: &Receipt) -> Option<String> {
    if r.skipped_late {
        Some("woke too late".into())
    } else if r.skipped_disarmed {
        Some("disarmed before it woke".into())
    } else if r.skipped_uncommitted {
        Some("never committed".into())
    } else if r.started_ns.is_none() {
        Some("no start in its receipt".into())
    } else {
        None
    }
}

fn host_groups(state: &RunState, seen: &BTreeSet<String>) -> Vec<HostGroup> {
    let mut names: BTreeSet<&String> = seen.iter().collect();
    names.extend(state.excluded.keys());
    names.extend(state.jobs.keys());
    names.extend(state.disarmed.iter());
    names.extend(state.disarm_failed.keys());
    names.extend(state.receipts.keys());
    let mut groups: Vec<HostGroup> = Vec::new();
    for h in names {
        let (text, attention) = host_state(&state.host(h), state);
        match groups.iter_mut().find(|g| g.state == text) {
            Some(g) => g.hosts.push(h.clone()),
            None => groups.push(HostGroup {
                state: text,
                attention,
                hosts: vec![h.clone()],
                hostlist: String::new(),
            }),
        }
    }
    for g in &mut groups {
        g.hosts.sort_by(|a, b| natural_cmp(a, b));
        g.hostlist = compact(&g.hosts);
    }
    groups.sort_by(|a, b| {
        b.attention
            .cmp(&a.attention)
            .then(b.hosts.len().cmp(&a.hosts.len()))
            .then_with(|| natural_cmp(&a.hosts[0], &b.hosts[0]))
    });
    groups
}

/// A host's end in words, and whether someone must look at it.
fn host_state(s: &HostState, state: &RunState) -> (String, bool) {
    match s {
        HostState::Targeted if state.arming_started => ("never armed".into(), false),
        HostState::Targeted => ("in the run, nothing armed".into(), false),
        HostState::Excluded(e) => match e.phase {
            Some(p) => (format!("excluded in {p}"), false),
            None => ("excluded by the operator".into(), false),
        },
        HostState::Arming { .. } => ("arming was in flight (may hold a job)".into(), true),
        HostState::Armed { live: true, .. } => ("armed and committed: may still fire".into(), true),
        HostState::Armed { live: false, .. } => {
            ("armed, never committed: its job skips itself".into(), false)
        }
        HostState::Disarmed => ("disarmed".into(), false),
        HostState::DisarmFailed { detail } => (
            format!("could not be disarmed: may still fire ({detail})"),
            true,
        ),
        HostState::Fired { exit: Some(0) } => ("fired, exit 0".into(), false),
        HostState::Fired { exit: Some(c) } => (format!("fired, exit {c}"), true),
        HostState::Fired { exit: None } => ("fired (still running when collected)".into(), true),
        HostState::NoReceipt => ("no receipt (did not fire, or unreachable)".into(), true),
    }
}

/// The row of a `resumed` record: who, after how long a gap, and what it found.
fn resumed(e: &RunEvent, gap: Option<chrono::Duration>) -> String {
    let RunEvent::Resumed {
        operator,
        crashed,
        torn_tail,
        broke_lock,
        ..
    } = e
    else {
        return String::new();
    };
    let gap = gap.map_or(String::new(), |g| format!(" after a gap of {}", secs(g)));
    let how = if *crashed {
        "the orchestrator had stopped without a result"
    } else {
        "the previous attempt had ended"
    };
    let extra = match (torn_tail, broke_lock) {
        (true, _) => "; a torn last journal line was dropped",
        (false, Some(_)) => "; its stale lock was broken",
        _ => "",
    };
    format!("**resumed** by {operator}{gap} ({how}{extra})")
}

fn milestone(m: &Milestone) -> String {
    match m {
        Milestone::LeaderLost { .. } => "watch: **no leader**".into(),
        Milestone::LeaderBack {
            leader,
            leaderless_for,
            ..
        } => format!(
            "watch: leader {leader} back after a leaderless window of {:.1} s",
            leaderless_for.as_secs_f64()
        ),
        Milestone::AllGreen { .. } => "watch: all completion conditions hold".into(),
        Milestone::GreenBroken { why, .. } => format!("watch: no longer green: {why}"),
        Milestone::Finished {
            outcome: Outcome::Complete { .. },
        } => "watch: **complete**".into(),
        Milestone::Finished {
            outcome: Outcome::TimedOut { why, .. },
        } => format!("watch: **timed out**: {why}"),
        Milestone::Finished {
            outcome: Outcome::Abort { reason, .. },
        } => format!("watch: **abort**: {reason}"),
    }
}

fn outcome_words(o: &Outcome) -> String {
    match o {
        Outcome::Complete { .. } => "complete".into(),
        Outcome::TimedOut { why, .. } => format!("timed out: {why}"),
        Outcome::Abort { reason, .. } => format!("abort: {reason}"),
    }
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

fn secs(d: chrono::Duration) -> String {
    format!("{:.1} s", seconds(d))
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}
