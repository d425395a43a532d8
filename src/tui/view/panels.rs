//! The smaller panels: phases, grouped problems, quorum, health probes, log tail, and the
//! one-line summaries the compact layout uses instead.

use super::{block, span};
use crate::tui::format;
use crate::tui::msg::Level;
use crate::tui::state::{Dashboard, PhaseStatus, PhaseView, ProbeState, QuorumView};
use crate::tui::theme::{Theme, Tone};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

/// A quorum reading older than this is flagged STALE while the run is live: the watch polls
/// every few seconds, so silence this long means the poller, not the cluster, is in trouble.
const STALE_AFTER_SECS: i64 = 10;

/// Draws a titled section of prepared lines (nothing when the area is empty).
pub(super) fn section(
    f: &mut Frame,
    area: Rect,
    title: &str,
    lines: Vec<Line<'static>>,
    d: &Dashboard,
) {
    if area.height == 0 {
        return;
    }
    let b = block(format!(" {title} "), d);
    let inner = b.inner(area);
    f.render_widget(b, area);
    f.render_widget(Paragraph::new(lines), inner);
}

/// The phases panel: one row per phase with hosts done, batch and failures against the budget.
pub(super) fn phases(d: &Dashboard, f: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    for p in &d.phases {
        lines.push(phase_row(&d.theme, p));
        if let PhaseStatus::Failed(reason) = &p.status {
            let text = format!("     FAILED: {reason}");
            lines.push(Line::from(span(text, d.theme.style(Tone::Bad))));
        }
    }
    section(f, area, "Phases", lines, d);
}

/// Rows the phases panel needs (title, one per phase, one per failure reason).
pub(super) fn phases_height(d: &Dashboard) -> u16 {
    let failed = (d.phases.iter()).filter(|p| matches!(p.status, PhaseStatus::Failed(_)));
    (1 + d.phases.len() + failed.count()) as u16
}

fn phase_row(t: &Theme, p: &PhaseView) -> Line<'static> {
    let (mark, tone) = match &p.status {
        PhaseStatus::Pending => ("·", Tone::Dim),
        PhaseStatus::Running => ("▶", Tone::Busy),
        PhaseStatus::Passed => ("✓", Tone::Good),
        PhaseStatus::Failed(_) => ("✗", Tone::Bad),
    };
    let mut spans = vec![span(format!(" {mark} {:<10}", p.name), t.style(tone))];
    if p.status == PhaseStatus::Pending {
        return Line::from(spans);
    }
    spans.push(span(
        format!("{:>5}/{:<5}", p.done, p.total),
        t.style(Tone::Plain),
    ));
    let batch = match p.batches {
        0 => String::new(),
        n => format!("batch {}/{n}", p.batch),
    };
    spans.push(span(format!(" {batch:<12}"), t.style(Tone::Dim)));
    let (fail_tone, over) = match p.failed {
        0 => (Tone::Dim, ""),
        n if n > p.budget => (Tone::Bad, " OVER BUDGET"),
        _ => (Tone::Warn, ""),
    };
    let fails = format!(" failed {} (budget {}){over}", p.failed, p.budget);
    spans.push(span(fails, t.style(fail_tone)));
    Line::from(spans)
}

/// Problem hosts grouped by state and reason, largest group first, with example names.
pub(super) fn problems(d: &Dashboard, width: u16) -> Vec<Line<'static>> {
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for h in &d.hosts {
        let Some(reason) = h.state.reason() else {
            continue;
        };
        let label = h.state.label();
        match groups.iter_mut().find(|g| g.0 == label && g.1 == reason) {
            Some(g) => g.2.push(&h.name),
            None => groups.push((label, reason, vec![&h.name])),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.2.len()));
    let mut lines: Vec<Line<'static>> = (groups.iter())
        .map(|(label, reason, hosts)| {
            let names = hosts.iter().take(4).copied().collect::<Vec<_>>().join(", ");
            let more = if hosts.len() > 4 { ", …" } else { "" };
            let text = format!(" {:>4} {label}: {reason}  ({names}{more})", hosts.len());
            Line::from(span(
                format::clip(&text, width as usize),
                d.theme.style(Tone::Bad),
            ))
        })
        .collect();
    if groups.len() > 8 {
        lines.truncate(7);
        let note = format!(
            " … {} more kinds of problem (/ filters hosts)",
            groups.len() - 7
        );
        lines.push(Line::from(span(note, d.theme.style(Tone::Warn))));
    }
    lines
}

/// The quorum panel's lines.
pub(super) fn quorum(d: &Dashboard, now: DateTime<Utc>, width: u16) -> Vec<Line<'static>> {
    let t = &d.theme;
    let Some(q) = &d.quorum else {
        if !d.quorum_watched {
            return Vec::new();
        }
        return vec![Line::from(span(
            " no reading yet (counts as unsafe)",
            t.style(Tone::Warn),
        ))];
    };
    let mut lines = vec![quorum_headline(t, q), leader_line(t, q, now, d.active())];
    match (q.leaderless_since, q.last_leaderless) {
        (Some(_), _) => lines.push(leaderless_line(t, q, now, false)),
        (None, Some(last)) => {
            let text = format!("   last leaderless window {}", format::elapsed(last));
            lines.push(Line::from(span(text, t.style(Tone::Warn))));
        }
        (None, None) => {}
    }
    for m in &q.members {
        let (mark, style) = t.mark(m.reachable);
        let voter = if m.voter { "" } else { "non-voter " };
        let down = if m.reachable { "" } else { "UNREACHABLE" };
        let text = format!(" {:<18} {:<9} {voter}{down}", m.name, m.role);
        lines.push(Line::from(vec![
            span(format!(" {mark}"), style),
            span(
                format::clip(&text, (width as usize).saturating_sub(3)),
                t.style(Tone::Plain),
            ),
        ]));
    }
    lines
}

