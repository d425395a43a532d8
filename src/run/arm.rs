//! Arming the action on every host (all or nothing), disarming, and collecting receipts.

mod resume;

use super::ctx::{Ctx, failure_reason, round};
use super::event::RunEvent;
use crate::arm::job::{Job, script as job_script};
use crate::arm::mechanism::{
    Concrete, Reap, collect_script, disarm_script, parse_armed, pick_auto, prepare_script,
    verify_script,
};
use crate::arm::receipt;
use crate::executor::{CancelToken, HostOutcome, HostRun, HostRunner};
use crate::plan::model::{Action, Mechanism};
use crate::transport::Limit;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Time allowed for each arming, disarming or collecting command on a host.
pub const ARM_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Hosts armed so far and how, so everything can be taken back.
pub type ArmedSet = Mutex<HashMap<String, Concrete>>;

/// Every targeted host with the mechanisms it may have been armed with: confirmed hosts by
/// their mechanism; the others (arming failed, cancelled or still in flight) by every
/// mechanism the plan could have picked, so nothing half-armed is left behind.
pub fn sweep(
    armed: &ArmedSet,
    targets: &[String],
    plan_mechanism: Mechanism,
) -> Mutex<HashMap<String, Vec<Concrete>>> {
    let confirmed = armed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let unknown = possible(plan_mechanism);
    Mutex::new(
        targets
            .iter()
            .map(|h| {
                (
                    h.clone(),
                    confirmed
                        .get(h)
                        .map_or_else(|| unknown.clone(), |m| vec![*m]),
                )
            })
            .collect(),
    )
}

/// Arms the action on one host and proves it armed.
pub struct ArmRunner {
    /// Shared context.
    pub ctx: Arc<Ctx>,
    /// The action.
    pub action: Action,
    /// Fire time.
    pub fire: DateTime<Utc>,
    /// Where armed hosts are recorded.
    pub armed: Arc<ArmedSet>,
    /// Past this the host refuses to arm.
    pub deadline: DateTime<Utc>,
}

impl HostRunner for ArmRunner {
    type Output = String;

    async fn run(&self, host: &str, cancel: CancelToken) -> HostRun<String> {
        tokio::select! {
            r = self.arm(host) => match r {
                Ok(id) => HostRun::new(HostOutcome::Ok { detail: None }, id),
                Err(outcome) => HostRun::without_output(outcome),
            },
            () = cancel.cancelled() => HostRun::without_output(HostOutcome::Cancelled { started: true }),
        }
    }
}

fn failed(reason: String) -> HostOutcome {
    HostOutcome::Failed { reason, exit: None }
}

impl ArmRunner {
    async fn arm(&self, host: &str) -> Result<String, HostOutcome> {
        if self.ctx.state().fired().contains(host) {
            return Err(failed(
                "its receipt shows the action already ran: never fired twice".into(),
            ));
        }
        if let Some(id) = self.still_armed(host).await? {
            return Ok(id);
        }
        let rearm = self.ctx.state().is_resume();
        if rearm {
            self.take_back(host).await?;
        }
        let mechanism = self.mechanism(host).await?;
        let dir = self.ctx.job_dir(host);
        let wrapper = self.wrapper(host, &dir);
        let script = prepare_script(
            mechanism,
            &self.ctx.run_id,
            &dir,
            &wrapper,
            (self.fire, self.deadline),
            rearm,
        );
        // Bounded by itself as the mechanism's own scripts are (the waiter checks the arming
        // deadline itself), on stdin because the wrapper carries the action's secrets.
        let out = self.sealed(host, script, mechanism.limit()).await?;
        let id = parse_armed(&out).ok_or_else(|| {
            failed(format!(
                "{} did not confirm the job was armed",
                name(mechanism)
            ))
        })?;
        self.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_string(), mechanism);
        if !out.lines().any(|l| l.trim() == "verified") {
            return Err(failed("the armed job could not be verified".into()));
        }
        self.ctx.emit(RunEvent::Armed {
            host: host.into(),
            mechanism,
            id: id.clone(),
        });
        Ok(id)
    }

    /// The job wrapper for this run on a host: the same bytes (and hash) every time.
    fn wrapper(&self, host: &str, dir: &str) -> String {
        wrapper(&self.ctx, host, &self.action, self.fire, dir)
    }

    async fn mechanism(&self, host: &str) -> Result<Concrete, HostOutcome> {
        match Concrete::from_plan(self.action.mechanism) {
            Some(m) => Ok(m),
            None => Ok(pick_auto(
                &self
                    .step(host, crate::arm::mechanism::auto_script())
                    .await?,
            )),
        }
    }

    async fn step(&self, host: &str, script: String) -> Result<String, HostOutcome> {
        answer(self.ctx.run(host, script, false, ARM_COMMAND_TIMEOUT).await)
    }

    async fn sealed(
        &self,
        host: &str,
        script: String,
        limit: Limit,
    ) -> Result<String, HostOutcome> {
        answer(
            self.ctx
                .run_sealed(host, script, limit, ARM_COMMAND_TIMEOUT)
                .await,
        )
    }
}

