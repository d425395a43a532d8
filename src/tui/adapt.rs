//! The bridge from the run's one event stream to the dashboard: the first `Dashboard` built
//! from the compiled run plan (hosts with groups, phases, probes, fire time), then each
//! `RunEvent` turned into the `Msg`s it means on screen.
//!
//! Pure and stateful: it remembers which dashboard phase the current step belongs to, each
//! step's name and failure budget, what each host shows (to put it back after a cancel, and so
//! a host that failed one check stays failed through the next), and the step's progress.
//! `cutover run` feeds it live; `cutover watch RUN` feeds it the journal.

mod exec;
mod fired;
#[cfg(test)]
mod tests;

use crate::compile::RunPlan;
use crate::inventory::Inventory;
use crate::plan::model::Plan;
use crate::run::event::RunEvent;
use crate::run::phase::{Ending, Phase};
use crate::tui::msg::{Level, Msg, Outcome};
use crate::tui::state::{Dashboard, HostState};
use crate::tui::theme::Theme;
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{HashMap, HashSet};

/// The dashboard's phases in run order; `watch` and `post` only when the plan has them.
pub const PHASES: [Phase; 7] = crate::run::phase::SHOWN;

/// Turns `RunEvent`s into dashboard `Msg`s; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Adapter {
    /// Step path to its failure budget and name.
    steps: HashMap<String, (usize, String)>,
    /// Hosts the action is armed on.
    action_hosts: usize,
    /// Last drift check: waits from then on are the countdown to the fire.
    reverify_at: Option<DateTime<Utc>>,
    /// The plan watches quorum/health after the fire.
    watched: bool,
    /// The dashboard phase of the current step.
    phase: Option<Phase>,
    /// The current step re-verifies armed or verified hosts: only drift changes them.
    recheck: bool,
    /// What the dashboard shows per host.
    states: HashMap<String, HostState>,
    /// A host's state before the running step, put back after a cancel or a later pass.
    before: HashMap<String, HostState>,
    /// Hosts that failed in the current dashboard phase (a later check's pass keeps them failed).
    failed_here: HashSet<String>,
    /// Progress of the current step: hosts done, hosts failed.
    done: usize,
    failed: usize,
    /// The action's hosts, and those of them that left the run.
    targets: HashSet<String>,
    excluded: HashSet<String>,
    /// Hosts whose receipt was read, and how many of them failed.
    receipts: HashSet<String>,
    fire_failed: usize,
}

/// A log message.
fn log(level: Level, text: impl Into<String>) -> Msg {
    Msg::Log {
        level,
        text: text.into(),
    }
}

impl Adapter {
    /// An adapter for this compiled plan: knows every step's name and budget and the times.
    pub fn new(plan: &RunPlan, model: &Plan) -> Self {
        let mut steps = HashMap::new();
        for c in plan.preflight.iter().chain(&plan.verify) {
            let s = &c.item.settings;
            steps.insert(s.path.clone(), (c.allowed_failures, s.name.clone()));
        }
        for st in plan.stage.iter().chain(&plan.post) {
            let s = &st.item.settings;
            steps.insert(s.path.clone(), (st.allowed_failures, s.name.clone()));
        }
        let action = (plan.arm_allowed_failures, model.action.name.clone());
        steps.insert("action".into(), action);
        Self {
            steps,
            targets: plan.action_hosts.iter().cloned().collect(),
            action_hosts: plan.action_hosts.len(),
            reverify_at: Some(plan.times.reverify),
            watched: model.watch.is_some(),
            ..Self::default()
        }
    }

    /// The dashboard before any event: every inventory host pending, in its groups.
    pub fn dashboard(
        &self,
        (plan, model, inventory): (&RunPlan, &Plan, &Inventory),
        local: FixedOffset,
        theme: Theme,
    ) -> Dashboard {
        let phases = PHASES
            .into_iter()
            .filter(|p| match *p {
                Phase::Watch => self.watched,
                Phase::Post => !plan.post.is_empty(),
                _ => true,
            })
            .map(Phase::as_str);
        let probes = model.watch.iter().flat_map(|w| &w.probes);
        let digest = plan.digest.trim_start_matches("sha256:");
        let mut d = Dashboard::new(
            &model.meta.name,
            &inventory.name,
            inventory.production,
            digest,
        )
        .with_fire_at(plan.times.fire, local)
        .with_phases(phases)
        .with_probes(probes.map(|p| p.name.clone()))
        .with_theme(theme);
        d.quorum_watched = model.watch.as_ref().is_some_and(|w| w.quorum.is_some());
        for h in &inventory.hosts {
            d.add_host(&h.name, h.groups.iter().cloned().collect());
        }
        d
    }