fn quorum_headline(t: &Theme, q: &QuorumView) -> Line<'static> {
    let (mark, style) = t.mark(q.problem.is_none());
    let verdict = (q.problem.as_ref()).map_or("safe".to_string(), |p| format!("UNSAFE: {p}"));
    Line::from(vec![
        span(
            format!(" {mark} quorum {}/{} ", q.voters_live, q.voters_expected),
            style,
        ),
        span(verdict, style),
    ])
}

/// Leader, term, reading age, and the last leaderless window once one ended.
/// Leader, term and the reading's age, flagged STALE when the watch has gone quiet.
fn leader_line(t: &Theme, q: &QuorumView, now: DateTime<Utc>, live: bool) -> Line<'static> {
    let leader = q.leader.as_deref().unwrap_or("NONE");
    let age = q.read_at.map(|r| now - r).unwrap_or_default();
    let text = format!(
        "   leader {leader}  term {}  ({} old)",
        q.term,
        format::elapsed(age)
    );
    let mut line = Line::from(span(text, t.style(Tone::Dim)));
    if live && age > chrono::Duration::seconds(STALE_AFTER_SECS) {
        line.spans.push(span(" STALE", t.style(Tone::Warn)));
    }
    line
}

fn leaderless_line(t: &Theme, q: &QuorumView, now: DateTime<Utc>, short: bool) -> Line<'static> {
    let Some(since) = q.leaderless_since else {
        return Line::default();
    };
    let text = if short {
        format!(" LEADERLESS {} ", format::elapsed(now - since))
    } else {
        format!(
            " LEADERLESS for {} (since {} UTC) ",
            format::elapsed(now - since),
            since.format("%H:%M:%S")
        )
    };
    Line::from(span(text, t.badge(Tone::Bad)))
}

/// The health panel's lines: probe state, sparkline and latest value.
pub(super) fn health(d: &Dashboard, width: u16) -> Vec<Line<'static>> {
    let t = &d.theme;
    let spark_w = (width as usize).saturating_sub(28).clamp(4, 30);
    (d.probes.iter())
        .flat_map(|p| {
            let (mark, style) = match &p.state {
                ProbeState::Unknown => ("?", t.style(Tone::Warn)),
                ProbeState::Passing => t.mark(true),
                ProbeState::Failing { .. } => t.mark(false),
            };
            let name = span(
                format!("{:<12} ", format::clip(&p.name, 12)),
                t.style(Tone::Plain),
            );
            let mut spans = vec![span(format!(" {mark} "), style), name];
            if p.state == ProbeState::Unknown {
                spans.push(span("no reading yet", t.style(Tone::Dim)));
                return vec![Line::from(spans)];
            }
            let last = (p.readings.back().map(|v| format::value(*v))).unwrap_or_default();
            let spark = format::sparkline(p.readings.iter().copied(), spark_w);
            spans.push(span(format!("{spark:<spark_w$} "), t.style(Tone::Busy)));
            spans.push(span(last, t.style(Tone::Plain)));
            let mut lines = vec![Line::from(spans)];
            if let ProbeState::Failing { reason } = &p.state {
                lines.push(Line::from(span(
                    format!("     {reason}"),
                    t.style(Tone::Bad),
                )));
            }
            lines
        })
        .collect()
}

/// The log tail: as many of the newest lines as fit.
pub(super) fn log(d: &Dashboard, f: &mut Frame, area: Rect) {
    let rows = area.height.saturating_sub(1) as usize;
    let width = area.width.saturating_sub(10) as usize;
    let t = &d.theme;
    let lines = (d.log.tail(rows))
        .map(|l| {
            let tone = match l.level {
                Level::Info => Tone::Plain,
                Level::Warn => Tone::Warn,
                Level::Error => Tone::Bad,
            };
            Line::from(vec![
                span(format!(" {} ", l.at.format("%H:%M:%S")), t.style(Tone::Dim)),
                span(format::clip(&l.text, width), t.style(tone)),
            ])
        })
        .collect();
    section(f, area, "Log (UTC)", lines, d);
}

/// One-line phase and quorum summaries for the compact layout.
pub(super) fn compact_summary(d: &Dashboard, now: DateTime<Utc>) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(p) = d.current.map(|i| &d.phases[i]) {
        lines.push(phase_row(&d.theme, p));
    }
    if let Some(q) = &d.quorum {
        let mut head = quorum_headline(&d.theme, q);
        let leader = q.leader.as_deref().unwrap_or("NONE");
        head.spans.push(span(
            format!("  leader {leader}  term {} ", q.term),
            d.theme.style(Tone::Dim),
        ));
        head.spans
            .extend(leaderless_line(&d.theme, q, now, true).spans);
        lines.push(head);
    }
    let failing: Vec<&str> = (d.probes.iter())
        .filter(|p| matches!(p.state, ProbeState::Failing { .. }))
        .map(|p| p.name.as_str())
        .collect();
    if !failing.is_empty() {
        let text = format!(" probes FAILING: {}", failing.join(", "));
        lines.push(Line::from(span(text, d.theme.style(Tone::Bad))));
    }
    lines
}
