//! Key handling: kill switches behind confirm dialogs, gate words, host filter and selection.
//!
//! Nothing destructive happens on one key press: abort asks for `y`, quit while hosts are
//! armed asks whether to disarm or leave them armed, and Ctrl-C asks like `q`.

use crate::tui::msg::{Command, Key, Level};
use crate::tui::state::{Dashboard, Modal, Pause};
use chrono::{DateTime, Utc};

/// What `p`, `a` and `g` say in a read-only dashboard.
pub const READ_ONLY: &str = "read-only: this dashboard follows the journal and cannot change the run; \
     take armed hosts back with `cutover disarm RUN`";

/// What `p` says once hosts are armed.
pub const PAUSE_ARMED: &str = "pause cannot hold armed hosts: they fire on their own clocks; \
     press a to abort (disarms every armed host)";

/// Hosts a page key moves the selection by.
const PAGE: isize = 20;

/// Handles a key press.
pub(super) fn handle(d: &mut Dashboard, key: Key, now: DateTime<Utc>) -> Vec<Command> {
    if d.read_only && d.modal.is_none() && !d.filtering {
        match key {
            Key::Char('q') | Key::CtrlC => return vec![Command::Quit],
            Key::Char('p' | 'a' | 'g') => {
                d.log.push(now, Level::Warn, READ_ONLY);
                return Vec::new();
            }
            _ => {}
        }
    }
    if let Some(modal) = d.modal.clone() {
        return modal_key(d, modal, key, now);
    }
    if d.filtering && key != Key::CtrlC {
        filter_key(d, key);
        return Vec::new();
    }
    match key {
        Key::Char('p') => return pause(d, now),
        Key::Char('a') if d.active() && !d.aborting => d.modal = Some(Modal::ConfirmAbort),
        Key::Char('q') | Key::CtrlC => return quit(d),
        Key::Char('g') if d.gate.is_some() => {
            d.modal = Some(Modal::Gate {
                input: String::new(),
                wrong: false,
            })
        }
        Key::Char('/') => d.filtering = true,
        Key::Char('?') => d.modal = Some(Modal::Help),
        Key::Enter if d.selected.is_some() => d.modal = Some(Modal::HostDetails),
        Key::Esc => d.filter.clear(),
        other => navigate(d, other),
    }
    Vec::new()
}

fn modal_key(d: &mut Dashboard, modal: Modal, key: Key, now: DateTime<Utc>) -> Vec<Command> {
    match (modal, key) {
        (Modal::ConfirmAbort, Key::Char('y' | 'Y')) => {
            d.modal = None;
            d.aborting = true;
            d.pause = Pause::Off;
            d.log.push(now, Level::Warn, "operator: abort confirmed");
            return vec![Command::Abort];
        }
        (Modal::ConfirmAbort, Key::Char('r' | 'R')) if d.armed() == 0 => {
            d.modal = None;
            d.aborting = true;
            d.pause = Pause::Off;
            d.log
                .push(now, Level::Warn, "operator: abort and roll back confirmed");
            return vec![Command::AbortAndRollBack];
        }
        (Modal::QuitArmed, Key::Char('d' | 'D')) => return vec![Command::DisarmAndQuit],
        (Modal::QuitArmed, Key::Char('l' | 'L')) => return vec![Command::QuitLeaveArmed],
        (Modal::ConfirmQuit, Key::Char('y' | 'Y')) => return vec![Command::Quit],
        (Modal::Gate { input, .. }, key) => return gate_key(d, input, key, now),
        (Modal::HostDetails, Key::Up | Key::Down | Key::Char('j' | 'k')) => navigate(d, key),
        (Modal::HostDetails | Modal::Help, Key::CtrlC) => return quit(d),
        (Modal::Help | Modal::HostDetails, _) => d.modal = None,
        (_, Key::Esc | Key::Char('n' | 'N')) => d.modal = None,
        _ => {}
    }
    Vec::new()
}

fn gate_key(d: &mut Dashboard, mut input: String, key: Key, now: DateTime<Utc>) -> Vec<Command> {
    match key {
        Key::Char(c) => input.push(c),
        Key::Backspace => {
            input.pop();
        }
        Key::Esc | Key::CtrlC => {
            d.modal = None;
            return Vec::new();
        }
        Key::Enter => return submit_gate(d, &input, now),
        _ => {}
    }
    d.modal = Some(Modal::Gate {
        input,
        wrong: false,
    });
    Vec::new()
}

fn submit_gate(d: &mut Dashboard, input: &str, now: DateTime<Utc>) -> Vec<Command> {
    let Some(gate) = d.gate.take_if(|g| g.word == input) else {
        d.modal = Some(Modal::Gate {
            input: String::new(),
            wrong: true,
        });
        return Vec::new();
    };
    d.modal = None;
    let text = format!("operator: gate passed for {}", gate.step);
    d.log.push(now, Level::Info, text);
    vec![Command::Go { step: gate.step }]
}

fn pause(d: &mut Dashboard, now: DateTime<Utc>) -> Vec<Command> {
    if !d.active() || d.aborting {
        return Vec::new();
    }
    if d.pause == Pause::Off && d.armed() > 0 {
        // A pause would only hold the T-minus drift check: armed jobs fire on the hosts' clocks.
        d.log.push(now, Level::Warn, PAUSE_ARMED);
        return Vec::new();
    }
    let (next, cmd, text) = match d.pause {
        Pause::Off => (
            Pause::Requested,
            Command::Pause,
            "pause after current batch",
        ),
        Pause::Requested | Pause::Paused => (Pause::Off, Command::Resume, "resume"),
    };
    d.pause = next;
    d.log.push(now, Level::Info, format!("operator: {text}"));
    vec![cmd]
}

fn quit(d: &mut Dashboard) -> Vec<Command> {
    if !d.active() {
        return vec![Command::Quit];
    }
    d.filtering = false;
    d.modal = Some(if d.armed() > 0 {
        Modal::QuitArmed
    } else {
        Modal::ConfirmQuit
    });
    Vec::new()
}

fn filter_key(d: &mut Dashboard, key: Key) {
    match key {
        Key::Char(c) => d.filter.push(c),
        Key::Backspace => {
            d.filter.pop();
        }
        Key::Enter => d.filtering = false,
        Key::Esc => {
            d.filtering = false;
            d.filter.clear();
        }
        other => navigate(d, other),
    }
}

fn navigate(d: &mut Dashboard, key: Key) {
    let delta = match key {
        Key::Up | Key::Char('k') => -1,
        Key::Down | Key::Char('j') => 1,
        Key::PageUp => -PAGE,
        Key::PageDown => PAGE,
        _ => return,
    };
    let visible = d.visible();
    let Some(last) = visible.len().checked_sub(1) else {
        d.selected = None;
        return;
    };
    let at =
        (d.selected.as_ref()).and_then(|s| visible.iter().position(|&i| d.hosts[i].name == *s));
    let next = match at {
        Some(p) => p.saturating_add_signed(delta).min(last),
        None if delta > 0 => 0,
        None => last,
    };
    d.selected = Some(d.hosts[visible[next]].name.clone());
}
