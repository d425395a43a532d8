//! The watch's "not done" line, said again only when it says something new: what is
//! missing changed (a probe started or stopped failing, the fire passed), a countdown in it
//! (seconds to the fire, seconds left of `stable_for`) reached a multiple of 10 s or 5, 3, 2
//! or 1 s, or, for details that change every poll (how many targets passed, how old a
//! result is), 10 s went by on the poll's own clock. Once a second is noise at any size.

use crate::watch::tracker::history::{Reason, WhyNotDone};
use chrono::{DateTime, Utc};

/// Details that change on every poll are said at most this often.
const EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// What was printed last.
#[derive(Debug, Default)]
pub struct Countdown {
    /// What is missing, without counts or details; `None` before the first line.
    last_shape: Option<String>,
    /// The countdown values last printed.
    last_left: Vec<u64>,
    /// The full text last printed.
    last_text: String,
    /// When (by the polls' clock) the last line was printed.
    last_at: Option<DateTime<Utc>>,
}

/// Seconds at which a countdown is worth a line.
fn worth_saying(secs: u64) -> bool {
    secs.is_multiple_of(10) || matches!(secs, 1 | 2 | 3 | 5)
}

impl Countdown {
    /// The line's text when it is worth printing, else `None`; `at` is when the poll was
    /// taken, if it says.
    pub fn show(&mut self, why: &WhyNotDone, at: Option<DateTime<Utc>>) -> Option<String> {
        if why.reasons.is_empty() {
            return None;
        }
        let mut shape = Vec::new();
        let mut left = Vec::new();
        for r in &why.reasons {
            match r {
                Reason::BeforeFire { remaining } => {
                    shape.push("fires in …".to_string());
                    left.push(remaining.as_secs());
                }
                Reason::NotStableYet { held, needed } => {
                    shape.push("stable for …".to_string());
                    left.push(needed.as_secs().saturating_sub(held.as_secs()));
                }
                Reason::Probe { name, .. } => shape.push(format!("probe {name}")),
                other => shape.push(other.to_string()),
            }
        }
        let shape = shape.join("; ");
        let text = why.to_string();
        let changed = self.last_shape.as_deref() != Some(shape.as_str());
        let ticked = left != self.last_left && left.iter().any(|s| worth_saying(*s));
        let stale = text != self.last_text
            && at
                .zip(self.last_at)
                .is_some_and(|(now, last)| now - last >= EVERY);
        if !changed && !ticked && !stale {
            return None;
        }
        self.last_shape = Some(shape);
        self.last_left = left;
        self.last_text = text.clone();
        self.last_at = at.or(self.last_at);
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn before(secs: f64) -> WhyNotDone {
        WhyNotDone {
            reasons: vec![Reason::BeforeFire {
                remaining: Duration::from_secs_f64(secs),
            }],
        }
    }

    #[test]
    fn a_countdown_polled_twice_a_second_says_every_10_s_and_at_5_3_2_1() {
        let mut c = Countdown::default();
        let said: Vec<String> = (0..120)
            .map(|i| 59.9 - f64::from(i) * 0.5)
            .filter(|s| *s >= 0.0)
            .filter_map(|s| c.show(&before(s), None))
            .collect();
        assert_eq!(
            said,
            [
                "fires in 59s",
                "fires in 50s",
                "fires in 40s",
                "fires in 30s",
                "fires in 20s",
                "fires in 10s",
                "fires in 5s",
                "fires in 3s",
                "fires in 2s",
                "fires in 1s",
                "fires in 0s",
            ]
        );
    }

    #[test]
    fn new_reasons_are_said_at_once() {
        let mut c = Countdown::default();
        assert!(c.show(&before(57.0), None).is_some());
        assert!(c.show(&before(56.0), None).is_none());
        assert_eq!(
            c.show(&probe("1/3 passed"), None).as_deref(),
            Some("probe up: 1/3 passed")
        );
        assert!(c.show(&probe("1/3 passed"), None).is_none());
        assert!(c.show(&WhyNotDone::default(), None).is_none());
    }

    fn probe(detail: &str) -> WhyNotDone {
        WhyNotDone {
            reasons: vec![Reason::Probe {
                name: "up".into(),
                detail: detail.into(),
            }],
        }
    }

    #[test]
    fn details_that_change_every_poll_are_said_every_10_s() {
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let mut c = Countdown::default();
        let said: Vec<i64> = (0..60)
            .filter(|i| {
                let at = t0 + chrono::TimeDelta::milliseconds(i * 500);
                c.show(&probe(&format!("{}/254 passed", 200 + i)), Some(at))
                    .is_some()
            })
            .map(|i| i / 2)
            .collect();
        assert_eq!(said, [0, 10, 20]);
    }
}
