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
use crate::watch::tracker::ActionProgress;
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

/// How the run tells the watch that the fired hosts' actions have finished.
pub type Actions = tokio::sync::watch::Sender<ActionProgress>;

/// A started watch: its task, and the sender receipt collection reports progress on.
pub struct Started {
    /// Ends with the watch's outcome.
    pub handle: tokio::task::JoinHandle<WatchResult>,
    /// Completion waits until this says every fired host's action finished.
    pub actions: Actions,
}

/// Starts the watch in the background; its events join the run's stream. It judges the
/// changed cluster: its `stable_for` count waits until `actions` says every fired host's
/// action finished and reported.
pub fn start(ctx: &Arc<Ctx>, plan: &RunPlan, watch: &Watch) -> Result<Started, String> {
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
    let expected = ctx.state().in_run(&plan.action_hosts).len();
    let (actions, progress) = tokio::sync::watch::channel(ActionProgress {
        finished: 0,
        expected,
    });
    let poller = Poller::new(setup, ctx.clock.clone(), Some(runner))
        .map_err(|e| format!("cannot start the watch: {e}"))?
        .with_actions(progress);
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let forward = ctx.clone();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            forward.emit(RunEvent::Watch(e));
        }
    });
    Ok(Started {
        handle: tokio::spawn(poller.run(tx)),
        actions,
    })
}
