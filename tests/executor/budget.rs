//! The failure budget is checked at every barrier, across the whole phase.

use super::fake::{Act, Fake, executor, hosts, labels, start, status};
use cutover::executor::{FailureBudget, PhaseEnding};

#[tokio::test]
async fn an_exceeded_budget_stops_the_next_batch() {
    let (fake, _gate) = Fake::new(&[("web02", Act::Fail)]);
    let (report, events) = start(executor(2, FailureBudget::Count(0)), hosts(6), &fake)
        .finish()
        .await;
    assert_eq!(fake.ran(), ["web01", "web02"], "batch 1 never starts");
    let labels = labels(&events);
    let tail: Vec<&str> = labels[labels.len() - 7..]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "barrier 0 (1)",
            "budget 1>0",
            "end web03 skipped",
            "end web04 skipped",
            "end web05 skipped",
            "end web06 skipped",
            "finished BudgetExceeded { failed: 1, allowed: 0 }",
        ]
    );
    assert!(!report.succeeded());
}

#[tokio::test]
async fn a_percent_budget_counts_across_the_whole_phase() {
    // 20% of 10 hosts allows 2 failures; one per batch spends it by the third batch.
    let acts = [
        ("web01", Act::Fail),
        ("web03", Act::Unreachable),
        ("web05", Act::Fail),
    ];
    let (fake, _gate) = Fake::new(&acts);
    let (report, _) = start(executor(2, FailureBudget::Percent(20)), hosts(10), &fake)
        .finish()
        .await;
    assert_eq!(fake.ran(), hosts(6));
    assert_eq!(
        report.summary.ending,
        PhaseEnding::BudgetExceeded {
            failed: 3,
            allowed: 2
        }
    );
    assert_eq!(report.summary.unreachable, 1);
    assert_eq!(status(report.outcome("web07").unwrap()), "skipped");
}

#[tokio::test]
async fn failures_at_the_limit_still_complete() {
    let (fake, _gate) = Fake::new(&[("web01", Act::Fail)]);
    let (report, _) = start(executor(2, FailureBudget::Count(1)), hosts(4), &fake)
        .finish()
        .await;
    assert!(report.succeeded());
    assert_eq!((report.summary.ok, report.summary.failed), (3, 1));
}

#[tokio::test]
async fn a_percent_that_floors_to_zero_tolerates_nothing() {
    // 5% of 10 hosts is 0.5, floored to 0.
    let (fake, _gate) = Fake::new(&[("web10", Act::Unreachable)]);
    let (report, _) = start(executor(5, FailureBudget::Percent(5)), hosts(10), &fake)
        .finish()
        .await;
    assert_eq!(
        report.summary.ending,
        PhaseEnding::BudgetExceeded {
            failed: 1,
            allowed: 0
        }
    );
}
