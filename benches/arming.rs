//! The arming benchmark: time to arm a fleet (`cutover run` vs `pdsh` pushing `at` jobs) and
//! the fire spread and lateness of each mechanism (cutover's waiter and `at`, beside plain
//! `at` and a Perl sleep-until pushed by pdsh, bare and followed by the same job wrapper
//! steps), on real loopback sshd fleets, in the same run.
//!
//! Run it through `just bench` (scripts/bench). Environment: `BENCH_ARM_HOSTS` (`250,500`),
//! `BENCH_ARM_REPS` (2), `BENCH_FIRE_HOSTS` (`50,250`), `BENCH_FIRE_REPS` (runs per fleet size
//! in turn, the last repeating: `2,1`), `BENCH_ARM_FANOUT` (pdsh `-f` and cutover
//! `batch_size`, 64), `BENCH_ARM_RATE` (cutover's handshakes/s, 200), `BENCH_DOC`.

#[path = "arming/cutover_run.rs"]
mod cutover_run;
#[path = "arming/fire.rs"]
mod fire;
#[path = "arming/fleet.rs"]
mod fleet;
#[path = "arming/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "arming/tools.rs"]
mod tools;

use chrono::{DateTime, Duration as Delta, DurationRound, Utc};
use fleet::Hosts;
use report::{Arm, Fire};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tools::Setup;

/// Label of cutover's arming figure.
const CUTOVER_ARM: &str = "cutover run (waiter)";
/// Fire labels.
const WAITER: &str = "cutover waiter";
const CUTOVER_AT: &str = "cutover at";
const PDSH_AT: &str = "at, pushed by pdsh";
const PERL: &str = "Perl sleep-until, pushed by pdsh";
const PERL_ACTION: &str = "Perl sleep-until + same job, pdsh";
/// Marker in the benchmark's own at jobs, so none outlives it.
const AT_MARKER: &str = "cutover-bench-arming";

/// The run's parameters, from the environment.
struct Config {
    arm_hosts: Vec<usize>,
    arm_reps: usize,
    fire_hosts: Vec<usize>,
    fire_reps: Vec<usize>,
    fanout: usize,
    rate: f64,
    doc: PathBuf,
}

fn list<T: std::str::FromStr>(name: &str, default: &str) -> Result<Vec<T>, String> {
    let text = std::env::var(name).unwrap_or_else(|_| default.to_string());
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("{name}: bad value `{s}`"))
        })
        .collect()
}

fn one<T: std::str::FromStr + Copy>(name: &str, default: &str) -> Result<T, String> {
    list(name, default)?
        .first()
        .copied()
        .ok_or(format!("{name} is empty"))
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Ok(Config {
            arm_hosts: list("BENCH_ARM_HOSTS", "250,500")?,
            arm_reps: one("BENCH_ARM_REPS", "2")?,
            fire_hosts: list("BENCH_FIRE_HOSTS", "50,250")?,
            fire_reps: list("BENCH_FIRE_REPS", "2,1")?,
            fanout: one("BENCH_ARM_FANOUT", "64")?,
            rate: one("BENCH_ARM_RATE", "200")?,
            doc: std::env::var("BENCH_DOC")
                .map_or_else(|_| root.join("docs/benchmarks.md"), PathBuf::from),
        })
    }

    /// Fire rounds at the `i`-th fleet size.
    fn fire_reps(&self, i: usize) -> usize {
        let last = self.fire_reps.last().copied().unwrap_or(1);
        self.fire_reps.get(i).copied().unwrap_or(last)
    }
}

