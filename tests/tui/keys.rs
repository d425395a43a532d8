//! `update` for every key: kill switches behind confirmations, gate words, filter, selection.

use crate::fixture::{feed, fleet, host, t};
use crate::scenarios;
use cutover::tui::msg::{Command, Key, Msg, Outcome};
use cutover::tui::state::{HostState, Modal, Pause};
use cutover::tui::{Dashboard, update};

fn press(d: &mut Dashboard, keys: &[Key]) -> Vec<Command> {
    keys.iter()
        .flat_map(|k| update(d, Msg::Key(*k), t(0)))
        .collect()
}

fn armed() -> Dashboard {
    scenarios::countdown().0
}

#[test]
fn p_pauses_after_the_batch_and_p_again_resumes() {
    let mut d = fleet(3);
    assert_eq!(press(&mut d, &[Key::Char('p')]), vec![Command::Pause]);
    assert_eq!(d.pause, Pause::Requested);
    update(&mut d, Msg::Paused, t(0));
    assert_eq!(d.pause, Pause::Paused);
    assert_eq!(press(&mut d, &[Key::Char('p')]), vec![Command::Resume]);
    assert_eq!(d.pause, Pause::Off);
}

#[test]
fn before_arming_the_abort_dialog_offers_abort_and_roll_back() {
    let mut d = fleet(3);
    assert_eq!(
        press(&mut d, &[Key::Char('a'), Key::Char('r')]),
        vec![Command::AbortAndRollBack]
    );
    assert!(d.aborting);
    let mut d = armed();
    assert_eq!(
        press(&mut d, &[Key::Char('a'), Key::Char('r')]),
        vec![],
        "not once hosts are armed: they must be disarmed first"
    );
    assert_eq!(d.modal, Some(Modal::ConfirmAbort));
}

#[test]
fn a_asks_before_aborting_and_esc_or_n_cancels() {
    let mut d = armed();
    assert_eq!(press(&mut d, &[Key::Char('a')]), vec![]);
    assert_eq!(d.modal, Some(Modal::ConfirmAbort));
    assert_eq!(
        press(&mut d, &[Key::Char('x'), Key::Enter, Key::CtrlC]),
        vec![],
        "only y confirms"
    );
    assert_eq!(press(&mut d, &[Key::Esc]), vec![]);
    assert_eq!(d.modal, None);
    assert_eq!(press(&mut d, &[Key::Char('a'), Key::Char('n')]), vec![]);
    assert!(!d.aborting);
    assert_eq!(
        press(&mut d, &[Key::Char('a'), Key::Char('y')]),
        vec![Command::Abort]
    );
    assert!(d.aborting);
    assert_eq!(
        press(&mut d, &[Key::Char('a'), Key::Char('p')]),
        vec![],
        "no abort or pause twice"
    );
}

#[test]
fn q_with_armed_hosts_offers_disarm_or_leave_armed() {
    let mut d = armed();
    assert_eq!(press(&mut d, &[Key::Char('q')]), vec![]);
    assert_eq!(d.modal, Some(Modal::QuitArmed));
    assert_eq!(
        press(&mut d, &[Key::Char('y'), Key::Enter]),
        vec![],
        "y is not an answer here"
    );
    assert_eq!(
        press(&mut d, &[Key::Char('d')]),
        vec![Command::DisarmAndQuit]
    );
    let mut d = armed();
    assert_eq!(
        press(&mut d, &[Key::Char('q'), Key::Char('l')]),
        vec![Command::QuitLeaveArmed]
    );
    let mut d = armed();
    assert_eq!(press(&mut d, &[Key::Char('q'), Key::Esc]), vec![]);
    assert_eq!(d.modal, None);
}

#[test]
fn q_before_arming_asks_and_after_the_run_quits_at_once() {
    let mut d = fleet(3);
    assert_eq!(press(&mut d, &[Key::Char('q')]), vec![]);
    assert_eq!(d.modal, Some(Modal::ConfirmQuit));
    assert_eq!(press(&mut d, &[Key::Char('y')]), vec![Command::Quit]);
    let mut done = fleet(3);
    update(
        &mut done,
        Msg::Finished {
            outcome: Outcome::Complete,
        },
        t(0),
    );
    assert_eq!(press(&mut done, &[Key::Char('q')]), vec![Command::Quit]);
}

