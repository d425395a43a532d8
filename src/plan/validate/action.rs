//! Validation of `[action]`: the fire time, its offset, and whether arming fits before it.

use super::{V, values};
use crate::plan::model::{Action, Budget, Execution, Mechanism};
use crate::plan::raw::{RawAction, RawTime};
use crate::plan::timeline::{TMINUS_BY, arming_estimate, disarm_estimate, human, tminus_estimate};
use chrono::{DateTime, FixedOffset, Timelike};
use std::time::Duration;

impl V<'_> {
    pub(super) fn action(&mut self, raw: &RawAction, ex: &Execution) -> Option<Action> {
        let at = self.fire_time(raw.at.as_ref());
        let mechanism = self.value(
            "action.mechanism",
            raw.mechanism.as_ref(),
            Mechanism::Auto,
            |m| values::mechanism(m),
        );
        let action = Action {
            name: raw.name.clone().unwrap_or_else(|| "action".to_string()),
            at: at.unwrap_or_default(),
            run: raw.run.clone(),
            sudo: raw.sudo.unwrap_or(true),
            mechanism,
            arm_window: self.duration(
                "action.arm_window",
                raw.arm_window.as_ref(),
                Duration::from_secs(15 * 60),
            ),
            arm_deadline: self.duration(
                "action.arm_deadline",
                raw.arm_deadline.as_ref(),
                Duration::from_secs(120),
            ),
            reverify_before: self.duration(
                "action.reverify_before",
                raw.reverify_before.as_ref(),
                Duration::from_secs(60),
            ),
            targets: self.targets("action.targets", values::targets(raw.targets.as_ref())),
            gate: raw
                .gate
                .as_ref()
                .map(|g| self.value("action.gate", Some(g), String::new(), |g| values::gate(g))),
            max_failures: self.value(
                "action.max_failures",
                raw.max_failures.as_ref(),
                Budget::Count(0),
                values::budget,
            ),
        };
        if raw.run.trim().is_empty() {
            self.error("action.run", "the action has no command to fire");
        }
        self.windows(&action);
        if at.is_some() {
            self.fire_time_rules(&action, ex);
        }
        at.map(|_| action)
    }

    fn fire_time(&mut self, raw: Option<&RawTime>) -> Option<DateTime<FixedOffset>> {
        let Some(raw) = raw else {
            let d = self.error("action", "the action has no fire time `at`");
            V::hint(
                d,
                "add e.g. at = 2027-01-14T02:20:00Z (rehearsals can override it with --at now+2m)",
            );
            return None;
        };
        let text = match raw {
            RawTime::Toml(dt) => dt.to_string(),
            RawTime::Text(s) => s.clone(),
        };
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => Some(t),
            Err(_) => {
                let no_offset = matches!(raw, RawTime::Toml(dt) if dt.offset.is_none() && dt.date.is_some() && dt.time.is_some())
                    || chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S").is_ok();
                let (msg, hint) = if no_offset {
                    (
                        format!("fire time `{text}` has no UTC offset"),
                        format!(
                            "a time without offset means a different instant on every host's time zone; write {text}Z for UTC"
                        ),
                    )
                } else {
                    (
                        format!("fire time `{text}` is not an RFC 3339 date-time"),
                        "write e.g. 2027-01-14T02:20:00Z".to_string(),
                    )
                };
                let d = self.error("action.at", msg);
                V::hint(d, hint);
                None
            }
        }
    }

    fn windows(&mut self, a: &Action) {
        if a.arm_deadline >= a.arm_window {
            let d = self.error(
                "action.arm_deadline",
                format!(
                    "arm_deadline {} leaves no arming window (arm_window is {})",
                    human(a.arm_deadline),
                    human(a.arm_window)
                ),
            );
            V::hint(d, "arming happens between T-arm_window and T-arm_deadline");
        }
        if a.reverify_before >= a.arm_deadline {
            let d = self.error(
                "action.reverify_before",
                format!(
                    "reverify_before {} must be shorter than arm_deadline {}",
                    human(a.reverify_before),
                    human(a.arm_deadline)
                ),
            );
            V::hint(
                d,
                "the last drift check runs after arming is complete and before the fire time",
            );
        }
    }

    /// The T-minus check is bounded by the fire time, and drift found there must be disarmed
    /// before the fire: `reverify_before` must hold the check and the commit round, the
    /// bound, and a whole disarm round.
    fn tminus_rules(&mut self, a: &Action, ex: &Execution, hosts: usize) {
        let rounds = tminus_estimate(hosts);
        let disarm = disarm_estimate(hosts);
        let need = rounds + TMINUS_BY + disarm;
        if a.reverify_before < need {
            let d = self.error(
                "action.reverify_before",
                format!(
                    "reverify_before {} is too short: the T-minus check and the commit round take about {} for {hosts} hosts and must end {} before the fire time, and disarming them takes about {}",
                    human(a.reverify_before),
                    human(rounds),
                    human(TMINUS_BY),
                    human(disarm)
                ),
            );
            V::hint(
                d,
                format!("set reverify_before to at least {}", human(need)),
            );
        } else if a.reverify_before < ex.command_timeout {
            let d = self.warning(
                "action.reverify_before",
                format!(
                    "reverify_before {} is shorter than command_timeout {}: one hung check at T-minus runs into the bound and disarms the whole run",
                    human(a.reverify_before),
                    human(ex.command_timeout)
                ),
            );
            V::hint(d, "raise reverify_before, or lower command_timeout");
        }
    }

    fn fire_time_rules(&mut self, a: &Action, ex: &Execution) {
        if a.mechanism == Mechanism::At && (a.at.second() != 0 || a.at.nanosecond() != 0) {
            let d = self.error(
                "action.at",
                format!(
                    "fire time {} is not a whole minute, but mechanism `at` has minute resolution",
                    a.at.to_rfc3339()
                ),
            );
            V::hint(
                d,
                "round the time to the minute, or use mechanism \"systemd\" or \"waiter\"",
            );
        }
        if a.at.offset().local_minus_utc() != 0 {
            let d = self.warning(
                "action.at",
                format!(
                    "fire time is in offset {}; UTC is recommended",
                    a.at.offset()
                ),
            );
            V::hint(
                d,
                format!(
                    "the same instant in UTC is {}",
                    a.at.to_utc().format("%Y-%m-%dT%H:%M:%SZ")
                ),
            );
        }
        let until = (a.at.to_utc() - self.cx.now)
            .to_std()
            .unwrap_or(Duration::ZERO);
        if a.at.to_utc() <= self.cx.now {
            let d = self.error(
                "action.at",
                format!("fire time {} is in the past", a.at.to_rfc3339()),
            );
            V::hint(
                d,
                "pick a new maintenance window, or rehearse with --at now+2m",
            );
            return;
        }
        // `disarm`, `watch` and `resume` re-validate a run's snapshot with `now` at the epoch
        // to switch time rules off; the fire time was judged when the run started.
        let ahead = a.at.to_utc() - self.cx.now;
        let judged = self.cx.now != DateTime::<chrono::Utc>::UNIX_EPOCH;
        if judged && ahead > chrono::Duration::days(super::ABSURD_FIRE_AHEAD_DAYS) {
            let d = self.error(
                "action.at",
                format!(
                    "fire time {} is more than ten years away",
                    a.at.to_rfc3339()
                ),
            );
            V::hint(
                d,
                "check the year: a plan is reviewed for one maintenance window",
            );
            return;
        }
        if judged && ahead > chrono::Duration::days(super::MAX_FIRE_AHEAD_DAYS) {
            let d = self.warning(
                "action.at",
                format!("fire time {} is more than a year away", a.at.to_rfc3339()),
            );
            V::hint(
                d,
                "a plan is reviewed for one maintenance window: check the year, or lint with --now for a later window",
            );
        }
        let Some(hosts) = self.host_count(&a.targets) else {
            return;
        };
        self.tminus_rules(a, ex, hosts);
        let estimate = arming_estimate(hosts, ex);
        let arming = estimate.total();
        if arming + a.arm_deadline > a.arm_window {
            let d = self.error("action.arm_window", format!(
                "arm_window {} is too short: arming takes about {}: {}; and it must end {} before the fire time",
                human(a.arm_window), human(arming), estimate.explain(ex), human(a.arm_deadline)));
            V::hint(
                d,
                "widen arm_window, or raise connect_burst, connect_rate or batch_size",
            );
        }
        if arming + a.arm_deadline > until {
            let d = self.error("action.at", format!(
                "fire time {} is too soon: arming takes about {}: {}; it must end {} before the fire time, which is {} away",
                a.at.to_rfc3339(), human(arming), estimate.explain(ex), human(a.arm_deadline), human(until)));
            V::hint(
                d,
                "move the fire time later, or raise connect_burst, connect_rate or batch_size",
            );
        }
    }
}
