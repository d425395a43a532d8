//! The hosts panel: a one-character cell per host grouped by inventory group, with a legend of
//! counts per state; a list of matching hosts while a filter is set.

use super::{block, span};
use crate::tui::format;
use crate::tui::state::host::LEGEND;
use crate::tui::state::{Dashboard, HostView};
use crate::tui::theme::{Theme, Tone};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// Draws the hosts panel.
pub(super) fn render(d: &Dashboard, f: &mut Frame, area: Rect) {
    let list_mode = d.filtering || !d.filter.is_empty();
    let title = if list_mode {
        let cursor = if d.filtering { "█" } else { "" };
        let shown = d.visible().len();
        format!(
            " Hosts — filter: {}{cursor} ({shown} of {}) ",
            d.filter,
            d.hosts.len()
        )
    } else {
        format!(" Hosts ({}) ", d.hosts.len())
    };
    let b = block(title, d);
    let inner = pad(b.inner(area));
    f.render_widget(b, area);
    let (w, h) = (inner.width as usize, inner.height as usize);
    let mut lines = wrap(legend(d), w);
    let body_rows = h.saturating_sub(lines.len() + 1);
    if list_mode {
        lines.extend(list(d, w, body_rows + 1));
    } else {
        lines.extend(grid(d, w, body_rows));
        lines.push(selected_line(d));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// Rows the panel needs to show every host (title included), for sizing the layout.
pub(super) fn needed(d: &Dashboard, width: u16) -> u16 {
    let w = width.saturating_sub(1) as usize;
    let legend = wrap(legend(d), w).len();
    let body = if d.filtering || !d.filter.is_empty() {
        d.visible().len().max(1)
    } else {
        group_lines(d, &d.display_order(), w, true).len() + 1
    };
    (1 + legend + body).min(u16::MAX as usize) as u16
}

/// One column of left padding.
fn pad(r: Rect) -> Rect {
    Rect {
        x: r.x.saturating_add(1),
        width: r.width.saturating_sub(1),
        ..r
    }
}

/// `■ armed 250  X failed 3 …` for every state present; each entry wraps as a whole.
fn legend(d: &Dashboard) -> Vec<Vec<Span<'static>>> {
    let counts = d.counts();
    let mut groups = Vec::new();
    for (state, n) in LEGEND.iter().zip(counts).filter(|(_, n)| *n > 0) {
        let (ch, style) = d.theme.cell(state);
        groups.push(vec![
            span(ch.to_string(), style),
            span(
                format!(" {} {n}  ", state.label()),
                d.theme.style(Tone::Plain),
            ),
        ]);
    }
    groups
}

/// Cells grouped by primary group; ungrouped and truncated when the height is short.
fn grid(d: &Dashboard, width: usize, rows: usize) -> Vec<Line<'static>> {
    let order = d.display_order();
    let labelled = group_lines(d, &order, width, true);
    if labelled.len() <= rows {
        return labelled;
    }
    let mut packed = group_lines(d, &order, width, false);
    if packed.len() > rows && rows > 0 {
        let hidden = order.len().saturating_sub((rows - 1) * width.max(1));
        packed.truncate(rows - 1);
        let note = format!("… {hidden} more hosts: / filters (e.g. /failed)");
        packed.push(Line::from(span(note, d.theme.style(Tone::Warn))));
    }
    packed.truncate(rows);
    packed
}

fn group_lines(d: &Dashboard, order: &[usize], width: usize, labels: bool) -> Vec<Line<'static>> {
    let mut spans: Vec<Vec<Span<'static>>> = Vec::new();
    let mut lines = Vec::new();
    let mut group: Option<&str> = None;
    for &i in order {
        let host = &d.hosts[i];
        if labels && group != Some(host.primary_group()) {
            lines.extend(wrap(std::mem::take(&mut spans), width));
            group = Some(host.primary_group());
            let n = order
                .iter()
                .filter(|&&j| d.hosts[j].primary_group() == host.primary_group());
            let label = format!("{} ({}) ", host.primary_group(), n.count());
            spans.push(vec![span(label, d.theme.style(Tone::Dim))]);
        }
        spans.push(vec![cell(d, host)]);
    }
    lines.extend(wrap(spans, width));
    lines
}

fn cell(d: &Dashboard, host: &HostView) -> Span<'static> {
    let (ch, style) = d.theme.cell(&host.state);
    let selected = d.selected.as_deref() == Some(host.name.as_str());
    let style = if selected { highlight(style) } else { style };
    span(ch.to_string(), style)
}

fn highlight(style: Style) -> Style {
    style.add_modifier(Modifier::REVERSED | Modifier::UNDERLINED)
}

/// What the selected cell is, since cells carry no names.
fn selected_line(d: &Dashboard) -> Line<'static> {
    let Some(h) = d.selected.as_deref().and_then(|s| d.host(s)) else {
        return Line::from(span(
            "↑↓ select a host, Enter for details",
            d.theme.style(Tone::Dim),
        ));
    };
    let mut text = format!("▶ {} [{}] {}", h.name, h.groups.join(","), h.state.label());
    if let Some(r) = h.state.reason() {
        text.push_str(&format!(": {r}"));
    }
    Line::from(span(text, d.theme.style(Theme::tone(&h.state))))
}

/// One line per matching host, scrolled so the selected one shows.
fn list(d: &Dashboard, width: usize, rows: usize) -> Vec<Line<'static>> {
    let visible = d.visible();
    let at = (d.selected.as_deref())
        .and_then(|s| visible.iter().position(|&i| d.hosts[i].name == s))
        .unwrap_or(0);
    let start = (at + 1).saturating_sub(rows);
    let name_w = visible
        .iter()
        .map(|&i| d.hosts[i].name.len())
        .max()
        .unwrap_or(0)
        .min(30);
    (visible.iter().skip(start).take(rows))
        .map(|&i| list_row(d, &d.hosts[i], name_w, width))
        .collect()
}

fn list_row(d: &Dashboard, h: &HostView, name_w: usize, width: usize) -> Line<'static> {
    let (ch, style) = d.theme.cell(&h.state);
    let reason = h
        .state
        .reason()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let text = format!(
        " {:<name_w$}  {:<16} {}{reason}",
        h.name,
        h.primary_group(),
        h.state.label()
    );
    let mut row = Line::from(vec![
        span(ch.to_string(), style),
        span(
            format::clip(&text, width.saturating_sub(1)),
            d.theme.style(Tone::Plain),
        ),
    ]);
    if d.selected.as_deref() == Some(h.name.as_str()) {
        row = row.style(Style::default().add_modifier(Modifier::REVERSED));
    }
    row
}

/// Lays groups of spans into lines of at most `width` columns (a group never splits),
/// merging neighbouring spans of equal style.
fn wrap(groups: Vec<Vec<Span<'static>>>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for g in groups {
        let w: usize = g.iter().map(|s| s.content.chars().count()).sum();
        if used + w > width && used > 0 {
            lines.push(std::mem::take(&mut cur));
            used = 0;
        }
        used += w;
        for s in g {
            match cur.last_mut() {
                Some(last) if last.style == s.style => last.content.to_mut().push_str(&s.content),
                _ => cur.push(s),
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines.into_iter().map(Line::from).collect()
}