    /// The messages one run event means for the dashboard (often none).
    pub fn adapt(&mut self, e: &RunEvent) -> Vec<Msg> {
        match e {
            RunEvent::Started { .. } | RunEvent::Staged { .. } => Vec::new(),
            RunEvent::Step { phase, name, .. } => self.step(*phase, name),
            RunEvent::Exec(ev) => self.exec(ev),
            RunEvent::Check {
                path,
                host,
                verdict,
            } => vec![Msg::CheckResult {
                host: host.clone(),
                check: self.name(path),
                verdict: verdict.clone(),
            }],
            RunEvent::Diff {
                path,
                file,
                hosts,
                diff,
                context_varies,
            } => vec![
                log(Level::Info, diff_line(file, hosts.len(), diff)),
                Msg::DiffShown {
                    step: path.clone(),
                    file: crate::sanitize::visible(file),
                    hosts: format!(
                        "{} host(s) {}",
                        hosts.len(),
                        crate::executor::nodeset::compact(hosts)
                    ),
                    diff: diff.clone(),
                    context_varies: *context_varies,
                },
            ],
            RunEvent::Waiting { until, what } => self.waiting(*until, what),
            RunEvent::Gate { step, word } => vec![Msg::GateRequested {
                step: step.clone(),
                word: word.clone(),
            }],
            RunEvent::Operator { action } => vec![log(Level::Warn, format!("operator: {action}"))],
            RunEvent::Resumed { .. } => vec![log(
                Level::Warn,
                crate::run::print::Printer::default()
                    .line(e)
                    .trim_end()
                    .to_string(),
            )],
            RunEvent::PhaseDone { phase, ok, summary } => self.phase_done(*phase, *ok, summary),
            RunEvent::Finished { outcome, reason } => vec![finished(*outcome, reason.as_deref())],
            RunEvent::Excluded {
                host,
                phase,
                reason,
            } => {
                if self.targets.contains(host) {
                    self.excluded.insert(host.clone());
                }
                let why = match phase {
                    Some(p) => format!("left the run in {p}: {reason}"),
                    None => format!("excluded by the operator: {reason}"),
                };
                vec![
                    log(Level::Warn, format!("{host} {why}")),
                    self.host(
                        host,
                        HostState::Failed {
                            reason: why.clone(),
                        },
                        None,
                    ),
                ]
            }
            RunEvent::RolledBack { host, ok: true, .. } => {
                vec![log(Level::Info, format!("{host} rolled back"))]
            }
            RunEvent::RolledBack { host, detail, .. } => vec![log(
                Level::Error,
                format!(
                    "{host} NOT rolled back: {}",
                    detail.as_deref().unwrap_or("unknown")
                ),
            )],
            other => self.fired(other),
        }
    }

    /// The step's name for a plan path (the path itself when unknown).
    fn name(&self, path: &str) -> String {
        self.steps
            .get(path)
            .map_or_else(|| path.to_string(), |(_, n)| n.clone())
    }

    /// A host's new state, remembered.
    fn host(&mut self, host: &str, state: HostState, output: Option<String>) -> Msg {
        self.states.insert(host.to_string(), state.clone());
        Msg::HostChanged {
            host: host.to_string(),
            state,
            output,
        }
    }

    fn step(&mut self, run_phase: Phase, name: &str) -> Vec<Msg> {
        let (phase, recheck) = (run_phase.shown(), run_phase.is_recheck());
        let mut msgs = Vec::new();
        if Some(phase) != self.phase {
            self.failed_here.clear();
            self.phase = Some(phase);
            // A re-verification opens the phase it guards; its own batches stay out of it.
            if recheck {
                msgs.push(Msg::PhaseStarted {
                    phase: phase.as_str().into(),
                    hosts: self.in_run(),
                    batches: 0,
                    budget: 0,
                });
            }
        }
        self.recheck = recheck;
        msgs.push(log(Level::Info, format!("{run_phase}: {name}")));
        msgs
    }

    /// The action's hosts still in the run: what the arm and fire phases count against.
    fn in_run(&self) -> usize {
        self.action_hosts.saturating_sub(self.excluded.len())
    }

    /// The dashboard label of the current phase.
    fn label(&self) -> String {
        self.phase.map_or("", Phase::as_str).to_string()
    }

    fn waiting(&mut self, until: DateTime<Utc>, what: &str) -> Vec<Msg> {
        let mut msgs = vec![log(
            Level::Info,
            format!("waiting until {} UTC: {what}", until.format("%H:%M:%S")),
        )];
        let countdown = self.reverify_at.is_some_and(|r| until >= r);
        if countdown && self.phase != Some(Phase::Fire) {
            self.phase = Some(Phase::Fire);
            self.failed_here.clear();
            msgs.push(Msg::PhaseStarted {
                phase: Phase::Fire.as_str().into(),
                hosts: self.in_run(),
                batches: 0,
                budget: 0,
            });
        }
        msgs
    }

    fn phase_done(&mut self, run_phase: Phase, ok: bool, summary: &str) -> Vec<Msg> {
        if ok && run_phase.is_recheck() {
            return vec![log(Level::Info, format!("{run_phase}: {summary}"))];
        }
        vec![Msg::PhaseFinished {
            phase: run_phase.shown().as_str().into(),
            error: (!ok).then(|| summary.to_string()),
        }]
    }
}

fn diff_line(file: &str, hosts: usize, diff: &str) -> String {
    if diff.is_empty() {
        return format!("{hosts} host(s): {file} already as planned");
    }
    let changed = diff
        .lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++"))
        .filter(|l| !l.starts_with("---"))
        .count();
    format!("{hosts} host(s): {file}: {changed} line(s) change")
}

fn finished(ending: Ending, reason: Option<&str>) -> Msg {
    let reason = reason.unwrap_or(ending.as_str()).to_string();
    let outcome = match ending {
        e if e.succeeded() => Outcome::Complete,
        Ending::Aborted => Outcome::Aborted { reason },
        _ => Outcome::Failed { reason },
    };
    Msg::Finished { outcome }
}
