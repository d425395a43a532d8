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

#[test]
fn without_yes_the_diffs_wait_for_write_before_anything_is_written() {
    let s = setup(2, None);
    let plan = std::fs::read_to_string(&s.plan).unwrap().replacen(
        "[[verify]]",
        "[[stage]]\nname = \"newer mode\"\nstep = \"edit_file\"\npath = \"{{ vars.root }}/etc/app.conf\"\nreplace = { pattern = \"mode = new\", with = \"mode = newer\" }\nsudo = false\n\n[[verify]]",
        1,
    );
    std::fs::write(&s.plan, plan).unwrap();
    let mut args = argv(&s, &["--plain"]);
    args.retain(|a| a != "--yes");
    let t = Tmux::start(120, 40, &[], &args);
    wait_for(
        20,
        || t.screen().contains("Type yes to continue"),
        || t.screen(),
    );
    t.keys(&["yes", "Enter"]);
    wait_for(
        30,
        || t.screen().contains("type `write` and Enter"),
        || t.screen(),
    );
    let conf =
        |h: &crate::support::Host| std::fs::read_to_string(h.dir.join("etc/app.conf")).unwrap();
    assert!(t.screen().contains("2 host(s)"), "{}", t.screen());
    assert!(t.screen().contains("+mode = newer"), "{}", t.screen());
    for h in &s.fleet.hosts {
        assert_eq!(
            conf(h),
            "mode = new\n",
            "{} written before the decision",
            h.name
        );
    }
    t.keys(&["write", "Enter"]);
    wait_for(30, || t.screen().contains("CUTOVER-EXIT=0"), || t.screen());
    for h in &s.fleet.hosts {
        assert_eq!(
            conf(h),
            "mode = newer\n",
            "{} not written after `write`",
            h.name
        );
    }
    let ops = s.events("operator");
    assert!(
        ops.iter().any(|o| o["action"]
            .as_str()
            .unwrap()
            .contains("write the changes shown passed")),
        "{ops:?}"
    );
}