/// Removes the benchmark's at jobs and stops its own atd when dropped, even on error.
struct AtCleanup(#[allow(dead_code)] Option<support::atd::Atd>);

impl Drop for AtCleanup {
    fn drop(&mut self) {
        support::atd::remove_jobs_mentioning(AT_MARKER);
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("arming: skipped outside `cargo bench` (run `just bench`)");
        return Ok(());
    }
    let cfg = Config::from_env()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let total = cfg
        .arm_hosts
        .iter()
        .chain(&cfg.fire_hosts)
        .copied()
        .max()
        .unwrap_or(0);
    let work = tempfile::Builder::new()
        .prefix("cutover-bench-arming-")
        .tempdir()?;
    let hosts = fleet::start(total, work.path())?;
    let _at = AtCleanup((!cfg.fire_hosts.is_empty()).then(support::atd::Atd::ensure));
    let perl = work.path().join("sleep-until.pl");
    std::fs::write(&perl, tools::PERL_SLEEP_UNTIL)?;
    std::fs::write(perl.with_extension("job.sh"), tools::PERL_JOB)?;
    let s = Setup {
        cutover: env!("CARGO_BIN_EXE_cutover").into(),
        dir: work.path().to_path_buf(),
        key: hosts.key.clone(),
        known_hosts: hosts.known_hosts.clone(),
        fanout: cfg.fanout,
        perl,
    };
    let mut arms = Vec::new();
    for &n in &cfg.arm_hosts {
        fleet::write_host_files(&s.dir, &hosts.all, n)?;
        let plan = fleet::write_plan(&s.dir, &hosts, n, "waiter", cfg.fanout, cfg.rate)?;
        for rep in 0..cfg.arm_reps {
            arms.extend(arming_round(&s, &hosts, n, &plan, rep)?);
        }
    }
    let mut fires = Vec::new();
    for (i, &n) in cfg.fire_hosts.iter().enumerate() {
        fleet::write_host_files(&s.dir, &hosts.all, n)?;
        let plans = [
            fleet::write_plan(&s.dir, &hosts, n, "waiter", cfg.fanout, cfg.rate)?,
            fleet::write_plan(&s.dir, &hosts, n, "at", cfg.fanout, cfg.rate)?,
        ];
        for rep in 0..cfg.fire_reps(i) {
            fires.extend(fire::round(&s, &hosts, n, &plans, rep)?);
        }
    }
    drop(hosts);
    write_results(&cfg, load.trim(), &arms, &fires)
}

/// Arms `n` hosts with each tool in turn (rotated by `rep`); nothing fires.
fn arming_round(
    s: &Setup,
    hosts: &Hosts,
    n: usize,
    plan: &Path,
    rep: usize,
) -> Result<Vec<Arm>, String> {
    let mut out = Vec::new();
    for i in 0..3 {
        std::thread::sleep(Duration::from_secs(1));
        let arm = match (i + rep) % 3 {
            0 => arm_cutover(s, hosts, n, plan, rep)?,
            k => arm_pdsh(s, n, k == 2)?,
        };
        let phase = arm
            .phase
            .map_or(String::new(), |p| format!(" (arm phase {p:.2} s)"));
        eprintln!("{n:>4} arm  {:<34} {:>6.2} s{phase}", arm.tool, arm.total);
        out.push(arm);
    }
    Ok(out)
}

fn arm_cutover(s: &Setup, hosts: &Hosts, n: usize, plan: &Path, rep: usize) -> Result<Arm, String> {
    let fire = whole_second(cutover::clock::now() + Delta::seconds(60 + n as i64 / 5));
    let label = format!("arm-{n}-{rep}");
    let mut run = cutover_run::spawn(s, plan, fire, &label).map_err(|e| e.to_string())?;
    let t = run.wait_armed(Duration::from_secs(300));
    run.abandon(&hosts.all[..n], "waiter");
    let t = t?;
    Ok(Arm {
        hosts: n,
        tool: CUTOVER_ARM.into(),
        total: t.total,
        phase: Some(t.phase),
    })
}

fn arm_pdsh(s: &Setup, n: usize, same_kex: bool) -> Result<Arm, String> {
    let fire = cutover::clock::now() + Delta::days(1);
    let (wall, jobs) = tools::push_at(s, n, fire, &format!("true {AT_MARKER}"), same_kex)?;
    tools::atrm(&jobs);
    let kex = if same_kex { ", KEX curve25519" } else { "" };
    Ok(Arm {
        hosts: n,
        tool: format!("pdsh -f {} + at{kex}", s.fanout),
        total: wall,
        phase: None,
    })
}

pub(crate) fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Delta::seconds(1)).unwrap_or(t) + Delta::seconds(1)
}

fn write_results(
    cfg: &Config,
    load: &str,
    arms: &[Arm],
    fires: &[Fire],
) -> Result<(), Box<dyn Error>> {
    let header = format!(
        "Figures from {} UTC, scale: arming {:?} hosts × {} run(s) per tool; fire {:?} hosts × {:?} \
         round(s); pdsh `-f {f}` and cutover `batch_size = {f}`, `connect_rate = {}`; {} cores; \
         load average at start {load}.",
        cutover::clock::now().format("%Y-%m-%d %H:%M"),
        cfg.arm_hosts,
        cfg.arm_reps,
        cfg.fire_hosts,
        (0..cfg.fire_hosts.len())
            .map(|i| cfg.fire_reps(i))
            .collect::<Vec<_>>(),
        cfg.rate,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        f = cfg.fanout,
    );
    let block = report::block(&header, arms, fires);
    println!("{block}");
    let doc = std::fs::read_to_string(&cfg.doc).unwrap_or_default();
    std::fs::write(&cfg.doc, report::splice(&doc, &block))?;
    eprintln!("results written to {}", cfg.doc.display());
    Ok(())
}
