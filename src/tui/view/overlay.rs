//! Dialogs drawn over the dashboard: abort and quit confirmations, the gate word, host details
//! and help.

use super::span;
use crate::tui::format;
use crate::tui::state::{Dashboard, HostView, Modal};
use crate::tui::theme::{Theme, Tone};
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// Draws the open dialog, if any, centred over `area`.
pub(super) fn render(d: &Dashboard, _now: DateTime<Utc>, f: &mut Frame, area: Rect) {
    let Some(modal) = &d.modal else {
        return;
    };
    let t = &d.theme;
    let (title, tone, lines) = match modal {
        Modal::ConfirmAbort => ("ABORT", Tone::Bad, abort(d)),
        Modal::QuitArmed => ("QUIT: HOSTS ARE ARMED", Tone::Bad, quit_armed(d)),
        Modal::ConfirmQuit => (
            "QUIT",
            Tone::Warn,
            vec![
                text(
                    t,
                    "Quit: the run stops here and pending work is cancelled.",
                    Tone::Plain,
                ),
                text(t, "Nothing is armed.", Tone::Plain),
                Line::default(),
                text(t, "y  quit      Esc  stay", Tone::Accent),
            ],
        ),
        Modal::Gate { input, wrong } => {
            // Room for the diffs: the screen less the dialog's border, prompt and margins.
            let room = usize::from(area.height.saturating_sub(12));
            let width = usize::from(area.width.saturating_sub(4).min(90)).saturating_sub(2);
            ("GATE", Tone::Warn, gate(d, input, *wrong, (room, width)))
        }
        Modal::HostDetails => ("HOST", Tone::Accent, details(d)),
        Modal::Help => ("HELP", Tone::Accent, help(t)),
    };
    let width = area.width.saturating_sub(4).min(90);
    // Rows, not lines: a long line wraps onto more than one.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum();
    let height = (u16::try_from(rows).unwrap_or(u16::MAX).saturating_add(2)).min(area.height);
    let popup = centered(area, width, height);
    let b = Block::default()
        .borders(Borders::ALL)
        .border_style(t.style(tone))
        .title(span(format!(" {title} "), t.badge(tone)));
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(b),
        popup,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    cell
}

fn text(t: &Theme, s: impl Into<String>, tone: Tone) -> Line<'static> {
    Line::from(span(s.into(), t.style(tone)))
}

fn abort(d: &Dashboard) -> Vec<Line<'static>> {
    let t = &d.theme;
    let question = match d.armed() {
        0 => "Abort: cancel pending work? Nothing is armed yet.".to_string(),
        n => format!("Abort: cancel pending work and DISARM {n} armed hosts?"),
    };
    let mut lines = vec![
        text(t, question, Tone::Bad),
        Line::default(),
        text(t, "type y to abort      Esc  stay", Tone::Accent),
    ];
    if d.armed() == 0 {
        lines.push(text(
            t,
            "type r to abort and ROLL BACK what staging changed (cutover rollback)",
            Tone::Accent,
        ));
    }
    lines
}

fn quit_armed(d: &Dashboard) -> Vec<Line<'static>> {
    let t = &d.theme;
    let when = format::fire_time(d.fire_at, d.local_offset);
    vec![
        text(
            t,
            format!("{} hosts are ARMED and will fire at {when}.", d.armed()),
            Tone::Bad,
        ),
        Line::default(),
        text(t, "d    disarm every armed host, then quit", Tone::Accent),
        text(
            t,
            "l    leave them armed and quit: they fire regardless;",
            Tone::Accent,
        ),
        text(
            t,
            format!(
                "     `cutover watch {}` reattaches read-only",
                match d.run_id.is_empty() {
                    true => "RUN",
                    false => d.run_id.as_str(),
                }
            ),
            Tone::Plain,
        ),
        text(t, "Esc  stay", Tone::Accent),
    ]
}

fn gate(d: &Dashboard, input: &str, wrong: bool, room: (usize, usize)) -> Vec<Line<'static>> {
    let t = &d.theme;
    let Some(g) = &d.gate else {
        return vec![text(t, "No gate is waiting.", Tone::Plain)];
    };
    // The prompt first, so a long diff never pushes it off a small screen.
    let mut lines = vec![
        text(t, format!("{} waits for you.", g.step), Tone::Plain),
        text(
            t,
            format!(
                "Type `{}` and press Enter to continue (Esc: not now).",
                g.word
            ),
            Tone::Plain,
        ),
        Line::default(),
        text(t, format!("> {input}█"), Tone::Accent),
    ];
    if wrong {
        lines.push(text(
            t,
            "That was not the gate word; nothing was done.",
            Tone::Bad,
        ));
    }
    if g.word == crate::run::gate::WRITE_WORD {
        lines.push(Line::default());
        lines.extend(diffs(d, room));
    }
    lines
}

