//! Header (plan, STAGING/PRODUCTION badge, phase, digest, countdown), alert banner and key footer.

use super::span;
use crate::tui::format;
use crate::tui::msg::Outcome;
use crate::tui::state::{Dashboard, Modal, Pause, PhaseStatus};
use crate::tui::theme::Tone;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

/// Two header lines: who/what on the left, the countdown on the right.
pub(super) fn header(d: &Dashboard, now: DateTime<Utc>, f: &mut Frame, area: Rect) {
    let t = &d.theme;
    let (badge, tone) = if d.production {
        (" PRODUCTION ", Tone::Bad)
    } else {
        (" STAGING ", Tone::Good)
    };
    let digest: String = d
        .digest
        .chars()
        .take(if area.width < 100 { 8 } else { 12 })
        .collect();
    let first = Line::from(vec![
        span(" cutover ", t.style(Tone::Dim)),
        span(d.plan.clone(), t.style(Tone::Accent)),
        span("  ", t.style(Tone::Plain)),
        span(badge, t.badge(tone)),
        span(format!(" {}", d.inventory), t.style(Tone::Plain)),
        span(format!("  digest {digest}"), t.style(Tone::Dim)),
    ]);
    let second = Line::from(vec![
        span(" phase ", t.style(Tone::Dim)),
        span(phase_label(d), t.style(Tone::Accent)),
        span("   fire ", t.style(Tone::Dim)),
        span(
            format::fire_time(d.fire_at, d.local_offset),
            t.style(Tone::Plain),
        ),
    ]);
    f.render_widget(Paragraph::new(vec![first, second]), area);
    let stopped = matches!(
        d.outcome,
        Some(Outcome::Aborted { .. } | Outcome::Failed { .. })
    );
    let countdown = match format::countdown(d.fire_at, now) {
        // A stopped run does not fire (hosts that could not be disarmed show as failed).
        t if stopped && now < d.fire_at => format!(" stopped, was {t} "),
        t => format!(" {t} "),
    };
    let tone = if stopped {
        Tone::Dim
    } else if now < d.fire_at {
        Tone::Warn
    } else {
        Tone::Busy
    };
    let right = Paragraph::new(Line::from(span(countdown, t.badge(tone))));
    f.render_widget(right.alignment(Alignment::Right), area);
}

fn phase_label(d: &Dashboard) -> String {
    let Some(i) = d.current else {
        return "not started".into();
    };
    let p = &d.phases[i];
    let state = match &p.status {
        PhaseStatus::Pending | PhaseStatus::Running => "",
        PhaseStatus::Passed => " passed",
        PhaseStatus::Failed(_) => " FAILED",
    };
    format!("{}{state} ({}/{})", p.name, i + 1, d.phases.len())
}

/// Alert lines under the header: outcome, abort, pause, gate, fire spread.
pub(super) fn banner(d: &Dashboard, _now: DateTime<Utc>) -> Vec<Line<'static>> {
    let t = &d.theme;
    let mut lines = Vec::new();
    let mut alert = |text: String, tone: Tone| {
        lines.push(Line::from(span(format!(" {text} "), t.badge(tone))));
    };
    match &d.outcome {
        Some(Outcome::Complete) => alert("RUN COMPLETE".into(), Tone::Good),
        Some(Outcome::Aborted { reason }) => alert(format!("RUN ABORTED: {reason}"), Tone::Bad),
        Some(Outcome::Failed { reason }) => alert(format!("RUN FAILED: {reason}"), Tone::Bad),
        None if d.aborting => alert(
            format!(
                "ABORTING: cancelling pending work, disarming {} armed hosts",
                d.armed()
            ),
            Tone::Bad,
        ),
        None => {}
    }
    if d.read_only && d.active() {
        alert(
            "WATCHING the journal, read-only: p a g are off; q quits".into(),
            Tone::Warn,
        );
    }
    match d.pause {
        Pause::Off => {}
        Pause::Requested => alert(
            "PAUSING after the current batch (p resumes)".into(),
            Tone::Warn,
        ),
        Pause::Paused => alert("PAUSED (p resumes)".into(), Tone::Warn),
    }
    if let Some(g) = &d.gate {
        alert(
            if d.read_only {
                format!(
                    "GATE {}: the run waits for its operator to type `{}`",
                    g.step, g.word
                )
            } else {
                format!("GATE {}: press g and type `{}` to continue", g.step, g.word)
            },
            Tone::Warn,
        );
    }
    if let Some(s) = &d.spread {
        lines.extend(spread_lines(d, s));
    }
    lines
}

