//! `cutover run` as an operator sees it, on real sshd hosts: the dashboard driven through
//! tmux (keys in, screen captured), plain mode with Ctrl-C, gates, and `cutover watch`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

#[path = "dashboard/tmux.rs"]
mod tmux;

#[path = "dashboard/gates.rs"]
mod gates;
#[path = "dashboard/keys.rs"]
mod keys;
#[path = "dashboard/plain.rs"]
mod plain;
#[path = "dashboard/signals.rs"]
mod signals;
#[path = "dashboard/watch.rs"]
mod watch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fleet whose hosts each have a config file, an inventory and a plan arming a waiter.
pub struct Setup {
    /// The hosts.
    pub fleet: support::Fleet,
    /// The plan file.
    pub plan: PathBuf,
    /// Where run directories go.
    pub runs: PathBuf,
}

/// `n` hosts; `stage_gate` puts an operator gate on the staging step.
pub fn setup(n: usize, stage_gate: Option<&str>) -> Setup {
    setup_with(n, stage_gate, "")
}

/// Like `setup`, with more `[action]` lines (e.g. `arm_window = "15s"`).
pub fn setup_with(n: usize, stage_gate: Option<&str>, action: &str) -> Setup {
    let fleet = support::Fleet::builder(n).start();
    let mut inv = String::from("[inventory]\nname = \"rehearsal\"\n\n");
    for h in &fleet.hosts {
        std::fs::create_dir_all(h.dir.join("etc")).unwrap();
        std::fs::write(h.dir.join("etc/app.conf"), "mode = old\n").unwrap();
        inv.push_str(&format!("[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nuser = \"root\"\ngroups = [\"app\"]\nvars = {{ root = \"{d}\", cutover_dir = \"{d}/cutover\" }}\n\n", h.name, h.address, d = h.dir.display()));
    }
    std::fs::write(fleet.dir().join("inventory.toml"), inv).unwrap();
    let gate = stage_gate.map_or(String::new(), |g| format!("gate = \"{g}\"\n"));
    let plan = format!(
        "[plan]\nname = \"rehearsal\"\n\n[inventory]\npath = \"inventory.toml\"\n\n[ssh]\nidentities = [\"{key}\"]\nknown_hosts = [\"{kh}\"]\n\n[execution]\nbatch_size = 20\nconnect_rate = 50\ncommand_timeout = \"20s\"\n\n[[stage]]\nname = \"switch mode\"\nstep = \"command\"\nrun = \"echo 'mode = new' > \\\"$HOME/etc/app.conf\\\"\"\nsudo = false\n{gate}\n[[verify]]\ncheck = \"file\"\npath = \"{{{{ vars.root }}}}/etc/app.conf\"\ncontains = 'mode = new'\n\n[action]\nat = 2030-01-01T00:00:00Z\nrun = \"echo fired > \\\"$HOME/fired\\\"\"\nsudo = false\nmechanism = \"waiter\"\narm_deadline = \"6s\"\nreverify_before = \"3s\"\n{action}",
        key = fleet.client_key.display(),
        kh = fleet.known_hosts.display(),
    );
    let path = fleet.dir().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    let runs = fleet.dir().join("runs");
    Setup {
        fleet,
        plan: path,
        runs,
    }
}

impl Setup {
    /// `cutover run` arguments for a rehearsal firing `secs` from now.
    pub fn run_args(&self, secs: u32) -> Vec<String> {
        vec![
            "run".into(),
            self.plan.display().to_string(),
            "--now".into(),
            "2029-12-31T23:00:00Z".into(),
            "--yes".into(),
            "--at".into(),
            format!("now+{secs}s"),
            "--runs-dir".into(),
            self.runs.display().to_string(),
        ]
    }

    /// The one run directory.
    pub fn run_dir(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.runs)
            .ok()?
            .filter_map(|e| e.ok())
            .find(|e| e.path().is_dir())
            .map(|e| e.path())
    }

    /// The journal's text so far (empty before the run directory exists).
    pub fn journal(&self) -> String {
        self.run_dir()
            .and_then(|d| std::fs::read_to_string(d.join("journal.jsonl")).ok())
            .unwrap_or_default()
    }

    /// Journal events of this kind.
    pub fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.journal()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| v["event"].clone())
            .filter(|e| e["kind"] == kind)
            .collect()
    }

    /// Every host shows `Disarmed ok` in the journal, no waiter is left, and nothing fires
    /// (waiting past the fire time at `fire`).
    pub fn assert_disarmed_and_silent(&self, fire: Instant) {
        let disarmed = self.events("disarmed");
        for h in &self.fleet.hosts {
            assert!(
                disarmed
                    .iter()
                    .any(|e| e["host"] == h.name.as_str() && e["ok"] == true),
                "{} not disarmed: {disarmed:?}",
                h.name
            );
        }
        let waiters = support::process::until_none(Duration::from_secs(5), || {
            support::process::pids_with_marker("cutover-waiter-")
                .into_iter()
                .filter(|p| self.waiter_of(*p))
                .collect::<Vec<u32>>()
        });
        assert!(
            waiters.is_empty(),
            "waiters survived the abort: {waiters:?}"
        );
        let left = fire.saturating_duration_since(cutover::clock::instant());
        std::thread::sleep(left + Duration::from_secs(3));
        for h in &self.fleet.hosts {
            assert!(!h.dir.join("fired").exists(), "{} fired", h.name);
        }
    }

    fn waiter_of(&self, pid: u32) -> bool {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline);
        self.fleet
            .hosts
            .iter()
            .any(|h| text.contains(&h.dir.display().to_string()))
    }
}

/// SIGKILLs a process by pid when dropped, so a failing test leaves no `cutover run` behind.
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Polls `what` every 100 ms until it holds or `secs` pass; panics with `why()` otherwise.
pub fn wait_for(secs: u64, mut what: impl FnMut() -> bool, why: impl Fn() -> String) {
    let end = cutover::clock::instant() + Duration::from_secs(secs);
    while cutover::clock::instant() < end {
        if what() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out after {secs}s: {}", why());
}

/// The cutover binary.
pub fn cutover() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| assert_cmd::cargo::cargo_bin("cutover"))
}
