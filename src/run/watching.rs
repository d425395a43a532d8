//! The watch after the fire: the poller, run with the fleet as its way onto member hosts.

use super::checks::observed;
use super::ctx::Ctx;
use super::event::RunEvent;
use crate::checks::Observed;
use crate::compile::RunPlan;
use crate::inventory::Host;
use crate::plan::model::Watch;
use crate::watch::poller::{Poller, WatchResult, WatchSetup};
use crate::watch::remote::{BoxFuture, RemoteRunner};
use std::sync::Arc;
use std::time::Duration;

/// Quorum sources and command probes over the run's pooled SSH connections.
struct FleetRunner(Arc<Ctx>);

impl RemoteRunner for FleetRunner {
    fn run<'a>(
        &'a self,
        host: &'a Host,
        script: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Observed, String>> {
        Box::pin(async move {
            let r = self
                .0
                .run(&host.name, script.to_string(), false, timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok(observed(&r))
        })
    }
}

/// Starts the watch in the background; its events join the run's stream.
pub fn start(
    ctx: &Arc<Ctx>,
    plan: &RunPlan,
    watch: &Watch,
) -> Result<tokio::task::JoinHandle<WatchResult>, String> {
    let host = |n: &String| ctx.hosts.get(n).cloned();
    // Probes ask the hosts still in the run: an excluded host was never changed, and what it
    // says about the cutover is not the cutover's health. Quorum asks every member.
    let in_run = |hs: &Vec<String>| ctx.state().in_run(hs);
    let setup = WatchSetup {
        watch: watch.clone(),
        fire_at: plan.times.fire,
        quorum_hosts: plan.quorum_hosts.iter().filter_map(host).collect(),
        probe_hosts: plan
            .probe_hosts
            .iter()
            .map(|(p, hs)| (p.clone(), in_run(hs).iter().filter_map(host).collect()))
            .collect(),
    };
    let runner: Arc<dyn RemoteRunner> = Arc::new(FleetRunner(ctx.clone()));
    let poller = Poller::new(setup, Arc::new(crate::clock::SystemClock), Some(runner))
        .map_err(|e| format!("cannot start the watch: {e}"))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let forward = ctx.clone();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            forward.emit(RunEvent::Watch(e));
        }
    });
    Ok(tokio::spawn(poller.run(tx)))
}
