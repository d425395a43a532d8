//! Measures how long one render of the dashboard takes with 1,000 hosts (not a timed test).
//!
//! `cargo run --release --example render_bench`

use chrono::{Duration, FixedOffset, TimeZone, Utc};
use cutover::clock::instant;
use cutover::tui::msg::Msg;
use cutover::tui::state::HostState;
use cutover::tui::{Dashboard, render, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FRAMES: u32 = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fire_at = Utc
        .with_ymd_and_hms(2026, 11, 25, 2, 30, 0)
        .single()
        .ok_or("bad time")?;
    let now = fire_at - Duration::seconds(300);
    let offset = FixedOffset::east_opt(3600).ok_or("bad offset")?;
    let mut d = Dashboard::new("bench", "prod", true, "0123456789ab").with_fire_at(fire_at, offset);
    for i in 0..1000 {
        d = d.with_host(
            &format!("host-{i:04}"),
            &[if i % 3 == 0 { "db" } else { "web" }],
        );
    }
    for i in 0..1000 {
        let state = match i % 50 {
            0 => HostState::Failed {
                reason: format!("reason {}", i % 7),
            },
            1 => HostState::Unreachable {
                reason: "timeout".into(),
            },
            _ => HostState::Armed,
        };
        let host = format!("host-{i:04}");
        update(
            &mut d,
            Msg::HostChanged {
                host,
                state,
                output: None,
            },
            now,
        );
    }
    for (w, h) in [(120, 40), (80, 24), (200, 60)] {
        let mut term = Terminal::new(TestBackend::new(w, h))?;
        let start = instant();
        for _ in 0..FRAMES {
            term.draw(|f| render(&d, now, f))?;
        }
        let per = start.elapsed() / FRAMES;
        println!("1,000 hosts at {w}x{h}: {per:?} per frame ({FRAMES} frames)");
    }
    Ok(())
}
