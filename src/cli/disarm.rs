//! `cutover disarm RUN`: take the action back on every host the journal says is armed, from
//! any terminal, even while (or after) the orchestrator that armed them is gone.

use super::CliError;
use crate::arm::mechanism::Concrete;
use crate::fleet::{self, Fleet};
use crate::journal::rundir::RunDir;
use crate::journal::writer::{Durability, Writer};
use crate::run::arm::Disarm;
use crate::run::ctx::Ctx;
use crate::run::event::RunEvent;
use crate::run::state::{HostState, RunState, fold};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Arguments of `cutover disarm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run: its id (directory name under --runs-dir) or its directory.
    run: String,
    /// Where run directories live.
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
}

/// What `cutover disarm` does for one targeted host, decided from the run's fold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visit {
    /// Take back every job it may hold, by these mechanisms (the recorded one, else every
    /// one the plan could have picked).
    Disarm(Vec<Concrete>),
    /// Its receipt shows the action ran.
    AlreadyFired(Option<i32>),
    /// It never held a job: arming never started, or it left the run first.
    NeverArmed(String),
}

/// For each targeted host, what to do. Pure: once the journal shows arming started, every
/// targeted host still in the run is visited (a host is armed before its record is written),
/// by its recorded mechanism or by every mechanism the plan allows.
pub fn plan_visits(
    state: &RunState,
    targets: &[String],
    plan_mechanism: crate::plan::model::Mechanism,
) -> Vec<(String, Visit)> {
    targets
        .iter()
        .map(|h| {
            let visit = match state.host(h) {
                HostState::Fired { exit } => Visit::AlreadyFired(exit),
                HostState::Armed { job, .. } => Visit::Disarm(vec![job.mechanism]),
                HostState::Excluded(e) if e.before_arming => {
                    Visit::NeverArmed(format!("left the run before arming: {}", e.reason))
                }
                _ if !state.arming_started => Visit::NeverArmed("arming never started".into()),
                _ => Visit::Disarm(crate::run::arm::possible(plan_mechanism)),
            };
            (h.clone(), visit)
        })
        .collect()
}

/// Runs `cutover disarm`.
pub fn run(args: &Args) -> Result<ExitCode, CliError> {
    let usage = |e: String| CliError::Usage(e);
    let dir = RunDir::open(&args.runs_dir, &args.run).map_err(|e| usage(e.to_string()))?;
    let records = super::report::records(&dir)?.0;
    let state = fold(&records);
    let (plan, inventory, plan_path) = super::load::run_snapshots(&dir)?;
    let fire_at = state.fire_at.unwrap_or(plan.action.at.to_utc());
    let compiled = crate::compile::compile(&plan, &inventory, fire_at, String::new())
        .map_err(|e| usage(e.to_string()))?;
    let visits = plan_visits(&state, &compiled.action_hosts, plan.action.mechanism);
    let to_disarm: HashMap<String, Vec<Concrete>> = visits
        .iter()
        .filter_map(|(h, v)| match v {
            Visit::Disarm(m) => Some((h.clone(), m.clone())),
            _ => None,
        })
        .collect();
    let mut lines = Vec::new();
    for (h, v) in &visits {
        match v {
            Visit::AlreadyFired(Some(c)) => lines.push(format!("  {h}: already fired (exit {c})")),
            Visit::AlreadyFired(None) => lines.push(format!("  {h}: already fired")),
            Visit::NeverArmed(why) => lines.push(format!("  {h}: never armed ({why})")),
            Visit::Disarm(_) => {}
        }
    }
    super::out(&format!(
        "run {}: {} targeted host(s); visiting {} that may hold a job\n{}",
        dir.id,
        visits.len(),
        to_disarm.len(),
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    ));
    // Every host the run may have leased is visited too: a disarmed run gives its hosts back.
    let leased = crate::run::leased_hosts(&compiled);
    let hosts: Vec<_> = inventory
        .hosts
        .iter()
        .filter(|h| to_disarm.contains_key(&h.name) || leased.contains(&h.name))
        .collect();
    let settings = super::run::ssh_settings(&plan, &plan_path);
    let fleet = Fleet::new(
        settings,
        &hosts,
        &plan.ssh.user.clone().unwrap_or_else(fleet::local_user),
    )
    .map_err(|e| usage(e.to_string()))?;
    // Its own side journal: a live run may still be appending to journal.jsonl.
    let side = dir.new_side_journal(crate::clock::now(), std::process::id());
    let mut writer = Writer::create(&side).map_err(|e| usage(e.to_string()))?;
    let rt = tokio::runtime::Runtime::new()
        .map_err(|e| usage(format!("cannot start the async runtime: {e}")))?;
    let results = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        // Each result is journaled and shown as it arrives.
        let consumer = tokio::task::spawn_blocking(move || {
            let mut printer = crate::run::print::Printer::default();
            let mut lost = None;
            while let Some(e) = rx.blocking_recv() {
                if let Err(err) = writer.append(crate::clock::now(), &e, Durability::Synced) {
                    lost.get_or_insert(err.to_string());
                }
                super::out(&printer.line(&e));
            }
            super::out(&printer.flush());
            lost
        });
        let plan_dir = plan_path.parent().map(PathBuf::from).unwrap_or_default();
        let ctx = Arc::new(Ctx::new(fleet, &inventory, plan_dir, &dir.id, tx));
        let operator = format!(
            "disarm requested by {}@{}",
            fleet::local_user(),
            crate::journal::lock::this_host()
        );
        ctx.emit(RunEvent::Operator { action: operator });
        let set = Mutex::new(to_disarm);
        let results = crate::run::arm::disarm_each(&ctx, &set).await;
        if results
            .iter()
            .all(|(_, d)| !matches!(d, Disarm::Unknown(_)))
        {
            crate::run::lease::release(&ctx, &leased).await;
        }
        ctx.fleet.close().await;
        drop(ctx);
        let lost = consumer.await.ok().flatten();
        (results, lost)
    });
    let (results, lost) = results;
    if let Some(err) = lost {
        eprintln!("cutover: the side journal could not be written: {err}");
    }
    let unknown: Vec<String> = results
        .iter()
        .filter_map(|(h, d)| match d {
            Disarm::Unknown(why) => Some(format!("{h} ({why})")),
            _ => None,
        })
        .collect();
    let disarmed = results
        .iter()
        .filter(|(_, d)| matches!(d, Disarm::Disarmed))
        .count();
    let fired = results
        .iter()
        .filter(|(_, d)| matches!(d, Disarm::AlreadyFired(_)))
        .count();
    if unknown.is_empty() {
        release_stale_lock(&dir.id);
    }
    if unknown.is_empty() && disarmed + fired == 0 {
        super::out(
            "nothing may fire: no host holds an armed job; the run's host leases are released\n",
        );
        Ok(ExitCode::SUCCESS)
    } else if unknown.is_empty() {
        super::out(&format!(
            "every host is accounted for: {disarmed} disarmed, {fired} already fired, nothing may fire\n"
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        super::out(&format!(
            "COULD NOT DISARM {} host(s); they may still fire: {}\n",
            unknown.len(),
            unknown.join(", ")
        ));
        Ok(ExitCode::from(1))
    }
}

/// Once nothing of the run may fire, the local run lock its crashed orchestrator left (in
/// the state directory, process gone from this machine) is released, so the next run of
/// these hosts is not refused for a run that is over.
fn release_stale_lock(run: &str) {
    use crate::journal::lock::{RunLock, is_stale, pid_alive, state_dir, this_host};
    let Ok(entries) = std::fs::read_dir(state_dir()) else {
        return;
    };
    let here = this_host();
    for path in entries.flatten().map(|e| e.path()) {
        let is_lock = path.extension().is_some_and(|e| e == "lock");
        let Ok(holder) = RunLock::holder(&path) else {
            continue;
        };
        if is_lock && holder.run == run && is_stale(&holder, &here, pid_alive) {
            let _ = std::fs::remove_file(&path);
            super::out(&format!("released the stale run lock of {holder}\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::receipt::Receipt;
    use crate::plan::model::Mechanism;
    use crate::run::phase::Phase;

    fn hosts(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn before_arming_nothing_is_visited() {
        let s = RunState::default();
        let v = plan_visits(&s, &hosts(&["a"]), Mechanism::Waiter);
        assert!(matches!(v[0].1, Visit::NeverArmed(_)));
    }

    #[test]
    fn once_arming_started_every_host_in_the_run_is_visited() {
        let mut s = RunState::default();
        s.apply(&RunEvent::Excluded {
            host: "c".into(),
            phase: Some(Phase::Preflight),
            reason: "clock".into(),
        });
        s.apply(&RunEvent::Step {
            phase: Phase::Arm,
            name: "x".into(),
            path: "action".into(),
            hosts: 3,
        });
        s.apply(&RunEvent::Armed {
            host: "a".into(),
            mechanism: Concrete::At,
            id: "1".into(),
        });
        // Unreachable while arming: it may hold a job written before its record.
        s.apply(&RunEvent::Excluded {
            host: "d".into(),
            phase: Some(Phase::Arm),
            reason: "unreachable".into(),
        });
        let v = plan_visits(&s, &hosts(&["a", "b", "c", "d"]), Mechanism::Auto);
        assert_eq!(v[0].1, Visit::Disarm(vec![Concrete::At]));
        assert_eq!(
            v[1].1,
            Visit::Disarm(vec![Concrete::Systemd, Concrete::Waiter])
        );
        // Left the run before arming started: no arm command ever reached it.
        assert!(matches!(v[2].1, Visit::NeverArmed(_)), "{:?}", v[2].1);
        assert!(matches!(v[3].1, Visit::Disarm(_)), "{:?}", v[3].1);
    }

    /// A resumed run that excludes a host in its preflight, after an earlier attempt started
    /// arming: the host may hold that attempt's job, so it is visited (fail closed).
    #[test]
    fn a_host_excluded_after_arming_once_started_is_visited_whatever_the_phase() {
        let mut s = RunState::default();
        s.apply(&RunEvent::Step {
            phase: Phase::Arm,
            name: "x".into(),
            path: "action".into(),
            hosts: 1,
        });
        s.apply(&RunEvent::Excluded {
            host: "a".into(),
            phase: Some(Phase::Preflight),
            reason: "unreachable".into(),
        });
        let v = plan_visits(&s, &hosts(&["a"]), Mechanism::Waiter);
        assert!(matches!(v[0].1, Visit::Disarm(_)), "{:?}", v[0].1);
    }

    #[test]
    fn a_fired_host_is_reported_not_disarmed() {
        let mut s = RunState::default();
        s.apply(&RunEvent::Receipt {
            host: "a".into(),
            receipt: Receipt {
                started_ns: Some(1),
                exit: Some(0),
                ..Receipt::default()
            },
        });
        let v = plan_visits(&s, &hosts(&["a"]), Mechanism::Waiter);
        assert_eq!(v[0].1, Visit::AlreadyFired(Some(0)));
    }
}
