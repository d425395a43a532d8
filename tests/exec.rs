//! `cutover exec` against real OpenSSH sshd hosts on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

use assert_cmd::Command;
use std::path::PathBuf;

/// Writes a native inventory for the fleet (extra per-host lines via `extra`).
fn inventory(fleet: &support::Fleet) -> PathBuf {
    let mut text = String::from("[inventory]\nname = \"test-fleet\"\n\n");
    for (i, h) in fleet.hosts.iter().enumerate() {
        let group = if i % 2 == 0 { "even" } else { "odd" };
        text.push_str(&format!("[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nuser = \"root\"\ngroups = [\"{group}\"]\n\n", h.name, h.address));
    }
    let path = fleet.dir().join("inventory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn exec(fleet: &support::Fleet, extra: &[&str], command: &str) -> Out {
    let inv = inventory(fleet);
    let mut cmd = Command::cargo_bin("cutover").unwrap();
    cmd.arg("exec")
        .arg("--inventory")
        .arg(&inv)
        .arg("--identity")
        .arg(&fleet.client_key)
        .arg("--known-hosts")
        .arg(&fleet.known_hosts)
        .args(extra)
        .arg("--")
        .arg(command);
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn fifty_hosts_fold_identical_output() {
    let fleet = support::Fleet::builder(50).start();
    let r = exec(
        &fleet,
        &[],
        "echo hello; test \"$CUTOVER_HOST\" != \"$(echo $CUTOVER_HOST | grep -- '-7$')\" || echo seven",
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("50 ok, 0 failed, 0 unreachable"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("hello"), "{}", r.stdout);
    let headers = r
        .stdout
        .lines()
        .filter(|l| l.ends_with(')') && l.contains('('))
        .count();
    assert!(
        headers <= 3,
        "identical outputs must be grouped:\n{}",
        r.stdout
    );
}

#[test]
fn json_reports_every_host_and_exit_code_is_the_worst() {
    let fleet = support::Fleet::builder(6).start();
    let bad = fleet.hosts[2].name.clone();
    let r = exec(
        &fleet,
        &["--json"],
        &format!("test \"$CUTOVER_HOST\" != {bad} || exit 3"),
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["hosts"].as_array().unwrap().len(), 6);
    assert_eq!(v["summary"]["failed"], 1);
    let failed: Vec<_> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["exit"] == 3)
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(failed, vec![bad]);
}

#[test]
fn the_failure_budget_stops_the_next_batch() {
    let fleet = support::Fleet::builder(6).start();
    let r = exec(
        &fleet,
        &["--batch", "2", "--max-failures", "1", "--json"],
        "exit 1",
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["summary"]["failed"], 2, "{}", r.stdout);
    assert_eq!(
        v["summary"]["skipped"], 4,
        "later batches must not run:\n{}",
        r.stdout
    );
}

#[test]
fn a_dead_host_is_unreachable_while_the_others_finish() {
    let mut fleet = support::Fleet::builder(5).start();
    fleet.hosts[1].kill_hard();
    let r = exec(&fleet, &["--json", "--connect-timeout", "3s"], "echo up");
    assert_eq!(r.code, 255, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["summary"]["unreachable"], 1);
    assert_eq!(v["summary"]["ok"], 4);
}

#[test]
fn terminal_escapes_in_output_never_reach_the_terminal() {
    let fleet = support::Fleet::builder(2).start();
    let r = exec(
        &fleet,
        &[],
        r"printf '\033]0;pwned\007\033[2J\033[31mred\033[0m \342\200\256evil\n'",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'),
        "{:?}",
        r.stdout
    );
    assert!(
        !r.stdout.contains('\u{202e}'),
        "bidi override must be stripped: {:?}",
        r.stdout
    );
    assert!(r.stdout.contains("red"), "{:?}", r.stdout);
}

#[test]
fn a_hung_command_times_out() {
    let fleet = support::Fleet::builder(2).start();
    let r = exec(&fleet, &["--timeout", "1s"], "sleep 600");
    assert_eq!(r.code, 124, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("[timed out]"), "{}", r.stdout);
}

#[test]
fn an_unknown_group_is_a_usage_error_with_a_suggestion() {
    let fleet = support::Fleet::builder(2).start();
    let r = exec(&fleet, &["--group", "evn"], "true");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean `even`"), "{}", r.stderr);
}

#[test]
fn hostkeys_scan_writes_a_known_hosts_file_exec_then_trusts() {
    let fleet = support::Fleet::builder(3).start();
    let inv = inventory(&fleet);
    let out = fleet.dir().join("scanned_known_hosts");
    let scan = Command::cargo_bin("cutover")
        .unwrap()
        .args(["hostkeys", "scan", "--inventory"])
        .arg(&inv)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let stderr = String::from_utf8_lossy(&scan.stderr);
    assert_eq!(stderr.matches("SHA256:").count(), 3, "{stderr}");
    let r = Command::cargo_bin("cutover")
        .unwrap()
        .arg("exec")
        .arg("--inventory")
        .arg(&inv)
        .arg("--identity")
        .arg(&fleet.client_key)
        .arg("--known-hosts")
        .arg(&out)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

#[test]
fn an_unknown_host_key_is_refused() {
    let fleet = support::Fleet::builder(2).start();
    let empty = fleet.dir().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let inv = inventory(&fleet);
    let r = Command::cargo_bin("cutover")
        .unwrap()
        .arg("exec")
        .arg("--inventory")
        .arg(&inv)
        .arg("--identity")
        .arg(&fleet.client_key)
        .arg("--known-hosts")
        .arg(&empty)
        .args(["--json", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(255));
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["summary"]["unreachable"], 2);
    assert!(
        v["hosts"][0]["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains("hostkeys scan"),
        "{v}"
    );
}

#[test]
fn proxy_jump_reaches_every_host_through_one_bastion() {
    let fleet = support::Fleet::builder(4).start();
    let bastion = format!("root@{}", fleet.hosts[0].address);
    let r = exec(&fleet, &["-J", &bastion, "--json"], "echo via-bastion");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["summary"]["ok"], 4);
    // Every target saw its login come from the bastion's tunnel, not straight from us.
    let logins = fleet.hosts[0]
        .log_text()
        .matches("Accepted publickey")
        .count();
    assert!(logins >= 1, "the bastion was never used");
}

#[test]
fn ssh_config_resolves_hosts_the_way_ssh_does() {
    let fleet = support::Fleet::builder(3).start();
    let mut config = String::new();
    let mut inv = String::from("[inventory]\nname = \"aliases\"\n\n");
    for (i, h) in fleet.hosts.iter().enumerate() {
        config.push_str(&format!("Host web-{i}\n  HostName {}\n  User root\n  IdentityFile {}\n  UserKnownHostsFile {}\n\n", h.address, fleet.client_key.display(), fleet.known_hosts.display()));
        inv.push_str(&format!(
            "[[hosts]]\nname = \"web-{i}\"\naddress = \"web-{i}\"\n\n"
        ));
    }
    let config_path = fleet.dir().join("ssh_config");
    std::fs::write(&config_path, config).unwrap();
    let inv_path = fleet.dir().join("aliases.toml");
    std::fs::write(&inv_path, inv).unwrap();
    let out = Command::cargo_bin("cutover")
        .unwrap()
        .arg("exec")
        .arg("-i")
        .arg(&inv_path)
        .arg("--ssh-config")
        .arg(&config_path)
        .args(["--json", "--", "echo", "ok"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["ok"], 3, "{v}");
}
