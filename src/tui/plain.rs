//! One line of text per dashboard event, for the log tail. Pure; key presses have none.
//!
//! (Plain output of a run is `run::print::Printer`'s, and `--json` prints the journal's
//! records: one path each, whatever the view.)

use crate::tui::format;
use crate::tui::msg::{Level, Msg, Outcome};

/// The severity and text of an event (no time), shared by plain output and the log tail.
pub fn describe(msg: &Msg) -> Option<(Level, String)> {
    let info = |s: String| Some((Level::Info, s));
    match msg {
        Msg::PhaseStarted {
            phase,
            hosts,
            batches,
            budget,
        } => {
            let batches = match batches {
                0 | 1 => String::new(),
                n => format!(" in {n} batches"),
            };
            info(format!(
                "{phase}: started on {hosts} hosts{batches}, failure budget {budget}"
            ))
        }
        Msg::BatchStarted {
            phase,
            batch,
            hosts,
        } => info(format!(
            "{phase}: batch {batch} started ({} hosts)",
            hosts.len()
        )),
        Msg::PhaseProgress {
            phase,
            done,
            failed,
        } => info(format!("{phase}: {done} done, {failed} failed")),
        Msg::PhaseFinished { phase, error: None } => info(format!("{phase}: passed")),
        Msg::PhaseFinished {
            phase,
            error: Some(e),
        } => Some((Level::Error, format!("{phase}: FAILED: {e}"))),
        Msg::HostChanged { host, state, .. } => Some(match state.reason() {
            Some(r) => (Level::Warn, format!("{host} {}: {r}", state.label())),
            None => (Level::Info, format!("{host} {}", state.label())),
        }),
        Msg::CheckResult {
            host,
            check,
            verdict,
        } => Some(match verdict.reason() {
            Some(r) => (Level::Warn, format!("{host} check {check}: {r}")),
            None => (Level::Info, format!("{host} check {check}: pass")),
        }),
        Msg::ReceiptRead { host, receipt } => info(format!(
            "{host} receipt: exit {}",
            receipt.exit.map_or("none".into(), |e| e.to_string())
        )),
        other => describe_watch(other),
    }
}

/// Watch, operator and run-level events.
fn describe_watch(msg: &Msg) -> Option<(Level, String)> {
    match msg {
        Msg::Quorum(r) => {
            let leader = r.leader.as_deref().unwrap_or("NONE");
            let q = format!("quorum {}/{}", r.voters_live, r.voters_expected);
            Some(match &r.problem {
                None => (
                    Level::Info,
                    format!("{q}, leader {leader}, term {}", r.term),
                ),
                Some(p) => (Level::Warn, format!("{q} UNSAFE: {p} (leader {leader})")),
            })
        }
        Msg::Probe(r) => Some(match (r.ok, &r.reason) {
            (true, _) => (Level::Info, format!("probe {}: passing", r.name)),
            (false, reason) => (
                Level::Warn,
                format!(
                    "probe {}: FAILING: {}",
                    r.name,
                    reason.as_deref().unwrap_or("?")
                ),
            ),
        }),
        Msg::SpreadMeasured { spread, .. } => Some((
            if spread.missing.is_empty() {
                Level::Info
            } else {
                Level::Warn
            },
            format::spread_summary(spread),
        )),
        Msg::Log { level, text } => Some((*level, text.clone())),
        Msg::GateRequested { step, word } => Some((
            Level::Warn,
            format!("gate: {step} waits for the operator to type `{word}`"),
        )),
        Msg::Paused => Some((Level::Warn, "paused after the current batch".into())),
        Msg::Finished { outcome } => Some(match outcome {
            Outcome::Complete => (Level::Info, "run complete".into()),
            Outcome::Aborted { reason } => (Level::Error, format!("run ABORTED: {reason}")),
            Outcome::Failed { reason } => (Level::Error, format!("run FAILED: {reason}")),
        }),
        _ => None,
    }
}
