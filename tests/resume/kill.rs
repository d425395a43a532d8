//! SIGKILL at each phase boundary, mid-batch, while armed and right after the fire; then resume.

use super::*;
use std::time::Duration;

/// Runs, kills at the first record `at` accepts, resumes; returns the resume's output.
fn kill_then_resume(
    s: &Setup,
    fire_in: u32,
    what: &str,
    at: impl Fn(&serde_json::Value) -> bool,
) -> Out {
    let child = s.spawn_run(fire_in);
    s.wait_for(what, at);
    sigkill(child);
    s.resume()
}

fn staged_once(s: &Setup) {
    for i in 0..s.fleet.hosts.len() {
        assert_eq!(s.count(i, "staged-count"), 1, "host {i} staged twice");
    }
}

#[test]
fn killed_after_preflight() {
    let s = setup(3);
    let r = kill_then_resume(&s, 25, "preflight done", phase_done("preflight"));
    assert_converged(&s, &r);
    staged_once(&s);
    let preflights = s
        .journal()
        .iter()
        .filter(|r| phase_done("preflight")(&r["event"]))
        .count();
    assert_eq!(preflights, 1, "preflight ran again");
}

#[test]
fn killed_after_stage_with_a_torn_last_line() {
    let s = setup(3);
    let child = s.spawn_run(25);
    s.wait_for("stage done", phase_done("stage"));
    sigkill(child);
    let journal = s.run_dir().unwrap().join("journal.jsonl");
    let mut text = std::fs::read_to_string(&journal).unwrap();
    text.push_str("{\"seq\":999,\"ts\":\"2030-01-");
    std::fs::write(&journal, text).unwrap();
    let r = s.resume();
    assert!(
        r.stdout.contains("torn last journal line was dropped"),
        "{}",
        r.stdout
    );
    assert_converged(&s, &r);
    staged_once(&s);
}

#[test]
fn killed_after_verify() {
    let s = setup(3);
    let r = kill_then_resume(&s, 25, "verify done", phase_done("verify"));
    assert_converged(&s, &r);
    staged_once(&s);
}

#[test]
fn killed_in_the_middle_of_a_staging_batch() {
    let s = setup(3);
    let child = s.spawn_run(25);
    // The first host's write of the command step (batch size 1) is journaled; the next runs.
    let done = s.wait_for("a staged command", |e| {
        e["kind"] == "exec"
            && e["event"] == "host_finished"
            && e["phase"] == "stage[1]"
            && e["outcome"]["status"] == "ok"
    });
    sigkill(child);
    let first = done["event"]["host"].as_str().unwrap().to_string();
    let r = s.resume();
    assert_converged(&s, &r);
    for (i, h) in s.fleet.hosts.iter().enumerate() {
        let n = s.count(i, "staged-count");
        if h.name == first {
            assert_eq!(n, 1, "{} was done before the kill and ran again", h.name);
        } else {
            // A host in flight at the kill may have finished unseen: at most once more.
            assert!((1..=2).contains(&n), "{} staged {n} times", h.name);
        }
    }
}

#[test]
fn killed_while_armed_is_reverified_not_rearmed() {
    let s = setup(3);
    let child = s.spawn_run(22);
    s.wait_for("arming done", phase_done("arm"));
    let pids: Vec<String> = s
        .journal()
        .iter()
        .filter(|r| r["event"]["kind"] == "armed")
        .map(|r| r["event"]["id"].as_str().unwrap().to_string())
        .collect();
    sigkill(child);
    let r = s.resume();
    assert_converged(&s, &r);
    let armed: Vec<String> = s
        .journal()
        .iter()
        .filter(|r| r["event"]["kind"] == "armed")
        .map(|r| r["event"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(armed.len(), 6, "each host armed once and re-verified once");
    for id in &armed {
        assert!(
            pids.contains(id),
            "{id} is a new job: a host was armed twice"
        );
    }
}

#[test]
fn killed_after_the_fire_before_receipts() {
    let s = setup(3);
    let child = s.spawn_run(22);
    let waiting = s.wait_for("the wait for the fire", |e| {
        e["kind"] == "waiting"
            && e["what"]
                .as_str()
                .unwrap_or("")
                .starts_with("the action fires")
    });
    let started = s.wait_for("start", |e| e["kind"] == "started");
    let fire: chrono::DateTime<chrono::Utc> = started["event"]["fire_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(waiting["event"]["until"].is_string());
    let left = (fire - cutover::clock::now()).to_std().unwrap_or_default();
    std::thread::sleep(left + Duration::from_millis(500));
    assert!(
        !s.journal().iter().any(|r| r["event"]["kind"] == "receipt"),
        "too late: receipts already collected"
    );
    sigkill(child);
    let r = s.resume();
    assert!(r.stdout.contains("nothing is armed again"), "{}", r.stdout);
    assert_converged(&s, &r);
    let receipts = s
        .journal()
        .iter()
        .filter(|r| r["event"]["kind"] == "receipt")
        .count();
    assert_eq!(receipts, 3);
}

#[test]
fn killed_in_the_middle_of_arming_clears_unrecorded_jobs_before_arming_again() {
    let s = setup(3);
    let child = s.spawn_run(22);
    s.wait_for("a first armed host", |e| e["kind"] == "armed");
    sigkill(child);
    let r = s.resume();
    assert_converged(&s, &r);
}

#[test]
fn resumed_past_the_arming_deadline_keeps_the_armed_hosts_armed() {
    let s = setup(2);
    let child = s.spawn_run(20);
    s.wait_for("arming done", phase_done("arm"));
    let started = s.wait_for("start", |e| e["kind"] == "started");
    let fire: chrono::DateTime<chrono::Utc> = started["event"]["fire_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    sigkill(child);
    // The arming deadline is 6 s before the fire: resume 5 s before it.
    let left = (fire - cutover::clock::now() - chrono::Duration::seconds(5))
        .to_std()
        .unwrap();
    std::thread::sleep(left);
    let r = s.resume();
    assert_converged(&s, &r);
    assert!(
        !s.journal().iter().any(|r| r["event"]["kind"] == "disarmed"),
        "resume disarmed hosts that were armed"
    );
}

#[test]
fn a_job_armed_but_never_journaled_is_taken_back_before_arming_again() {
    let s = setup(3);
    let child = s.spawn_run(22);
    s.wait_for("arming done", phase_done("arm"));
    sigkill(child);
    // As if killed right after the first host's `armed` record: the other hosts hold live
    // jobs the journal does not know about.
    let journal = s.run_dir().unwrap().join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let first_armed = text.find("\"kind\":\"armed\"").unwrap();
    let cut = first_armed + text[first_armed..].find('\n').unwrap() + 1;
    std::fs::write(&journal, &text[..cut]).unwrap();
    let r = s.resume();
    assert_converged(&s, &r);
}
