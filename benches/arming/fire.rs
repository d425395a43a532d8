//! One fire round: every mechanism armed on the same hosts, then fired 15 s apart, and each
//! host's wake (and start) times read back from its receipt or wake files.

use crate::fleet::{HostRef, Hosts};
use crate::report::{self, Fire};
use crate::tools::{self, Setup};
use crate::{AT_MARKER, CUTOVER_AT, PDSH_AT, PERL, PERL_ACTION, WAITER, cutover_run};
use chrono::{DateTime, Duration as Delta, DurationRound, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn whole_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Delta::minutes(1)).unwrap_or(t) + Delta::minutes(1)
}

/// When each mechanism fires in one round: the two `at` ones on whole minutes `m` and `m + 60`,
/// the three sleepers 15 s apart between them; the orders rotate per round.
struct Slots {
    m: DateTime<Utc>,
    pdsh_at: DateTime<Utc>,
    cut_at: DateTime<Utc>,
    waiter: DateTime<Utc>,
    perl: DateTime<Utc>,
    perl_action: DateTime<Utc>,
}

impl Slots {
    /// The first whole minute after arming `n` hosts five times (estimated generously).
    fn new(n: usize, rep: usize) -> Self {
        let est_ms = 3000 + n as i64 * 60;
        let m = whole_minute(cutover::clock::now() + Delta::milliseconds(5 * est_ms + 5000));
        let swap = rep % 2 == 1;
        let at = |first: bool| m + Delta::seconds(if first != swap { 0 } else { 60 });
        let sleeper = |k: usize| m + Delta::seconds(15 * (1 + (k + rep) % 3) as i64);
        Slots {
            m,
            pdsh_at: at(true),
            cut_at: at(false),
            waiter: sleeper(0),
            perl: sleeper(1),
            perl_action: sleeper(2),
        }
    }

    fn last(&self) -> DateTime<Utc> {
        self.m + Delta::seconds(60)
    }
}

fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(0)
}

/// One fire of every mechanism on `n` hosts: all five armed first, then they fire 15 s apart,
/// so no fire shares the CPU with another one or with arming.
pub fn round(
    s: &Setup,
    hosts: &Hosts,
    n: usize,
    plans: &[PathBuf; 2],
    rep: usize,
) -> Result<Vec<Fire>, String> {
    let all = &hosts.all[..n];
    for h in all {
        for f in [
            "at-woke",
            "perl-woke",
            "perl-action-woke",
            "perl-action-started",
        ] {
            let _ = std::fs::remove_file(h.dir.join(f));
        }
    }
    let t = Slots::new(n, rep);
    let spawn = |plan: &Path, at, label: String| -> Result<cutover_run::CutoverRun, String> {
        let mut run = cutover_run::spawn(s, plan, at, &label).map_err(|e| e.to_string())?;
        run.wait_armed(Duration::from_secs(300))?;
        Ok(run)
    };
    let cut_at = spawn(&plans[1], t.cut_at, format!("fire-at-{n}-{rep}"))?;
    let waiter = spawn(&plans[0], t.waiter, format!("fire-waiter-{n}-{rep}"))?;
    let cmd = format!("date +%s%N > \"$HOME/at-woke\" # {AT_MARKER}");
    tools::push_at(s, n, t.pdsh_at, &cmd, false)?;
    tools::push_perl(s, n, ns(t.perl), "perl", false)?;
    tools::push_perl(s, n, ns(t.perl_action), "perl-action", true)?;
    let armed = cutover::clock::now();
    if armed + Delta::seconds(2) > t.m {
        return Err(format!(
            "arming {n} hosts five times overran the first fire at {}",
            t.m
        ));
    }
    eprintln!(
        "{n:>4} fire all armed at {}; fires from {} to {}",
        armed.format("%H:%M:%S"),
        t.m.format("%H:%M:%S"),
        t.last().format("%H:%M:%S")
    );
    let (waiter, cut_at) = (waiter.finish(all, "waiter")?, cut_at.finish(all, "at")?);
    let left = (t.last() + Delta::seconds(3) - cutover::clock::now())
        .to_std()
        .unwrap_or_default();
    std::thread::sleep(left);
    let fire = |tool: &str, at, wakes, commit_ms| Fire {
        hosts: n,
        tool: tool.into(),
        planned_ns: ns(at),
        wakes,
        commit_ms,
    };
    let out = vec![
        fire(WAITER, t.waiter, receipts(waiter.0), waiter.1),
        fire(CUTOVER_AT, t.cut_at, receipts(cut_at.0), cut_at.1),
        fire(PDSH_AT, t.pdsh_at, files(all, "at-woke", None), None),
        fire(PERL, t.perl, files(all, "perl-woke", None), None),
        fire(
            PERL_ACTION,
            t.perl_action,
            files(all, "perl-action-woke", Some("perl-action-started")),
            None,
        ),
    ];
    out.iter().for_each(|f| eprintln!("{}", f.line()));
    Ok(out)
}

/// Wake and start times from cutover's receipts.
fn receipts(r: Vec<Option<cutover::arm::receipt::Receipt>>) -> Vec<report::Wake> {
    r.into_iter()
        .map(|r| r.and_then(|r| Some((r.woke_ns?, r.started_ns))))
        .collect()
}

/// Wake times (and start times, if the peer starts an action) from each host's files.
fn files(all: &[HostRef], woke: &str, started: Option<&str>) -> Vec<report::Wake> {
    all.iter()
        .map(|h| {
            let w = tools::read_ns(&h.dir.join(woke))?;
            Some((w, started.and_then(|f| tools::read_ns(&h.dir.join(f)))))
        })
        .collect()
}
