//! The fan-out benchmark: `cutover exec` side by side with `pdsh -R ssh` and parallel-ssh on
//! real loopback sshd fleets, interleaved and repeated; medians land in docs/benchmarks.md.
//!
//! Run it through `just bench` (scripts/bench installs the peers). Environment:
//! `BENCH_HOSTS` (default `50,250,500`), `BENCH_COMMANDS` (`true,date`), `BENCH_REPS` (runs
//! per figure for each fleet size in turn, the last repeating: `3,3,2` keeps `just bench`
//! near ten minutes on two cores),
//! `BENCH_FANOUT` (the equal concurrency N given to every tool, 128), `BENCH_DEFAULT_PACING_REPS`
//! (1: cutover at its default 20 handshakes/s is pacing-bound and deterministic),
//! `BENCH_PYTHON` (a python that imports pssh), `BENCH_DOC` (the markdown file to update).

#[path = "fanout/measure.rs"]
mod measure;
#[path = "fanout/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "fanout/tools.rs"]
mod tools;

use report::Record;
use std::error::Error;
use std::path::PathBuf;
use std::process::Stdio;
use tools::{Pacing, Setup, Tool};

/// sshd's MaxStartups for every host, so no tool's handshakes are ever dropped.
const MAX_STARTUPS: &str = "100:30:1000";
/// The harness starts at most this many sshds per fleet; bigger fleets are several.
const PER_FLEET: usize = 250;
/// `cutover exec --fanout` default.
const CUTOVER_FANOUT: usize = 64;
/// pdsh's default fanout.
const PDSH_FANOUT: usize = 32;

/// The run's parameters, from the environment.
struct Config {
    hosts: Vec<usize>,
    commands: Vec<String>,
    reps: Vec<usize>,
    equal: usize,
    default_pacing_reps: usize,
    python: PathBuf,
    doc: PathBuf,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn list<T: std::str::FromStr>(name: &str, default: &str) -> Result<Vec<T>, String> {
    env_or(name, default)
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("{name}: bad value `{s}`"))
        })
        .collect()
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let one = |name: &str, default: &str| -> Result<usize, String> {
            let v: Vec<usize> = list(name, default)?;
            v.first().copied().ok_or(format!("{name} is empty"))
        };
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        Ok(Config {
            hosts: list("BENCH_HOSTS", "50,250,500")?,
            commands: list("BENCH_COMMANDS", "true,date")?,
            reps: list("BENCH_REPS", "3,3,2")?,
            equal: one("BENCH_FANOUT", "128")?,
            default_pacing_reps: one("BENCH_DEFAULT_PACING_REPS", "1")?,
            python: env_or("BENCH_PYTHON", "target/bench-venv/bin/python").into(),
            doc: env_or(
                "BENCH_DOC",
                &root.join("docs/benchmarks.md").to_string_lossy(),
            )
            .into(),
        })
    }

    /// Every client configuration, in the order of a round.
    /// Runs per figure at the `i`-th fleet size.
    fn reps(&self, i: usize) -> usize {
        let last = self.reps.last().copied().unwrap_or(1);
        self.reps.get(i).copied().unwrap_or(last)
    }

    fn tools(&self) -> Vec<Tool> {
        let mut t = vec![
            Tool::Cutover {
                pacing: Pacing::Default,
                fanout: CUTOVER_FANOUT,
            },
            Tool::Cutover {
                pacing: Pacing::Unpaced,
                fanout: CUTOVER_FANOUT,
            },
            Tool::Pdsh {
                fanout: PDSH_FANOUT,
                same_kex: false,
            },
            Tool::Pdsh {
                fanout: PDSH_FANOUT,
                same_kex: true,
            },
            Tool::Pssh { pool: self.equal },
        ];
        if self.equal != CUTOVER_FANOUT {
            t.insert(
                2,
                Tool::Cutover {
                    pacing: Pacing::Unpaced,
                    fanout: self.equal,
                },
            );
        }
        if self.equal != PDSH_FANOUT {
            let equal = Tool::Pdsh {
                fanout: self.equal,
                same_kex: false,
            };
            t.insert(t.len() - 1, equal);
        }
        t
    }
}

/// The running sshds of a benchmark, as one fleet.
struct Hosts {
    /// The harness fleets (dropping them stops their sshds).
    fleets: Vec<support::Fleet>,
    /// `(name, address)` of every host, in fleet order.
    all: Vec<(String, String)>,
    /// One known_hosts for every host.
    known_hosts: PathBuf,
}

