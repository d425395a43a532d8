//! Diffs, hosts leaving the run and disarm results, held until the next other event and
//! printed grouped: at 255 hosts, one diff per change and "255 hosts leave the run" instead
//! of 255 of each.

use crate::executor::nodeset::compact;
use crate::run::changes;
use crate::run::event::RunEvent;
use crate::run::phase::Phase;
use crate::run::reasons;
use std::fmt::Write as _;

/// Exclusions and disarms not printed yet, in arrival order.
#[derive(Debug, Default)]
pub struct Pending {
    /// Diffs of the step's read pass: (path, file, hosts, diff).
    diffs: Vec<(String, String, Vec<String>, String)>,
    /// Per held diff: its event already stood for hosts whose context lines differed.
    context_varies: Vec<bool>,
    /// Hosts that failed in a phase (their reasons were printed with the step).
    left: Vec<(Phase, String)>,
    /// Hosts the operator excluded, with why.
    excluded: Vec<(String, String)>,
    /// Hosts verified disarmed.
    disarmed: Vec<String>,
    /// Hosts whose disarm was not confirmed, with why.
    not_disarmed: Vec<(String, String)>,
}

impl Pending {
    /// Holds `e` if it is one of the grouped kinds; true when it was held.
    pub fn take(&mut self, e: &RunEvent) -> bool {
        match e {
            RunEvent::Excluded {
                host,
                phase: Some(p),
                ..
            } => self.left.push((*p, host.clone())),
            RunEvent::Excluded {
                host,
                phase: None,
                reason,
            } => self.excluded.push((host.clone(), reason.clone())),
            RunEvent::Diff {
                path,
                file,
                hosts,
                diff,
                context_varies,
            } => {
                self.diffs
                    .push((path.clone(), file.clone(), hosts.clone(), diff.clone()));
                self.context_varies.push(*context_varies);
            }
            RunEvent::Disarmed { host, ok: true, .. } => self.disarmed.push(host.clone()),
            RunEvent::Disarmed {
                host,
                ok: false,
                detail,
            } => self.not_disarmed.push((
                host.clone(),
                detail.clone().unwrap_or_else(|| "unknown".into()),
            )),
            _ => return false,
        }
        true
    }

    /// The held events as grouped lines; empties the hold.
    pub fn flush(&mut self) -> String {
        let mut out = self.diff_lines();
        let mut phases: Vec<Phase> = self.left.iter().map(|(p, _)| *p).collect();
        phases.dedup();
        phases.sort();
        phases.dedup();
        for phase in phases {
            let hosts: Vec<String> = self
                .left
                .iter()
                .filter(|(p, _)| *p == phase)
                .map(|(_, h)| h.clone())
                .collect();
            let _ = match hosts.as_slice() {
                [one] => writeln!(
                    out,
                    "-- {one} leaves the run ({phase}): it is not armed and does not fire"
                ),
                _ => writeln!(
                    out,
                    "-- {} hosts leave the run ({phase}): {}; they are not armed and do not fire",
                    hosts.len(),
                    compact(&hosts)
                ),
            };
        }
        for g in reasons::group(self.excluded.iter().map(|(h, r)| (h.as_str(), r.as_str()))) {
            let _ = writeln!(
                out,
                "-- excluded by the operator: {}  [{}]",
                g.reason, g.hostlist
            );
        }
        if !self.disarmed.is_empty() {
            let _ = writeln!(
                out,
                "   disarmed {} host(s)  [{}]",
                self.disarmed.len(),
                compact(&self.disarmed)
            );
        }
        let failed = self
            .not_disarmed
            .iter()
            .map(|(h, d)| (h.as_str(), d.as_str()));
        for g in reasons::group(failed) {
            let _ = writeln!(
                out,
                "   COULD NOT DISARM {} host(s): {} — they may still fire  [{}]",
                g.hosts.len(),
                g.reason,
                g.hostlist
            );
        }
        *self = Pending::default();
        out
    }

    /// True while diffs are held.
    pub fn holds_diffs(&self) -> bool {
        !self.diffs.is_empty()
    }

    /// The held diffs only, grouped; they are no longer held.
    pub fn flush_diffs(&mut self) -> String {
        let out = self.diff_lines();
        self.diffs.clear();
        self.context_varies.clear();
        out
    }

    /// One diff per distinct change, with the hosts that make it.
    fn diff_lines(&self) -> String {
        let list = self
            .diffs
            .iter()
            .map(|(p, f, h, d)| (p.as_str(), f.as_str(), h.as_slice(), d.as_str()));
        let mut out = String::new();
        for mut g in changes::group(list) {
            // An event may already stand for hosts whose context differed.
            g.context_differs |= (self.diffs.iter().zip(&self.context_varies)).any(|(d, v)| {
                *v && d.0 == g.path
                    && d.1 == g.file
                    && changes::change_of(&d.3) == changes::change_of(&g.diff)
            });
            let n = g.hosts.len();
            let _ = if g.diff.is_empty() {
                writeln!(
                    out,
                    "   {n} host(s) {}: {} already as planned (no change)",
                    g.hostlist, g.file
                )
            } else if g.context_differs {
                writeln!(
                    out,
                    "   {n} host(s) {}: this change (context lines differ by host; {}'s diff shown)\n{}",
                    g.hostlist,
                    g.hosts[0],
                    indent(&g.diff)
                )
            } else {
                writeln!(
                    out,
                    "   {n} host(s) {}: this diff\n{}",
                    g.hostlist,
                    indent(&g.diff)
                )
            };
        }
        out
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("     {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn left(host: &str) -> RunEvent {
        RunEvent::Excluded {
            host: host.into(),
            phase: Some(Phase::Preflight),
            reason: format!("preflight[0]: unreachable: {host}: no route"),
        }
    }

    #[test]
    fn many_hosts_leaving_in_one_phase_are_one_line() {
        let mut p = Pending::default();
        for i in 1..=255 {
            assert!(p.take(&left(&format!("lab-{i}"))));
        }
        assert_eq!(
            p.flush(),
            "-- 255 hosts leave the run (preflight): lab-[1-255]; they are not armed and do not fire\n"
        );
        assert_eq!(p.flush(), "");
    }

    #[test]
    fn disarms_are_grouped_and_failures_say_they_may_fire() {
        let mut p = Pending::default();
        for h in ["lab-1", "lab-2", "lab-4"] {
            p.take(&RunEvent::Disarmed {
                host: h.into(),
                ok: true,
                detail: None,
            });
        }
        p.take(&RunEvent::Disarmed {
            host: "lab-3".into(),
            ok: false,
            detail: Some("unreachable: lab-3: no route".into()),
        });
        assert_eq!(
            p.flush(),
            "   disarmed 3 host(s)  [lab-[1-2,4]]\n   COULD NOT DISARM 1 host(s): unreachable: no route — they may still fire  [lab-3]\n"
        );
    }
}
