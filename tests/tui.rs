//! The dashboard: snapshots of what the operator sees, the key and confirm flows, plain and
//! JSON line output.

// Fixture helpers are not `#[test]` functions, so `allow-unwrap-in-tests` does not reach them;
// in a test binary a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "tui/fixture.rs"]
mod fixture;
#[path = "tui/scenarios.rs"]
mod scenarios;

#[path = "tui/keys.rs"]
mod keys;
#[path = "tui/plain.rs"]
mod plain;
#[path = "tui/render.rs"]
mod render;

use chrono::{DateTime, Utc};
use cutover::tui::{Dashboard, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Renders the dashboard at a fixed size and time.
pub fn draw(d: &Dashboard, now: DateTime<Utc>, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    term.draw(|f| render(d, now, f)).unwrap();
    term
}

/// Renders and snapshots under `tests/snapshots/tui__<name>.snap`.
pub fn snap(name: &str, d: &Dashboard, now: DateTime<Utc>, width: u16, height: u16) {
    let term = draw(d, now, width, height);
    insta::assert_snapshot!(name, term.backend());
}
