//! A lab started with the real `cutover lab up`, torn down with `cutover lab down` on drop,
//! and full `cutover run`s against it.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// Runs the cutover binary; returns (exit code, stdout, stderr).
pub fn cutover(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .args(args)
        .timeout(std::time::Duration::from_secs(240))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Labs of hundreds of hosts load both cores for minutes: they run alone, so the small labs
/// beside them are not judged on timing (clock checks, arming deadlines) under a load that
/// is not what they test. Small labs share.
static SIZE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// How a lab holds [`SIZE`] for its lifetime.
#[allow(dead_code, reason = "held for its drop only")]
enum Share {
    Shared(std::sync::RwLockReadGuard<'static, ()>),
    Alone(std::sync::RwLockWriteGuard<'static, ()>),
}

/// A running lab in a temp dir; `lab down` on drop.
pub struct Lab {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    _share: Share,
}

impl Lab {
    /// `cutover lab up --dir TMP/lab --subnet SUBNET ARGS...`; panics with its output on failure.
    pub fn up(subnet: &str, args: &[&str]) -> Lab {
        let hosts: usize = (args.iter())
            .position(|a| *a == "--hosts")
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(3);
        let share = match hosts >= 100 {
            true => Share::Alone(SIZE.write().unwrap_or_else(|e| e.into_inner())),
            false => Share::Shared(SIZE.read().unwrap_or_else(|e| e.into_inner())),
        };
        let tmp = tempfile::Builder::new()
            .prefix("cutover-labtest-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().join("lab");
        let d = dir.display().to_string();
        let mut all = vec!["lab", "up", "--dir", &d, "--subnet", subnet];
        all.extend_from_slice(args);
        let (code, out, err) = cutover(&all);
        assert_eq!(code, 0, "lab up failed:\n{out}\n{err}");
        Lab {
            tmp,
            dir,
            _share: share,
        }
    }

    /// Every pid the lab recorded: servers (lab.json) and services (hosts/*/run/*.pid).
    pub fn pids(&self) -> Vec<u32> {
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("lab.json")).unwrap())
                .unwrap();
        let mut pids: Vec<u32> = state["pids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["pid"].as_u64().unwrap() as u32)
            .collect();
        pids.extend(self.service_pids());
        pids
    }

    /// Service pids by host (hosts/NAME/run/consul.pid).
    pub fn service_pids(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for host in std::fs::read_dir(self.dir.join("hosts")).unwrap().flatten() {
            if let Ok(t) = std::fs::read_to_string(host.path().join("run/consul.pid")) {
                out.push(t.trim().parse().unwrap());
            }
        }
        out.sort_unstable();
        out
    }

    /// Writes `plan` next to the lab and runs it with `--at now+FIRE_IN --yes`.
    pub fn run(&self, plan: &str, fire_in: &str) -> Run {
        self.run_with(plan, fire_in, &[])
    }

    /// [`Lab::run`] with more arguments.
    pub fn run_with(&self, plan: &str, fire_in: &str, extra: &[&str]) -> Run {
        let path = self.tmp.path().join("plan.toml");
        std::fs::write(&path, plan).unwrap();
        let runs = self.tmp.path().join("runs");
        let at = format!("now+{fire_in}");
        let mut args = vec![
            "run",
            path.to_str().unwrap(),
            "--at",
            &at,
            "--yes",
            "--runs-dir",
            runs.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let (code, stdout, stderr) = cutover(&args);
        Run {
            code,
            stdout,
            stderr,
            journal: journal_in(&runs),
        }
    }

    /// [`Lab::run`], handing each output line to `on_line` as it arrives, so a test can act
    /// at a precise point of the run (e.g. make a host drift once `arm: ok` is printed).
    pub fn run_acting(&self, plan: &str, fire_in: &str, mut on_line: impl FnMut(&str)) -> Run {
        use std::io::{BufRead, Read};
        let path = self.tmp.path().join("plan.toml");
        std::fs::write(&path, plan).unwrap();
        let runs = self.tmp.path().join("runs");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
            .arg("run")
            .arg(&path)
            .args(["--at", &format!("now+{fire_in}"), "--yes", "--runs-dir"])
            .arg(&runs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        struct Reap(std::process::Child);
        impl Drop for Reap {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let (stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let mut child = Reap(child);
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let mut out = String::new();
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            on_line(&line);
            out.push_str(&line);
            out.push('\n');
        }
        let code = child.0.wait().unwrap().code().unwrap_or(-1);
        Run {
            code,
            stdout: out,
            stderr: err.join().unwrap_or_default(),
            journal: journal_in(&runs),
        }
    }

    /// The lab's files (inventory, known_hosts, client key) as plan lines.
    pub fn plan_head(&self, batch_size: usize) -> String {
        let q = |p: &str| format!("\"{}\"", self.dir.join(p).display());
        format!(
            "[plan]\nname = \"lab-test\"\n\n[inventory]\npath = {}\n\n[ssh]\nknown_hosts = [{}]\nidentities = [{}]\nconnect_timeout = \"5s\"\n\n[execution]\nbatch_size = {batch_size}\nmax_failures = 0\nconnect_rate = 50\ncommand_timeout = \"20s\"\n\n",
            q("inventory.toml"),
            q("known_hosts"),
            q("client_key"),
        )
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.dir.join("lab.json").exists() {
            let _ = cutover(&["lab", "down", "--dir", self.dir.to_str().unwrap()]);
        }
    }
}

/// One `cutover run`.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The raw journal text of the (only) run.
    pub journal: String,
}

impl Run {
    /// Journal events (the `event` of each record).
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.journal
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|r| r["event"].clone())
            .collect()
    }

    /// The verdict of check `path` on `host` (the last one recorded).
    pub fn verdict(&self, path: &str, host: &str) -> serde_json::Value {
        self.events()
            .into_iter()
            .rev()
            .find(|e| e["kind"] == "check" && e["path"] == path && e["host"] == host)
            .map(|e| e["verdict"].clone())
            .unwrap_or_else(|| panic!("no verdict for {path} on {host}:\n{}", self.stdout))
    }

    /// Hosts named by events of a kind, sorted and deduplicated.
    pub fn hosts_of(&self, kind: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .of_kind(kind)
            .iter()
            .filter_map(|e| e["host"].as_str().map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Events of a kind.
    pub fn of_kind(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }
}

fn journal_in(runs: &Path) -> String {
    let Ok(dirs) = std::fs::read_dir(runs) else {
        return String::new();
    };
    dirs.flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
        .collect()
}

/// Whether any process's command line contains `marker` (read from /proc only).
pub fn processes_naming(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .filter(|pid| cutover::lab::procs::alive(*pid))
        .collect()
}

/// The preflight of the lab plan: clock, sudo, scheduler (waiter).
pub const PREFLIGHT: &str = "[[preflight]]\ncheck = \"clock\"\nmax_offset = \"1s\"\nntp_synchronized = true\n\n[[preflight]]\ncheck = \"sudo\"\n\n[[preflight]]\ncheck = \"scheduler\"\nmechanism = \"waiter\"\n\n";

/// Stage, verify, action, watch and post of the lab plan (after the preflight).
pub const BODY: &str = r#"[[stage]]
name = "disable the agent"
step = "disable_service"
unit = "chef-client"

[[stage]]
name = "stop verifying TLS dates"
step = "edit_file"
path = "{{ vars.root }}/etc/consul.json"
set = { format = "json", keys = { verify_incoming = false, verify_outgoing = false } }

[[verify]]
check = "agent_disabled"
unit = "chef-client"

[[verify]]
check = "file"
path = "{{ vars.root }}/etc/consul.json"
contains = '"verify_outgoing":\s*false'

[action]
at = 2030-01-01T00:00:00Z
run = "lab-service restart consul"
mechanism = "waiter"
arm_deadline = "8s"
reverify_before = "4s"

[watch]
poll_interval = "500ms"
stable_for = "2s"
timeout = "1m"
complete_when = ["all_probes"]

[[watch.probe]]
name = "service-up"
kind = "command"
targets = "all"
run = "lab-service status consul"

[[post]]
name = "re-enable the agent"
step = "enable_service"
unit = "chef-client"
"#;
