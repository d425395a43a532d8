//! Real hosts: `cutover lab up --backend nspawn` boots systemd containers (root only), and every
//! arming mechanism fires on them, checked from each host's receipts and journal; the waiter
//! survives logind's `KillUserProcesses=yes` after the orchestrator's connections are cut;
//! network faults cut and restore a host; `lab down` leaves no namespace, link, mount, cgroup
//! or process behind. The labs use their own /24s inside namespaces they create.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

fn cutover(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .args(args)
        .timeout(Duration::from_secs(400))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An nspawn lab in a temp dir; `lab down` on drop (also when a test fails).
struct Lab {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    subnet: String,
    hosts: usize,
}

impl Lab {
    fn up(subnet: &str, hosts: usize, extra: &[&str]) -> Lab {
        let tmp = tempfile::Builder::new()
            .prefix("cutover-nspawn-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().join("lab");
        let n = hosts.to_string();
        let d = dir.display().to_string();
        let mut args = vec![
            "lab",
            "up",
            "--backend",
            "nspawn",
            "--hosts",
            &n,
            "--dir",
            &d,
            "--subnet",
            subnet,
        ];
        args.extend_from_slice(extra);
        let lab = Lab {
            tmp,
            dir,
            subnet: subnet.into(),
            hosts,
        };
        let (code, out, err) = cutover(&args);
        assert_eq!(code, 0, "lab up failed:\n{out}\n{err}");
        lab
    }

    fn addr(&self, i: usize) -> String {
        format!("{}.{i}", self.subnet)
    }

    /// OpenSSH to host `i` as `user`, strict host keys from the lab's known_hosts.
    fn ssh(&self, i: usize, user: &str, cmd: &str) -> (i32, String) {
        let out = std::process::Command::new("ssh")
            .arg("-i")
            .arg(self.dir.join("client_key"))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.dir.join("known_hosts").display()
            ))
            .args([
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=3",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@{}", self.addr(i)))
            .arg(cmd)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn plan(&self, mechanism: &str, tag: &str) -> PathBuf {
        let q = |p: &str| format!("\"{}\"", self.dir.join(p).display());
        let plan = format!(
            r#"[plan]
name = "nspawn-{tag}"

[inventory]
path = {inv}

[ssh]
known_hosts = [{kh}]
identities = [{key}]
connect_timeout = "5s"

[execution]
batch_size = 10
max_failures = 0
connect_rate = 50
command_timeout = "30s"

[[preflight]]
check = "sudo"

[[preflight]]
check = "scheduler"
mechanism = "{mechanism}"

[[stage]]
name = "stage a marker"
step = "command"
run = "touch /var/tmp/staged-{tag}"

[[verify]]
check = "command"
run = "test -e /var/tmp/staged-{tag}"

[action]
at = 2030-01-01T00:00:00Z
run = "logger -t cutover-test fired-{tag}; id -un > /var/tmp/fired-{tag}"
sudo = false
mechanism = "{mechanism}"
arm_deadline = "10s"
reverify_before = "4s"

[watch]
poll_interval = "500ms"
stable_for = "1s"
timeout = "1m"
complete_when = ["all_probes"]

[[watch.probe]]
name = "fired"
kind = "command"
targets = "all"
run = "test -s /var/tmp/fired-{tag}"
"#,
            inv = q("inventory.toml"),
            kh = q("known_hosts"),
            key = q("client_key"),
        );
        let path = self.tmp.path().join(format!("{tag}.toml"));
        std::fs::write(&path, plan).unwrap();
        path
    }

    fn runs(&self) -> PathBuf {
        self.tmp.path().join("runs")
    }

    fn names(&self) -> cutover::lab::nspawn::Names {
        let state = cutover::lab::state::LabState::load(&self.dir).unwrap();
        cutover::lab::nspawn::Names::of(&state.spec)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.dir.join("lab.json").exists() {
            let _ = cutover(&["lab", "down", "--dir", self.dir.to_str().unwrap()]);
        }
    }
}

/// Everything a lab can leave behind, for `lab down` to be checked against.
fn leftovers(dir: &Path, names: &cutover::lab::nspawn::Names) -> Vec<String> {
    let mut out = Vec::new();
    let d = dir.display().to_string();
    for e in std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!("cutover-{}-", names.id)) {
            out.push(format!("namespace {n}"));
        }
    }
    for e in std::fs::read_dir("/sys/class/net").unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n == names.bridge || n.starts_with(&format!("cv{}h", names.id)) {
            out.push(format!("link {n}"));
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    out.extend(
        mounts
            .lines()
            .filter(|l| l.contains(&d))
            .map(|l| format!("mount {l}")),
    );
    for h in ["systemd", "unified", ""] {
        let p = Path::new("/sys/fs/cgroup").join(h).join(&names.cgroup);
        if p.exists() {
            out.push(format!("cgroup {}", p.display()));
        }
    }
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let ours = cmd.contains(&d) || cmd.contains(&format!("cutover-{}-", names.id));
        if ours && cutover::lab::procs::alive(pid) {
            out.push(format!("process {pid}: {cmd}"));
        }
    }
    out
}

