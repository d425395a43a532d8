//! Everything the dashboard knows: the run's header facts, phases, hosts, watch panels and UI state.

pub mod host;
pub mod watch;

pub use host::{HostState, HostView};
pub use watch::{LogRing, ProbeState, ProbeView, QuorumView, SpreadView};

use crate::tui::msg::Outcome;
use crate::tui::theme::Theme;
use chrono::{DateTime, FixedOffset, Offset, Utc};
use std::collections::HashMap;

/// Progress of one phase (preflight, stage, verify, arm, fire, watch, post).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseView {
    /// Phase name.
    pub name: String,
    /// Not started, running, passed or failed.
    pub status: PhaseStatus,
    /// Hosts done (passed or failed).
    pub done: usize,
    /// Hosts the phase runs on.
    pub total: usize,
    /// Current batch, 1-based (0 before the first).
    pub batch: usize,
    /// Number of batches.
    pub batches: usize,
    /// Hosts failed.
    pub failed: usize,
    /// Failures the budget allows.
    pub budget: usize,
}

/// Where a phase is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseStatus {
    /// Not started.
    Pending,
    /// Running now.
    Running,
    /// Finished successfully.
    Passed,
    /// Stopped with this reason.
    Failed(String),
}

/// The pause key's effect as the operator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pause {
    /// Running normally.
    #[default]
    Off,
    /// Asked to stop after the current batch.
    Requested,
    /// The executor stopped.
    Paused,
}

/// A dialog that takes the keyboard until answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// "Abort: cancel pending work and DISARM N armed hosts? type y".
    ConfirmAbort,
    /// Quit while hosts are armed: disarm, leave armed, or stay.
    QuitArmed,
    /// Quit while the run is still going but nothing is armed.
    ConfirmQuit,
    /// Typing the gate word; `wrong` after a mismatch.
    Gate {
        /// Typed so far.
        input: String,
        /// The last attempt did not match.
        wrong: bool,
    },
    /// Details of the selected host.
    HostDetails,
    /// Key help.
    Help,
}

/// A gate the run waits on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// The step it guards.
    pub step: String,
    /// The word to type.
    pub word: String,
}

/// One group of hosts' change to a file, as staging showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffView {
    /// The step's plan path.
    pub step: String,
    /// The file on the hosts.
    pub file: String,
    /// The hosts, compact, with their count.
    pub hosts: String,
    /// The unified diff (empty: already as planned).
    pub diff: String,
    /// The hosts' diffs differ in context lines only.
    pub context_varies: bool,
}

/// The dashboard's whole state; `update` changes it and `render` draws it.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Plan name.
    pub plan: String,
    /// The run's id, for the commands the dashboard suggests (empty: not known).
    pub run_id: String,
    /// Inventory name.
    pub inventory: String,
    /// The inventory is production: the header says so in a badge.
    pub production: bool,
    /// Short plan digest.
    pub digest: String,
    /// Fire time.
    pub fire_at: DateTime<Utc>,
    /// The operator's local offset, to show the fire time locally too.
    pub local_offset: FixedOffset,
    /// Phases in run order.
    pub phases: Vec<PhaseView>,
    /// Index of the current phase.
    pub current: Option<usize>,
    /// Hosts in inventory order.
    pub hosts: Vec<HostView>,
    /// Host name to index.
    pub index: HashMap<String, usize>,
    /// Quorum panel, once a reading arrived.
    pub quorum: Option<QuorumView>,
    /// Health probes.
    pub probes: Vec<ProbeView>,
    /// Log tail.
    pub log: LogRing,
    /// Post-fire spread, once measured.
    pub spread: Option<SpreadView>,
    /// Pause state.
    pub pause: Pause,
    /// Abort confirmed; disarming.
    pub aborting: bool,
    /// How the run ended, once it did.
    pub outcome: Option<Outcome>,
    /// A gate the run waits on.
    pub gate: Option<Gate>,
    /// The last file step's changes, by group of hosts, shown with its `write` gate.
    pub diffs: Vec<DiffView>,
    /// Open dialog.
    pub modal: Option<Modal>,
    /// Host filter; `filtering` while the operator types it.
    pub filter: String,
    /// The filter line has the keyboard.
    pub filtering: bool,
    /// Selected host's name.
    pub selected: Option<String>,
    /// Colours or monochrome symbols.
    pub theme: Theme,
    /// Watching a journal (`cutover watch`): keys that would change the run are off.
    pub read_only: bool,
    /// The plan watches a quorum (without one the Quorum panel stays hidden).
    pub quorum_watched: bool,
}

