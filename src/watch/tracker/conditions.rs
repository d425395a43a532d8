//! Judging `complete_when` and `abort_if` against the newest reading and probe verdicts.

use super::history::{Outcome, Reason};
use super::{ActionProgress, Tracker};
use crate::plan::model::{AbortCondition, Condition};
use crate::watch::verdict::{QuorumVerdict, max_age};
use chrono::{DateTime, Utc};

impl Tracker {
    pub(super) fn check_abort(&self, now: DateTime<Utc>) -> Option<Outcome> {
        self.cfg.abort_if.iter().find_map(|c| {
            let reason = match c {
                AbortCondition::QuorumLost => match self.quorum_verdict(now) {
                    Some(QuorumVerdict::Unsafe(u)) => format!("quorum_lost: {u}"),
                    _ => return None,
                },
                AbortCondition::ProbeFailing(name) => match self.probe_reason(name, now) {
                    Some(r) => format!("probe:{name} failing: {r}"),
                    None => return None,
                },
                AbortCondition::Drift => return None,
            };
            Some(Outcome::Abort { at: now, reason })
        })
    }

    pub(super) fn unmet(&self, now: DateTime<Utc>) -> Vec<Reason> {
        let mut out = self.not_settled(now);
        for c in &self.cfg.complete_when {
            match c {
                Condition::Quorum => match self.quorum_verdict(now) {
                    None => out.push(Reason::QuorumNotConfigured),
                    Some(QuorumVerdict::Unsafe(u)) => out.push(Reason::Quorum(u)),
                    Some(QuorumVerdict::Healthy { .. }) => {}
                },
                Condition::Probe(name) => out.extend(self.probe_unmet(name, now)),
                Condition::TermIncreased | Condition::LeaderChanged => {
                    out.extend(self.change_unmet(c))
                }
                Condition::AllProbes if self.cfg.probes.is_empty() => out.push(Reason::Probe {
                    name: "all_probes".into(),
                    detail: "no probes configured".into(),
                }),
                Condition::AllProbes => {
                    for name in &self.cfg.probes {
                        out.extend(self.probe_unmet(name, now));
                    }
                }
            }
        }
        out
    }

    /// The action has not finished everywhere yet, or the plan's `settle` has not passed:
    /// health before the change happened is not health after it.
    fn not_settled(&self, now: DateTime<Utc>) -> Vec<Reason> {
        let mut out = Vec::new();
        if self.cfg.awaits_actions {
            let a = self.actions.unwrap_or(ActionProgress {
                finished: 0,
                expected: 1,
            });
            if !a.done() {
                out.push(Reason::ActionsRunning {
                    finished: a.finished,
                    expected: a.expected,
                });
            }
        }
        let settled =
            self.cfg.fire_at + chrono::Duration::from_std(self.cfg.settle).unwrap_or_default();
        if now < settled {
            out.push(Reason::Settling {
                remaining: (settled - now).to_std().unwrap_or_default(),
            });
        }
        out
    }

    /// A change condition not seen yet, with what was seen.
    fn change_unmet(&self, c: &Condition) -> Option<Reason> {
        let ch = &self.change;
        let Some((leader, term)) = &ch.before else {
            return Some(Reason::ChangeNotSeen {
                detail: "no quorum reading from before the fire to compare with".into(),
            });
        };
        let detail = match c {
            Condition::TermIncreased if !ch.term_increased => match term {
                Some(t) => format!("the raft term is still {t}, as before the fire"),
                None => "the quorum source reported no raft term before the fire".into(),
            },
            Condition::LeaderChanged if !ch.leader_changed => match leader {
                Some(l) => format!("{l} still leads, as before the fire"),
                None => "no leader was seen before the fire".into(),
            },
            _ => return None,
        };
        Some(Reason::ChangeNotSeen { detail })
    }

    fn probe_unmet(&self, name: &str, now: DateTime<Utc>) -> Option<Reason> {
        let detail = self.probe_reason(name, now)?;
        Some(Reason::Probe {
            name: name.to_string(),
            detail,
        })
    }

    fn probe_reason(&self, name: &str, now: DateTime<Utc>) -> Option<String> {
        let Some(p) = self.probes.get(name) else {
            return Some("no result yet".into());
        };
        let age = (now - p.taken_at).to_std().unwrap_or_default();
        if age > max_age(self.cfg.probe_interval(name)) {
            return Some(format!("newest result is {}ms old", age.as_millis()));
        }
        (!p.ok()).then(|| p.summary())
    }
}
