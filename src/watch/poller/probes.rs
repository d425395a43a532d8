//! Running probes for one poll: http and tcp from the orchestrator, command probes on each
//! target through `RemoteRunner`; every target concurrently, each within the request timeout.

use super::WatchSetup;
use crate::checks::Verdict;
use crate::clock::Clock;
use crate::inventory::Host;
use crate::plan::model::ProbeKind;
use crate::plan::template;
use crate::watch::WatchError;
use crate::watch::load::{Source, Via};
use crate::watch::probe::{HttpCheck, HttpObserved, ProbeVerdict, command_verdict, tcp_verdict};
use crate::watch::remote::RemoteRunner;
use crate::watch::sample::spread;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// A probe ready to run: its kind, compiled checks, sampled targets and poll interval.
pub(super) struct Compiled {
    name: String,
    min_pass: f64,
    kind: ProbeKind,
    http: Option<HttpCheck>,
    hosts: Vec<Host>,
    /// How often it is polled.
    pub(super) interval: Duration,
}

pub(super) fn compile(setup: &WatchSetup) -> Result<Vec<Compiled>, WatchError> {
    setup
        .watch
        .probes
        .iter()
        .map(|p| {
            let http = HttpCheck::from_kind(&p.kind).map_err(|source| WatchError::Regex {
                probe: p.name.clone(),
                source,
            })?;
            let targets = setup.probe_hosts.get(&p.name).cloned().unwrap_or_default();
            Ok(Compiled {
                name: p.name.clone(),
                min_pass: p.min_pass,
                kind: p.kind.clone(),
                http,
                hosts: spread(&targets, p.sample, |h| h.groups.iter().cloned().collect()),
                interval: p
                    .interval
                    .unwrap_or(setup.watch.poll_interval)
                    .max(super::MIN_POLL_INTERVAL),
            })
        })
        .collect()
}

impl Compiled {
    /// What this probe asks each poll: its sampled targets (the orchestrator once when it has
    /// none), by the way it travels.
    pub(super) fn load(&self, setup: &WatchSetup) -> Source {
        let of = setup.probe_hosts.get(&self.name).map_or(0, Vec::len);
        let via = match self.kind {
            ProbeKind::Http { .. } => Via::Http,
            ProbeKind::Tcp { .. } => Via::Tcp,
            ProbeKind::Command { .. } if self.hosts.is_empty() => Via::Local,
            ProbeKind::Command { .. } => Via::Ssh,
        };
        let asks = self.hosts.len().max(1);
        Source {
            what: format!("probe {}", self.name),
            via,
            asks,
            of: of.max(asks),
            every: self.interval,
        }
    }
}

/// Everything one target's probe task needs, owned.
#[derive(Clone)]
struct Job {
    http: reqwest::Client,
    runner: Option<Arc<dyn RemoteRunner>>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
}

/// Polls the probes marked in `due` (all when it is shorter), every target concurrently.
pub(super) async fn poll_all(
    probes: &Arc<Vec<Compiled>>,
    due: &[bool],
    http: &reqwest::Client,
    runner: Option<Arc<dyn RemoteRunner>>,
    clock: &Arc<dyn Clock>,
    timeout: Duration,
    taken_at: DateTime<Utc>,
) -> Vec<ProbeVerdict> {
    let job = Job {
        http: http.clone(),
        runner,
        clock: clock.clone(),
        timeout,
    };
    let mut set = JoinSet::new();
    let is_due = |pi: usize| due.get(pi).copied().unwrap_or(true);
    for (pi, p) in probes.iter().enumerate().filter(|(pi, _)| is_due(*pi)) {
        let targets: Vec<Option<Host>> = if p.hosts.is_empty() {
            vec![None]
        } else {
            p.hosts.iter().cloned().map(Some).collect()
        };
        for host in targets {
            let (job, probes) = (job.clone(), probes.clone());
            set.spawn(async move {
                let p = &probes[pi];
                let label = host
                    .as_ref()
                    .map_or("orchestrator".to_string(), |h| h.name.clone());
                (pi, label, run_one(&job, p, host.as_ref()).await)
            });
        }
    }
    let mut results: Vec<Vec<(String, Verdict)>> = probes.iter().map(|_| Vec::new()).collect();
    for (pi, label, v) in set.join_all().await {
        results[pi].push((label, v));
    }
    probes
        .iter()
        .zip(results)
        .enumerate()
        .filter(|(pi, _)| is_due(*pi))
        .map(|(_, (p, mut r))| {
            r.sort_by(|a, b| a.0.cmp(&b.0));
            ProbeVerdict::gather(&p.name, taken_at, p.min_pass, r)
        })
        .collect()
}

async fn run_one(job: &Job, p: &Compiled, host: Option<&Host>) -> Verdict {
    match (&p.kind, host) {
        (ProbeKind::Http { url, .. }, _) => {
            let Some(check) = &p.http else {
                return Verdict::Error {
                    reason: "http check missing".into(),
                };
            };
            let url = match host {
                Some(h) => match template::render(url, h, template::Quoting::Plain) {
                    Ok(u) => u,
                    Err(e) => {
                        return Verdict::Error {
                            reason: e.to_string(),
                        };
                    }
                },
                None => url.clone(),
            };
            check.judge(&http_get(job, &url).await)
        }
        (ProbeKind::Tcp { port }, Some(h)) => {
            tcp_verdict(&tcp_connect(job, &h.address, *port).await)
        }
        (ProbeKind::Tcp { .. }, None) => Verdict::Error {
            reason: "a tcp probe needs targets".into(),
        },
        (ProbeKind::Command { run }, Some(h)) => match &job.runner {
            Some(r) => match template::render(run, h, template::Quoting::Shell) {
                Ok(run) => command_verdict(&r.run(h, &run, job.timeout).await),
                Err(e) => Verdict::Error {
                    reason: e.to_string(),
                },
            },
            None => Verdict::Error {
                reason: "no SSH runner for command probes".into(),
            },
        },
        (ProbeKind::Command { .. }, None) => Verdict::Error {
            reason: "a command probe needs targets".into(),
        },
    }
}

async fn http_get(job: &Job, url: &str) -> Result<HttpObserved, String> {
    let start = job.clock.instant();
    let resp = job.http.get(url).send().await.map_err(|e| describe(&e))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.map_err(|e| describe(&e))?;
    let latency = job.clock.instant().saturating_duration_since(start);
    Ok(HttpObserved {
        status,
        latency,
        body,
    })
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "no answer in time".to_string();
    }
    let mut s = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        s = format!("{s}: {c}");
        cur = c.source();
    }
    s
}

async fn tcp_connect(job: &Job, address: &str, port: u16) -> Result<Duration, String> {
    let start = job.clock.instant();
    match tokio::time::timeout(job.timeout, tokio::net::TcpStream::connect((address, port))).await {
        Ok(Ok(_)) => Ok(job.clock.instant().saturating_duration_since(start)),
        Ok(Err(e)) => Err(format!("connect {address}:{port}: {e}")),
        Err(_) => Err(format!("connect {address}:{port}: no answer in time")),
    }
}
