//! Validation of `[watch]`: quorum source, probes, completion and abort conditions.

use super::{V, values};
use crate::plan::model::{
    AbortCondition, Condition, MetricBound, Probe, ProbeKind, Quorum, Sample, Targets, Watch,
};
use crate::plan::raw::{RawProbe, RawQuorum, RawSample, RawWatch};
use crate::plan::timeline::human;
use std::time::Duration;

/// The fastest poll interval accepted: faster polling loads the very cluster being watched.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

impl V<'_> {
    pub(super) fn watch(&mut self, raw: Option<&RawWatch>) -> Option<Watch> {
        let Some(raw) = raw else {
            let d = self.warning(
                "action",
                "the plan has no [watch]: nothing decides when the cutover is complete",
            );
            V::hint(
                d,
                "add [watch] with a timeout, a quorum source or probes, and complete_when",
            );
            return None;
        };
        let poll_interval = self.duration(
            "watch.poll_interval",
            raw.poll_interval.as_ref(),
            Duration::from_secs(1),
        );
        if poll_interval < MIN_POLL_INTERVAL {
            self.error(
                "watch.poll_interval",
                format!(
                    "poll_interval {} is below the 100ms minimum",
                    human(poll_interval)
                ),
            );
        }
        let timeout = match &raw.timeout {
            Some(t) => self.duration("watch.timeout", Some(t), Duration::from_secs(600)),
            None => {
                let d = self.error("watch", "[watch] has no timeout: a cutover that never completes would be watched forever");
                V::hint(
                    d,
                    "add e.g. timeout = \"10m\"; on timeout the run fails and prints break_glass",
                );
                Duration::from_secs(600)
            }
        };
        let stable_for = self.duration(
            "watch.stable_for",
            raw.stable_for.as_ref(),
            Duration::from_secs(10),
        );
        if stable_for >= timeout {
            self.error(
                "watch.stable_for",
                format!(
                    "stable_for {} is not shorter than timeout {}",
                    human(stable_for),
                    human(timeout)
                ),
            );
        }
        let settle = self.duration("watch.settle", raw.settle.as_ref(), Duration::ZERO);
        if settle + stable_for >= timeout {
            self.error(
                "watch.settle",
                format!(
                    "settle {} plus stable_for {} is not shorter than timeout {}",
                    human(settle),
                    human(stable_for),
                    human(timeout)
                ),
            );
        }
        let quorum = raw.quorum.as_ref().map(|q| self.quorum(q));
        let probes: Vec<Probe> = raw
            .probe
            .iter()
            .enumerate()
            .map(|(i, p)| self.probe(i, p))
            .collect();
        self.duplicate_probes(&probes);
        let names: Vec<&str> = probes.iter().map(|p| p.name.as_str()).collect();
        let complete_when = self.complete_when(raw, quorum.is_some(), &names);
        let abort_if = self.abort_if(raw, quorum.is_some(), &names);
        Some(Watch {
            poll_interval,
            stable_for,
            settle,
            timeout,
            complete_when,
            abort_if,
            quorum,
            probes,
        })
    }

    fn quorum(&mut self, raw: &RawQuorum) -> Quorum {
        let source = self.value(
            "watch.quorum.source",
            Some(&raw.source),
            crate::plan::model::QuorumSource::Command,
            |s| values::quorum_source(s),
        );
        // The quorum is read from the members only: without targets nothing defaults to the
        // whole fleet (which would also count every host as a voter).
        let targets = match &raw.targets {
            Some(t) => self.targets("watch.quorum.targets", values::targets(Some(t))),
            None => Targets {
                text: Vec::new(),
                selectors: Vec::new(),
            },
        };
        if raw.targets.is_none() && raw.endpoints.is_empty() {
            let d = self.error(
                "watch.quorum",
                "the quorum is read over SSH from its members, but [watch.quorum] names none",
            );
            V::hint(
                d,
                "add targets = the member hosts (e.g. \"servers\"), or endpoints for the HTTP API",
            );
        }
        let voters = raw.voters.map(|n| {
            self.value("watch.quorum.voters", Some(n), 0, |n| {
                usize::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("voters {n} must be 1 or more"))
            })
        });
        if source == crate::plan::model::QuorumSource::Command && raw.run.is_none() {
            self.error("watch.quorum", "quorum source `command` needs `run`");
        }
        for (i, e) in raw.endpoints.iter().enumerate() {
            self.url(&format!("watch.quorum.endpoints[{i}]"), e);
        }
        if raw.targets.is_some() {
            self.voters_consistent(voters, &targets);
        }
        Quorum {
            source,
            targets,
            voters,
            endpoints: raw.endpoints.clone(),
            run: raw.run.clone(),
        }
    }

    fn voters_consistent(&mut self, voters: Option<usize>, targets: &Targets) {
        let members = self.host_count(targets);
        if let (Some(v), Some(m)) = (voters, members)
            && v > m
        {
            let d = self.error(
                "watch.quorum.voters",
                format!("voters = {v} but the quorum targets select only {m} hosts"),
            );
            V::hint(
                d,
                "a cluster cannot have more voters than member hosts; fix voters or targets",
            );
        }
        if let Some(v) = voters.or(members)
            && v % 2 == 0
            && v > 0
        {
            let d = self.warning(
                "watch.quorum.voters",
                format!("{v} voters tolerate no more failures than {}", v - 1),
            );
            V::hint(d, "odd voter counts are the norm for raft clusters");
        }
    }

    fn probe(&mut self, i: usize, raw: &RawProbe) -> Probe {
        let path = format!("watch.probe[{i}]");
        let p = |f: &str| format!("{path}.{f}");
        // Without `targets` a probe that needs a host (command, tcp, or a URL naming
        // `{{ host.* }}` / `{{ vars.* }}`) runs on every host; any other http probe runs
        // once, from the orchestrator.
        let per_host = match raw.kind.as_str() {
            "http" => raw.url.as_deref().is_some_and(names_a_host),
            _ => true,
        };
        let targets = match &raw.targets {
            Some(t) => self.targets(&p("targets"), values::targets(Some(t))),
            None if per_host => self.targets(&p("targets"), vec!["all".to_string()]),
            None => Targets {
                text: Vec::new(),
                selectors: Vec::new(),
            },
        };
        let min_pass = self.value(&p("min_pass"), raw.min_pass.as_ref(), 1.0, |s| {
            values::fraction(s)
        });
        let kind = match raw.kind.as_str() {
            "http" => {
                let url = raw.url.as_deref().unwrap_or_default();
                if raw.url.is_none() {
                    self.error(&path, "an http probe needs `url`");
                }
                let metric = raw.metric.as_ref().map(|m| MetricBound {
                    pattern: self.regex(&p("metric"), Some(m)).unwrap_or_default(),
                    max: raw.max_value,
                    min: raw.min_value,
                });
                if metric
                    .as_ref()
                    .is_some_and(|m| m.max.is_none() && m.min.is_none())
                {
                    self.error(
                        &p("metric"),
                        "a metric needs max_value or min_value to compare with",
                    );
                }
                ProbeKind::Http {
                    url: if url.is_empty() {
                        String::new()
                    } else {
                        self.url(&p("url"), url)
                    },
                    expect_status: self.status(&p("expect_status"), raw.expect_status),
                    body_matches: self.regex(&p("body_matches"), raw.body_matches.as_ref()),
                    max_latency: raw
                        .max_latency
                        .as_ref()
                        .map(|l| self.duration(&p("max_latency"), Some(l), Duration::ZERO)),
                    metric,
                }
            }
            "tcp" => ProbeKind::Tcp {
                port: self.value(&p("port"), raw.port.or(Some(0)), 0, values::port),
            },
            "command" => {
                if raw.run.is_none() {
                    self.error(&path, "a command probe needs `run`");
                }
                ProbeKind::Command {
                    run: raw.run.clone().unwrap_or_default(),
                }
            }
            other => {
                self.error(
                    &p("kind"),
                    values::unknown("probe kind", other, &["http", "tcp", "command"]),
                );
                ProbeKind::Command { run: String::new() }
            }
        };
        let has_targets = !targets.text.is_empty();
        let sample = raw
            .sample
            .as_ref()
            .and_then(|s| self.sample(&path, has_targets, s));
        let interval = raw.interval.as_ref().map(|t| {
            let d = self.duration(&p("interval"), Some(t), MIN_POLL_INTERVAL);
            if d < MIN_POLL_INTERVAL {
                self.error(
                    &p("interval"),
                    format!("interval {} is below the 100ms minimum", human(d)),
                );
            }
            d
        });
        Probe {
            name: raw.name.clone(),
            targets,
            min_pass,
            kind,
            sample,
            interval,
        }
    }

    /// A probe's `sample`: a count of at least one host or a percentage above 0%, on a probe
    /// that has targets to sample from.
    fn sample(&mut self, path: &str, has_targets: bool, s: &RawSample) -> Option<Sample> {
        let at = format!("{path}.sample");
        if !has_targets {
            let d = self.error(&at, "`sample` needs `targets` to sample from");
            V::hint(
                d,
                "add targets, or drop sample to probe from the orchestrator only",
            );
            return None;
        }
        let parsed = match s {
            RawSample::Count(n) => usize::try_from(*n)
                .ok()
                .filter(|n| *n > 0)
                .map(Sample::Count)
                .ok_or(format!("sample {n} must be 1 or more hosts")),
            RawSample::Text(t) => values::fraction(t).and_then(|f| {
                (f > 0.0)
                    .then_some(Sample::Fraction(f))
                    .ok_or(format!("sample {t} must be above 0%"))
            }),
            RawSample::PerGroup { per_group } => usize::try_from(*per_group)
                .ok()
                .filter(|n| *n > 0)
                .map(Sample::PerGroup)
                .ok_or(format!(
                    "sample per_group = {per_group} must be 1 or more hosts"
                )),
        };
        match parsed {
            Ok(sample) => Some(sample),
            Err(e) => {
                let d = self.error(&at, e);
                V::hint(
                    d,
                    "write a host count (sample = 20), a percentage (sample = \"10%\") or a count per group (sample = { per_group = 2 })",
                );
                None
            }
        }
    }

    fn duplicate_probes(&mut self, probes: &[Probe]) {
        for (i, p) in probes.iter().enumerate() {
            if probes[..i].iter().any(|q| q.name == p.name) {
                self.error(
                    &format!("watch.probe[{i}].name"),
                    format!("probe name `{}` is used twice", p.name),
                );
            }
        }
    }

    fn complete_when(
        &mut self,
        raw: &RawWatch,
        has_quorum: bool,
        names: &[&str],
    ) -> Vec<Condition> {
        if raw.complete_when.is_empty() {
            let d = self.error(
                "watch",
                "[watch] has no complete_when: nothing can declare the cutover complete",
            );
            V::hint(d, "add e.g. complete_when = [\"quorum\", \"all_probes\"]");
        }
        let mut out = Vec::new();
        for (i, c) in raw.complete_when.iter().enumerate() {
            let path = format!("watch.complete_when[{i}]");
            let cond = match c.as_str() {
                "quorum" => Condition::Quorum,
                "all_probes" => Condition::AllProbes,
                "term_increased" => Condition::TermIncreased,
                "leader_changed" => Condition::LeaderChanged,
                other => match other.strip_prefix("probe:") {
                    Some(name) => Condition::Probe(name.to_string()),
                    None => {
                        self.error(
                            &path,
                            values::unknown(
                                "condition",
                                other,
                                &[
                                    "quorum",
                                    "all_probes",
                                    "probe:NAME",
                                    "term_increased",
                                    "leader_changed",
                                ],
                            ),
                        );
                        continue;
                    }
                },
            };
            self.condition_refs(&path, &cond, has_quorum, names);
            out.push(cond);
        }
        out
    }

    fn condition_refs(&mut self, path: &str, cond: &Condition, has_quorum: bool, names: &[&str]) {
        match cond {
            Condition::Quorum if !has_quorum => {
                self.error(
                    path,
                    "`quorum` is a condition but [watch.quorum] is missing",
                );
            }
            Condition::TermIncreased | Condition::LeaderChanged if !has_quorum => {
                self.error(
                    path,
                    "`term_increased` and `leader_changed` judge the quorum, but [watch.quorum] is missing",
                );
            }
            Condition::AllProbes if names.is_empty() => {
                self.error(
                    path,
                    "`all_probes` is a condition but there is no [[watch.probe]]",
                );
            }
            Condition::Probe(n) if !names.contains(&n.as_str()) => {
                let d = self.error(path, format!("no probe named `{n}`"));
                let hint = if names.is_empty() {
                    "there is no [[watch.probe]] yet".to_string()
                } else {
                    format!("probes are: {}", names.join(", "))
                };
                V::hint(d, hint);
            }
            _ => {}
        }
    }

    fn abort_if(
        &mut self,
        raw: &RawWatch,
        has_quorum: bool,
        names: &[&str],
    ) -> Vec<AbortCondition> {
        let mut out = Vec::new();
        for (i, c) in raw.abort_if.iter().enumerate() {
            let path = format!("watch.abort_if[{i}]");
            let cond = match c.as_str() {
                "quorum_lost" => AbortCondition::QuorumLost,
                "drift" => AbortCondition::Drift,
                other => match other.strip_prefix("probe:") {
                    Some(n) => AbortCondition::ProbeFailing(n.to_string()),
                    None => {
                        self.error(
                            &path,
                            values::unknown(
                                "abort condition",
                                other,
                                &["quorum_lost", "drift", "probe:NAME"],
                            ),
                        );
                        continue;
                    }
                },
            };
            match &cond {
                AbortCondition::QuorumLost if !has_quorum => {
                    self.error(&path, "`quorum_lost` needs [watch.quorum]");
                }
                AbortCondition::ProbeFailing(n) if !names.contains(&n.as_str()) => {
                    self.error(&path, format!("no probe named `{n}`"));
                }
                _ => {}
            }
            out.push(cond);
        }
        out
    }
}

/// True when a probe URL names a host field or variable, so it is probed per host.
fn names_a_host(url: &str) -> bool {
    crate::plan::template::parse(url)
        .0
        .iter()
        .any(|r| r.namespace != crate::plan::template::Namespace::Secrets)
}
