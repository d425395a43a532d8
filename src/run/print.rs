//! Plain, line-per-event output of a run (for terminals without the dashboard, CI and logs),
//! readable at hundreds of hosts: every step's failures grouped by identical reason with a
//! compact host set ("255 host(s): unreachable: …  [lab-[1-255]]"), hosts leaving the run and
//! disarms as one line per group, and the watch's countdown at most every 10 s.

mod countdown;
mod pending;

use super::event::RunEvent;
use super::reasons;
use crate::checks::Verdict;
use crate::executor::{Event, nodeset};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Turns events into text; remembers failures until their step ends, and exclusions and
/// disarms until the next other event, to print them grouped.
#[derive(Debug, Default)]
pub struct Printer {
    failures: BTreeMap<String, Vec<(String, String)>>,
    matrix: BTreeMap<String, BTreeMap<String, char>>,
    columns: Vec<String>,
    pending: pending::Pending,
    countdown: countdown::Countdown,
    /// Watch polls seen, and the slowest: the watch's own lag, shown when it completes.
    polls: usize,
    slowest_poll: std::time::Duration,
}

impl Printer {
    /// The text for one event (possibly empty).
    pub fn line(&mut self, e: &RunEvent) -> String {
        if self.pending.take(e) {
            return String::new();
        }
        let mut out = self.pending.flush();
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
            RunEvent::Exec(Event::HostFinished {
                phase,
                host,
                outcome,
            }) => {
                if let Some(reason) = reasons::of_outcome(outcome) {
                    self.failures
                        .entry(phase.0.clone())
                        .or_default()
                        .push((host.clone(), reason));
                }
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
            RunEvent::Diff { .. } => {}
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
            RunEvent::Disarmed { .. } | RunEvent::Excluded { .. } => {}
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
            WatchEvent::Started { load } => format!("   watch: polling {load}\n"),
            WatchEvent::Poll {
                why,
                reading,
                probes,
                took,
                ..
            } => {
                self.slowest_poll = self.slowest_poll.max(*took);
                self.polls += 1;
                let taken = probes
                    .iter()
                    .map(|p| p.taken_at)
                    .chain(reading.as_ref().map(|r| r.taken_at))
                    .max();
                match self.countdown.show(why, taken) {
                    Some(text) => format!("   watch: not done: {text}\n"),
                    None => String::new(),
                }
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
                } => format!(
                    "watch: COMPLETE at {}{}\n",
                    at.format("%H:%M:%S%.3f"),
                    self.lag()
                ),
                Milestone::Finished {
                    outcome: Outcome::TimedOut { why, .. },
                } => format!("watch: TIMED OUT: {why}{}\n", self.lag()),
                Milestone::Finished {
                    outcome: Outcome::Abort { reason, .. },
                } => format!("watch: ABORT: {reason}\n"),
            },
        }
    }

    /// ` (N polls, the slowest X ms)`, when the journal recorded how long polls took.
    fn lag(&self) -> String {
        match self.slowest_poll.is_zero() {
            true => String::new(),
            false => format!(
                " ({} polls, the slowest {} ms)",
                self.polls,
                self.slowest_poll.as_millis()
            ),
        }
    }

    /// What the stream's end leaves unprinted (exclusions or disarms after the last event).
    pub fn flush(&mut self) -> String {
        self.pending.flush()
    }

    /// The held diffs, for when the stream goes quiet: the operator may be about to decide
    /// on them. Exclusions and disarms stay held (another always follows them).
    pub fn idle(&mut self) -> String {
        self.pending.flush_diffs()
    }

    /// True while diffs are held for grouping.
    pub fn holds_diffs(&self) -> bool {
        self.pending.holds_diffs()
    }

    fn grouped_failures(&mut self, path: &str) -> String {
        let Some(list) = self.failures.remove(path) else {
            return String::new();
        };
        let groups = reasons::group(list.iter().map(|(h, r)| (h.as_str(), r.as_str())));
        reasons::lines(&groups, "   ")
    }

    /// The failing hosts' check marks (`.` pass, `F` fail, `E` error), one column per check
    /// and one row per set of hosts with the same marks.
    fn failing_matrix(&mut self) -> String {
        let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (host, marks) in &self.matrix {
            if marks.values().all(|c| *c == '.') {
                continue;
            }
            let row: String = self
                .columns
                .iter()
                .map(|c| format!("{:>3}", marks.get(c).copied().unwrap_or(' ')))
                .collect();
            rows.entry(row).or_default().push(host.clone());
        }
        let mut out = String::new();
        if !rows.is_empty() {
            let mut rows: Vec<(String, String, usize)> = rows
                .into_iter()
                .map(|(row, hosts)| (nodeset::compact(&hosts), row, hosts.len()))
                .collect();
            rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| nodeset::natural_cmp(&a.0, &b.0)));
            let shown = &rows[..rows.len().min(reasons::MAX_SHOWN)];
            let w = shown.iter().map(|r| r.0.len()).max().unwrap_or(4).max(5);
            let numbers: String = (1..=self.columns.len())
                .map(|i| format!("{i:>3}"))
                .collect();
            let _ = writeln!(out, "   {:w$}  {numbers}", "hosts");
            for (hosts, row, _) in shown {
                let _ = writeln!(out, "   {hosts:w$}  {row}");
            }
            if rows.len() > shown.len() {
                let more: usize = rows[shown.len()..].iter().map(|r| r.2).sum();
                let _ = writeln!(
                    out,
                    "   … {} more pattern(s) on {more} host(s)",
                    rows.len() - shown.len()
                );
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
