//! `render`: draws the dashboard into a frame. Pure: no I/O, the time comes in as an argument.
//!
//! Wide terminals (100+ columns, 30+ rows) get two columns: phases, hosts and problems on the
//! left; quorum, health and the log on the right. Smaller ones get one column of one-line
//! summaries with the hosts panel taking what is left; tiny ones keep at least the header.

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
    let [left, _, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(SIDE_WIDTH),
    ])
    .areas(body);
    let problems = panels::problems(d, left.width);
    let [phases, hosts_area, problems_area] = Layout::vertical([
        Constraint::Length(d.phases.len() as u16 + 1),
        Constraint::Min(4),
        Constraint::Length(section_height(problems.len(), 8)),
    ])
    .areas(left);
    panels::phases(d, f, phases);
    hosts::render(d, f, hosts_area);
    panels::section(f, problems_area, "Problems", problems, d);
    let quorum = panels::quorum(d, now, right.width);
    let health = panels::health(d, right.width);
    let [q, h, log] = Layout::vertical([
        Constraint::Length(section_height(quorum.len(), 12)),
        Constraint::Length(section_height(health.len(), 8)),
        Constraint::Min(0),
    ])
    .areas(right);
    panels::section(f, q, "Quorum", quorum, d);
    panels::section(f, h, "Health", health, d);
    panels::log(d, f, log);
}

fn compact(d: &Dashboard, now: DateTime<Utc>, f: &mut Frame, body: Rect) {
    let summary = panels::compact_summary(d, now);
    let problems = panels::problems(d, body.width);
    let log_rows = if body.height >= 18 { 4 } else { 0 };
    let [s, hosts_area, problems_area, log] = Layout::vertical([
        Constraint::Length(summary.len() as u16),
        Constraint::Min(3),
        Constraint::Length(section_height(problems.len(), 4)),
        Constraint::Length(log_rows),
    ])
    .areas(body);
    f.render_widget(ratatui::widgets::Paragraph::new(summary), s);
    hosts::render(d, f, hosts_area);
    panels::section(f, problems_area, "Problems", problems, d);
    panels::log(d, f, log);
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