impl Dashboard {
    /// A dashboard before any event: all phases pending, all hosts pending.
    pub fn new(plan: &str, inventory: &str, production: bool, digest: &str) -> Self {
        Self {
            plan: plan.into(),
            inventory: inventory.into(),
            production,
            digest: digest.chars().take(12).collect(),
            fire_at: DateTime::UNIX_EPOCH,
            local_offset: Utc.fix(),
            phases: Vec::new(),
            current: None,
            hosts: Vec::new(),
            index: HashMap::new(),
            quorum: None,
            probes: Vec::new(),
            log: LogRing::default(),
            spread: None,
            pause: Pause::Off,
            aborting: false,
            outcome: None,
            gate: None,
            run_id: String::new(),
            diffs: Vec::new(),
            modal: None,
            filter: String::new(),
            filtering: false,
            selected: None,
            theme: Theme::color(),
            read_only: false,
            quorum_watched: true,
        }
    }

    /// Sets the fire time and the operator's local offset.
    pub fn with_fire_at(mut self, at: DateTime<Utc>, local_offset: FixedOffset) -> Self {
        self.fire_at = at;
        self.local_offset = local_offset;
        self
    }

    /// Sets the phases, in run order, all pending.
    pub fn with_phases<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.phases = names.into_iter().map(PhaseView::pending).collect();
        self
    }

    /// Adds a pending host in these groups (the first is where the host panel shows it).
    pub fn with_host(mut self, name: &str, groups: &[&str]) -> Self {
        let groups = groups.iter().map(|g| g.to_string()).collect();
        self.add_host(name, groups);
        self
    }

    /// Sets the health probes, with no readings yet.
    pub fn with_probes<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.probes = names.into_iter().map(ProbeView::new).collect();
        self
    }

    /// Chooses colours or the monochrome theme (`NO_COLOR`).
    pub fn with_theme(mut self, theme: Theme) -> Self {
        self.theme = theme;
        self
    }

    /// Adds a host, or returns the index of the one with this name.
    pub fn add_host(&mut self, name: &str, groups: Vec<String>) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.hosts.push(HostView::new(name, groups));
        self.index.insert(name.to_string(), self.hosts.len() - 1);
        self.hosts.len() - 1
    }

    /// The host with this name.
    pub fn host(&self, name: &str) -> Option<&HostView> {
        self.index.get(name).map(|&i| &self.hosts[i])
    }

    /// Hosts in display order: grouped by primary group (groups in order of first appearance).
    pub fn display_order(&self) -> Vec<usize> {
        let mut groups: Vec<&str> = Vec::new();
        for h in &self.hosts {
            if !groups.contains(&h.primary_group()) {
                groups.push(h.primary_group());
            }
        }
        let mut order = Vec::with_capacity(self.hosts.len());
        for g in groups {
            order.extend((0..self.hosts.len()).filter(|&i| self.hosts[i].primary_group() == g));
        }
        order
    }

    /// Hosts the panel lists: display order, narrowed by the filter when there is one.
    pub fn visible(&self) -> Vec<usize> {
        let order = self.display_order();
        if self.filter.is_empty() {
            return order;
        }
        order
            .into_iter()
            .filter(|&i| self.hosts[i].matches(&self.filter))
            .collect()
    }

    /// Hosts currently armed (what an abort or a quit would disarm).
    pub fn armed(&self) -> usize {
        self.hosts
            .iter()
            .filter(|h| h.state == HostState::Armed)
            .count()
    }

    /// Host count per state, in `host::LEGEND` order.
    pub fn counts(&self) -> [usize; 11] {
        let mut counts = [0; 11];
        for h in &self.hosts {
            counts[h.state.index()] += 1;
        }
        counts
    }

    /// The run is still going (not finished).
    pub fn active(&self) -> bool {
        self.outcome.is_none()
    }

    /// The phase with this name.
    pub fn phase_mut(&mut self, name: &str) -> Option<(usize, &mut PhaseView)> {
        self.phases
            .iter_mut()
            .enumerate()
            .find(|(_, p)| p.name == name)
    }
}

impl PhaseView {
    /// A phase not started yet.
    pub fn pending(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: PhaseStatus::Pending,
            done: 0,
            total: 0,
            batch: 0,
            batches: 0,
            failed: 0,
            budget: 0,
        }
    }
}
