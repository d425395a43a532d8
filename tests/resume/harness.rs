//! A fleet, inventory and plan whose action counts its fires, a `cutover run` child that can
//! be killed at a journal event, and the checks every resumed run must pass.

use super::support;
use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A fleet with a plan against it.
pub struct Setup {
    pub fleet: support::Fleet,
    pub plan: PathBuf,
}

/// Hosts with a config to edit; the action appends a line to `$HOME/fired` (so a second fire
/// shows), the watch waits for it, a post step leaves `$HOME/post-done`.
pub fn setup(n: usize) -> Setup {
    let fleet = support::Fleet::builder(n).start();
    let mut inv = String::from("[inventory]\nname = \"rehearsal\"\n\n");
    for h in &fleet.hosts {
        std::fs::create_dir_all(h.dir.join("etc")).unwrap();
        std::fs::write(h.dir.join("etc/app.json"), "{\n  \"tls\": true\n}\n").unwrap();
        inv.push_str(&format!("[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nuser = \"root\"\ngroups = [\"app\"]\nvars = {{ root = \"{d}\", cutover_dir = \"{d}/cutover\" }}\n\n", h.name, h.address, d = h.dir.display()));
    }
    std::fs::write(fleet.dir().join("inventory.toml"), inv).unwrap();
    let plan = format!(
        r#"[plan]
name = "rehearsal"

[inventory]
path = "inventory.toml"

[ssh]
identities = ["{key}"]
known_hosts = ["{kh}"]

[execution]
batch_size = 1
connect_rate = 50
command_timeout = "20s"

[[preflight]]
check = "clock"
max_offset = "1s"
ntp_synchronized = false

[[stage]]
name = "turn tls off"
step = "edit_file"
path = "{{{{ vars.root }}}}/etc/app.json"
set = {{ format = "json", keys = {{ tls = false }} }}
sudo = false

[[stage]]
name = "count staging"
step = "command"
run = "sleep 0.3; echo x >> \"$HOME/staged-count\""
sudo = false

[[verify]]
check = "file"
path = "{{{{ vars.root }}}}/etc/app.json"
contains = '"tls": false'

[action]
at = 2030-01-01T00:00:00Z
run = "echo fired >> \"$HOME/fired\""
sudo = false
mechanism = "waiter"
arm_deadline = "6s"
reverify_before = "3s"

[watch]
timeout = "1m"
stable_for = "1s"
poll_interval = "500ms"
complete_when = ["all_probes"]

[[watch.probe]]
name = "up"
kind = "command"
targets = "all"
run = "test -f \"$HOME/fired\""

[[post]]
name = "after"
step = "command"
run = "echo x >> \"$HOME/post-done\""
sudo = false
"#,
        key = fleet.client_key.display(),
        kh = fleet.known_hosts.display(),
    );
    let path = fleet.dir().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    Setup { fleet, plan: path }
}

impl Setup {
    /// Where run directories live.
    pub fn runs(&self) -> PathBuf {
        self.fleet.dir().join("runs")
    }

    /// The (only) run directory.
    pub fn run_dir(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.runs())
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.is_dir())
    }

    /// The journal's records (complete lines only).
    pub fn journal(&self) -> Vec<Value> {
        let Some(dir) = self.run_dir() else {
            return vec![];
        };
        let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// `cutover run` in the background, firing `secs` from now.
    pub fn spawn_run(&self, secs: u32) -> Child {
        self.cutover("run")
            .arg(&self.plan)
            .args(["--now", "2029-12-31T23:00:00Z", "--yes", "--at"])
            .arg(format!("now+{secs}s"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `cutover <sub> ... --runs-dir RUNS`.
    pub fn cutover(&self, sub: &str) -> Command {
        let mut c = Command::cargo_bin("cutover").unwrap();
        c.arg(sub).arg("--runs-dir").arg(self.runs());
        c
    }

    /// `cutover resume RUN --yes`, to the end.
    pub fn resume(&self) -> Out {
        let dir = self.run_dir().expect("a run directory");
        let out = self
            .cutover("resume")
            .arg(dir.file_name().unwrap())
            .arg("--yes")
            .output()
            .unwrap();
        Out::from(out)
    }

    /// Waits for the first journal record `pred` accepts.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = cutover::clock::instant() + Duration::from_secs(60);
        while cutover::clock::instant() < deadline {
            if let Some(r) = self.journal().into_iter().find(|r| pred(&r["event"])) {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no {what} in the journal: {:#?}", self.journal());
    }

    /// Lines of a host file (0 when absent).
    pub fn count(&self, host: usize, file: &str) -> usize {
        std::fs::read_to_string(self.fleet.hosts[host].dir.join(file))
            .map_or(0, |t| t.lines().count())
    }
}

/// Kills the orchestrator the hard way: no destructor, no final journal line.
pub fn sigkill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The first record of kind `kind` (and, for phase_done, of `phase`).
pub fn phase_done(phase: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["kind"] == "phase_done" && e["phase"] == phase && e["ok"] == true
}

/// A finished process.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Out {
    fn from(o: std::process::Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    }
}

/// What every resumed run must show: complete, each host fired exactly once and ran post
/// once, no waiter left, one `resumed` record, sequence numbers 1..n without a repeat or gap.
pub fn assert_converged(s: &Setup, r: &Out) {
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    if let Some(keep) = std::env::var_os("CUTOVER_KEEP_JOURNAL") {
        let dir = s.run_dir().unwrap();
        std::fs::copy(dir.join("journal.jsonl"), keep).unwrap();
    }
    let journal = s.journal();
    let last = &journal.last().unwrap()["event"];
    assert_eq!(last["kind"], "finished", "{last}");
    assert_eq!(last["outcome"], "complete", "{last}");
    for (i, h) in s.fleet.hosts.iter().enumerate() {
        assert_eq!(
            s.count(i, "fired"),
            1,
            "{} fired {} times",
            h.name,
            s.count(i, "fired")
        );
        assert_eq!(s.count(i, "post-done"), 1, "{} ran post twice", h.name);
        assert!(!waiter_left(&h.dir), "{} still has a waiter armed", h.name);
    }
    let seqs: Vec<u64> = journal.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "journal not continuous"
    );
    let resumed = journal
        .iter()
        .filter(|r| r["event"]["kind"] == "resumed")
        .count();
    assert_eq!(resumed, 1);
}

/// True when a waiter armed under `dir` still runs.
pub fn waiter_left(dir: &Path) -> bool {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("cutover-waiter-") && cmd.contains(&needle)
        })
}