/// Starts enough fleets for `total` hosts, all trusting the first fleet's client key.
fn start_fleets(total: usize, dir: &std::path::Path) -> std::io::Result<Hosts> {
    let mut fleets = Vec::new();
    for start in (0..total).step_by(PER_FLEET) {
        let n = PER_FLEET.min(total - start);
        eprintln!(
            "starting sshd {}..{} (MaxStartups {MAX_STARTUPS})",
            start + 1,
            start + n
        );
        fleets.push(
            support::Fleet::builder(n)
                .max_startups(MAX_STARTUPS)
                .start(),
        );
    }
    let key_pub = std::fs::read(fleets[0].client_key.with_extension("pub"))?;
    let mut known = Vec::new();
    let mut all = Vec::new();
    for (i, f) in fleets.iter().enumerate() {
        std::fs::write(f.dir().join("authorized_keys"), &key_pub)?;
        known.extend(std::fs::read(&f.known_hosts)?);
        all.extend(
            f.hosts
                .iter()
                .map(|h| (format!("f{i}-{}", h.name), h.address.clone())),
        );
    }
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, known)?;
    Ok(Hosts {
        fleets,
        all,
        known_hosts,
    })
}

/// One measured run; a run that did not succeed on every host aborts the benchmark.
fn measure_one(
    s: &Setup,
    tool: Tool,
    hosts: usize,
    script: &str,
    listeners: &[u32],
) -> Result<Record, Box<dyn Error>> {
    let (out, err) = (s.dir.join("stdout"), s.dir.join("stderr"));
    let mut cmd = tool.command(s, hosts, script);
    cmd.stdout(Stdio::from(std::fs::File::create(&out)?))
        .stderr(Stdio::from(std::fs::File::create(&err)?));
    let done = measure::run(&mut cmd, listeners)?;
    let text = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    tool.verify(done.code, &text(&out), &text(&err), hosts)?;
    let m = &done.sample;
    eprintln!(
        "{hosts:>4} {script:<5} {:<34} wall {:>6.2}s  client {:>6.3}s  sshd {:>6.2}s  rss {:>6.1} MiB",
        tool.label(),
        m.wall,
        m.client_cpu,
        m.sshd_cpu,
        m.max_rss_kib as f64 / 1024.0
    );
    Ok(Record {
        hosts,
        script: script.to_string(),
        tool,
        sample: done.sample,
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("fanout: skipped outside `cargo bench` (run `just bench`)");
        return Ok(());
    }
    let cfg = Config::from_env()?;
    let total = cfg.hosts.iter().copied().max().unwrap_or(0);
    let work = tempfile::Builder::new()
        .prefix("cutover-bench-")
        .tempdir()?;
    let Hosts {
        fleets,
        all,
        known_hosts,
    } = start_fleets(total, work.path())?;
    let listeners: Vec<u32> = fleets
        .iter()
        .flat_map(|f| f.hosts.iter().map(|h| h.pid()))
        .collect();
    let setup = Setup {
        cutover: env!("CARGO_BIN_EXE_cutover").into(),
        python: cfg.python.clone(),
        pssh_script: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("benches/fanout/pssh_client.py"),
        key: fleets[0].client_key.clone(),
        known_hosts,
        dir: work.path().to_path_buf(),
    };
    let tools = cfg.tools();
    let mut records = Vec::new();
    for (size, &hosts) in cfg.hosts.iter().enumerate() {
        tools::write_host_files(&setup.dir, &all, hosts)?;
        for rep in 0..cfg.reps(size) {
            for script in &cfg.commands {
                for i in 0..tools.len() {
                    // Rotate the order each round so drift hits every tool alike.
                    let tool = tools[(i + rep) % tools.len()];
                    let paced = matches!(
                        tool,
                        Tool::Cutover {
                            pacing: Pacing::Default,
                            ..
                        }
                    );
                    if paced && rep >= cfg.default_pacing_reps {
                        continue;
                    }
                    let listeners = &listeners[..hosts];
                    records.push(measure_one(&setup, tool, hosts, script, listeners)?);
                }
            }
        }
    }
    drop(fleets);
    write_results(&cfg, &records)
}

fn write_results(cfg: &Config, records: &[Record]) -> Result<(), Box<dyn Error>> {
    let header = format!(
        "Run of {} UTC: hosts {:?}, commands {:?}, runs per figure {:?} by fleet size ({} for \
         cutover at default pacing), equal concurrency N = {}, {} cores, sshd MaxStartups \
         {MAX_STARTUPS}.",
        cutover::clock::now().format("%Y-%m-%d %H:%M"),
        cfg.hosts,
        cfg.commands,
        (0..cfg.hosts.len())
            .map(|i| cfg.reps(i))
            .collect::<Vec<_>>(),
        cfg.default_pacing_reps,
        cfg.equal,
        report::CORES
    );
    let block = report::block(records, &header, CUTOVER_FANOUT, cfg.equal);
    println!("{block}");
    let doc = std::fs::read_to_string(&cfg.doc).unwrap_or_default();
    std::fs::write(&cfg.doc, report::splice(&doc, &block))?;
    eprintln!("results written to {}", cfg.doc.display());
    Ok(())
}