#[test]
fn ctrl_c_asks_like_q_and_never_quits_silently() {
    let mut d = armed();
    assert_eq!(press(&mut d, &[Key::CtrlC]), vec![]);
    assert_eq!(d.modal, Some(Modal::QuitArmed));
    assert_eq!(
        press(&mut d, &[Key::CtrlC, Key::CtrlC]),
        vec![],
        "repeated Ctrl-C keeps asking"
    );
    assert_eq!(d.modal, Some(Modal::QuitArmed));
    let mut filtering = fleet(3);
    press(&mut filtering, &[Key::Char('/'), Key::CtrlC]);
    assert_eq!(filtering.modal, Some(Modal::ConfirmQuit));
}

#[test]
fn g_needs_the_gate_word() {
    let mut d = fleet(3);
    assert_eq!(press(&mut d, &[Key::Char('g')]), vec![], "no gate waiting");
    assert_eq!(d.modal, None);
    let gate = Msg::GateRequested {
        step: "stage[2]".into(),
        word: "restart".into(),
    };
    update(&mut d, gate, t(0));
    let wrong: Vec<Key> = "g rstart"
        .chars()
        .filter(|c| *c != ' ')
        .map(Key::Char)
        .collect();
    assert_eq!(press(&mut d, &wrong), vec![]);
    assert_eq!(press(&mut d, &[Key::Enter]), vec![]);
    assert_eq!(
        d.modal,
        Some(Modal::Gate {
            input: String::new(),
            wrong: true
        })
    );
    let mut typed: Vec<Key> = "restarx".chars().map(Key::Char).collect();
    typed.extend([Key::Backspace, Key::Char('t'), Key::Enter]);
    assert_eq!(
        press(&mut d, &typed),
        vec![Command::Go {
            step: "stage[2]".into()
        }]
    );
    assert_eq!((d.modal.clone(), d.gate.clone()), (None, None));
}

#[test]
fn a_gate_takes_the_keyboard_so_its_word_is_not_read_as_commands() {
    let mut d = armed();
    let gate = Msg::GateRequested {
        step: "arm".into(),
        word: "arm".into(),
    };
    update(&mut d, gate, t(0));
    assert!(matches!(d.modal, Some(Modal::Gate { .. })));
    let typed: Vec<Key> = "arm".chars().map(Key::Char).chain([Key::Enter]).collect();
    assert_eq!(
        press(&mut d, &typed),
        vec![Command::Go { step: "arm".into() }]
    );
    assert!(!d.aborting);
}

#[test]
fn a_gate_waits_behind_an_open_dialog_and_g_reopens_it() {
    let mut d = armed();
    press(&mut d, &[Key::Char('a')]);
    let gate = Msg::GateRequested {
        step: "post".into(),
        word: "go".into(),
    };
    update(&mut d, gate, t(0));
    assert_eq!(d.modal, Some(Modal::ConfirmAbort));
    press(&mut d, &[Key::Esc, Key::Char('g')]);
    assert!(matches!(d.modal, Some(Modal::Gate { .. })));
}

#[test]
fn gate_dialog_esc_leaves_the_gate_waiting() {
    let mut d = fleet(3);
    update(
        &mut d,
        Msg::GateRequested {
            step: "arm".into(),
            word: "fire".into(),
        },
        t(0),
    );
    assert_eq!(
        press(&mut d, &[Key::Char('g'), Key::Char('f'), Key::Esc]),
        vec![]
    );
    assert_eq!(d.modal, None);
    assert!(d.gate.is_some());
}

#[test]
fn slash_filters_by_name_state_or_reason() {
    let mut d = fleet(30);
    feed(
        &mut d,
        t(0),
        [host(
            "app-007",
            HostState::Unreachable {
                reason: "timeout".into(),
            },
        )],
    );
    press(
        &mut d,
        &"/unreach".chars().map(Key::Char).collect::<Vec<_>>(),
    );
    assert!(d.filtering);
    assert_eq!(d.filter, "unreach");
    assert_eq!(
        press(&mut d, &[Key::Char('q')]),
        vec![],
        "q is text while filtering"
    );
    press(&mut d, &[Key::Backspace, Key::Enter]);
    assert!(!d.filtering);
    assert_eq!(d.visible().len(), 1);
    press(&mut d, &[Key::Down]);
    assert_eq!(d.selected.as_deref(), Some("app-007"));
    press(&mut d, &[Key::Esc]);
    assert_eq!((d.filter.as_str(), d.visible().len()), ("", 35));
}

