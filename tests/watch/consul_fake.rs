//! The Consul HTTP source against a loopback server that answers with the documented bodies:
//! no leader (`""`) for the first polls, then node 04 leads, as in the reference story.

use cutover::clock::{Clock, SystemClock};
use cutover::plan::model::{Condition, Quorum, QuorumSource, Targets, Watch};
use cutover::watch::poller::{Poller, WatchSetup};
use cutover::watch::tracker::Outcome;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const LEADERLESS_POLLS: usize = 5;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/watch/consul/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Serves `/v1/status/leader` and `/v1/operator/raft/configuration`; returns its base URL.
async fn fake_consul() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let asked = asked.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let body = if head.starts_with("GET /v1/status/leader ") {
                    let leaderless = asked.fetch_add(1, Ordering::SeqCst) < LEADERLESS_POLLS;
                    fixture(if leaderless {
                        "status_leader_none.json"
                    } else {
                        "status_leader.json"
                    })
                } else {
                    fixture("raft_configuration.json")
                };
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consul_http_leaderless_then_node_04_leads() {
    let url = fake_consul().await;
    let watch = Watch {
        poll_interval: Duration::from_millis(100),
        stable_for: Duration::from_millis(500),
        settle: Duration::ZERO,
        timeout: Duration::from_secs(30),
        complete_when: vec![Condition::Quorum],
        abort_if: Vec::new(),
        quorum: Some(Quorum {
            source: QuorumSource::Consul,
            targets: Targets {
                text: Vec::new(),
                selectors: Vec::new(),
            },
            voters: Some(5),
            endpoints: vec![url],
            run: None,
        }),
        probes: Vec::new(),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let setup = WatchSetup {
        watch,
        fire_at: clock.now(),
        quorum_hosts: Vec::new(),
        probe_hosts: BTreeMap::new(),
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(10_000);
    let result = Poller::new(setup, clock, None).unwrap().run(tx).await;
    assert!(
        matches!(result.outcome, Outcome::Complete { .. }),
        "{:?}",
        result.outcome
    );
    let window = &result.history.leaderless[0];
    assert!(
        window.length.is_some_and(|l| l > Duration::ZERO),
        "{window:?}"
    );
}
