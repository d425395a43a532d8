//! The post-incident report: a run's journal folded into a Markdown timeline in UTC. Pure.
//!
//! The tool is the scribe: every phase with its duration, each failure with host and reason,
//! operator actions, arming and disarming, the measured fire spread, the leaderless window,
//! and the verdict — ready to paste into the review.

use crate::executor::{Event, HostOutcome, nodeset};
use crate::journal::Record;
use crate::run::event::RunEvent;
use crate::run::phase::Phase;
use crate::run::state::{HostState, RunState};
use crate::watch::WatchEvent;
use crate::watch::tracker::history::{Milestone, Outcome};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// Renders the report for a run's records.
pub fn markdown(run_id: &str, records: &[Record<RunEvent>], torn_tail: bool) -> String {
    let mut md = String::new();
    header(&mut md, run_id, records);
    let _ = writeln!(md, "## Timeline (UTC)\n\n| time | what |\n|---|---|");
    let mut phase_start: Option<(Phase, DateTime<Utc>)> = None;
    let mut failures: Vec<(String, String, String)> = Vec::new();
    let mut current = String::new();
    let mut previous: Option<DateTime<Utc>> = None;
    for r in records {
        let t = r.ts.format("%H:%M:%S%.3f").to_string();
        match &r.event {
            RunEvent::Step {
                phase,
                name,
                hosts,
                path,
            } => {
                current = path.clone();
                if phase_start.as_ref().is_none_or(|(p, _)| p != phase) {
                    phase_start = Some((*phase, r.ts));
                }
                row(&mut md, &t, &format!("{phase}: {name} on {hosts} host(s)"));
            }
            RunEvent::Exec(Event::HostFinished { host, outcome, .. }) => match outcome {
                HostOutcome::Failed { reason, .. } => {
                    failures.push((host.clone(), current.clone(), reason.clone()))
                }
                HostOutcome::Unreachable { reason } => failures.push((
                    host.clone(),
                    current.clone(),
                    format!("unreachable: {reason}"),
                )),
                _ => {}
            },
            RunEvent::Exec(Event::BudgetExceeded {
                failed, allowed, ..
            }) => row(
                &mut md,
                &t,
                &format!("**failure budget exceeded**: {failed} failed, {allowed} allowed"),
            ),
            RunEvent::Exec(Event::BatchStarted {
                phase,
                index,
                of,
                hosts,
            }) if *of > 1 => row(
                &mut md,
                &t,
                &format!(
                    "{phase} batch {}/{of}: {}",
                    index + 1,
                    nodeset::compact(hosts)
                ),
            ),
            RunEvent::Exec(Event::Paused { .. }) => row(&mut md, &t, "paused by the operator"),
            RunEvent::Exec(Event::Resumed { .. }) => row(&mut md, &t, "operator: go (resumed)"),
            RunEvent::Resumed { .. } => {
                phase_start = None;
                row(&mut md, &t, &resumed(&r.event, previous.map(|p| r.ts - p)));
            }
            RunEvent::Exec(Event::Aborted { reason, .. }) => {
                row(&mut md, &t, &format!("**aborted**: {reason}"))
            }
            RunEvent::PhaseDone { phase, ok, summary } => {
                let took = phase_start
                    .as_ref()
                    .filter(|(p, _)| p == phase)
                    .map(|(_, s)| r.ts - *s);
                let dur = took.map_or(String::new(), |d| {
                    format!(" after {:.1} s", d.num_milliseconds() as f64 / 1000.0)
                });
                row(
                    &mut md,
                    &t,
                    &format!(
                        "{phase} {}{dur}: {summary}",
                        if *ok { "ok" } else { "**FAILED**" }
                    ),
                );
                phase_start = None;
            }
            RunEvent::Operator { action } => row(&mut md, &t, &format!("operator: {action}")),
            RunEvent::Excluded {
                host,
                phase,
                reason,
            } => row(
                &mut md,
                &t,
                &match phase {
                    Some(p) => format!("**{host} left the run** in {p}: {reason}"),
                    None => format!("**{host} excluded by the operator**: {reason}"),
                },
            ),
            RunEvent::Disarmed { host, ok, detail } => row(
                &mut md,
                &t,
                &if *ok {
                    format!("disarmed {host}")
                } else {
                    format!(
                        "**could not disarm {host}**: {}",
                        detail.as_deref().unwrap_or("")
                    )
                },
            ),
            RunEvent::Spread { spread } => {
                row(&mut md, &t, crate::run::print::spread_text(spread).trim())
            }
            RunEvent::Watch(WatchEvent::Milestone(m)) => row(&mut md, &t, &milestone(m)),
            RunEvent::Finished { outcome, reason } => row(
                &mut md,
                &t,
                &format!(
                    "**run {outcome}**{}",
                    reason
                        .as_ref()
                        .map_or(String::new(), |r| format!(": {}", r.replace('\n', " ")))
                ),
            ),
            _ => {}
        }
        previous = Some(r.ts);
    }
    failures_section(&mut md, &failures);
    let state = crate::run::state::fold(records);
    hosts_section(&mut md, &state);
    rollback_section(&mut md, &state);
    if torn_tail {
        let _ = writeln!(
            md,
            "\n> The journal's last line was torn (the orchestrator died mid-write); it is left out."
        );
    }
    md
}

