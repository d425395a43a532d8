//! Failures that must cost once per run, not once per host or step: a wrong key at a shared
//! bastion (what trips its sshguard or fail2ban) and a host that never answers.

use super::support::Fleet;
use super::{exec, inventory, plan};
use cutover::fleet::FleetError;
use cutover::transport::{Endpoint, Limit, RemoteCommand, SshSettings, TransportError};
use std::time::Duration;

/// Connections the bastion's sshd saw (`LogLevel VERBOSE` logs each one).
fn connections(log: &str) -> usize {
    log.matches("Connection from").count()
}

#[test]
fn a_wrong_key_at_the_bastion_in_front_of_twenty_hosts_fails_one_login_per_command() {
    let fleet = Fleet::builder(21).start();
    let bastion = format!("root@{}", fleet.hosts[0].address);
    let targets: Vec<_> = fleet.hosts[1..]
        .iter()
        .map(|h| (h.name.as_str(), h.address.as_str(), Some("root")))
        .collect();
    let inv = inventory(&fleet.dir().join("inventory.toml"), &targets);
    let (stranger, known) = (
        fleet.stranger_key.to_str().unwrap().to_string(),
        fleet.known_hosts.to_str().unwrap().to_string(),
    );
    let ssh = [
        "--no-ssh-config",
        "-J",
        &bastion,
        "--identity",
        &stranger,
        "--known-hosts",
        &known,
    ];
    // The harness's readiness probe was the first connection.
    let before = connections(&fleet.hosts[0].log_text());
    let r = exec(&inv, &ssh, "true");
    let v = r.json();
    assert_eq!(v["summary"]["unreachable"], 20, "{v}");
    for host in v["hosts"].as_array().unwrap() {
        let reason = host["outcome"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("not retried") && reason.contains("authentication as root refused"),
            "{reason}"
        );
    }
    let log = fleet.hosts[0].log_text();
    assert_eq!(
        connections(&log) - before,
        1,
        "exec: one login attempt at the bastion:\n{log}"
    );
    assert_eq!(log.matches("Failed publickey").count(), 1, "{log}");

    let plan = plan(fleet.dir(), &inv, "");
    let out: super::Out = assert_cmd::Command::cargo_bin("cutover")
        .unwrap()
        .env_remove("SSH_AUTH_SOCK")
        .arg("run")
        .arg(&plan)
        .args(["--dry-run", "--plain"])
        .args(ssh)
        .output()
        .unwrap()
        .into();
    assert_ne!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log = fleet.hosts[0].log_text();
    assert_eq!(
        connections(&log) - before,
        2,
        "the run adds one login attempt at the bastion, whatever its steps:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_costs_one_connect_timeout_per_run() {
    // Accepted by the kernel's backlog, never served: like a host whose sshd hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = Endpoint {
        name: "silent".into(),
        address: "127.0.0.1".into(),
        port: silent.local_addr().unwrap().port(),
        user: "root".into(),
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let settings = SshSettings {
        identities: vec![key],
        connect_timeout: Duration::from_millis(800),
        ..SshSettings::default()
    };
    let fleet = cutover::fleet::Fleet::with_endpoints(settings, vec![ep]).unwrap();
    let cmd = RemoteCommand {
        script: "true".into(),
        sudo: false,
        timeout: Duration::from_secs(5),
        limit: Limit::Remote,
        output_cap: 1024,
    };
    let start = cutover::clock::instant();
    let first = fleet.run("silent", &cmd).await.unwrap_err();
    assert!(
        matches!(
            first,
            FleetError::Unreachable(TransportError::ConnectTimeout { .. })
        ),
        "{first:?}"
    );
    for _step in 0..2 {
        let again = fleet.run("silent", &cmd).await.unwrap_err();
        let FleetError::Unreachable(TransportError::Earlier { reason, .. }) = &again else {
            panic!("later steps get the first failure at once: {again:?}");
        };
        assert!(matches!(**reason, TransportError::ConnectTimeout { .. }));
        assert!(again.to_string().contains("not retried"), "{again}");
    }
    let spent = cutover::clock::instant() - start;
    assert!(
        spent < Duration::from_millis(1600),
        "three steps cost {spent:?}, more than one timeout"
    );
}
