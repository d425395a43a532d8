//! Abort cancels pending hosts and either lets in-flight ones finish or stops them.

use super::fake::{Act, Fake, executor, hosts, labels, start, status};
use cutover::executor::{AbortMode, Event, FailureBudget, PhaseEnding};
use std::num::NonZeroUsize;

/// Six hosts in batches of four, two at a time, the first two blocking.
fn blocked_start() -> (
    super::fake::Running,
    std::sync::Arc<Fake>,
    tokio::sync::watch::Sender<bool>,
) {
    let (fake, gate) = Fake::new(&[("web01", Act::Block), ("web02", Act::Block)]);
    let mut exec = executor(4, FailureBudget::Count(0));
    exec.max_concurrency = NonZeroUsize::new(2).unwrap();
    (start(exec, hosts(6), &fake), fake, gate)
}

fn is_start_of_web02(event: &Event) -> bool {
    matches!(event, Event::HostStarted { host, .. } if host == "web02")
}

#[tokio::test]
async fn let_in_flight_finish_cancels_pending_and_waits_for_running() {
    let (mut run, fake, gate) = blocked_start();
    run.until(is_start_of_web02).await;
    run.control
        .abort_because(AbortMode::LetInFlightFinish, "wrong config");
    let seen = run
        .until(|e| matches!(e, Event::HostFinished { host, .. } if host == "web06"))
        .await;
    assert_eq!(
        labels(&seen),
        [
            "aborted LetInFlightFinish",
            "end web03 cancelled",
            "end web04 cancelled",
            "end web05 cancelled",
            "end web06 cancelled",
        ]
    );
    gate.send_replace(true);
    let (report, rest) = run.finish().await;
    let mut ends = labels(&rest[..2]);
    ends.sort();
    assert_eq!(
        ends,
        ["end web01 ok", "end web02 ok"],
        "in-flight hosts finished"
    );
    assert_eq!(
        labels(&rest[2..]),
        [
            "barrier 0 (0)".to_owned(),
            format!("finished {:?}", report.summary.ending)
        ]
    );
    assert_eq!(fake.ran(), ["web01", "web02"]);
    let PhaseEnding::Aborted { mode, reason } = &report.summary.ending else {
        panic!("not aborted")
    };
    assert_eq!(
        (*mode, reason.as_str()),
        (AbortMode::LetInFlightFinish, "wrong config")
    );
}

#[tokio::test]
async fn stop_in_flight_cancels_running_hosts_too() {
    let (mut run, fake, _gate) = blocked_start();
    run.until(is_start_of_web02).await;
    run.control.abort(AbortMode::StopInFlight);
    let (report, _) = run.finish().await;
    let statuses: Vec<&str> = report.hosts.iter().map(|h| status(&h.outcome)).collect();
    assert_eq!(
        statuses,
        [
            "stopped",
            "stopped",
            "cancelled",
            "cancelled",
            "cancelled",
            "cancelled"
        ]
    );
    assert_eq!(fake.ran(), ["web01", "web02"]);
    assert_eq!(report.summary.cancelled, 6);
}

#[tokio::test]
async fn a_gentle_abort_can_be_escalated_to_stop_in_flight() {
    let (mut run, _fake, _gate) = blocked_start();
    run.until(is_start_of_web02).await;
    run.control.abort(AbortMode::LetInFlightFinish);
    run.until(|e| matches!(e, Event::HostFinished { host, .. } if host == "web06"))
        .await;
    run.control.abort(AbortMode::StopInFlight);
    let (report, rest) = run.finish().await;
    assert_eq!(labels(&rest)[0], "aborted StopInFlight");
    assert_eq!(status(report.outcome("web01").unwrap()), "stopped");
    assert!(matches!(
        report.summary.ending,
        PhaseEnding::Aborted {
            mode: AbortMode::StopInFlight,
            ..
        }
    ));
}