fn receipt_field(receipt: &str, key: &str) -> Option<i64> {
    receipt
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn real_hosts_boot_with_their_users_and_every_mechanism_fires_on_them() {
    let started = cutover::clock::instant();
    let lab = Lab::up("10.253.41", 3, &[]);
    let names = lab.names();
    eprintln!("lab up: {:?}", started.elapsed());
    let inventory = std::fs::read_to_string(lab.dir.join("inventory.toml")).unwrap();
    assert!(inventory.contains("user = \"ops\""), "{inventory}");

    for i in 1..=lab.hosts {
        let (code, out) = lab.ssh(i, "ops", "hostname; sudo -n true && echo sudo-ok; systemctl is-system-running; cat /etc/machine-id");
        assert_eq!(code, 0, "ops on host {i}: {out}");
        assert!(out.starts_with(&format!("lab-{i}\nsudo-ok\n")), "{out}");
        let (code, out) = lab.ssh(i, "dev", "sudo -n true");
        assert_ne!(code, 0, "dev must need a password: {out}");
        assert!(out.contains("password is required"), "{out}");
    }
    let ids: std::collections::BTreeSet<String> = (1..=lab.hosts)
        .map(|i| lab.ssh(i, "root", "cat /etc/machine-id").1)
        .collect();
    assert_eq!(ids.len(), lab.hosts, "every host has its own machine-id");
    let (code, status, _) = cutover(&["lab", "status", "--dir", lab.dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(status.contains("nspawn backend"), "{status}");

    // `auto` on hosts whose operator has passwordless sudo: a systemd timer it can arm.
    for mechanism in ["systemd", "at", "waiter", "auto"] {
        let t = cutover::clock::instant();
        let plan = lab.plan(mechanism, mechanism);
        let (code, out, err) = cutover(&[
            "run",
            plan.to_str().unwrap(),
            "--at",
            "now+20s",
            "--yes",
            "--runs-dir",
            lab.runs().to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{mechanism}:\n{out}\n{err}");
        let spread = out
            .lines()
            .find(|l| l.starts_with("fire spread:"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            spread.contains(&format!("{} fired", lab.hosts)) && !spread.contains("MISSING"),
            "{mechanism}: {spread}"
        );
        for i in 1..=lab.hosts {
            let (_, fired) = lab.ssh(i, "ops", &format!("cat /var/tmp/fired-{mechanism}"));
            assert_eq!(
                fired.trim(),
                "ops",
                "{mechanism} on host {i} runs as the operator"
            );
            let (_, journal) = lab.ssh(
                i,
                "root",
                &format!(
                    "journalctl -q -t cutover-test --no-pager -o cat | grep -x fired-{mechanism}"
                ),
            );
            assert_eq!(
                journal.trim(),
                format!("fired-{mechanism}"),
                "host {i} journal"
            );
            let (_, receipt) = lab.ssh(i, "ops", "cat /var/tmp/cutover/*/receipt | tail -n 7");
            let (planned, woke) = (
                receipt_field(&receipt, "planned_ns").unwrap_or(0),
                receipt_field(&receipt, "woke_ns").unwrap_or(0),
            );
            assert!(
                woke >= planned,
                "{mechanism} on host {i} woke before its fire time:\n{receipt}"
            );
        }
        if mechanism == "auto" {
            let journal: String = std::fs::read_dir(lab.runs())
                .unwrap()
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
                .filter(|j| j.contains("\"plan\":\"nspawn-auto\""))
                .collect();
            let armed = journal.matches("\"kind\":\"armed\"").count();
            let by_systemd = journal
                .lines()
                .filter(|l| {
                    l.contains("\"kind\":\"armed\"") && l.contains("\"mechanism\":\"systemd\"")
                })
                .count();
            assert!(
                armed == lab.hosts && by_systemd == armed,
                "auto armed {armed} host(s), {by_systemd} by systemd"
            );
        }
        if mechanism == "systemd" {
            let (_, units) = lab.ssh(
                1,
                "root",
                "journalctl -q --no-pager -o cat -u 'cutover-*.service' | tail -n 3",
            );
            assert!(!units.trim().is_empty(), "the transient unit ran: {units}");
        }
        eprintln!("{mechanism}: {:?}, {spread}", t.elapsed());
    }

    let dir = lab.dir.clone();
    drop(lab);
    let left = leftovers(&dir, &names);
    assert!(left.is_empty(), "lab down left: {left:#?}");
    assert!(!dir.exists());
}

#[test]
fn the_waiter_survives_kill_user_processes_after_the_connections_are_cut() {
    let lab = Lab::up("10.253.42", 2, &[]);
    for i in 1..=lab.hosts {
        let (code, out) = lab.ssh(
            i,
            "root",
            "mkdir -p /etc/systemd/logind.conf.d && printf '[Login]\\nKillUserProcesses=yes\\n' > /etc/systemd/logind.conf.d/kill.conf && systemctl restart systemd-logind",
        );
        assert_eq!(code, 0, "{out}");
    }
    // The control: with KillUserProcesses=yes, a plain setsid process dies with the session.
    let (code, out) = lab.ssh(
        1,
        "ops",
        "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo started",
    );
    assert_eq!(code, 0, "{out}");
    let until = cutover::clock::instant() + Duration::from_secs(15);
    loop {
        let (_, left) = lab.ssh(1, "root", "pgrep -u ops -x sleep || echo none");
        if left.trim() == "none" {
            break;
        }
        assert!(
            cutover::clock::instant() < until,
            "logind must kill a session's setsid process: {left}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let plan = lab.plan("waiter", "kup");
    let mut child = spawn_run(&lab, &plan, "now+25s");
    let deadline = cutover::clock::instant() + Duration::from_secs(60);
    let armed = loop {
        let journal: String = std::fs::read_dir(lab.runs())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
            .collect();
        // Committed: from here on every host fires unless disarmed (before, it must not).
        let n = journal.matches("\"kind\":\"committed\"").count();
        if n == lab.hosts || cutover::clock::instant() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Cut the orchestrator: its SSH connections close, logind ends the sessions.
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(armed, lab.hosts, "every host committed before the cut");
    let deadline = cutover::clock::instant() + Duration::from_secs(60);
    for i in 1..=lab.hosts {
        loop {
            let (_, fired) = lab.ssh(i, "root", "cat /var/tmp/fired-kup 2>/dev/null");
            if fired.trim() == "ops" {
                break;
            }
            assert!(
                cutover::clock::instant() < deadline,
                "host {i}: the waiter did not fire after the connection was cut"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn network_faults_cut_a_host_off_and_clearing_them_restores_it() {
    let lab = Lab::up("10.253.43", 3, &["--fault", "lab-3=blackhole"]);
    let d = lab.dir.to_str().unwrap().to_string();
    assert_ne!(
        lab.ssh(3, "ops", "true").0,
        0,
        "lab-3 is blackholed from the start"
    );
    assert_eq!(lab.ssh(1, "ops", "true").0, 0);

    let (code, out, err) = cutover(&["lab", "fault", "lab-3", "clear", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(lab.ssh(3, "ops", "true").0, 0, "cleared");

    let (code, out, err) = cutover(&["lab", "fault", "lab-1", "loss:100", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(lab.ssh(1, "ops", "true").0, 0, "100% loss");
    cutover(&["lab", "fault", "lab-1", "clear", "--dir", &d]);

    let (code, out, err) = cutover(&["lab", "fault", "lab-1", "partition:lab-2", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    let probe = |to: usize| {
        lab.ssh(
            1,
            "ops",
            &format!(
                "timeout 2 bash -c '</dev/tcp/{}/22' && echo open || echo closed",
                lab.addr(to)
            ),
        )
        .1
    };
    assert_eq!(probe(2).trim(), "closed", "lab-1 cannot reach lab-2");
    assert_eq!(probe(3).trim(), "open", "lab-1 still reaches lab-3");
    let (_, status, _) = cutover(&["lab", "status", "--dir", &d]);
    assert!(status.contains("partition:lab-2"), "{status}");

    // Latency: an NFQUEUE delayer holds every packet lab-2 sends.
    let (code, out, err) = cutover(&["lab", "fault", "lab-2", "delay:60", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    let connect = |i: usize| {
        let addr: std::net::SocketAddr = format!("{}:22", lab.addr(i)).parse().unwrap();
        let t = cutover::clock::instant();
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
        t.elapsed()
    };
    let slow = (0..3).map(|_| connect(2)).min().unwrap();
    assert!(
        slow >= Duration::from_millis(60) && slow < Duration::from_millis(500),
        "connect to the delayed host: {slow:?}"
    );
    assert!(
        connect(3) < Duration::from_millis(50),
        "lab-3 is not delayed"
    );
    let (code, out, err) = cutover(&["lab", "fault", "lab-2", "clear", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(connect(2) < Duration::from_millis(50), "cleared");
}

#[test]
fn a_systemd_disarm_stops_the_timer_but_never_a_running_action() {
    use cutover::arm::job::{Job, commit_script, install_script, script};
    use cutover::arm::mechanism::{Concrete, Reap, arm_script, disarm_script};
    let lab = Lab::up("10.253.44", 1, &[]);
    let (run, dir) = ("disarm-test", "/var/tmp/cutover/disarm-test");
    let fire = cutover::clock::now() + chrono::Duration::seconds(8);
    let job = script(&Job {
        dir,
        fire_ns: fire.timestamp_nanos_opt().unwrap(),
        command: "sleep 6; echo done > /var/tmp/slow-done",
    });
    let (code, out) = lab.ssh(1, "ops", &install_script(dir, &job, false));
    assert_eq!(code, 0, "{out}");
    let deadline = fire + chrono::Duration::seconds(60);
    let (code, out) = lab.ssh(
        1,
        "ops",
        &arm_script(Concrete::Systemd, run, dir, fire, deadline),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("armed=cutover-disarm-test"), "{out}");
    let (code, out) = lab.ssh(1, "ops", &commit_script(dir));
    assert_eq!(code, 0, "{out}");
    assert!(cutover::clock::now() < fire, "armed before the fire time");
    let until = cutover::clock::instant() + Duration::from_secs(30);
    loop {
        let (_, state) = lab.ssh(
            1,
            "ops",
            "systemctl show -p ActiveState --value cutover-disarm-test.service",
        );
        if state.trim() == "activating" {
            break;
        }
        assert!(
            cutover::clock::instant() < until,
            "the action never started: {state}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, out) = lab.ssh(
        1,
        "ops",
        &disarm_script(Concrete::Systemd, run, dir, Reap::Gone),
    );
    assert_eq!(code, 2, "a fired job is reported, not killed: {out}");
    assert!(out.contains("already fired"), "{out}");
    let until = cutover::clock::instant() + Duration::from_secs(30);
    loop {
        let (_, done) = lab.ssh(1, "ops", "cat /var/tmp/slow-done 2>/dev/null");
        if done.trim() == "done" {
            break;
        }
        assert!(
            cutover::clock::instant() < until,
            "the running action was killed"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (_, receipt) = lab.ssh(1, "ops", &format!("cat {dir}/receipt"));
    assert!(receipt.contains("exit=0"), "{receipt}");
}

#[test]
fn the_scheduler_preflight_refuses_a_user_whose_sudo_asks_a_password() {
    let lab = Lab::up("10.253.45", 1, &[]);
    let inv = std::fs::read_to_string(lab.dir.join("inventory.toml")).unwrap();
    std::fs::write(
        lab.dir.join("inventory-dev.toml"),
        inv.replace("user = \"ops\"", "user = \"dev\""),
    )
    .unwrap();
    let plan = lab.plan("systemd", "dev");
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("inventory.toml", "inventory-dev.toml")
        .replace("[[preflight]]\ncheck = \"sudo\"\n\n", "");
    std::fs::write(&plan, text).unwrap();
    let (code, out, err) = cutover(&[
        "run",
        plan.to_str().unwrap(),
        "--at",
        "now+20s",
        "--yes",
        "--runs-dir",
        lab.runs().to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}\n{err}");
    let journal: String = std::fs::read_dir(lab.runs())
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
        .collect();
    assert!(
        journal.contains("a password is required"),
        "the scheduler check names the cause:\n{out}\n{journal}"
    );
    assert!(!journal.contains("\"kind\":\"armed\""), "nothing armed");
    let (_, fired) = lab.ssh(1, "root", "ls /var/tmp/staged-dev /var/tmp/fired-dev 2>&1");
    assert!(fired.contains("No such file"), "{fired}");
}

#[test]
fn the_demo_completes_on_real_systemd_hosts() {
    let tmp = tempfile::Builder::new()
        .prefix("cutover-nspawn-demo-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("lab");
    let runs = tmp.path().join("runs");
    let (d, r) = (
        dir.to_str().unwrap().to_string(),
        runs.to_str().unwrap().to_string(),
    );
    // Kept after the run, to read the members; the guard takes it down if an assertion fails.
    let lab = Lab {
        tmp,
        dir: dir.clone(),
        subnet: "10.253.46".into(),
        hosts: 3,
    };
    let (code, out, err) = cutover(&[
        "demo",
        "--backend",
        "nspawn",
        "--hosts",
        "3",
        "--plain",
        "--subnet",
        "10.253.46",
        "--dir",
        &d,
        "--runs-dir",
        &r,
        "--keep",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("3 etcd members"), "{out}");
    assert!(out.contains("run complete"), "{out}");
    assert!(out.contains("3 fired"), "{out}");
    // The simultaneous restart usually takes the leader away for seconds (etcd 3.4's leader
    // tries to hand over to members restarting too), and a watch that saw it saw the election
    // end. Whether a 500 ms poll lands in the window depends on the machine's load, so the
    // restart itself is proved from every member's journal below.
    if out.contains(": NO LEADER") {
        let elected: Vec<&str> = out
            .lines()
            .filter(|l| l.contains(": leader lab-") && l.contains("leaderless for"))
            .collect();
        assert!(!elected.is_empty(), "{out}");
        eprintln!("{}", elected.join("\n"));
    } else {
        eprintln!("the watch's polls missed the leaderless window this time");
    }
    let inventory = std::fs::read_to_string(dir.join("inventory.toml")).unwrap();
    assert!(
        inventory.contains("3 etcd members on the servers"),
        "{inventory}"
    );
    let (code, status, _) = cutover(&["lab", "status", "--dir", &d]);
    assert_eq!(code, 0);
    assert!(status.contains("etcd on 3"), "{status}");
    assert_eq!(status.matches("etcd healthy").count(), 3, "{status}");

    for i in 1..=lab.hosts {
        let (code, unit) = lab.ssh(
            i,
            "root",
            "systemctl is-active etcd; systemctl is-enabled etcd",
        );
        assert_eq!((code, unit.as_str()), (0, "active\nenabled\n"), "lab-{i}");
        let (_, receipt) = lab.ssh(i, "root", "cat /var/tmp/cutover/*/receipt");
        let planned = receipt_field(&receipt, "planned_ns").unwrap_or_else(|| panic!("{receipt}"));
        let (_, journal) = lab.ssh(
            i,
            "root",
            "journalctl -q --no-pager -o short-unix -u etcd.service",
        );
        let at = |what: &str| -> Vec<i64> {
            journal
                .lines()
                .filter(|l| l.contains(&format!("systemd[1]: {what} etcd.service")))
                .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
                .map(|t| (t * 1e9) as i64)
                .collect()
        };
        let (stops, starts) = (at("Stopping"), at("Started"));
        let stop = stops
            .iter()
            .copied()
            .find(|t| *t >= planned)
            .unwrap_or_else(|| panic!("lab-{i}: no restart of etcd at the fire:\n{journal}"));
        assert!(
            stop - planned < 3_000_000_000,
            "lab-{i}: etcd stopped {} ms after the fire time:\n{journal}",
            (stop - planned) / 1_000_000
        );
        assert!(
            starts.iter().any(|t| *t > stop),
            "lab-{i}: etcd started again after the restart:\n{journal}"
        );
        eprintln!(
            "lab-{i}: etcd stopped {:.1} ms after the fire time",
            (stop - planned) as f64 / 1e6
        );
    }

    let names = lab.names();
    let (code, out, err) = cutover(&["lab", "down", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    let left = leftovers(&dir, &names);
    assert!(left.is_empty(), "lab down left: {left:#?}");
    assert!(!dir.exists(), "lab down removed the lab");
    drop(lab);
}

/// The events of every journal record of the lab's runs.
fn journal_events(lab: &Lab) -> Vec<serde_json::Value> {
    std::fs::read_dir(lab.runs())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("journal.jsonl")).ok())
        .flat_map(|j| {
            j.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .map(|r| r["event"].clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The hosts of the journal's `kind` records, sorted.
fn hosts_of(events: &[serde_json::Value], kind: &str) -> Vec<String> {
    let mut hosts: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["host"].as_str().map(str::to_string))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// `cutover run PLAN --at AT --yes` in the background, its output piped.
fn spawn_run(lab: &Lab, plan: &Path, at: &str) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("cutover"))
        .args([
            "run",
            plan.to_str().unwrap(),
            "--at",
            at,
            "--yes",
            "--runs-dir",
        ])
        .arg(lab.runs())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Polls the lab's journals until `done` holds of them; panics with the run's output if it
/// ends first or after `within`.
fn await_journal(
    lab: &Lab,
    run: &mut std::process::Child,
    what: &str,
    within: Duration,
    done: impl Fn(&[serde_json::Value]) -> bool,
) {
    let deadline = cutover::clock::instant() + within;
    while !done(&journal_events(lab)) {
        let ended = run.try_wait().unwrap().is_some();
        if ended || cutover::clock::instant() > deadline {
            let _ = run.kill();
            let mut out = String::new();
            for pipe in [
                run.stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read>),
                run.stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn std::io::Read>),
            ]
            .into_iter()
            .flatten()
            {
                let mut pipe = pipe;
                let _ = std::io::Read::read_to_string(&mut pipe, &mut out);
            }
            panic!("{what}: not seen within {within:?} (the run ended: {ended}):\n{out}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for a background run; its exit code and output.
fn finish(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_rate_shapes_a_transfer_and_a_host_blackholed_mid_staging_leaves_the_run() {
    let lab = Lab::up("10.253.48", 3, &[]);
    let d = lab.dir.to_str().unwrap().to_string();
    let timed = |cmd: &str| {
        let t = cutover::clock::instant();
        let (code, out) = lab.ssh(3, "ops", cmd);
        assert_eq!(code, 0, "{cmd}: {out}");
        t.elapsed()
    };
    // 400 kB each way at 2000 kbit/s (250 kB/s): about 1.6 s on the wire, plus headers.
    let down = "head -c 400000 /dev/zero";
    let free = timed(down);
    let (code, out, err) = cutover(&["lab", "fault", "lab-3", "rate:2000", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("lab-3: rate:2000"), "{out}");
    let (_, status, _) = cutover(&["lab", "status", "--dir", &d]);
    assert!(
        status.contains("rate:2000"),
        "the lab records the fault: {status}"
    );
    let shaped_down = timed(down);
    let shaped_up = {
        let t = cutover::clock::instant();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "head -c 400000 /dev/zero | ssh -i {key} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes -o BatchMode=yes ops@{addr} 'wc -c'",
                key = lab.dir.join("client_key").display(),
                kh = lab.dir.join("known_hosts").display(),
                addr = lab.addr(3)
            ))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "400000");
        t.elapsed()
    };
    eprintln!(
        "400 kB: unshaped {free:?}, at 2000 kbit/s from the host {shaped_down:?}, to it {shaped_up:?}"
    );
    for (dir, took) in [("from the host", shaped_down), ("to the host", shaped_up)] {
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_millis(2500) + free,
            "400 kB {dir} at 2000 kbit/s took {took:?} (unshaped {free:?})"
        );
    }
    let (code, out, err) = cutover(&["lab", "fault", "lab-3", "clear", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    let cleared = timed(down);
    assert!(
        cleared < Duration::from_millis(1000),
        "cleared: {cleared:?}"
    );

    // A run whose stage step is slow; lab-2 goes dark while it runs.
    let plan = lab.plan("systemd", "dark");
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("max_failures = 0", "max_failures = 1")
        .replace(
            "connect_timeout = \"5s\"",
            "connect_timeout = \"3s\"\nkeepalive = \"1s\"",
        )
        .replace(
            "run = \"touch /var/tmp/staged-dark\"",
            "run = \"sleep 3; touch /var/tmp/staged-dark\"",
        );
    assert!(text.contains("keepalive") && text.contains("sleep 3"));
    std::fs::write(&plan, text).unwrap();
    let mut child = spawn_run(&lab, &plan, "now+30s");
    await_journal(
        &lab,
        &mut child,
        "the slow stage step",
        Duration::from_secs(60),
        |ev| {
            ev.iter()
                .any(|e| e["kind"] == "step" && e["path"] == "stage[0]")
        },
    );
    let dark = cutover::clock::instant();
    let (code, out, err) = cutover(&["lab", "fault", "lab-2", "blackhole", "--dir", &d]);
    assert_eq!(code, 0, "{out}{err}");
    await_journal(
        &lab,
        &mut child,
        "lab-2 excluded",
        Duration::from_secs(60),
        |ev| !hosts_of(ev, "excluded").is_empty(),
    );
    let noticed = dark.elapsed();
    let (code, out) = finish(child);
    eprintln!("blackholed lab-2 left the run {noticed:?} after going dark");
    assert_eq!(code, 0, "one host within the budget of 1:\n{out}");
    assert!(
        noticed < Duration::from_secs(15),
        "keepalives notice a dark host long before the command timeout (30s): {noticed:?}"
    );
    let events = journal_events(&lab);
    let excluded: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["kind"] == "excluded").collect();
    assert_eq!(excluded.len(), 1, "{excluded:?}");
    assert_eq!(excluded[0]["host"], "lab-2");
    assert_eq!(excluded[0]["phase"], "stage");
    let reason = excluded[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("the connection dropped")
            && out.contains("1 host(s): no exit status: the connection dropped  [lab-2]"),
        "the reason, shown: {reason}\n{out}"
    );
    assert!(
        out.contains("lab-2 leaves the run (stage)"),
        "the output says which host left and why:\n{out}"
    );
    assert_eq!(hosts_of(&events, "armed"), ["lab-1", "lab-3"], "{out}");
    assert_eq!(hosts_of(&events, "receipt"), ["lab-1", "lab-3"], "{out}");
    for i in [1, 3] {
        assert_eq!(lab.ssh(i, "ops", "cat /var/tmp/fired-dark").1.trim(), "ops");
    }
    cutover(&["lab", "fault", "lab-2", "clear", "--dir", &d]);
    let (_, left) = lab.ssh(
        2,
        "root",
        "ls /var/tmp/fired-dark 2>&1; systemctl list-timers --all --no-legend 'cutover-*' | wc -l",
    );
    assert!(
        left.contains("No such file") && left.trim().ends_with('0'),
        "lab-2 neither fired nor stayed armed: {left}"
    );
}

#[test]
fn a_host_that_reboots_after_arming_is_caught_at_t_minus_and_nothing_fires() {
    let lab = Lab::up("10.253.49", 2, &[]);
    let boot_id = |i: usize| match lab.ssh(i, "root", "cat /proc/sys/kernel/random/boot_id") {
        (0, id) => Some(id.trim().to_string()),
        _ => None,
    };
    let before = boot_id(2).unwrap();
    let plan = lab.plan("systemd", "reboot");
    let fire = cutover::clock::instant() + Duration::from_secs(20);
    let mut child = spawn_run(&lab, &plan, "now+20s");
    await_journal(
        &lab,
        &mut child,
        "both hosts armed",
        Duration::from_secs(60),
        |ev| hosts_of(ev, "armed").len() == 2,
    );
    // The reboot ends the SSH session: its exit code is not the point.
    lab.ssh(2, "root", "systemctl reboot");
    let deadline = cutover::clock::instant() + Duration::from_secs(20);
    loop {
        let id = boot_id(2);
        if id.as_ref().is_some_and(|id| *id != before) {
            break;
        }
        assert!(
            cutover::clock::instant() < deadline,
            "lab-2 did not come back from its reboot: {id:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (_, timers) = lab.ssh(
        2,
        "root",
        "systemctl list-timers --all --no-legend 'cutover-*' | wc -l",
    );
    assert_eq!(
        timers.trim(),
        "0",
        "the reboot took the transient timer with it"
    );
    let (code, out) = finish(child);
    let tail: Vec<&str> = out.lines().rev().take(12).collect();
    eprintln!(
        "the run ends with exit {code}:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert_ne!(code, 0, "{out}");
    let events = journal_events(&lab);
    assert!(
        out.contains("the armed systemd job is gone or changed (exit 1: timer cutover-")
            && out.contains("timer is no longer active (inactive): stopped, or lost in a reboot")
            && out.contains("[lab-2]"),
        "the run names the host and why:\n{out}"
    );
    assert!(
        hosts_of(&events, "receipt").is_empty(),
        "nothing fired:\n{out}"
    );
    // Past the fire time, neither host fired, and lab-1 was disarmed too (all or nothing).
    std::thread::sleep(
        (fire + Duration::from_secs(2)).saturating_duration_since(cutover::clock::instant()),
    );
    for i in 1..=lab.hosts {
        let (_, left) = lab.ssh(i, "root", "ls /var/tmp/fired-reboot 2>&1; systemctl list-timers --all --no-legend 'cutover-*' | wc -l");
        assert!(
            left.contains("No such file") && left.trim().ends_with('0'),
            "host {i} neither fired nor stayed armed: {left}\n{out}"
        );
    }
}