/// A command's stdout, or why the host failed.
fn answer(
    r: Result<crate::transport::CommandResult, crate::fleet::FleetError>,
) -> Result<String, HostOutcome> {
    let r = r.map_err(|e| HostOutcome::Unreachable {
        reason: e.to_string(),
    })?;
    match failure_reason(&r) {
        None => Ok(r.stdout.text()),
        Some(why) => Err(failed(why)),
    }
}

/// The job wrapper of `action` for `host` (its templates rendered) firing at `fire`, in job directory `dir`: the same bytes (and
/// hash) every time, so arming, resume and the T-minus check agree on it.
pub fn wrapper(ctx: &Ctx, host: &str, action: &Action, fire: DateTime<Utc>, dir: &str) -> String {
    let fire_ns = fire.timestamp_nanos_opt().unwrap_or(i64::MAX);
    let run = ctx.secrets.shell(&ctx.shell_for(host, &action.run));
    let command = crate::remote::fired_command(&run, action.sudo);
    job_script(&Job {
        dir,
        fire_ns,
        command: &command,
    })
}

/// Every mechanism a host may have been armed with under the plan's choice.
pub fn possible(plan_mechanism: Mechanism) -> Vec<Concrete> {
    match Concrete::from_plan(plan_mechanism) {
        Some(m) => vec![m],
        None => vec![Concrete::Systemd, Concrete::Waiter],
    }
}

/// The plan's mechanism name.
pub fn name(m: Concrete) -> &'static str {
    match m {
        Concrete::Systemd => Mechanism::Systemd.as_str(),
        Concrete::At => Mechanism::At.as_str(),
        Concrete::Waiter => Mechanism::Waiter.as_str(),
    }
}

/// What taking a host's job back found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disarm {
    /// The job is verified gone (or never existed), with the tombstone in place.
    Disarmed,
    /// Its receipt shows the action already ran.
    AlreadyFired(receipt::Receipt),
    /// Not confirmed (unreachable, or the mechanism refused): it may still fire.
    Unknown(String),
}

/// Disarms every listed host in one parallel round, by each mechanism listed for it (each
/// disarm is verified and idempotent; the tombstone goes first), journaling each result as
/// it arrives; returns the hosts that may still fire.
pub async fn disarm_all(
    ctx: &Arc<Ctx>,
    hosts: &Mutex<HashMap<String, Vec<Concrete>>>,
) -> Vec<String> {
    disarm_each(ctx, hosts)
        .await
        .into_iter()
        .filter(|(_, d)| matches!(d, Disarm::Unknown(_)))
        .map(|(h, _)| h)
        .collect()
}

/// [`disarm_all`], with every host's result.
pub async fn disarm_each(
    ctx: &Arc<Ctx>,
    hosts: &Mutex<HashMap<String, Vec<Concrete>>>,
) -> Vec<(String, Disarm)> {
    let mechanisms: HashMap<String, Vec<Concrete>> =
        hosts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let names: Vec<String> = mechanisms.keys().cloned().collect();
    let mechanisms = Arc::new(mechanisms);
    round(ctx, &names, |ctx, host| {
        let mechanisms = mechanisms.clone();
        async move {
            let listed = mechanisms.get(&host).cloned().unwrap_or_default();
            let result = disarm_one(&ctx, &host, &listed).await;
            ctx.emit(match &result {
                Disarm::AlreadyFired(receipt) => RunEvent::Receipt {
                    host: host.clone(),
                    receipt: receipt.clone(),
                },
                Disarm::Disarmed => RunEvent::Disarmed {
                    host: host.clone(),
                    ok: true,
                    detail: None,
                },
                Disarm::Unknown(why) => RunEvent::Disarmed {
                    host: host.clone(),
                    ok: false,
                    detail: Some(why.clone()),
                },
            });
            (host, result)
        }
    })
    .await
}

async fn disarm_one(ctx: &Ctx, host: &str, mechanisms: &[Concrete]) -> Disarm {
    let mut result = Disarm::Disarmed;
    for m in mechanisms {
        let script = disarm_script(*m, &ctx.run_id, &ctx.job_dir(host), Reap::Signalled);
        match ctx
            .run_own(host, script, m.limit(), ARM_COMMAND_TIMEOUT)
            .await
        {
            Ok(r) if r.stdout.text().trim() == "disarmed" => {}
            Ok(r) if r.status == crate::transport::ExitStatus::Code(2) => {
                return match collect_one(ctx, host, Wait::Started).await {
                    Some(rec) if rec.started_ns.is_some() => Disarm::AlreadyFired(rec),
                    _ => Disarm::Unknown("a receipt exists but could not be read".into()),
                };
            }
            Ok(r) => {
                result = Disarm::Unknown(
                    failure_reason(&r).unwrap_or_else(|| "disarm not confirmed".into()),
                )
            }
            Err(e) => result = Disarm::Unknown(format!("unreachable: {e}")),
        }
    }
    result
}

