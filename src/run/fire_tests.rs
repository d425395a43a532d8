//! Arming, the T-minus check and the fire on a manual clock (tokio's paused time) against
//! scripted hosts: the engine's timing and all-or-nothing decisions, in milliseconds.

use super::*;
use crate::clock::TokioClock;
use crate::run::fake::{Behaviour, FakeHosts, Kind};
use chrono::TimeZone;
use std::time::Duration;

const INVENTORY: &str = "[inventory]\nname = \"lab\"\n\n[[hosts]]\nname = \"a\"\naddress = \"127.0.0.1\"\n\n[[hosts]]\nname = \"b\"\naddress = \"127.0.0.2\"\n\n[[hosts]]\nname = \"c\"\naddress = \"127.0.0.3\"\n";

fn fire() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap()
}

fn plan(action_extra: &str) -> RunPlan {
    let text = format!(
        "[plan]\nname = \"t\"\n\n[action]\nat = 2030-01-01T03:00:00Z\nrun = \"true\"\nmechanism = \"waiter\"\narm_window = \"60s\"\narm_deadline = \"20s\"\nreverify_before = \"10s\"\n{action_extra}"
    );
    let inv = crate::inventory::parse(INVENTORY, crate::inventory::Format::Native, "inv").unwrap();
    let parsed = crate::plan::parse::parse(&text);
    let ctx = crate::plan::validate::Context {
        now: fire() - chrono::Duration::hours(1),
        inventory: Some(&inv),
        failed: &[],
    };
    let (p, diags) = crate::plan::validate::validate(&parsed.raw.unwrap(), &parsed.spans, ctx);
    let p = p.unwrap_or_else(|| panic!("{diags:?}"));
    crate::compile::compile(&p, &inv, fire(), "sha256:t".into()).unwrap()
}

/// A run context over `hosts`, its clock starting `before` the fire time.
fn ctx(hosts: Arc<FakeHosts>, clock: TokioClock) -> Arc<Ctx> {
    let inv = crate::inventory::parse(INVENTORY, crate::inventory::Format::Native, "inv").unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // Keep the receiver alive: events are folded into the context's state as emitted.
    std::mem::forget(rx);
    Arc::new(Ctx {
        clock: Arc::new(clock),
        ..Ctx::new(hosts, &inv, "/".into(), "run-1", tx)
    })
}

fn setup(
    before: Duration,
    fake: impl FnOnce(FakeHosts) -> FakeHosts,
) -> (Arc<FakeHosts>, Arc<Ctx>) {
    let clock = TokioClock::new(fire() - chrono::Duration::from_std(before).unwrap());
    let hosts = Arc::new(fake(FakeHosts::new(clock.clone(), fire())));
    let ctx = ctx(hosts.clone(), clock);
    ctx.emit(RunEvent::Started {
        plan: "t".into(),
        digest: "sha256:t".into(),
        inventory: "inv".into(),
        production: false,
        hosts: 3,
        fire_at: fire(),
        dry_run: false,
        operator: "sre@box".into(),
        plan_path: "/t.toml".into(),
        commit: true,
    });
    (hosts, ctx)
}

fn secs(t: DateTime<Utc>) -> f64 {
    (t - fire()).num_milliseconds() as f64 / 1000.0
}

