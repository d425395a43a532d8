//! Why a run stopped: one enum for every failure path of the engine, each naming what failed
//! and, where hosts may still fire, which ones and how to take them back.

use super::phase::Phase;

/// Why a run did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// More distinct hosts failed in a phase than its budget allows.
    #[error("{phase} failed: {excluded} host(s) out of the run, {allowed} allowed ({detail})")]
    OverBudget {
        /// The phase whose budget ran out.
        phase: Phase,
        /// Hosts excluded in that phase so far.
        excluded: usize,
        /// What its budget allows.
        allowed: usize,
        /// The hosts and reasons, short.
        detail: String,
    },
    /// A step could not be carried out (a local step, or its changes could not be computed).
    #[error("{phase} failed: {step}: {detail}")]
    Step {
        /// The phase.
        phase: Phase,
        /// The step's name.
        step: String,
        /// What went wrong.
        detail: String,
    },
    /// No host is left in the run to act on.
    #[error("{phase}: no host is left in the run (every targeted host was excluded)")]
    NoHostsLeft {
        /// Where that was found.
        phase: Phase,
    },
    /// A drift check found hosts no longer as verified.
    #[error("drift detected {when}: {cause}")]
    Drift {
        /// Which drift check.
        when: Phase,
        /// What it found.
        cause: Box<RunError>,
    },
    /// Arming did not finish on every host in time.
    #[error("{0}")]
    Arming(String),
    /// The operator, a signal or a gate stopped the run.
    #[error("{0}")]
    Stopped(String),
    /// The run stopped before the fire and took the action back.
    #[error("{cause}; {}", disarm_text(may_fire))]
    Disarmed {
        /// Why it stopped.
        cause: Box<RunError>,
        /// Hosts whose disarm was not confirmed: they may still fire.
        may_fire: Vec<String>,
    },
    /// After the fire, hosts show no receipt or could not be reached.
    #[error("{} host(s) did not fire{}; {} host(s) unreachable after the fire (fired status unknown){}", missing.len(), list(missing), unknown.len(), list(unknown))]
    NotFired {
        /// Reached, with no receipt of the action starting.
        missing: Vec<String>,
        /// Never reached after the fire.
        unknown: Vec<String>,
    },
    /// The action ran and exited non-zero on these hosts.
    #[error("the action failed on {} host(s): {}", hosts.len(), failed_hosts(hosts))]
    ActionFailed {
        /// Host and exit code.
        hosts: Vec<(String, i32)>,
    },
    /// The watch ended without completion.
    #[error("the cutover did not complete: {detail}{break_glass}")]
    Watch {
        /// What the watch saw.
        detail: String,
        /// The plan's break-glass text, prefixed, or empty.
        break_glass: String,
    },
    /// A journal record could not be written: the run stops before the next host effect.
    #[error("the journal could not be written ({0}); stopped before touching another host")]
    Journal(String),
}

impl RunError {
    /// Wraps this error as the cause of a disarm.
    pub fn disarmed(self, may_fire: Vec<String>) -> RunError {
        RunError::Disarmed {
            cause: Box::new(self),
            may_fire,
        }
    }

    /// Hosts that may still fire according to this error.
    pub fn may_fire(&self) -> &[String] {
        match self {
            RunError::Disarmed { may_fire, .. } => may_fire,
            _ => &[],
        }
    }
}

fn disarm_text(may_fire: &[String]) -> String {
    if may_fire.is_empty() {
        "every armed host was disarmed".to_string()
    } else {
        format!(
            "COULD NOT DISARM {} host(s), they may still fire: {}",
            may_fire.len(),
            may_fire.join(", ")
        )
    }
}

fn list(hosts: &[String]) -> String {
    if hosts.is_empty() {
        String::new()
    } else {
        format!(" ({})", crate::executor::nodeset::compact(hosts))
    }
}

fn failed_hosts(hosts: &[(String, i32)]) -> String {
    hosts
        .iter()
        .map(|(h, c)| format!("{h} exit {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_hosts_and_what_to_do() {
        let e = RunError::Stopped("aborted by sre".into()).disarmed(vec!["h2".into()]);
        assert_eq!(
            e.to_string(),
            "aborted by sre; COULD NOT DISARM 1 host(s), they may still fire: h2"
        );
        assert_eq!(e.may_fire(), ["h2".to_string()]);
        let a = RunError::ActionFailed {
            hosts: vec![("lab-2".into(), 5)],
        };
        assert_eq!(
            a.to_string(),
            "the action failed on 1 host(s): lab-2 exit 5"
        );
    }
}
