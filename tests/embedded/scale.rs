//! Hundreds of hosts in one process, driven by the `cutover exec` binary.

use super::Lab;
use assert_cmd::Command;
use std::path::PathBuf;

/// Hosts in the scale test: more than the sshd harness can hold (250).
const HOSTS: usize = 500;

/// A native inventory listing every lab host with its address and port.
fn inventory(lab: &Lab) -> PathBuf {
    let mut text = String::from("[inventory]\nname = \"embedded-lab\"\n\n");
    for (name, addr) in &lab.hosts {
        text.push_str(&format!(
            "[[hosts]]\nname = \"{name}\"\naddress = \"{}\"\nport = {}\nuser = \"root\"\n\n",
            addr.ip(),
            addr.port()
        ));
    }
    let path = lab.dir().join("inventory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `cutover exec --json` over the whole lab; returns exit code and parsed JSON.
async fn exec(lab: &Lab, command: &str) -> (i32, serde_json::Value) {
    let mut cmd = Command::cargo_bin("cutover").unwrap();
    cmd.arg("exec")
        .arg("--inventory")
        .arg(inventory(lab))
        .arg("--identity")
        .arg(&lab.client_key)
        .arg("--known-hosts")
        .arg(&lab.known_hosts)
        .args(["--json", "--connect-timeout", "60s", "--timeout", "60s"])
        .arg("--")
        .arg(command);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// Host names whose result has exit code 0 and printed their own name.
fn answered_by_name(json: &serde_json::Value) -> usize {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["exit"] == 0)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_hosts_answer_cutover_exec_and_a_restarted_host_comes_back() {
    let _solo = super::SOLO.lock().await;
    let lab = Lab::start(HOSTS).await;
    let (code, json) = exec(&lab, "echo $LAB_HOST").await;
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["summary"]["ok"], HOSTS, "{}", json["summary"]);
    assert_eq!(answered_by_name(&json), HOSTS);
    let groups = json.to_string();
    assert!(groups.contains("lab-500"), "each host prints its own name");

    lab.server().stop_host("lab-250").await.unwrap();
    let (code, json) = exec(&lab, "true").await;
    assert_ne!(code, 0);
    assert_eq!(json["summary"]["unreachable"], 1, "{}", json["summary"]);
    lab.server().start_host("lab-250").await.unwrap();
    let (code, json) = exec(&lab, "true").await;
    assert_eq!(code, 0, "{}", json["summary"]);
    assert_eq!(json["summary"]["ok"], HOSTS);
}

/// Hosts past the open-file limit fail on this machine, not on the host: `exec` says so
/// once, before connecting, and folds every such host into one group with one cause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_past_the_open_file_limit_fold_into_one_group_naming_the_cause() {
    let _solo = super::SOLO.lock().await;
    let lab = Lab::start(120).await;
    // `ulimit -n` in sh sets the soft and the hard limit: cutover cannot raise it back.
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$@\"")
        .arg("sh")
        .arg(assert_cmd::cargo::cargo_bin("cutover"))
        .arg("exec")
        .arg("--inventory")
        .arg(inventory(&lab))
        .arg("--identity")
        .arg(&lab.client_key)
        .arg("--known-hosts")
        .arg(&lab.known_hosts)
        .args(["--connect-timeout", "60s", "--", "true"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let warning = "open-file limit 64 is below the 440 this fleet needs";
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
    assert_eq!(out.status.code(), Some(255), "{stdout}{stderr}");
    let cause = "[unreachable: this machine ran out of open files for cutover (EMFILE";
    assert_eq!(stdout.matches(cause).count(), 1, "one group:\n{stdout}");
    assert!(!stdout.contains("check the address"), "{stdout}");
    let unreachable: usize = stderr
        .lines()
        .find_map(|l| {
            l.split(" unreachable")
                .next()?
                .rsplit(", ")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    assert!(unreachable > 20, "{stderr}");
}
