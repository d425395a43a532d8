//! Plain, line-per-event output of a run (for terminals without the dashboard, CI and logs),
//! with identical check failures grouped ("3 hosts: sudo: a password is required").

use super::event::RunEvent;
use crate::checks::Verdict;
use crate::executor::{Event, nodeset};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Turns events into text; remembers check verdicts until their step ends.
#[derive(Debug, Default)]
pub struct Printer {
    verdicts: BTreeMap<String, Vec<(String, Verdict)>>,
    matrix: BTreeMap<String, BTreeMap<String, char>>,
    columns: Vec<String>,
    last_why: String,
}

impl Printer {
    /// The text for one event (possibly empty).
    pub fn line(&mut self, e: &RunEvent) -> String {
        let mut out = String::new();
        match e {
            RunEvent::Started {
                plan,
                digest,
                inventory,
                production,
                hosts,
                fire_at,
                dry_run,
                operator,
                ..
            } => {
                let prod = if *production { " (PRODUCTION)" } else { "" };
                let mode = if *dry_run {
                    " — DRY RUN, nothing will change"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "cutover run {plan}{mode}\n  inventory {inventory}{prod}, {hosts} hosts\n  digest    {digest}\n  fires at  {}\n  operator  {operator}",
                    fire_at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            RunEvent::Step {
                phase,
                name,
                path,
                hosts,
            } => {
                let _ = writeln!(out, "== {phase}: {name} [{path}] on {hosts} host(s)");
            }
            RunEvent::Check {
                path,
                host,
                verdict,
            } => {
                self.verdicts
                    .entry(path.clone())
                    .or_default()
                    .push((host.clone(), verdict.clone()));
                if !self.columns.contains(path) {
                    self.columns.push(path.clone());
                }
                let mark = match verdict {
                    Verdict::Pass => '.',
                    Verdict::Fail { .. } => 'F',
                    Verdict::Error { .. } => 'E',
                };
                self.matrix
                    .entry(host.clone())
                    .or_default()
                    .insert(path.clone(), mark);
            }
            RunEvent::Exec(Event::PhaseFinished { phase, summary }) => {
                let s = summary;
                let _ = writeln!(
                    out,
                    "   {} ok, {} failed, {} unreachable, {} skipped, {} cancelled",
                    s.ok, s.failed, s.unreachable, s.skipped, s.cancelled
                );
                out.push_str(&self.grouped_failures(&phase.to_string()));
            }
            RunEvent::Exec(Event::BudgetExceeded {
                failed, allowed, ..
            }) => {
                let _ = writeln!(
                    out,
                    "   failure budget exceeded: {failed} failed, {allowed} allowed; later batches skipped"
                );
            }
            RunEvent::Exec(_) => {}
            RunEvent::Diff {
                file,
                hosts,
                diff,
                context_varies,
                ..
            } => {
                let list = nodeset::compact(hosts);
                if diff.is_empty() {
                    let _ = writeln!(
                        out,
                        "   {} host(s) {list}: {file} already as planned (no change)",
                        hosts.len()
                    );
                } else {
                    let shown = match (*context_varies, hosts.first()) {
                        (true, Some(first)) => {
                            format!(" (as on {first}; context lines differ per host)")
                        }
                        _ => String::new(),
                    };
                    let _ = writeln!(
                        out,
                        "   {} host(s) {list}: this change{shown}\n{}",
                        hosts.len(),
                        indent(diff)
                    );
                }
            }
            RunEvent::Staged { .. }
            | RunEvent::UnitBefore { .. }
            | RunEvent::Armed { .. }
            | RunEvent::Receipt { .. }
            | RunEvent::ReceiptPending { woke: true, .. }
            | RunEvent::Committed { .. } => {}
            RunEvent::ReceiptPending {
                host,
                woke: false,
                until,
            } => {
                let _ = writeln!(
                    out,
                    "   {host}: its job has not woken yet (late); its receipt is awaited until {} UTC",
                    until.format("%H:%M:%S")
                );
            }
            RunEvent::CommitWindow { hosts, window_ns } => {
                let _ = writeln!(
                    out,
                    "   commit round: {hosts} host(s) live within {:.1} ms (the only window in which a crash could split the fleet)",
                    *window_ns as f64 / 1e6
                );
            }
            RunEvent::Waiting { until, what } => {
                let _ = writeln!(
                    out,
                    "-- waiting until {} UTC: {what}",
                    until.format("%H:%M:%S%.3f")
                );
            }
            RunEvent::Disarmed { host, ok: true, .. } => {
                let _ = writeln!(out, "   disarmed {host}");
            }
            RunEvent::Disarmed {
                host,
                ok: false,
                detail,
            } => {
                let _ = writeln!(
                    out,
                    "   COULD NOT DISARM {host}: {} — it may still fire",
                    detail.as_deref().unwrap_or("unknown")
                );
            }
            RunEvent::Restored { host, file, sha256 } => {
                let how = sha256
                    .as_ref()
                    .map_or("removed (staging created it)".to_string(), |s| {
                        format!("restored, sha256 {}", &s[..s.len().min(12)])
                    });
                let _ = writeln!(out, "   {host}: {file} {how}");
            }
            RunEvent::RolledBack { host, ok: true, .. } => {
                let _ = writeln!(out, "   rolled back {host}");
            }
            RunEvent::RolledBack {
                host,
                ok: false,
                detail,
            } => {
                let _ = writeln!(
                    out,
                    "   COULD NOT ROLL BACK {host}: {}",
                    detail.as_deref().unwrap_or("unknown")
                );
            }
            RunEvent::Spread { spread } => out.push_str(&spread_text(spread)),
            RunEvent::Watch(w) => out.push_str(&self.watch(w)),
            RunEvent::Operator { action } => {
                let _ = writeln!(out, "-- operator: {action}");
            }
            RunEvent::Excluded {
                host,
                phase,
                reason,
            } => {
                let _ = match phase {
                    Some(p) => writeln!(
                        out,
                        "-- {host} leaves the run ({p}): {reason}; it is not armed and does not fire"
                    ),
                    None => writeln!(out, "-- {host} excluded by the operator: {reason}"),
                };
            }
            RunEvent::Gate { step, word } => {
                let _ = writeln!(
                    out,
                    "== GATE {step}: waiting for the operator to type `{word}`"
                );
            }
            RunEvent::PhaseDone { phase, ok, summary } => {
                if phase.is_check() {
                    out.push_str(&self.failing_matrix());
                }
                let _ = writeln!(
                    out,
                    "{phase}: {} — {summary}",
                    if *ok { "ok" } else { "FAILED" }
                );
            }
            RunEvent::Resumed {
                operator,
                after_seq,
                crashed,
                torn_tail,
                broke_lock,
            } => {
                let how = if *crashed { "crashed" } else { "stopped" };
                let _ = writeln!(
                    out,
                    "== resumed by {operator}: the previous attempt {how} after record {after_seq}{}{}",
                    if *torn_tail {
                        "; its torn last journal line was dropped"
                    } else {
                        ""
                    },
                    broke_lock
                        .as_ref()
                        .map_or(String::new(), |h| format!("; broke the stale lock of {h}"))
                );
            }
            RunEvent::Finished { outcome, reason } => {
                let _ = writeln!(
                    out,
                    "run {outcome}{}",
                    reason.as_ref().map_or(String::new(), |r| format!(": {r}"))
                );
            }
        }
        out
    }

    /// Watch lines: milestones always; "not done because" only when the reasons change.
    fn watch(&mut self, w: &crate::watch::WatchEvent) -> String {
        use crate::watch::WatchEvent;
        use crate::watch::tracker::history::{Milestone, Outcome};
        match w {
            WatchEvent::Poll { why, .. } => {
                let text = why.to_string();
                if text == self.last_why || text.is_empty() {
                    return String::new();
                }
                self.last_why = text.clone();
                format!("   watch: not done: {text}\n")
            }
            WatchEvent::Milestone(m) => match m {
                Milestone::LeaderLost { at } => {
                    format!("   watch {}: NO LEADER\n", at.format("%H:%M:%S%.3f"))
                }
                Milestone::LeaderBack {
                    at,
                    leader,
                    leaderless_for,
                } => format!(
                    "   watch {}: leader {leader} (leaderless for {:.1} s)\n",
                    at.format("%H:%M:%S%.3f"),
                    leaderless_for.as_secs_f64()
                ),
                Milestone::AllGreen { at } => format!(
                    "   watch {}: all conditions hold; counting stable_for\n",
                    at.format("%H:%M:%S%.3f")
                ),
                Milestone::GreenBroken { at, why } => format!(
                    "   watch {}: no longer green: {why}\n",
                    at.format("%H:%M:%S%.3f")
                ),
                Milestone::Finished {
                    outcome: Outcome::Complete { at },
                } => format!("watch: COMPLETE at {}\n", at.format("%H:%M:%S%.3f")),
                Milestone::Finished {
                    outcome: Outcome::TimedOut { why, .. },
                } => format!("watch: TIMED OUT: {why}\n"),
                Milestone::Finished {
                    outcome: Outcome::Abort { reason, .. },
                } => format!("watch: ABORT: {reason}\n"),
            },
        }
    }

    fn grouped_failures(&mut self, path: &str) -> String {
        let Some(list) = self.verdicts.remove(path) else {
            return String::new();
        };
        let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (host, v) in &list {
            if let Some(reason) = v.reason() {
                groups.entry(reason).or_default().push(host.clone());
            }
        }
        let mut sorted: Vec<_> = groups.into_iter().collect();
        sorted.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        sorted
            .iter()
            .map(|(reason, hosts)| {
                format!(
                    "   {} host(s): {reason}  [{}]\n",
                    hosts.len(),
                    nodeset::compact(hosts)
                )
            })
            .collect()
    }

    /// Hosts with any failed check, one row each, one column per check (`.` pass, `F` fail, `E` error).
    fn failing_matrix(&mut self) -> String {
        let failing: Vec<_> = self
            .matrix
            .iter()
            .filter(|(_, m)| m.values().any(|c| *c != '.'))
            .collect();
        let mut out = String::new();
        if !failing.is_empty() {
            let w = failing.iter().map(|(h, _)| h.len()).max().unwrap_or(4);
            let _ = writeln!(
                out,
                "   {:w$}  {}",
                "host",
                self.columns
                    .iter()
                    .enumerate()
                    .map(|(i, _)| format!("{:>3}", i + 1))
                    .collect::<String>()
            );
            for (host, marks) in failing.iter().take(50) {
                let row: String = self
                    .columns
                    .iter()
                    .map(|c| format!("{:>3}", marks.get(c).copied().unwrap_or(' ')))
                    .collect();
                let _ = writeln!(out, "   {host:w$}  {row}");
            }
            if failing.len() > 50 {
                let _ = writeln!(out, "   … and {} more host(s)", failing.len() - 50);
            }
            let legend: Vec<String> = self
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{}={c}", i + 1))
                .collect();
            let _ = writeln!(out, "   columns: {}", legend.join(" "));
        }
        self.matrix.clear();
        self.columns.clear();
        out
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("     {l}\n")).collect()
}

/// The measured fire spread, as the operator and the report read it.
pub fn spread_text(s: &crate::arm::receipt::Spread) -> String {
    let ms = |ns: i64| ns as f64 / 1e6;
    let mut out = format!(
        "fire spread: {:.1} ms between first and last start ({:.1} ms between wakes); lateness median {:.1} ms, worst {:.1} ms; {} fired",
        ms(s.start_spread_ns),
        ms(s.wake_spread_ns),
        ms(s.median_late_ns),
        ms(s.max_late_ns),
        s.fired.len()
    );
    if !s.missing.is_empty() {
        out.push_str(&format!(
            "; MISSING (no receipt or skipped late): {}",
            nodeset::compact(&s.missing)
        ));
    }
    if !s.unreachable.is_empty() {
        out.push_str(&format!(
            "; UNREACHABLE after the fire (fired status unknown): {}",
            nodeset::compact(&s.unreachable)
        ));
    }
    out.push('\n');
    out
}
