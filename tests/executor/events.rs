//! Event order, one HostFinished per host, bounded concurrency, lost journal, folding.

use super::fake::{Act, Fake, executor, hosts, labels, start, status};
use cutover::executor::engine::JOURNAL_LOST_REASON;
use cutover::executor::{Control, Event, FailureBudget, PhaseEnding};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

#[tokio::test]
async fn events_follow_batches_and_barriers_in_order() {
    let (fake, _gate) = Fake::new(&[]);
    let mut exec = executor(2, FailureBudget::Count(0));
    exec.max_concurrency = NonZeroUsize::MIN;
    let (report, events) = start(exec, hosts(3), &fake).finish().await;
    assert_eq!(
        labels(&events),
        [
            "phase 3/2",
            "batch 0",
            "start web01",
            "end web01 ok",
            "start web02",
            "end web02 ok",
            "barrier 0 (0)",
            "batch 1",
            "start web03",
            "end web03 ok",
            "barrier 1 (0)",
            "finished Completed",
        ]
    );
    assert!(report.succeeded());
    assert_eq!(
        report.hosts.iter().map(|h| h.batch).collect::<Vec<_>>(),
        [0, 0, 1]
    );
}

#[tokio::test]
async fn every_host_finishes_exactly_once_and_summary_matches() {
    let (fake, _gate) = Fake::new(&[("web03", Act::Fail)]);
    let (report, events) = start(executor(2, FailureBudget::Count(0)), hosts(7), &fake)
        .finish()
        .await;
    let mut finished: HashMap<String, usize> = HashMap::new();
    for event in &events {
        if let Event::HostFinished { host, .. } = event {
            *finished.entry(host.clone()).or_default() += 1;
        }
    }
    assert_eq!(finished.len(), 7);
    assert!(finished.values().all(|n| *n == 1), "{finished:?}");
    let Some(Event::PhaseFinished { summary, .. }) = events.last() else {
        panic!("no end")
    };
    assert_eq!(summary, &report.summary);
    assert_eq!((summary.ok, summary.failed, summary.skipped), (3, 1, 3));
}

#[tokio::test]
async fn concurrency_within_a_batch_is_bounded() {
    let acts: Vec<(String, Act)> = hosts(20).into_iter().map(|h| (h, Act::Nap)).collect();
    let acts: Vec<(&str, Act)> = acts.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let (fake, _gate) = Fake::new(&acts);
    let mut exec = executor(10, FailureBudget::Count(0));
    exec.max_concurrency = NonZeroUsize::new(3).unwrap();
    let (report, _) = start(exec, hosts(20), &fake).finish().await;
    assert!(report.succeeded());
    assert_eq!(fake.peak.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_whole_batch_runs_at_once_by_default() {
    let acts: Vec<(String, Act)> = hosts(12).into_iter().map(|h| (h, Act::Nap)).collect();
    let acts: Vec<(&str, Act)> = acts.iter().map(|(h, a)| (h.as_str(), *a)).collect();
    let (fake, _gate) = Fake::new(&acts);
    let (report, _) = start(executor(5, FailureBudget::Count(0)), hosts(12), &fake)
        .finish()
        .await;
    assert!(report.succeeded());
    assert_eq!(
        fake.peak.load(Ordering::SeqCst),
        5,
        "never more than one batch at once"
    );
}

#[tokio::test]
async fn an_empty_phase_completes_at_once() {
    let (fake, _gate) = Fake::new(&[]);
    let (report, events) = start(executor(20, FailureBudget::Count(0)), vec![], &fake)
        .finish()
        .await;
    assert_eq!(labels(&events), ["phase 0/0", "finished Completed"]);
    assert!(report.succeeded() && report.hosts.is_empty());
}

#[tokio::test]
async fn a_lost_journal_aborts_before_any_host_runs() {
    let (fake, _gate) = Fake::new(&[]);
    let (tx, rx) = mpsc::channel(8);
    drop(rx);
    let exec = executor(2, FailureBudget::Count(0));
    let report = exec
        .run_phase("stage".into(), hosts(4), fake.clone(), Control::new(), tx)
        .await;
    assert!(fake.ran().is_empty());
    let PhaseEnding::Aborted { reason, .. } = &report.summary.ending else {
        panic!("not aborted")
    };
    assert_eq!(reason, JOURNAL_LOST_REASON);
    assert!(
        report
            .hosts
            .iter()
            .all(|h| status(&h.outcome) == "cancelled")
    );
}

#[tokio::test]
async fn report_folds_identical_output() {
    let (fake, _gate) = Fake::new(&[]);
    let mut all = hosts(3);
    all.push("db1".into());
    let (report, _) = start(executor(2, FailureBudget::Count(0)), all, &fake)
        .finish()
        .await;
    let groups = report.fold_output();
    let lists: Vec<&str> = groups.iter().map(|g| g.hostlist.as_str()).collect();
    assert_eq!(lists, ["web[01-03]", "db1"]);
    assert_eq!(groups[0].output, "output of web\n");
}
