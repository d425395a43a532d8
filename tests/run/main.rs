//! `cutover run` against real OpenSSH sshd hosts on loopback: shared setup; the tests live in
//! `staging` (preflight, stage, verify, refusals), `arming` (arm, fire, receipts), `disarm`
//! (every way an armed run is taken back) and `reconnect` (an action that kills sshd).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

mod arming;
mod commit;
mod disarm;
mod reconnect;
mod staging;
mod templates;
mod watching;

const CONFIG: &str = "{\n  \"datacenter\": \"gprd\",\n  \"verify_incoming\": true,\n  \"verify_outgoing\": true\n}\n";

/// A fleet whose hosts each have `<dir>/etc/consul.json`, an inventory and a plan for it.
struct Setup {
    fleet: support::Fleet,
    plan: PathBuf,
}

fn setup(n: usize, preflight: &str) -> Setup {
    let fleet = support::Fleet::builder(n).start();
    let mut inv = String::from("[inventory]\nname = \"rehearsal\"\n\n");
    for h in &fleet.hosts {
        std::fs::create_dir_all(h.dir.join("etc")).unwrap();
        std::fs::write(h.dir.join("etc/consul.json"), CONFIG).unwrap();
        inv.push_str(&format!("[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nuser = \"root\"\ngroups = [\"consul\"]\nvars = {{ root = \"{d}\", cutover_dir = \"{d}/cutover\" }}\n\n", h.name, h.address, d = h.dir.display()));
    }
    std::fs::write(fleet.dir().join("inventory.toml"), inv).unwrap();
    std::fs::create_dir_all(fleet.dir().join("files")).unwrap();
    std::fs::write(
        fleet.dir().join("files/ca.pem"),
        "-----BEGIN CERTIFICATE-----\nnew\n",
    )
    .unwrap();
    let plan = format!(
        "[plan]\nname = \"rehearsal\"\n\n[inventory]\npath = \"inventory.toml\"\n\n[ssh]\nidentities = [\"{key}\"]\nknown_hosts = [\"{kh}\"]\n\n[execution]\nbatch_size = 20\nconnect_rate = 50\ncommand_timeout = \"20s\"\n\n{preflight}\n[[stage]]\nname = \"stop verifying TLS dates\"\nstep = \"edit_file\"\npath = \"{{{{ vars.root }}}}/etc/consul.json\"\nset = {{ format = \"json\", keys = {{ verify_incoming = false, verify_outgoing = false }} }}\nsudo = false\n\n[[stage]]\nname = \"new CA\"\nstep = \"upload\"\nsource = \"files/ca.pem\"\ndest = \"{{{{ vars.root }}}}/etc/ca.pem\"\nmode = \"0600\"\nsudo = false\n\n[[verify]]\ncheck = \"file\"\npath = \"{{{{ vars.root }}}}/etc/consul.json\"\ncontains = '\"verify_outgoing\": false'\n\n[action]\nat = 2030-01-01T00:00:00Z\nrun = \"echo fired >> \\\"$HOME/fired\\\"\"\nsudo = false\nmechanism = \"waiter\"\narm_deadline = \"6s\"\nreverify_before = \"3s\"\n\n[watch]\ntimeout = \"1m\"\nstable_for = \"2s\"\npoll_interval = \"500ms\"\ncomplete_when = [\"all_probes\"]\n\n[[watch.probe]]\nname = \"up\"\nkind = \"command\"\ntargets = \"all\"\nrun = \"test -f \\\"$HOME/fired\\\"\"\n\n[[post]]\nname = \"re-enable the agent\"\nstep = \"command\"\nrun = \"touch \\\"$HOME/post-done\\\"\"\nsudo = false\n",
        key = fleet.client_key.display(),
        kh = fleet.known_hosts.display(),
    );
    let path = fleet.dir().join("plan.toml");
    std::fs::write(&path, plan).unwrap();
    Setup { fleet, plan: path }
}

const PREFLIGHT: &str = "[[preflight]]\ncheck = \"clock\"\nmax_offset = \"1s\"\nntp_synchronized = false\n\n[[preflight]]\ncheck = \"sudo\"\n";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(s: &Setup, extra: &[&str]) -> Out {
    let runs = s.fleet.dir().join("runs");
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .arg("run")
        .arg(&s.plan)
        .arg("--now")
        .arg("2029-12-31T23:00:00Z")
        .arg("--runs-dir")
        .arg(&runs)
        .args(extra)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn config(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("etc/consul.json")).unwrap()
}

/// Arms with the waiter for a fire time `secs` from now.
fn fire_in(s: &Setup, secs: u32) -> Out {
    run(s, &["--yes", "--at", &format!("now+{secs}s")])
}

fn journal_text(s: &Setup) -> String {
    let runs = s.fleet.dir().join("runs");
    let dir = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .expect("run dir")
        .path();
    std::fs::read_to_string(dir.join("journal.jsonl")).unwrap()
}

/// True when `pid` is a waiter of one of this fleet's hosts.
fn waiter_of(s: &Setup, pid: u32) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text = String::from_utf8_lossy(&cmdline);
    s.fleet
        .hosts
        .iter()
        .any(|h| text.contains(&h.dir.display().to_string()))
}

/// Waits past the fire time and past any hung command: nothing may fire, not even late.
fn assert_nothing_fires(s: &Setup) {
    std::thread::sleep(std::time::Duration::from_secs(14));
    for h in &s.fleet.hosts {
        assert!(
            !h.dir.join("fired").exists(),
            "{} fired after the run aborted",
            h.name
        );
    }
}

/// Every receipt in the journal: started no earlier than planned, and within a second of it.
fn assert_receipts_in_bounds(journal: &str, hosts: usize) {
    let receipts: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"]["kind"] == "receipt")
        .map(|v| v["event"]["receipt"].clone())
        .collect();
    assert_eq!(receipts.len(), hosts);
    for r in receipts {
        let (planned, started) = (
            r["planned_ns"].as_i64().unwrap(),
            r["started_ns"].as_i64().unwrap(),
        );
        assert!(
            started >= planned,
            "fired {} ns early: {r}",
            planned - started
        );
        assert!(
            started - planned < 1_000_000_000,
            "fired {} ms late: {r}",
            (started - planned) / 1_000_000
        );
        assert_eq!(r["exit"], 0, "{r}");
    }
}