/// The changes the `write` gate would write, group by group, in at most `rows` screen rows
/// of `width` columns (long lines wrap).
fn diffs(d: &Dashboard, (rows, width): (usize, usize)) -> Vec<Line<'static>> {
    let t = &d.theme;
    let mut all: Vec<Line<'static>> = Vec::new();
    for v in &d.diffs {
        let what = match (v.diff.is_empty(), v.context_varies) {
            (true, _) => "already as planned, nothing to write",
            (false, true) => "this change (context lines differ per host)",
            (false, false) => "this change",
        };
        let head = format!("{}: {} {what}", v.hosts, crate::sanitize::visible(&v.file));
        all.push(text(t, head, Tone::Accent));
        for l in v
            .diff
            .lines()
            .filter(|l| !l.starts_with("--- ") && !l.starts_with("+++ "))
        {
            let tone = match l.chars().next() {
                Some('+') => Tone::Good,
                Some('-') => Tone::Bad,
                Some('@') => Tone::Dim,
                _ => Tone::Plain,
            };
            all.push(text(t, crate::sanitize::visible(l), tone));
        }
    }
    let height = |l: &Line| l.width().max(1).div_ceil(width.max(1));
    let (mut used, mut keep) = (0, 0);
    for l in &all {
        if used + height(l) > rows.saturating_sub(1) {
            break;
        }
        used += height(l);
        keep += 1;
    }
    if keep < all.len() {
        let left = all.len() - keep;
        all.truncate(keep);
        all.push(text(
            t,
            format!("… {left} more line(s): the journal and `cutover report` have them all"),
            Tone::Dim,
        ));
    }
    all
}

fn details(d: &Dashboard) -> Vec<Line<'static>> {
    let t = &d.theme;
    let Some(h) = d.selected.as_deref().and_then(|s| d.host(s)) else {
        return vec![text(t, "No host selected.", Tone::Plain)];
    };
    let state = match h.state.reason() {
        Some(r) => format!("{}: {r}", h.state.label()),
        None => h.state.label().to_string(),
    };
    let mut lines = vec![
        text(
            t,
            format!("{}   [{}]", h.name, h.groups.join(", ")),
            Tone::Accent,
        ),
        text(t, format!("state: {state}"), Theme::tone(&h.state)),
    ];
    lines.extend(checks(t, h));
    lines.extend(receipt(t, h));
    if !h.output.is_empty() {
        lines.push(text(t, "last output:", Tone::Dim));
        let out: Vec<&str> = h.output.lines().collect();
        for l in &out[out.len().saturating_sub(8)..] {
            let l = crate::sanitize::visible(l);
            lines.push(text(t, format!("  {l}"), Tone::Plain));
        }
    }
    lines.push(text(t, "↑↓ next host   any other key closes", Tone::Dim));
    lines
}

fn checks(t: &Theme, h: &HostView) -> Vec<Line<'static>> {
    (h.checks.iter())
        .map(|(name, v)| {
            let (mark, style) = t.mark(v.passed());
            let reason = v.reason().map(|r| format!(": {r}")).unwrap_or_default();
            Line::from(vec![
                span(format!("  {mark} "), style),
                span(format!("{name}{reason}"), t.style(Tone::Plain)),
            ])
        })
        .collect()
}

fn receipt(t: &Theme, h: &HostView) -> Vec<Line<'static>> {
    let Some(r) = &h.receipt else {
        return Vec::new();
    };
    let rel = |x: Option<i64>| match (x, r.planned_ns) {
        (Some(x), Some(p)) => format::signed_ns(x - p),
        _ => "-".into(),
    };
    let exit = r.exit.map_or("-".into(), |e| e.to_string());
    let late = if r.skipped_late {
        "  SKIPPED (woke too late)"
    } else {
        ""
    };
    vec![text(
        t,
        format!(
            "receipt: woke {} started {} exit {exit}{late}",
            rel(r.woke_ns),
            rel(r.started_ns)
        ),
        if r.skipped_late || r.exit.is_some_and(|e| e != 0) {
            Tone::Bad
        } else {
            Tone::Plain
        },
    )]
}

fn help(t: &Theme) -> Vec<Line<'static>> {
    [
        "p      pause after the current batch; p again resumes",
        "a      abort: cancel pending work and disarm armed hosts (asks y)",
        "g      go at an operator gate (type the plan's gate word)",
        "/      filter hosts by name, group, state or reason (Esc clears)",
        "↑↓ jk  select a host (PgUp/PgDn: 20)   Enter  details: checks, output, receipt",
        "q      quit; while hosts are armed it asks: disarm, or leave armed",
        "Ctrl-C same as q: it always asks, it never kills silently",
        "",
        "cells: one per host, grouped by inventory group; the legend counts states",
    ]
    .into_iter()
    .map(|s| text(t, s, Tone::Plain))
    .collect()
}