#[tokio::test(start_paused = true)]
async fn arming_waits_for_its_window_the_t_minus_check_follows_and_receipts_after_the_fire() {
    let (hosts, ctx) = setup(Duration::from_secs(300), |f| f);
    let p = plan("");
    let result = arm_and_fire(&ctx, &p, &Control::new()).await;
    assert_eq!(result, Ok(()));
    let installs = hosts.of(Kind::Install);
    assert_eq!(installs.len(), 3);
    for (t, h) in &installs {
        assert!(
            secs(*t) >= -60.0,
            "{h} armed before the window opened: {}",
            secs(*t)
        );
        assert!(secs(*t) < -20.0, "{h} armed after the deadline");
    }
    let collects = hosts.of(Kind::Collect);
    assert_eq!(collects.len(), 3);
    for (t, _) in &collects {
        assert!(
            secs(*t) >= SETTLE.as_secs_f64(),
            "receipts before they settle"
        );
    }
    assert!(hosts.of(Kind::Disarm).is_empty());
    let state = ctx.state();
    assert_eq!(state.fired().len(), 3);
    assert!(state.may_fire(&p.action_hosts).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_host_slower_than_the_arming_deadline_disarms_every_host_before_the_fire() {
    let slow = Behaviour {
        latency: Duration::from_secs(45),
        ..Behaviour::default()
    };
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f.with("b", slow));
    let p = plan("");
    let result = arm_and_fire(&ctx, &p, &Control::new()).await;
    let Err(RunError::Disarmed { cause, may_fire }) = result else {
        panic!("expected a disarm, got {result:?}");
    };
    assert!(may_fire.is_empty(), "{may_fire:?}");
    assert!(cause.to_string().contains("arming deadline"), "{cause}");
    let disarms = hosts.of(Kind::Disarm);
    let mut who: Vec<&str> = disarms.iter().map(|(_, h)| h.as_str()).collect();
    who.sort();
    who.dedup();
    assert_eq!(who, ["a", "b", "c"], "every targeted host is swept");
    // The slow host's disarm may land after the fire time: harmless, it was never committed.
    assert!(
        hosts.of(Kind::Commit).is_empty(),
        "nothing may be committed"
    );
    assert!(
        disarms
            .iter()
            .filter(|(_, h)| h != "b")
            .all(|(t, _)| secs(*t) < 0.0),
        "disarmed after the fire"
    );
    assert!(
        hosts.armed().is_empty(),
        "a job survived: {:?}",
        hosts.armed()
    );
    assert!(hosts.of(Kind::Collect).is_empty(), "nothing fired");
}

#[tokio::test(start_paused = true)]
async fn an_abort_in_the_countdown_disarms_every_host_before_the_fire() {
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f);
    let p = plan("");
    let control = Control::new();
    let (c, clock) = (control.clone(), ctx.clock.clone());
    tokio::spawn(async move {
        let at = fire() - chrono::Duration::seconds(5);
        tokio::time::sleep((at - clock.now()).to_std().unwrap()).await;
        c.abort_because(AbortMode::StopInFlight, "aborted by sre");
    });
    let result = arm_and_fire(&ctx, &p, &control).await;
    let Err(e @ RunError::Disarmed { .. }) = result else {
        panic!("expected a disarm, got {result:?}");
    };
    assert!(e.to_string().starts_with("aborted by sre"), "{e}");
    let disarms = hosts.of(Kind::Disarm);
    assert_eq!(disarms.len(), 3);
    for (t, _) in &disarms {
        assert!((-5.0..0.0).contains(&secs(*t)), "disarm at {}", secs(*t));
    }
    assert!(hosts.armed().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_host_that_fails_to_arm_within_budget_leaves_the_run_and_the_others_fire() {
    let broken = Behaviour {
        arm_fails: true,
        ..Behaviour::default()
    };
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f.with("b", broken));
    let p = plan("max_failures = 1\n");
    let result = arm_and_fire(&ctx, &p, &Control::new()).await;
    assert_eq!(result, Ok(()));
    let excluded = ctx.state().excluded.clone();
    assert_eq!(excluded.keys().collect::<Vec<_>>(), ["b"]);
    assert_eq!(excluded["b"].phase, Some(Phase::Arm));
    assert_eq!(
        hosts
            .of(Kind::Disarm)
            .iter()
            .map(|(_, h)| h.as_str())
            .collect::<Vec<_>>(),
        ["b"],
        "the failed host is taken back"
    );
    let collected: Vec<String> = hosts
        .of(Kind::Collect)
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    assert_eq!(collected.len(), 2);
    assert!(!collected.contains(&"b".to_string()));
}

#[tokio::test(start_paused = true)]
async fn over_the_arming_budget_disarms_every_host() {
    let broken = Behaviour {
        arm_fails: true,
        ..Behaviour::default()
    };
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f.with("b", broken));
    let p = plan("");
    let result = arm_and_fire(&ctx, &p, &Control::new()).await;
    assert!(
        matches!(result, Err(RunError::Disarmed { .. })),
        "{result:?}"
    );
    assert!(hosts.armed().is_empty());
    assert!(hosts.of(Kind::Collect).is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_commit_round_runs_after_the_t_minus_check_and_before_the_fire() {
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f);
    let p = plan("");
    assert_eq!(arm_and_fire(&ctx, &p, &Control::new()).await, Ok(()));
    let commits = hosts.of(Kind::Commit);
    assert_eq!(commits.len(), 3);
    let last_verify = hosts
        .of(Kind::Verify)
        .iter()
        .map(|(t, _)| *t)
        .max()
        .unwrap();
    for (t, h) in &commits {
        assert!(
            *t >= last_verify,
            "{h} committed before the T-minus check ended"
        );
        assert!(
            secs(*t) <= -crate::run::commit::COMMIT_BY.as_secs_f64(),
            "{h} committed too late"
        );
    }
    assert_eq!(ctx.state().committed.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_run_dropped_before_its_commit_round_leaves_nothing_that_fires() {
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f);
    let p = plan("");
    // The orchestrator dies after arming, 15 s before the fire (before T-minus and commit).
    let _ = tokio::time::timeout(
        Duration::from_secs(75),
        arm_and_fire(&ctx, &p, &Control::new()),
    )
    .await;
    assert_eq!(hosts.armed().len(), 3, "every host was armed");
    assert!(hosts.of(Kind::Commit).is_empty());
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(
        ctx.state().may_fire(&p.action_hosts).is_empty(),
        "armed but not committed: nothing may fire"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_lost_after_arming_is_caught_at_t_minus_and_everything_is_disarmed() {
    let lost = Behaviour {
        job_lost: true,
        ..Behaviour::default()
    };
    let (hosts, ctx) = setup(Duration::from_secs(90), |f| f.with("c", lost));
    let p = plan("");
    let result = arm_and_fire(&ctx, &p, &Control::new()).await;
    let Err(e @ RunError::Disarmed { .. }) = result else {
        panic!("expected a disarm, got {result:?}");
    };
    assert!(e.to_string().contains("drift detected at T-minus"), "{e}");
    assert!(hosts.of(Kind::Commit).is_empty(), "nothing was committed");
    assert!(hosts.armed().is_empty());
}

/// A host that answers but cannot read its receipt for 40 s after the fire (every job on a
/// loaded machine waking at once, out of processes) is awaited to the receipt deadline, not
/// given up after the 30 s reconnect window as if unreachable: it is reported fired.
#[tokio::test(start_paused = true)]
async fn a_host_too_busy_to_read_its_receipt_is_awaited_not_called_unreachable() {
    let busy = Behaviour {
        busy_reads_for: Duration::from_secs(40),
        ..Behaviour::default()
    };
    let (hosts, ctx) = setup(Duration::from_secs(300), |f| f.with("b", busy));
    let p = plan("");
    let result = arm_and_fire(&ctx, &p, &Control::new()).await;
    assert_eq!(result, Ok(()));
    let reads: Vec<_> = hosts
        .of(Kind::Collect)
        .into_iter()
        .filter(|(_, h)| h == "b")
        .collect();
    assert!(reads.len() > 3, "retried: {reads:?}");
    assert!(secs(reads.last().unwrap().0) >= 40.0, "{reads:?}");
    assert_eq!(ctx.state().fired().len(), 3);
}