fn spread_lines(d: &Dashboard, s: &crate::tui::state::SpreadView) -> Vec<Line<'static>> {
    let t = &d.theme;
    let sp = &s.spread;
    let tight = format!(
        " FIRE SPREAD start {}  wake {}  lateness median {}, worst {}",
        format::ns_abs(sp.start_spread_ns.unsigned_abs()),
        format::ns_abs(sp.wake_spread_ns.unsigned_abs()),
        format::signed_ns(sp.median_late_ns),
        format::signed_ns(sp.max_late_ns),
    );
    let mut who = vec![format!(" {} fired", sp.fired.len())];
    let late = s.late();
    if !late.is_empty() {
        let names: Vec<String> = (late.iter().take(5))
            .map(|(h, ns)| format!("{h} {}", format::signed_ns(*ns)))
            .collect();
        let limit = s.late_after_ms;
        who.push(format!(
            "late (>{limit}ms) {}: {}",
            late.len(),
            names.join(", ")
        ));
    }
    if !sp.missing.is_empty() {
        let names: Vec<&str> = sp.missing.iter().take(8).map(String::as_str).collect();
        who.push(format!(
            "MISSING {}: {}",
            sp.missing.len(),
            names.join(", ")
        ));
    }
    if !sp.unreachable.is_empty() {
        let names: Vec<&str> = sp.unreachable.iter().take(8).map(String::as_str).collect();
        who.push(format!(
            "UNREACHABLE (fired?) {}: {}",
            sp.unreachable.len(),
            names.join(", ")
        ));
    }
    let tone = if who.len() > 1 { Tone::Bad } else { Tone::Good };
    vec![
        Line::from(span(tight, t.style(Tone::Accent))),
        Line::from(span(who.join("; "), t.style(tone))),
    ]
}

/// The key line, for the mode the keyboard is in.
pub(super) fn footer(d: &Dashboard, f: &mut Frame, area: Rect) {
    let t = &d.theme;
    let keys: &[(&str, &str)] = match (&d.modal, d.filtering) {
        (Some(_), _) => &[("Esc", "close")],
        (None, false) if d.read_only => &[
            ("/", "filter"),
            ("↑↓", "select"),
            ("Enter", "details"),
            ("?", "help"),
            ("q", "quit (the run goes on)"),
        ],
        (None, false) if !d.active() => &[
            ("/", "filter"),
            ("↑↓", "select"),
            ("Enter", "details"),
            ("?", "help"),
            ("q", "quit"),
        ],
        (None, true) => &[
            ("type", "filter"),
            ("Enter", "keep"),
            ("Esc", "clear"),
            ("↑↓", "select"),
        ],
        (None, false) if d.gate.is_some() => &[
            ("g", "GO (gate)"),
            ("p", "pause"),
            ("a", "ABORT"),
            ("/", "filter"),
            ("?", "help"),
            ("q", "quit"),
        ],
        (None, false) => &[
            (
                "p",
                if d.pause == Pause::Off {
                    "pause"
                } else {
                    "resume"
                },
            ),
            ("a", "ABORT"),
            ("/", "filter"),
            ("↑↓", "select"),
            ("Enter", "details"),
            ("?", "help"),
            ("q", "quit"),
        ],
    };
    let mut keys = keys.to_vec();
    // On a narrow terminal the navigation keys go first (`?` lists them all); the keys
    // that act on the run, and quit, always stay whole.
    let width = |keys: &[(&str, &str)]| -> usize {
        keys.iter()
            .map(|(k, w)| k.chars().count() + w.chars().count() + 5)
            .sum()
    };
    for drop in ["Enter", "↑↓", "/", "?"] {
        if width(&keys) <= usize::from(area.width) {
            break;
        }
        keys.retain(|(k, _)| *k != drop);
    }
    let mut spans = Vec::new();
    for (k, what) in &keys {
        spans.push(span(format!(" {k} "), t.badge(Tone::Busy)));
        spans.push(span(format!(" {what}  "), t.style(Tone::Plain)));
    }
    if matches!(d.modal, Some(Modal::Gate { .. })) {
        spans.push(span(" Enter  submit", t.style(Tone::Plain)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