/// Which hosts `cutover rollback` restored, and which it could not (absent when never run).
fn rollback_section(md: &mut String, state: &RunState) {
    if state.rolled_back.is_empty() && state.rollback_failed.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Rollback\n");
    if !state.rolled_back.is_empty() {
        let hosts: Vec<String> = state.rolled_back.iter().cloned().collect();
        let _ = writeln!(
            md,
            "- restored and verified on {} host(s): {}",
            hosts.len(),
            nodeset::compact(&hosts)
        );
    }
    for (host, why) in &state.rollback_failed {
        let _ = writeln!(md, "- **not rolled back: {host}**: {why}");
    }
}

fn header(md: &mut String, run_id: &str, records: &[Record<RunEvent>]) {
    let started = records.iter().find_map(|r| match &r.event {
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
        } => Some((
            r.ts,
            plan,
            digest,
            inventory,
            *production,
            *hosts,
            fire_at,
            *dry_run,
            operator,
        )),
        _ => None,
    });
    // The verdict is the last attempt's: a resume after a `finished` reopens the run.
    let finished = records.iter().rev().find_map(|r| match &r.event {
        RunEvent::Finished { outcome, .. } => Some(Some((r.ts, *outcome))),
        RunEvent::Resumed { .. } => Some(None),
        _ => None,
    });
    let finished = finished.flatten();
    let Some((ts, plan, digest, inv, prod, hosts, fire_at, dry, operator)) = started else {
        let _ = writeln!(
            md,
            "# Cutover report: {run_id}\n\nThe journal has no start record.\n"
        );
        return;
    };
    let _ = writeln!(md, "# Cutover report: {plan}\n");
    let _ = writeln!(md, "| | |\n|---|---|");
    let _ = writeln!(
        md,
        "| Run | `{run_id}` |\n| Operator | {operator} |\n| Inventory | {inv}{} ({hosts} hosts) |",
        if prod { " **PRODUCTION**" } else { "" }
    );
    let _ = writeln!(
        md,
        "| Digest | `{digest}` |\n| Started | {} |\n| Planned fire | {} |",
        ts.format("%Y-%m-%d %H:%M:%S UTC"),
        fire_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let complete_at = records.iter().find_map(|r| match &r.event {
        RunEvent::Watch(WatchEvent::Milestone(Milestone::Finished {
            outcome: Outcome::Complete { at },
        })) => Some(*at),
        _ => None,
    });
    if let Some(at) = complete_at {
        let _ = writeln!(
            md,
            "| Fire to complete | {:.1} s (watch verdict at {}) |",
            (at - *fire_at).num_milliseconds() as f64 / 1000.0,
            at.format("%H:%M:%S%.3f")
        );
    }
    let resumes = records
        .iter()
        .filter(|r| matches!(r.event, RunEvent::Resumed { .. }))
        .count();
    if resumes > 0 {
        let _ = writeln!(
            md,
            "| Attempts | {} (resumed {resumes} time(s) with `cutover resume`) |",
            resumes + 1
        );
    }
    match finished {
        Some((end, outcome)) => {
            let _ = writeln!(
                md,
                "| Ended | {} ({:.1} s) |\n| Verdict | **{outcome}**{} |\n",
                end.format("%Y-%m-%d %H:%M:%S UTC"),
                (end - ts).num_milliseconds() as f64 / 1000.0,
                if dry { " (dry run)" } else { "" }
            );
        }
        None => {
            let _ = writeln!(
                md,
                "| Verdict | **unfinished**: the journal ends without a result (orchestrator stopped?) |\n"
            );
        }
    }
}

