//! The poller on real etcd clusters: restart-all, lost quorum, silent members, pre-fire abort.

use crate::cluster::EtcdCluster;
use cutover::clock::{Clock, SystemClock};
use cutover::plan::model::{
    AbortCondition, Condition, Probe, ProbeKind, Quorum, QuorumSource, Targets, Watch,
};
use cutover::watch::WatchEvent;
use cutover::watch::poller::{Poller, WatchResult, WatchSetup};
use cutover::watch::tracker::{Milestone, Outcome, Reason};
use cutover::watch::verdict::{QuorumVerdict, Unsafe};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

fn no_targets() -> Targets {
    Targets {
        text: Vec::new(),
        selectors: Vec::new(),
    }
}

fn watch(
    endpoints: Vec<String>,
    voters: usize,
    timeout: Duration,
    abort_if: Vec<AbortCondition>,
) -> Watch {
    Watch {
        poll_interval: Duration::from_millis(200),
        stable_for: Duration::from_secs(1),
        settle: Duration::ZERO,
        timeout,
        complete_when: vec![Condition::Quorum],
        abort_if,
        quorum: Some(Quorum {
            source: QuorumSource::Etcd,
            targets: no_targets(),
            voters: Some(voters),
            endpoints,
            run: None,
        }),
        probes: Vec::new(),
    }
}

/// Starts a poller firing `fire_in` from now; returns its task and the event stream.
fn spawn(w: Watch, fire_in: Duration) -> (JoinHandle<WatchResult>, mpsc::Receiver<WatchEvent>) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let fire_at = clock.now() + chrono::Duration::from_std(fire_in).unwrap();
    let setup = WatchSetup {
        watch: w,
        fire_at,
        quorum_hosts: Vec::new(),
        probe_hosts: BTreeMap::new(),
    };
    let poller = Poller::new(setup, clock, None).unwrap();
    let (tx, rx) = mpsc::channel(10_000);
    (tokio::spawn(poller.run(tx)), rx)
}

async fn drain(rx: &mut mpsc::Receiver<WatchEvent>) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

/// Waits until the poller has published a healthy verdict.
async fn until_healthy(rx: &mut mpsc::Receiver<WatchEvent>) {
    while let Some(e) = rx.recv().await {
        if let WatchEvent::Poll {
            verdict: Some(QuorumVerdict::Healthy { .. }),
            ..
        } = e
        {
            return;
        }
    }
    panic!("the poller stopped before seeing a healthy quorum");
}

/// Runs blocking cluster work off the runtime and hands the cluster back (for its Drop).
async fn with_cluster(
    c: EtcdCluster,
    f: impl FnOnce(&mut EtcdCluster) + Send + 'static,
) -> EtcdCluster {
    tokio::task::spawn_blocking(move || {
        let mut c = c;
        f(&mut c);
        c
    })
    .await
    .unwrap()
}

fn timed_out_reasons(r: &WatchResult) -> &[Reason] {
    match &r.outcome {
        Outcome::TimedOut { why, .. } => &why.reasons,
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_all_members_at_once_records_the_leaderless_window() {
    let c = EtcdCluster::start(3);
    let mut w = watch(c.endpoints(), 3, Duration::from_secs(60), vec![]);
    // Green before the restart must not complete the watch: stable_for outlasts the restart.
    w.stable_for = Duration::from_secs(5);
    let fire_in = Duration::from_secs(1);
    let (task, mut rx) = spawn(w, fire_in);
    until_healthy(&mut rx).await;
    // Like `at` on every member: at the fire time, all stop and start together. They stay
    // down a second, as a real restart does: several polls see it, whatever the load.
    tokio::time::sleep(fire_in).await;
    let _c = with_cluster(c, |c| {
        c.stop_all();
        std::thread::sleep(Duration::from_secs(1));
        c.start_all();
    })
    .await;
    let result = task.await.unwrap();
    assert!(
        matches!(result.outcome, Outcome::Complete { .. }),
        "{:?}",
        result.outcome
    );
    let first = result
        .history
        .leaderless
        .first()
        .expect("a leaderless window");
    assert!(
        first.length.is_some_and(|l| l > Duration::ZERO),
        "{first:?}"
    );
    assert!(result.history.first_leader_after_fire.is_some());
    let events = drain(&mut rx).await;
    let lost = events
        .iter()
        .any(|e| matches!(e, WatchEvent::Milestone(Milestone::LeaderLost { .. })));
    let back = events
        .iter()
        .any(|e| matches!(e, WatchEvent::Milestone(Milestone::LeaderBack { .. })));
    assert!(lost && back, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_of_five_gone_times_out_below_quorum() {
    let c = EtcdCluster::start(5);
    let eps = c.endpoints();
    let _c = with_cluster(c, |c| (2..5).for_each(|i| c.stop_member(i))).await;
    let (task, _rx) = spawn(
        watch(eps, 5, Duration::from_secs(3), vec![]),
        Duration::ZERO,
    );
    let result = task.await.unwrap();
    assert_eq!(
        timed_out_reasons(&result),
        [Reason::Quorum(Unsafe::VotersBelowQuorum {
            live: 2,
            needed: 3
        })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_that_stop_answering_make_the_reading_stale() {
    let c = EtcdCluster::start(3);
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_url = format!("http://{}/health", hung.local_addr().unwrap());
    let mut w = watch(c.endpoints(), 3, Duration::from_secs(4), vec![]);
    w.complete_when.push(Condition::AllProbes);
    w.probes.push(Probe {
        name: "hung".into(),
        targets: no_targets(),
        min_pass: 1.0,
        kind: ProbeKind::Http {
            url: hung_url,
            expect_status: 200,
            body_matches: None,
            max_latency: None,
            metric: None,
        },
        sample: None,
        interval: None,
    });
    let (task, mut rx) = spawn(w, Duration::ZERO);
    until_healthy(&mut rx).await;
    (0..3).for_each(|i| c.freeze_member(i));
    let result = task.await.unwrap();
    drop(hung);
    let reasons = timed_out_reasons(&result);
    assert!(
        matches!(reasons[0], Reason::Quorum(Unsafe::StaleReading { .. })),
        "{reasons:?}"
    );
    assert!(
        matches!(&reasons[1], Reason::Probe { name, detail } if name == "hung" && detail.contains("no answer in time")),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_lost_before_the_fire_time_aborts() {
    let c = EtcdCluster::start(3);
    let w = watch(
        c.endpoints(),
        3,
        Duration::from_secs(30),
        vec![AbortCondition::QuorumLost],
    );
    let (task, mut rx) = spawn(w, Duration::from_secs(120));
    until_healthy(&mut rx).await;
    let _c = with_cluster(c, |c| (1..3).for_each(|i| c.stop_member(i))).await;
    let result = task.await.unwrap();
    let Outcome::Abort { reason, .. } = &result.outcome else {
        panic!("{:?}", result.outcome)
    };
    assert!(reason.starts_with("quorum_lost: "), "{reason}");
    assert!(result.history.leaderless.is_empty());
}
