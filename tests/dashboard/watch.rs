//! `cutover watch RUN` in tmux: the dashboard read-only over a live run's journal.

use crate::tmux::Tmux;
use crate::{KillOnDrop, cutover, setup, wait_for};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn watch_follows_a_live_run_read_only_to_its_end() {
    let s = setup(2, None);
    let fire = cutover::clock::instant() + Duration::from_secs(40);
    let mut run = Command::new(cutover())
        .args(s.run_args(40))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(run.id());
    wait_for(35, || s.events("armed").len() == 2, || s.journal());
    let id = s.run_dir().unwrap().file_name().unwrap().to_owned();
    let argv: Vec<String> = vec![
        cutover().display().to_string(),
        "watch".into(),
        "--runs-dir".into(),
        s.runs.display().to_string(),
        id.to_string_lossy().into_owned(),
    ];
    let t = Tmux::start(100, 30, &[], &argv);
    wait_for(10, || t.screen().contains("armed 2"), || t.screen());
    assert!(
        t.screen().contains("WATCHING the journal, read-only"),
        "{}",
        t.screen()
    );
    t.keys(&["a"]);
    wait_for(
        5,
        || t.screen().contains("read-only: this dashboard"),
        || t.screen(),
    );
    assert!(
        !t.screen().contains("DISARM 2"),
        "no abort dialog when read-only"
    );
    for _ in 0..2 {
        let _ = Command::new("kill")
            .args(["-INT", &run.id().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(run.wait().unwrap().code(), Some(3));
    wait_for(10, || t.screen().contains("RUN ABORTED"), || t.screen());
    assert!(t.screen().contains("disarmed 2"), "{}", t.screen());
    t.keys(&["q"]);
    wait_for(10, || t.screen().contains("CUTOVER-EXIT=0"), || t.screen());
    s.assert_disarmed_and_silent(fire);
}
