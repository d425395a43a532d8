//! The dashboard in tmux: what the operator sees and what the kill switches do.

use crate::tmux::Tmux;
use crate::{cutover, setup, wait_for};
use std::time::Duration;

#[test]
fn abort_confirmed_during_the_countdown_disarms_every_host() {
    let s = setup(3, None);
    let mut argv = vec![cutover().display().to_string()];
    argv.extend(s.run_args(40));
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let t = Tmux::start(120, 40, &[], &argv);
    wait_for(
        35,
        || s.events("armed").len() == 3,
        || format!("not armed on 3 hosts:\n{}", t.screen()),
    );
    wait_for(5, || t.screen().contains("armed 3"), || t.screen());
    let screen = t.screen();
    show("countdown", &screen);
    assert!(
        screen.contains("STAGING") && screen.contains("T-00:"),
        "{screen}"
    );
    assert!(
        screen.contains("a  ABORT"),
        "the kill switch is labelled:\n{screen}"
    );
    t.keys(&["a"]);
    wait_for(5, || t.screen().contains("DISARM"), || t.screen());
    show("abort dialog", &t.screen());
    t.keys(&["y"]);
    wait_for(
        30,
        || !s.events("finished").is_empty(),
        || format!("the run did not end:\n{}", t.screen()),
    );
    let finished = &s.events("finished")[0];
    assert_eq!(finished["outcome"], "aborted", "{finished}");
    assert!(!s.events("operator").is_empty(), "the abort is journaled");
    wait_for(5, || t.screen().contains("RUN ABORTED"), || t.screen());
    show("aborted", &t.screen());
    t.keys(&["q"]);
    wait_for(10, || t.screen().contains("CUTOVER-EXIT=3"), || t.screen());
    show("after quit", &t.screen());
    show("after disarm and quit", &t.screen());
    s.assert_disarmed_and_silent(fire);
}

#[test]
fn quit_while_armed_asks_and_disarm_then_quit_disarms_at_80x24_without_colour() {
    let s = setup(2, None);
    let mut argv = vec![cutover().display().to_string()];
    argv.extend(s.run_args(40));
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let t = Tmux::start(80, 24, &[("NO_COLOR", "1")], &argv);
    wait_for(
        35,
        || s.events("armed").len() == 2,
        || format!("not armed:\n{}", t.screen()),
    );
    wait_for(5, || t.screen().contains("armed 2"), || t.screen());
    let screen = t.screen();
    show("80x24 NO_COLOR", &screen);
    assert!(screen.lines().count() <= 24, "{screen}");
    assert!(
        screen.contains(" A A") || screen.contains("AA"),
        "mono cells use letters:\n{screen}"
    );
    t.keys(&["C-c"]);
    wait_for(5, || t.screen().contains("armed"), || t.screen());
    let dialog = t.screen();
    show("quit while armed", &dialog);
    assert!(dialog.contains("disarm"), "Ctrl-C asks like q:\n{dialog}");
    t.keys(&["d"]);
    wait_for(
        30,
        || t.screen().contains("CUTOVER-EXIT=3"),
        || format!("did not exit after disarm:\n{}", t.screen()),
    );
    show("after disarm and quit", &t.screen());
    s.assert_disarmed_and_silent(fire);
}

/// With `CUTOVER_SHOW` set, prints a screen (to look at what the operator saw).
fn show(what: &str, screen: &str) {
    if std::env::var_os("CUTOVER_SHOW").is_some() {
        println!("===== {what}\n{screen}");
    }
}

#[test]
fn leaving_hosts_armed_names_them_and_they_fire_regardless() {
    let s = setup(2, None);
    let mut argv = vec![cutover().display().to_string()];
    argv.extend(s.run_args(30));
    let fire = cutover::clock::instant() + Duration::from_secs(30);
    let t = Tmux::start(120, 40, &[], &argv);
    wait_for(
        28,
        || s.events("armed").len() == 2,
        || format!("not armed:\n{}", t.screen()),
    );
    wait_for(5, || t.screen().contains("armed 2"), || t.screen());
    t.keys(&["q"]);
    wait_for(5, || t.screen().contains("HOSTS ARE ARMED"), || t.screen());
    t.keys(&["l"]);
    wait_for(10, || t.screen().contains("CUTOVER-EXIT=4"), || t.screen());
    let screen = t.screen();
    show("left armed", &screen);
    assert!(
        screen.contains("2 host(s) may STILL FIRE") && screen.contains("cutover disarm"),
        "{screen}"
    );
    assert!(
        s.events("finished").is_empty(),
        "a left run is not finished"
    );
    let ops = s.events("operator");
    assert!(
        ops.iter()
            .any(|o| o["action"].as_str().unwrap().contains("LEAVING")),
        "{ops:?}"
    );
    std::thread::sleep(
        fire.saturating_duration_since(cutover::clock::instant()) + Duration::from_secs(3),
    );
    for h in &s.fleet.hosts {
        assert!(h.dir.join("fired").exists(), "{} did not fire", h.name);
    }
}
