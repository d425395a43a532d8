//! The SSH seam without SSH: a `RemoteRunner` that runs scripts with the local `sh`, so the
//! etcdctl quorum source and command probes run for real against a loopback etcd cluster.

use crate::cluster::EtcdCluster;
use cutover::checks::Observed;
use cutover::clock::{Clock, SystemClock};
use cutover::inventory::Host;
use cutover::plan::model::{
    Condition, Probe, ProbeKind, Quorum, QuorumSource, Sample, Targets, Watch,
};
use cutover::watch::WatchEvent;
use cutover::watch::poller::{Poller, WatchSetup};
use cutover::watch::remote::{BoxFuture, RemoteRunner};
use cutover::watch::tracker::Outcome;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Runs the script locally with `ETCDCTL_ENDPOINTS` set to the host's `endpoint` var, as if on
/// that member.
struct LocalRunner;

impl RemoteRunner for LocalRunner {
    fn run<'a>(
        &'a self,
        host: &'a Host,
        script: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Observed, String>> {
        Box::pin(async move {
            let mut cmd = tokio::process::Command::new("sh");
            cmd.arg("-c").arg(script).kill_on_drop(true);
            if let Some(ep) = host.vars.get("endpoint") {
                cmd.env("ETCDCTL_ENDPOINTS", ep);
            }
            let out = tokio::time::timeout(timeout, cmd.output())
                .await
                .map_err(|_| format!("{}: no answer in time", host.name))?
                .map_err(|e| format!("{}: {e}", host.name))?;
            Ok(Observed {
                exit: out.status.code().map(|c| c as u32),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        })
    }
}

fn host(name: &str, endpoint: &str) -> Host {
    Host {
        name: name.into(),
        address: "127.0.0.1".into(),
        port: 22,
        user: None,
        groups: Default::default(),
        labels: Default::default(),
        vars: [("endpoint".to_string(), endpoint.to_string())].into(),
        ssh: Default::default(),
    }
}

fn targets() -> Targets {
    Targets {
        text: vec!["etcd".into()],
        selectors: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcdctl_and_command_probes_through_the_runner() {
    let c = EtcdCluster::start(3);
    let hosts: Vec<Host> = c
        .endpoints()
        .iter()
        .enumerate()
        .map(|(i, e)| host(&format!("m{i}"), e))
        .collect();
    let probe = |name: &str, kind| Probe {
        name: name.into(),
        targets: targets(),
        min_pass: 1.0,
        kind,
        sample: None,
        interval: None,
    };
    let watch = Watch {
        poll_interval: Duration::from_millis(200),
        stable_for: Duration::from_secs(1),
        settle: Duration::ZERO,
        timeout: Duration::from_secs(30),
        complete_when: vec![Condition::Quorum, Condition::AllProbes],
        abort_if: Vec::new(),
        quorum: Some(Quorum {
            source: QuorumSource::Etcd,
            targets: targets(),
            voters: None,
            endpoints: Vec::new(),
            run: None,
        }),
        probes: vec![
            probe(
                "data-dir",
                ProbeKind::Command {
                    run: "test -d /".into(),
                },
            ),
            probe(
                "client-port",
                ProbeKind::Tcp {
                    port: c.client_ports()[0],
                },
            ),
        ],
    };
    let probe_hosts = BTreeMap::from([
        ("data-dir".to_string(), hosts.clone()),
        ("client-port".to_string(), hosts[..1].to_vec()),
    ]);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let setup = WatchSetup {
        watch,
        fire_at: clock.now(),
        quorum_hosts: hosts,
        probe_hosts,
    };
    let poller = Poller::new(setup, clock, Some(Arc::new(LocalRunner))).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
    let result = poller.run(tx).await;
    assert!(
        matches!(result.outcome, Outcome::Complete { .. }),
        "{:?}",
        result.outcome
    );
    // First, what the watch will ask a second: one member over SSH for the quorum, the
    // command probe on all three, the port on one.
    let Some(WatchEvent::Started { load }) = rx.recv().await else {
        panic!("no start event")
    };
    assert_eq!(
        load.to_string(),
        "etcd quorum on 1 of 3 hosts over SSH every 200ms; probe data-dir on 3 host(s) over SSH every 200ms; probe client-port on 1 host(s) by TCP connect every 200ms: 5 TCP, 20 SSH requests a second"
    );
    let Some(WatchEvent::Poll {
        reading: Some(r),
        probes,
        ..
    }) = rx.recv().await
    else {
        panic!("no poll event")
    };
    assert_eq!(r.source, "m0");
    assert_eq!(r.members.len(), 3);
    assert_eq!(probes.iter().map(|p| p.total).collect::<Vec<_>>(), [3, 1]);
    drop(c);
}

/// [`LocalRunner`], recording which host each command was for.
struct Recording(std::sync::Mutex<Vec<String>>);

impl RemoteRunner for Recording {
    fn run<'a>(
        &'a self,
        host: &'a Host,
        script: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Observed, String>> {
        self.0.lock().unwrap().push(host.name.clone());
        LocalRunner.run(host, script, timeout)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_probe_polls_its_sample_on_its_own_interval() {
    let hosts: Vec<Host> = (0..6).map(|i| host(&format!("h{i}"), "")).collect();
    let watch = Watch {
        poll_interval: Duration::from_millis(100),
        stable_for: Duration::from_millis(1500),
        settle: Duration::ZERO,
        timeout: Duration::from_secs(30),
        complete_when: vec![Condition::AllProbes],
        abort_if: Vec::new(),
        quorum: None,
        probes: vec![Probe {
            name: "up".into(),
            targets: targets(),
            min_pass: 1.0,
            kind: ProbeKind::Command { run: "true".into() },
            sample: Some(Sample::Count(2)),
            interval: Some(Duration::from_millis(500)),
        }],
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let setup = WatchSetup {
        watch,
        fire_at: clock.now(),
        quorum_hosts: Vec::new(),
        probe_hosts: BTreeMap::from([("up".to_string(), hosts)]),
    };
    let runner = Arc::new(Recording(Default::default()));
    let poller = Poller::new(setup, clock, Some(runner.clone())).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
    let result = poller.run(tx).await;
    assert!(
        matches!(result.outcome, Outcome::Complete { .. }),
        "{:?}",
        result.outcome
    );
    let (mut ticks, mut probed) = (0, 0);
    while let Ok(event) = rx.try_recv() {
        if let WatchEvent::Poll { probes, .. } = event {
            ticks += 1;
            for p in probes {
                probed += 1;
                assert_eq!((p.passed, p.total), (2, 2), "the sample, not all 6");
            }
        }
    }
    let ran = runner.0.lock().unwrap().clone();
    assert!(ran.iter().all(|h| h == "h0" || h == "h3"), "{ran:?}");
    assert_eq!(ran.len(), probed * 2);
    // 1.5 s stable at a 100 ms tick: about 16 ticks, and the probe on about one in five.
    assert!(ticks >= 12, "{ticks} ticks");
    assert!(
        probed * 3 <= ticks && probed >= 3,
        "{probed} probe polls in {ticks} ticks"
    );
}
