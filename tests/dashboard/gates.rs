//! Operator gates at a terminal: the dashboard's gate dialog and the plain-mode prompt.

use crate::tmux::Tmux;
use crate::{Setup, cutover, setup, wait_for};

fn argv(s: &Setup, extra: &[&str]) -> Vec<String> {
    let mut argv = vec![cutover().display().to_string()];
    argv.extend(s.run_args(300));
    argv.push("--stop-after-verify".into());
    argv.extend(extra.iter().map(|a| a.to_string()));
    argv
}

fn staged(s: &Setup) -> bool {
    s.fleet.hosts.iter().all(|h| {
        std::fs::read_to_string(h.dir.join("etc/app.conf")).unwrap_or_default() == "mode = new\n"
    })
}

#[test]
fn the_dashboard_asks_for_the_gate_word_and_the_step_runs_after_it() {
    let s = setup(2, Some("go"));
    let t = Tmux::start(100, 30, &[], &argv(&s, &[]));
    wait_for(20, || t.screen().contains("Type `go`"), || t.screen());
    assert!(!staged(&s), "the gated step waits");
    t.keys(&["n", "o", "Enter"]);
    wait_for(
        5,
        || t.screen().contains("That was not the gate word"),
        || t.screen(),
    );
    t.keys(&["g", "o", "Enter"]);
    wait_for(20, || !s.events("finished").is_empty(), || t.screen());
    assert!(staged(&s));
    let ops = s.events("operator");
    assert!(
        ops.iter().any(|o| o["action"]
            .as_str()
            .unwrap()
            .contains("gate stage[0] (switch mode) passed")),
        "{ops:?}"
    );
    wait_for(5, || t.screen().contains("RUN COMPLETE"), || t.screen());
    t.keys(&["q"]);
    wait_for(10, || t.screen().contains("CUTOVER-EXIT=0"), || t.screen());
}

#[test]
fn plain_mode_on_a_terminal_prompts_for_the_gate_word() {
    let s = setup(2, Some("go"));
    let t = Tmux::start(120, 40, &[], &argv(&s, &["--plain"]));
    wait_for(
        20,
        || t.screen().contains("type `go` and Enter"),
        || t.screen(),
    );
    t.keys(&["nope", "Enter"]);
    wait_for(5, || t.screen().contains("that is not `go`"), || t.screen());
    assert!(!staged(&s), "a wrong word does not pass");
    t.keys(&["go", "Enter"]);
    wait_for(20, || t.screen().contains("CUTOVER-EXIT=0"), || t.screen());
    assert!(staged(&s));
}
