//! The one-line descriptions the log tail shows (plain output is `run::print::Printer`'s, and
//! `--json` prints the journal's records; this only names events for the dashboard).

use crate::fixture::{host, quorum};
use cutover::tui::msg::{Key, Level, Msg, Outcome};
use cutover::tui::plain::describe;
use cutover::tui::state::HostState;

#[test]
fn one_line_per_event_with_its_severity() {
    let m = host(
        "db-03",
        HostState::Unreachable {
            reason: "connect timeout after 10s".into(),
        },
    );
    assert_eq!(
        describe(&m).unwrap(),
        (
            Level::Warn,
            "db-03 unreachable: connect timeout after 10s".into()
        )
    );
    assert_eq!(
        describe(&quorum(None, &[2], 7)).unwrap(),
        (
            Level::Warn,
            "quorum 4/5 UNSAFE: no leader (leader NONE)".into()
        )
    );
    let done = Msg::Finished {
        outcome: Outcome::Aborted {
            reason: "operator".into(),
        },
    };
    assert_eq!(
        describe(&done).unwrap(),
        (Level::Error, "run ABORTED: operator".into())
    );
}

#[test]
fn keys_are_not_described() {
    assert_eq!(describe(&Msg::Key(Key::Char('q'))), None);
}
