//! `render`: draws the dashboard into a frame. Pure: no I/O, the time comes in as an argument.
//!
//! Wide terminals (100+ columns, 30+ rows) get two columns: phases, problems and hosts on the
//! left; quorum and health on the right; the log below both. Smaller ones get one column of
//! one-line summaries, problems, hosts and the log; tiny ones keep what fits from the top.

mod header;
mod hosts;
mod overlay;
mod panels;

use crate::tui::state::Dashboard;
use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

/// Width of the right column in the wide layout.
const SIDE_WIDTH: u16 = 46;

/// Rows the log keeps in the wide layout however many hosts there are (title included).
const MIN_LOG_ROWS: u16 = 6;

/// Draws the whole dashboard at time `now`.
pub fn render(d: &Dashboard, now: DateTime<Utc>, f: &mut Frame) {
    let area = f.area();
    let banner = header::banner(d, now);
    let [top, alerts, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(banner.len() as u16),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    header::header(d, now, f, top);
    f.render_widget(ratatui::widgets::Paragraph::new(banner), alerts);
    if area.width >= 100 && area.height >= 30 {
        wide(d, now, f, body);
    } else {
        compact(d, now, f, body);
    }
    header::footer(d, f, footer);
    overlay::render(d, now, f, area);
}

fn wide(d: &Dashboard, now: DateTime<Utc>, f: &mut Frame, body: Rect) {
    let left_w = body.width.saturating_sub(SIDE_WIDTH + 1);
    let problems = panels::problems(d, left_w);
    let quorum = panels::quorum(d, now, SIDE_WIDTH);
    let health = panels::health(d, SIDE_WIDTH);
    let heads = [
        panels::phases_height(d),
        section_height(problems.len(), 8),
        section_height(quorum.len(), 12),
        section_height(health.len(), 8),
    ];
    let left_need = heads[0] + heads[1] + hosts::needed(d, left_w);
    let top = left_need.max(heads[2] + heads[3]);
    let top = top.min(body.height.saturating_sub(MIN_LOG_ROWS));
    let [top_area, log] =
        Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(body);
    let [left, _, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(SIDE_WIDTH),
    ])
    .areas(top_area);
    let [phases, problems_area, hosts_area] = stack(left, [heads[0], heads[1]]);
    panels::phases(d, f, phases);
    panels::section(f, problems_area, "Problems", problems, d);
    hosts::render(d, f, hosts_area);
    let [q, h, _] = stack(right, [heads[2], heads[3]]);
    panels::section(f, q, "Quorum", quorum, d);
    panels::section(f, h, "Health", health, d);
    panels::log(d, f, log);
}

fn compact(d: &Dashboard, now: DateTime<Utc>, f: &mut Frame, body: Rect) {
    let summary = panels::compact_summary(d, now);
    let problems = panels::problems(d, body.width);
    let heads = [summary.len() as u16, section_height(problems.len(), 4)];
    let min_log = if body.height >= 16 { 4 } else { 0 };
    let room = body.height.saturating_sub(heads[0] + heads[1] + min_log);
    let hosts_h = hosts::needed(d, body.width).min(room);
    let [s, problems_area, rest] = stack(body, heads);
    let [hosts_area, log] =
        Layout::vertical([Constraint::Length(hosts_h), Constraint::Min(0)]).areas(rest);
    f.render_widget(ratatui::widgets::Paragraph::new(summary), s);
    panels::section(f, problems_area, "Problems", problems, d);
    hosts::render(d, f, hosts_area);
    panels::log(d, f, log);
}

/// Two fixed-height areas on top of whatever is left.
fn stack(area: Rect, heights: [u16; 2]) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(heights[0]),
        Constraint::Length(heights[1]),
        Constraint::Min(0),
    ])
    .areas(area)
}

/// Rows for a section of `lines` lines plus its title, capped; zero when empty.
fn section_height(lines: usize, cap: usize) -> u16 {
    if lines == 0 {
        0
    } else {
        (lines.min(cap) + 1) as u16
    }
}

/// A section block: a title on a top rule, no side borders (saves columns and rows).
fn block<'a>(title: impl Into<Line<'a>>, d: &Dashboard) -> Block<'a> {
    Block::default()
        .borders(Borders::TOP)
        .border_style(d.theme.style(crate::tui::theme::Tone::Dim))
        .title(title)
}

/// A span with a style.
fn span<'a>(text: impl Into<std::borrow::Cow<'a, str>>, style: Style) -> Span<'a> {
    Span::styled(text, style)
}
