//! The watch shell: polls the quorum source and every probe each `poll_interval`, feeds the
//! tracker, emits `WatchEvent`s, and returns the outcome. Time only through a `Clock` handle.

mod probes;
mod quorum;
mod schedule;

use super::load::{Load, Source, Via};
use super::remote::RemoteRunner;
use super::tracker::history::History;
use super::tracker::{ActionProgress, Observation, Outcome, Tracker, TrackerConfig};
use super::{WatchError, WatchEvent};
use crate::clock::Clock;
use crate::inventory::Host;
use crate::plan::model::{QuorumSource, Watch};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Everything the watch needs, resolved by the caller (hosts from the inventory).
#[derive(Debug, Clone)]
pub struct WatchSetup {
    /// The plan's `[watch]`.
    pub watch: Watch,
    /// The action's fire time.
    pub fire_at: DateTime<Utc>,
    /// The quorum targets, resolved (used for SSH sources and the expected voter count).
    pub quorum_hosts: Vec<Host>,
    /// Each probe's targets by probe name, resolved (absent or empty: the orchestrator only).
    pub probe_hosts: BTreeMap<String, Vec<Host>>,
}

/// How the watch ended and what it saw.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WatchResult {
    /// Complete, timed out, or abort.
    pub outcome: Outcome,
    /// Leaderless windows and milestones' times.
    pub history: History,
}

/// Polls and decides; build with [`Poller::new`], drive with [`Poller::run`].
pub struct Poller {
    setup: Arc<WatchSetup>,
    clock: Arc<dyn Clock>,
    runner: Option<Arc<dyn RemoteRunner>>,
    http: reqwest::Client,
    probes: Arc<Vec<probes::Compiled>>,
    tracker: Tracker,
    /// When the quorum was last polled.
    quorum_polled: Option<std::time::Instant>,
    /// When each probe was last polled.
    probes_polled: Vec<Option<std::time::Instant>>,
    /// The run's receipt collection: how many fired hosts' actions have finished.
    actions: Option<tokio::sync::watch::Receiver<ActionProgress>>,
}