#[test]
fn arrows_and_jk_move_the_selection_within_bounds() {
    let mut d = fleet(3);
    press(&mut d, &[Key::Down]);
    assert_eq!(d.selected.as_deref(), Some("consul-srv-01"));
    press(&mut d, &[Key::Char('j'), Key::Down]);
    assert_eq!(d.selected.as_deref(), Some("consul-srv-03"));
    press(&mut d, &[Key::Char('k'), Key::Up, Key::Up, Key::Up]);
    assert_eq!(d.selected.as_deref(), Some("consul-srv-01"));
    press(&mut d, &[Key::PageDown]);
    assert_eq!(d.selected.as_deref(), Some("app-003"));
    press(&mut d, &[Key::PageUp]);
    assert_eq!(d.selected.as_deref(), Some("consul-srv-01"));
}

#[test]
fn enter_opens_details_of_the_selected_host_and_any_key_closes() {
    let mut d = fleet(3);
    press(&mut d, &[Key::Enter]);
    assert_eq!(d.modal, None, "nothing selected");
    press(&mut d, &[Key::Down, Key::Enter]);
    assert_eq!(d.modal, Some(Modal::HostDetails));
    press(&mut d, &[Key::Down]);
    assert_eq!(
        d.selected.as_deref(),
        Some("consul-srv-02"),
        "arrows page through hosts"
    );
    press(&mut d, &[Key::Char('x')]);
    assert_eq!(d.modal, None);
}

#[test]
fn question_mark_shows_help_and_ctrl_c_from_help_asks_to_quit() {
    let mut d = fleet(3);
    press(&mut d, &[Key::Char('?')]);
    assert_eq!(d.modal, Some(Modal::Help));
    press(&mut d, &[Key::Esc]);
    assert_eq!(d.modal, None);
    press(&mut d, &[Key::Char('?'), Key::CtrlC]);
    assert_eq!(d.modal, Some(Modal::ConfirmQuit));
}

#[test]
fn the_run_ending_closes_dialogs_that_no_longer_apply() {
    let mut d = armed();
    press(&mut d, &[Key::Char('a')]);
    update(
        &mut d,
        Msg::Finished {
            outcome: Outcome::Failed { reason: "x".into() },
        },
        t(0),
    );
    assert_eq!(d.modal, None);
    assert_eq!(press(&mut d, &[Key::Char('a'), Key::Char('p')]), vec![]);
}

#[test]
fn operator_actions_are_logged() {
    let mut d = fleet(3);
    let before = d.log.len();
    press(&mut d, &[Key::Char('p'), Key::Char('a'), Key::Char('y')]);
    let tail: Vec<String> = d.log.tail(2).map(|l| l.text.clone()).collect();
    assert_eq!(
        tail,
        vec![
            "operator: pause after current batch",
            "operator: abort confirmed"
        ]
    );
    assert!(d.log.len() > before);
}

#[test]
fn p_does_not_pretend_to_hold_armed_hosts() {
    let mut d = armed();
    assert_eq!(press(&mut d, &[Key::Char('p')]), vec![]);
    assert_eq!(d.pause, Pause::Off);
    let last = d.log.tail(1).next().unwrap();
    assert!(last.text.contains("press a to abort"), "{}", last.text);
}

#[test]
fn read_only_keys_never_change_the_run_and_q_quits_at_once() {
    let mut d = armed();
    d.read_only = true;
    for k in ['p', 'a', 'g'] {
        assert_eq!(press(&mut d, &[Key::Char(k)]), vec![]);
        assert_eq!(d.modal, None);
    }
    assert!(d.log.tail(1).next().unwrap().text.starts_with("read-only"));
    update(
        &mut d,
        Msg::GateRequested {
            step: "action".into(),
            word: "arm".into(),
        },
        t(0),
    );
    assert_eq!(d.modal, None, "a gate opens no dialog when watching");
    assert_eq!(press(&mut d, &[Key::CtrlC]), vec![Command::Quit]);
    assert_eq!(press(&mut d, &[Key::Char('q')]), vec![Command::Quit]);
}
