//! Protocol compatibility: OpenSSH `ssh` and pdsh (over ssh) against embedded hosts.

use super::Lab;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SSH: &str = "/usr/bin/ssh";
const PDSH: &str = "/usr/bin/pdsh";

/// Fails (never skips) when a client binary is missing.
fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install the `{package}` apt package"
    );
}

/// An ssh_config naming every lab host, strict host keys, the lab key only.
fn ssh_config(lab: &Lab, key: &Path) -> PathBuf {
    let mut text = String::new();
    for (name, addr) in &lab.hosts {
        text.push_str(&format!(
            "Host {name}\n  HostName {}\n  Port {}\n",
            addr.ip(),
            addr.port()
        ));
    }
    text.push_str(&format!(
        "Host *\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  IdentityAgent none\n  \
         UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  \
         BatchMode yes\n  LogLevel ERROR\n",
        key.display(),
        lab.known_hosts.display()
    ));
    let path = lab
        .dir()
        .join(format!("ssh_config.{}", key.file_name().unwrap().display()));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `ssh -F config host command` with `stdin` fed in.
async fn ssh(config: &Path, host: &str, command: &str, stdin: &str) -> Output {
    require(SSH, "openssh-client");
    let mut child = Command::new(SSH)
        .arg("-F")
        .arg(config)
        .args([host, command])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.to_string();
    let mut pipe = child.stdin.take().unwrap();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        pipe.write_all(input.as_bytes()).unwrap();
        drop(pipe);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_runs_commands_with_strict_host_keys() {
    let lab = Lab::start(2).await;
    let config = ssh_config(&lab, &lab.client_key);
    let out = ssh(
        &config,
        "lab-002",
        "echo $LAB_HOST; echo oops >&2; exit 3",
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "lab-002\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "oops\n");
    let out = ssh(
        &config,
        "lab-001",
        "sh -s",
        "x=from-stdin\necho $x $LAB_HOST\n",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-stdin lab-001\n");
    let out = ssh(&config, "lab-001", "cat | wc -c", "hello\n").await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6", "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_reports_a_signal_and_refuses_a_wrong_key() {
    let lab = Lab::start(1).await;
    let config = ssh_config(&lab, &lab.client_key);
    let out = ssh(&config, "lab-001", "kill -TERM $$", "").await;
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    let stranger = ssh_config(&lab, &lab.stranger_key);
    let out = ssh(&stranger, "lab-001", "true", "").await;
    assert_eq!(out.status.code(), Some(255), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied (publickey)"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdsh_fans_out_over_ssh() {
    require(PDSH, "pdsh");
    let lab = Lab::start(4).await;
    let config = ssh_config(&lab, &lab.client_key);
    let names: Vec<&str> = lab.hosts.iter().map(|(n, _)| n.as_str()).collect();
    let out = tokio::task::spawn_blocking({
        let (config, names) = (config.clone(), names.join(","));
        move || {
            Command::new(PDSH)
                .args(["-R", "ssh", "-w", &names, "echo $LAB_HOST"])
                .env("PDSH_SSH_ARGS_APPEND", format!("-F {}", config.display()))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for name in names {
        assert!(text.contains(&format!("{name}: {name}")), "{text}");
    }
}