/// The row of a `resumed` record: who, after how long a gap, and what it found.
fn resumed(e: &RunEvent, gap: Option<chrono::Duration>) -> String {
    let RunEvent::Resumed {
        operator,
        crashed,
        torn_tail,
        broke_lock,
        ..
    } = e
    else {
        return String::new();
    };
    let gap = gap.map_or(String::new(), |g| {
        format!(
            " after a gap of {:.1} s",
            g.num_milliseconds() as f64 / 1000.0
        )
    });
    let how = if *crashed {
        "the orchestrator had stopped without a result"
    } else {
        "the previous attempt had ended"
    };
    let extra = match (torn_tail, broke_lock) {
        (true, _) => "; a torn last journal line was dropped",
        (false, Some(_)) => "; its stale lock was broken",
        _ => "",
    };
    format!("**resumed** by {operator}{gap} ({how}{extra})")
}

fn row(md: &mut String, t: &str, what: &str) {
    let _ = writeln!(md, "| {t} | {} |", what.replace('|', "\\|"));
}

fn milestone(m: &Milestone) -> String {
    match m {
        Milestone::LeaderLost { .. } => "watch: **no leader**".into(),
        Milestone::LeaderBack {
            leader,
            leaderless_for,
            ..
        } => format!(
            "watch: leader {leader} back after a leaderless window of {:.1} s",
            leaderless_for.as_secs_f64()
        ),
        Milestone::AllGreen { .. } => "watch: all completion conditions hold".into(),
        Milestone::GreenBroken { why, .. } => format!("watch: no longer green: {why}"),
        Milestone::Finished {
            outcome: Outcome::Complete { .. },
        } => "watch: **complete**".into(),
        Milestone::Finished {
            outcome: Outcome::TimedOut { why, .. },
        } => format!("watch: **timed out**: {why}"),
        Milestone::Finished {
            outcome: Outcome::Abort { reason, .. },
        } => format!("watch: **abort**: {reason}"),
    }
}

fn failures_section(md: &mut String, failures: &[(String, String, String)]) {
    if failures.is_empty() {
        return;
    }
    let mut grouped: Vec<((String, String), Vec<String>)> = Vec::new();
    for (host, step, reason) in failures {
        match grouped
            .iter_mut()
            .find(|(k, _)| k.0 == *step && k.1 == *reason)
        {
            Some((_, hosts)) => hosts.push(host.clone()),
            None => grouped.push(((step.clone(), reason.clone()), vec![host.clone()])),
        }
    }
    let _ = writeln!(
        md,
        "\n## Failures\n\n| step | hosts | reason |\n|---|---|---|"
    );
    for ((step, reason), hosts) in grouped {
        let _ = writeln!(
            md,
            "| {step} | {} ({}) | {} |",
            nodeset::compact(&hosts),
            hosts.len(),
            reason.replace('|', "\\|")
        );
    }
}

/// Where every host the journal names ended up: the run's one fold, host by host.
fn hosts_section(md: &mut String, state: &RunState) {
    let mut names: std::collections::BTreeSet<&String> = state.excluded.keys().collect();
    names.extend(state.armed.keys());
    names.extend(state.disarmed.iter());
    names.extend(state.disarm_failed.keys());
    names.extend(state.receipts.keys());
    if names.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Hosts\n\n| host | state |\n|---|---|");
    for h in names {
        let text = match state.host(h) {
            HostState::Targeted => "targeted".to_string(),
            HostState::Excluded(e) => match e.phase {
                Some(p) => format!("excluded in {p}: {}", e.reason),
                None => format!("excluded by the operator: {}", e.reason),
            },
            HostState::Arming { .. } => "arming was in flight (may hold a job)".into(),
            HostState::Armed { job, live: true } => format!(
                "**armed and committed** ({}, {}): may still fire",
                job.mechanism.as_str(),
                job.id
            ),
            HostState::Armed { job, live: false } => format!(
                "armed, never committed ({}, {}): its job skips itself",
                job.mechanism.as_str(),
                job.id
            ),
            HostState::Disarmed => "disarmed".into(),
            HostState::DisarmFailed { detail } => {
                format!("**could not be disarmed: may still fire** ({detail})")
            }
            HostState::Fired { exit: Some(0) } => "fired, exit 0".into(),
            HostState::Fired { exit: Some(c) } => format!("**fired, exit {c}**"),
            HostState::Fired { exit: None } => "fired (still running when collected)".into(),
            HostState::NoReceipt => "**no receipt** (did not fire, or unreachable)".into(),
        };
        let _ = writeln!(md, "| {h} | {} |", text.replace('|', "\\|"));
    }
}
