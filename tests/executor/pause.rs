//! Pause holds the phase at the barrier after the current batch until resume or abort.

use super::fake::{Act, Fake, executor, hosts, labels, start, status};
use cutover::executor::{AbortMode, Event, FailureBudget, PhaseEnding};

fn is_paused(event: &Event) -> bool {
    matches!(event, Event::Paused { .. })
}

#[tokio::test]
async fn pause_waits_for_the_current_batch_then_resume_goes_on() {
    let (fake, gate) = Fake::new(&[("web01", Act::Block)]);
    let mut run = start(executor(2, FailureBudget::Count(0)), hosts(4), &fake);
    run.until(|e| matches!(e, Event::HostStarted { host, .. } if host == "web02"))
        .await;
    run.control.pause();
    gate.send_replace(true);
    let seen = run.until(is_paused).await;
    assert_eq!(labels(&seen).last().unwrap(), "paused before 1");
    assert!(
        labels(&seen).contains(&"end web01 ok".to_owned()),
        "the batch finished first"
    );
    assert_eq!(fake.ran(), ["web01", "web02"]);
    run.control.resume();
    let (report, rest) = run.finish().await;
    assert_eq!(labels(&rest)[..2], ["resumed at 1", "batch 1"]);
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_pause_withdrawn_before_the_barrier_never_pauses() {
    let (fake, gate) = Fake::new(&[("web01", Act::Block)]);
    let mut run = start(executor(2, FailureBudget::Count(0)), hosts(4), &fake);
    run.until(|e| matches!(e, Event::HostStarted { host, .. } if host == "web02"))
        .await;
    run.control.pause();
    run.control.resume();
    gate.send_replace(true);
    let (report, rest) = run.finish().await;
    assert!(!rest.iter().any(is_paused));
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_pause_requested_before_start_holds_the_first_batch() {
    let (fake, _gate) = Fake::new(&[]);
    let mut run = start(executor(2, FailureBudget::Count(0)), hosts(3), &fake);
    run.control.pause();
    let seen = run.until(is_paused).await;
    assert_eq!(labels(&seen), ["phase 3/2", "paused before 0"]);
    assert!(fake.ran().is_empty());
    run.control.resume();
    let (report, _) = run.finish().await;
    assert!(report.succeeded());
}

#[tokio::test]
async fn abort_while_paused_cancels_the_rest() {
    let (fake, gate) = Fake::new(&[("web01", Act::Block)]);
    let mut run = start(executor(2, FailureBudget::Count(0)), hosts(5), &fake);
    run.until(|e| matches!(e, Event::HostStarted { .. })).await;
    run.control.pause();
    gate.send_replace(true);
    run.until(is_paused).await;
    run.control.abort(AbortMode::StopInFlight);
    let (report, rest) = run.finish().await;
    assert_eq!(labels(&rest)[0], "aborted StopInFlight");
    assert_eq!(fake.ran(), ["web01", "web02"]);
    let statuses: Vec<&str> = report.hosts.iter().map(|h| status(&h.outcome)).collect();
    assert_eq!(
        statuses,
        ["ok", "ok", "cancelled", "cancelled", "cancelled"]
    );
    assert!(matches!(report.summary.ending, PhaseEnding::Aborted { .. }));
}