/// The fastest polling the poller does, whatever it is given (validation enforces the same
/// floor): faster polling loads the very cluster being watched.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How long one request may take: two poll intervals, at least 500ms, at most 5s, so a silent
/// endpoint costs a poll or two and never blocks the watch.
pub fn request_timeout(poll_interval: Duration) -> Duration {
    (poll_interval * 2).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

impl Poller {
    /// A poller; `runner` is needed for SSH quorum sources (no `endpoints`) and command probes.
    pub fn new(
        setup: WatchSetup,
        clock: Arc<dyn Clock>,
        runner: Option<Arc<dyn RemoteRunner>>,
    ) -> Result<Self, WatchError> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout(setup.watch.poll_interval))
            .build()
            .map_err(|source| WatchError::Http { source })?;
        let probes = probes::compile(&setup)?;
        let cfg = TrackerConfig::from_watch(
            &setup.watch,
            setup.fire_at,
            expected_voters(&setup),
            &source_name(&setup),
        );
        Ok(Poller {
            setup: Arc::new(setup),
            clock,
            runner,
            http,
            probes_polled: vec![None; probes.len()],
            probes: Arc::new(probes),
            tracker: Tracker::new(cfg),
            quorum_polled: None,
            actions: None,
        })
    }

    /// Completion waits until `actions` says every fired host's action finished and reported:
    /// the `stable_for` count judges the changed cluster, not the instant of the fire.
    pub fn with_actions(mut self, actions: tokio::sync::watch::Receiver<ActionProgress>) -> Self {
        self.tracker.await_actions();
        self.actions = Some(actions);
        self
    }

    /// Polls until complete, timed out or aborted, sending events (a closed channel is ignored).
    ///
    /// The loop ticks at the shortest of `poll_interval` and the probes' own intervals; each
    /// tick polls the quorum and the probes whose interval has come round (a poll event
    /// without a reading or a probe then means it was not polled this tick).
    pub async fn run(mut self, events: mpsc::Sender<WatchEvent>) -> WatchResult {
        let poll_interval = self.setup.watch.poll_interval.max(MIN_POLL_INTERVAL);
        let tick = schedule::tick(
            poll_interval,
            self.probes.iter().map(|p| p.interval),
            MIN_POLL_INTERVAL,
        );
        let _ = events.send(WatchEvent::Started { load: self.load() }).await;
        loop {
            let started = self.clock.instant();
            let taken_at = self.clock.now();
            let quorum_due = schedule::due(self.quorum_polled, poll_interval, tick, started);
            if quorum_due {
                self.quorum_polled = Some(started);
            }
            let due: Vec<bool> = self
                .probes
                .iter()
                .zip(self.probes_polled.iter_mut())
                .map(|(p, last)| {
                    let due = schedule::due(*last, p.interval, tick, started);
                    if due {
                        *last = Some(started);
                    }
                    due
                })
                .collect();
            let quorum = async {
                match quorum_due {
                    true => self.poll_quorum(taken_at).await,
                    false => None,
                }
            };
            let (reading, probes) = tokio::join!(quorum, self.poll_probes(taken_at, &due));
            let now = self.clock.now();
            let took = self.clock.instant().saturating_duration_since(started);
            let obs = Observation {
                quorum: reading.clone(),
                probes: probes.clone(),
                actions: self.actions.as_ref().map(|rx| *rx.borrow()),
            };
            let milestones = self.tracker.observe(now, obs);
            let verdict = self.tracker.quorum_verdict(now);
            let why = self.tracker.why_not_done(now);
            let _ = events
                .send(WatchEvent::Poll {
                    reading,
                    verdict,
                    probes,
                    why,
                    took,
                })
                .await;
            for m in milestones {
                let _ = events.send(WatchEvent::Milestone(m)).await;
            }
            if let Some(outcome) = self.tracker.outcome() {
                return WatchResult {
                    outcome: outcome.clone(),
                    history: self.tracker.history().clone(),
                };
            }
            let spent = self.clock.instant().saturating_duration_since(started);
            tokio::time::sleep(tick.saturating_sub(spent)).await;
        }
    }

    /// What the watch will ask of the fleet and the cluster, per poll and per second.
    pub fn load(&self) -> Load {
        let quorum = self.setup.watch.quorum.as_ref().map(|q| {
            let kind = match q.source {
                QuorumSource::Etcd => "etcd quorum",
                QuorumSource::Consul => "consul quorum",
                QuorumSource::Command => "quorum command",
            };
            // Over HTTP every endpoint is asked each poll; over SSH one member answers (the
            // next only when it does not).
            let (via, asks, of) = match (q.source, q.endpoints.len()) {
                (QuorumSource::Command, _) | (_, 0) => {
                    let n = self.setup.quorum_hosts.len();
                    (Via::Ssh, n.min(1), n)
                }
                (_, n) => (Via::Http, n, n),
            };
            Source {
                what: kind.to_string(),
                via,
                asks,
                of,
                every: self.setup.watch.poll_interval.max(MIN_POLL_INTERVAL),
            }
        });
        let probes = self.probes.iter().map(|p| p.load(&self.setup));
        Load {
            sources: quorum.into_iter().chain(probes).collect(),
        }
    }

    async fn poll_quorum(&self, taken_at: DateTime<Utc>) -> Option<super::reading::QuorumReading> {
        let q = self.setup.watch.quorum.as_ref()?;
        let ctx = quorum::Ctx {
            http: &self.http,
            runner: self.runner.as_deref(),
            hosts: &self.setup.quorum_hosts,
            timeout: request_timeout(self.setup.watch.poll_interval),
        };
        quorum::poll(&ctx, q, taken_at).await
    }

    async fn poll_probes(
        &self,
        taken_at: DateTime<Utc>,
        due: &[bool],
    ) -> Vec<super::probe::ProbeVerdict> {
        let timeout = request_timeout(self.setup.watch.poll_interval);
        probes::poll_all(
            &self.probes,
            due,
            &self.http,
            self.runner.clone(),
            &self.clock,
            timeout,
            taken_at,
        )
        .await
    }
}

/// Expected voters: the plan's `voters`, else the quorum targets' count, else the endpoints'.
pub fn expected_voters(setup: &WatchSetup) -> usize {
    let Some(q) = &setup.watch.quorum else {
        return 0;
    };
    q.voters.unwrap_or(if setup.quorum_hosts.is_empty() {
        q.endpoints.len()
    } else {
        setup.quorum_hosts.len()
    })
}

fn source_name(setup: &WatchSetup) -> String {
    let Some(q) = &setup.watch.quorum else {
        return String::new();
    };
    let kind = match q.source {
        QuorumSource::Etcd => "etcd",
        QuorumSource::Consul => "consul",
        QuorumSource::Command => "quorum command",
    };
    match q.endpoints.first() {
        Some(e) => format!("{kind} {e}"),
        None => kind.to_string(),
    }
}