/// How long receipt collection keeps reconnecting to a host it cannot reach: the action may
/// restart sshd or networking (`systemctl restart sshd` takes a second or two; a network
/// restart longer), and a host only counts as unreachable once this has passed.
pub const RECONNECT_WINDOW: Duration = Duration::from_secs(30);

/// When disarming finds a job already fired: reads of its receipt until it says the action
/// started (it writes that first thing), after which the partial receipt is taken as it is.
const UNFINISHED_ATTEMPTS: u32 = 3;

/// The longest pause between two reads of a receipt that is not final: at 10,000 hosts a
/// read per host every 2 s is what the orchestrator and the hosts can carry.
const MAX_RECEIPT_PAUSE: Duration = Duration::from_secs(2);

/// How long receipt collection waits for one host.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// Until the receipt shows the action started (a disarm that found a fired job).
    Started,
    /// Until the action finished and reported, at most until this instant (and at least
    /// [`RECONNECT_WINDOW`] for a host that cannot be reached).
    Finished {
        /// Give up then, with the partial receipt.
        by: std::time::Instant,
        /// The same instant on the wall clock, for what the operator reads.
        wall: chrono::DateTime<chrono::Utc>,
    },
}

/// One host's collected receipt, or `None` when the host could not be reached at all.
pub type Collected = (String, Option<receipt::Receipt>);

/// Collects every host's receipt in parallel, reconnecting where the action dropped the
/// connection and re-reading a receipt that is not final (a late job, a long action) until
/// `wait` gives up; a host never reached within [`RECONNECT_WINDOW`] comes back as `None`
/// (status unknown). `actions` hears how many hosts are done, for the watch.
pub async fn collect(
    ctx: &Arc<Ctx>,
    hosts: &[String],
    wait: Wait,
    actions: Option<&super::watching::Actions>,
) -> Vec<Collected> {
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let expected = hosts.len();
    let report = move |finished| crate::watch::tracker::ActionProgress { finished, expected };
    if let Some(a) = actions {
        a.send_replace(report(0));
    }
    let actions = actions.cloned();
    round(ctx, hosts, move |ctx, host| {
        let (done, actions) = (done.clone(), actions.clone());
        async move {
            let rec = collect_one(&ctx, &host, wait).await;
            ctx.emit(RunEvent::Receipt {
                host: host.clone(),
                receipt: rec.clone().unwrap_or_default(),
            });
            let finished = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if let Some(a) = &actions {
                a.send_replace(report(finished));
            }
            (host, rec)
        }
    })
    .await
}

async fn collect_one(ctx: &Ctx, host: &str, wait: Wait) -> Option<receipt::Receipt> {
    let script = collect_script(&ctx.job_dir(host));
    let unreachable_by = ctx.clock.instant() + RECONNECT_WINDOW;
    let (mut got, mut reached, mut said) = (None::<receipt::Receipt>, 0, false);
    // The host's SSH server answered at least once (whatever the script's exit): the host is
    // reachable, only too busy to read its receipt (on a loaded host a read can fail or pass
    // its limit while every job wakes at once), so it is awaited to the deadline, not given
    // up after the reconnect window as if it were gone.
    let mut answered = false;
    let mut pause = Duration::from_millis(500);
    loop {
        let read = ctx
            .run_own(host, script.clone(), Limit::Script, ARM_COMMAND_TIMEOUT)
            .await;
        answered |= read.is_ok();
        if let Ok(r) = read
            && r.status == crate::transport::ExitStatus::Code(0)
        {
            let text = r.stdout.text();
            let (head, tail) = text.split_once("--- output tail").unwrap_or((&text, ""));
            let mut rec = receipt::parse(head);
            let tail = tail.trim_matches('\n');
            rec.output = (!tail.is_empty()).then(|| tail.to_string());
            reached += 1;
            let (done, started) = (rec.is_final(), rec.started_ns.is_some());
            got = Some(rec);
            match wait {
                _ if done => return got,
                Wait::Started if started || reached >= UNFINISHED_ATTEMPTS => return got,
                Wait::Started => {}
                Wait::Finished { wall, .. } if !said => {
                    said = true;
                    let woke = got.as_ref().is_some_and(|r| r.woke_ns.is_some());
                    ctx.emit(RunEvent::ReceiptPending {
                        host: host.to_string(),
                        woke,
                        until: wall,
                    });
                }
                Wait::Finished { .. } => {}
            }
        }
        let now = ctx.clock.instant();
        let give_up = match wait {
            Wait::Started => unreachable_by,
            // A host never reached gets the reconnect window; a reached one, the deadline.
            Wait::Finished { by, .. } if got.is_some() || answered => by.max(unreachable_by),
            Wait::Finished { .. } => unreachable_by,
        };
        if now >= give_up {
            return got;
        }
        tokio::time::sleep(pause.min(give_up - now)).await;
        pause = (pause * 2).min(MAX_RECEIPT_PAUSE);
    }
}
