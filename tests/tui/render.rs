//! Snapshots of the main states at 120x40 and 80x24, and layouts that must never panic.

use crate::fixture::t;
use crate::scenarios;
use crate::{draw, snap};
use cutover::tui::msg::{Key, Msg};
use cutover::tui::theme::Theme;
use cutover::tui::update;

#[test]
fn preflight_with_failures_groups_reasons() {
    let (d, now) = scenarios::preflight_failures();
    snap("preflight_failures_120x40", &d, now, 120, 40);
    snap("preflight_failures_80x24", &d, now, 80, 24);
}

#[test]
fn arming_with_pause_requested() {
    let (d, now) = scenarios::arming();
    snap("arming_120x40", &d, now, 120, 40);
    snap("arming_80x24", &d, now, 80, 24);
}

#[test]
fn countdown_before_fire() {
    let (d, now) = scenarios::countdown();
    snap("countdown_120x40", &d, now, 120, 40);
    snap("countdown_80x24", &d, now, 80, 24);
}

#[test]
fn countdown_monochrome_uses_letters() {
    let (d, now) = scenarios::countdown();
    let d = d.with_theme(Theme::mono());
    snap("countdown_mono_120x40", &d, now, 120, 40);
}

#[test]
fn leaderless_after_fire() {
    let (d, now) = scenarios::leaderless();
    snap("leaderless_120x40", &d, now, 120, 40);
    snap("leaderless_80x24", &d, now, 80, 24);
}

#[test]
fn complete_with_spread() {
    let (d, now) = scenarios::complete();
    snap("complete_120x40", &d, now, 120, 40);
    snap("complete_80x24", &d, now, 80, 24);
}

#[test]
fn aborted_after_disarming() {
    let (d, now) = scenarios::aborted();
    snap("aborted_120x40", &d, now, 120, 40);
}

#[test]
fn thousand_hosts_fit() {
    let (d, now) = scenarios::thousand();
    snap("thousand_120x40", &d, now, 120, 40);
    snap("thousand_80x24", &d, now, 80, 24);
}

#[test]
fn dialogs() {
    let (mut d, now) = scenarios::countdown();
    let key = |d: &mut _, k| update(d, Msg::Key(k), now);
    key(&mut d, Key::Char('q'));
    snap("dialog_quit_armed_80x24", &d, now, 80, 24);
    key(&mut d, Key::Esc);
    key(&mut d, Key::Char('a'));
    snap("dialog_abort_80x24", &d, now, 80, 24);
    key(&mut d, Key::Esc);
    key(&mut d, Key::Char('?'));
    snap("dialog_help_80x24", &d, now, 80, 24);
}

#[test]
fn gate_prompt_and_dialog() {
    let (mut d, now) = scenarios::countdown();
    let gate = Msg::GateRequested {
        step: "post[0] re-enable consul-template".into(),
        word: "reenable".into(),
    };
    update(&mut d, gate, now);
    for k in [Key::Char('r'), Key::Char('e')] {
        update(&mut d, Msg::Key(k), now);
    }
    snap("gate_dialog_80x24", &d, now, 80, 24);
    update(&mut d, Msg::Key(Key::Esc), now);
    snap("gate_banner_120x40", &d, now, 120, 40);
}

#[test]
fn filter_and_host_details() {
    let (mut d, now) = scenarios::preflight_failures();
    for k in [
        Key::Char('/'),
        Key::Char('s'),
        Key::Char('u'),
        Key::Char('d'),
        Key::Char('o'),
        Key::Enter,
        Key::Down,
    ] {
        update(&mut d, Msg::Key(k), now);
    }
    snap("filter_list_80x24", &d, now, 80, 24);
    update(&mut d, Msg::Key(Key::Enter), now);
    snap("host_details_80x24", &d, now, 80, 24);
}

#[test]
fn tiny_and_odd_sizes_never_panic() {
    let scenes = [
        scenarios::preflight_failures(),
        scenarios::leaderless(),
        scenarios::thousand(),
    ];
    for (d, now) in &scenes {
        for (w, h) in [
            (1, 1),
            (10, 3),
            (20, 5),
            (40, 10),
            (80, 24),
            (99, 29),
            (100, 30),
            (200, 60),
            (300, 10),
        ] {
            draw(d, *now, w, h);
        }
    }
    draw(&scenes[0].0, t(0), 0, 0);
}

#[test]
fn thousand_hosts_grid_keeps_the_footer_and_every_cell() {
    let (d, now) = scenarios::thousand();
    let term = draw(&d, now, 120, 40);
    let text = term.backend().to_string();
    assert!(text.contains("ABORT"), "footer with keys is visible");
    let cells = text
        .chars()
        .filter(|c| matches!(c, '■' | 'X' | 'U'))
        .count();
    assert!(
        cells >= 1005,
        "every host has a cell at 120x40 (counted {cells})"
    );
}

#[test]
fn watching_read_only_says_so_and_offers_no_kill_switch() {
    let (mut d, now) = scenarios::countdown();
    d.read_only = true;
    snap("watch_read_only_80x24", &d, now, 80, 24);
}

#[test]
fn diffs_wait_for_the_write_decision() {
    let (d, now) = scenarios::diffs_awaiting_write();
    snap("diffs_awaiting_write_120x40", &d, now, 120, 40);
    snap("diffs_awaiting_write_80x24", &d, now, 80, 24);
}

#[test]
fn a_rollback_after_a_failed_verify_with_an_excluded_host() {
    let (d, now) = scenarios::rolled_back();
    snap("rolled_back_120x40", &d, now, 120, 40);
    snap("rolled_back_80x24", &d, now, 80, 24);
}
