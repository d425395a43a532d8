//! Per-environment credentials outside the digest: the same reviewed plan runs with the plan's
//! keys and with staging's (`--identity`, `--known-hosts`), and its digest does not change.

use super::support::Fleet;
use super::{Out, inventory, plan};

fn digest(out: &Out) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("digest"))
        .map(|d| d.trim().to_string())
        .unwrap_or_else(|| panic!("no digest in:\n{}", out.stdout))
}

fn dry_run(plan: &std::path::Path, extra: &[&str]) -> Out {
    assert_cmd::Command::cargo_bin("cutover")
        .unwrap()
        .env_remove("SSH_AUTH_SOCK")
        .arg("run")
        .arg(plan)
        .args(["--dry-run", "--plain", "--no-ssh-config"])
        .args(extra)
        .output()
        .unwrap()
        .into()
}

#[test]
fn staging_keys_on_the_command_line_leave_the_reviewed_digest_unchanged() {
    let fleet = Fleet::builder(2).start();
    let hosts: Vec<_> = fleet
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.address.as_str(), Some("root")))
        .collect();
    let inv = inventory(&fleet.dir().join("inventory.toml"), &hosts);
    // The reviewed plan names production's files, which do not work here.
    let prod_key = fleet.stranger_key.display();
    let ssh = format!(
        "[ssh]\nidentities = [\"{prod_key}\"]\nknown_hosts = [\"/nonexistent/prod_known_hosts\"]\n"
    );
    let plan = plan(fleet.dir(), &inv, &ssh);
    let prod = dry_run(&plan, &[]);
    assert_ne!(
        prod.code, 0,
        "production's key must not work here:\n{}",
        prod.stdout
    );
    let staging_key = fleet.dir().join("staging_key");
    std::fs::copy(&fleet.client_key, &staging_key).unwrap();
    let staging_known = fleet.dir().join("staging_known_hosts");
    std::fs::copy(&fleet.known_hosts, &staging_known).unwrap();
    let staging = dry_run(
        &plan,
        &[
            "--identity",
            staging_key.to_str().unwrap(),
            "--known-hosts",
            staging_known.to_str().unwrap(),
        ],
    );
    assert_eq!(staging.code, 0, "{}\n{}", staging.stdout, staging.stderr);
    assert_eq!(digest(&prod), digest(&staging));
}

#[test]
fn an_ansible_inventory_brings_its_own_key_and_bastion() {
    let fleet = Fleet::builder(3).start();
    // A key only the inventory names, authorized on every host.
    let inv_key = fleet.dir().join("inventory_key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&inv_key)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let public = std::fs::read_to_string(inv_key.with_extension("pub")).unwrap();
    let authorized = fleet.dir().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&public);
    std::fs::write(&authorized, keys).unwrap();
    let bastion = &fleet.hosts[0].address;
    let hostvars: Vec<String> = fleet.hosts[1..]
        .iter()
        .map(|h| {
            format!(
                "\"{}\": {{\"ansible_host\": \"{}\", \"ansible_user\": \"root\", \
                 \"ansible_ssh_private_key_file\": \"{}\", \
                 \"ansible_ssh_common_args\": \"-o ProxyCommand=\\\"ssh -W %h:%p -q root@{bastion}\\\"\"}}",
                h.name,
                h.address,
                inv_key.display()
            )
        })
        .collect();
    let names: Vec<String> = fleet.hosts[1..]
        .iter()
        .map(|h| format!("\"{}\"", h.name))
        .collect();
    let json = format!(
        "{{\"_meta\": {{\"hostvars\": {{{}}}}}, \"all\": {{\"children\": [\"web\"]}}, \"web\": {{\"hosts\": [{}]}}}}",
        hostvars.join(", "),
        names.join(", ")
    );
    let inv = fleet.dir().join("ansible.json");
    std::fs::write(&inv, json).unwrap();
    // As with Ansible's ProxyCommand, the bastion is reached with the operator's own config.
    let config = fleet.dir().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host {bastion}\n  IdentityFile {}\n  IdentitiesOnly yes\nHost *\n  IdentitiesOnly yes\n",
            fleet.client_key.display()
        ),
    )
    .unwrap();
    let r = super::exec(
        &inv,
        &[
            "--ssh-config",
            config.to_str().unwrap(),
            "--known-hosts",
            fleet.known_hosts.to_str().unwrap(),
        ],
        "echo \"$CUTOVER_HOST\"",
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["summary"]["ok"], 2, "{}", r.stdout);
    let bastion_log = fleet.hosts[0].log_text();
    assert_eq!(
        bastion_log.matches("Accepted publickey").count(),
        1,
        "{bastion_log}"
    );
    let fingerprint = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(inv_key.with_extension("pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&fingerprint.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    for h in &fleet.hosts[1..] {
        let log = h.log_text();
        assert!(
            log.contains("Accepted publickey for root") && log.contains(&fingerprint),
            "{} logged in with the inventory's key:\n{log}",
            h.name
        );
    }
}

/// An `ssh-agent` of the test's own, stopped (by pid) on drop.
pub(super) struct Agent {
    child: std::process::Child,
    pub(super) socket: std::path::PathBuf,
}

impl Agent {
    pub(super) fn start(dir: &std::path::Path, keys: &[&std::path::Path]) -> Agent {
        let socket = dir.join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent (apt-get install openssh-client)");
        let agent = Agent { child, socket };
        for _ in 0..200 {
            if agent.socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        for key in keys {
            let ok = std::process::Command::new("ssh-add")
                .arg("-q")
                .arg(key)
                .env("SSH_AUTH_SOCK", &agent.socket)
                .status()
                .unwrap()
                .success();
            assert!(ok, "ssh-add {}", key.display());
        }
        agent
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn identities_only_offers_just_the_agent_key_the_config_names() {
    let fleet = Fleet::builder(1).start();
    let host = &fleet.hosts[0];
    // The agent holds a key the host refuses first, then the right one; on disk only the
    // right one's public half is left, as when the private key lives in the agent.
    let agent = Agent::start(fleet.dir(), &[&fleet.stranger_key, &fleet.client_key]);
    let public = fleet.dir().join("agent_only.pub");
    std::fs::copy(fleet.client_key.with_extension("pub"), &public).unwrap();
    let config = fleet.dir().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host web\n  HostName {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n",
            host.address,
            fleet.dir().join("agent_only").display()
        ),
    )
    .unwrap();
    let inv = inventory(&fleet.dir().join("inventory.toml"), &[("web", "web", None)]);
    let out: Out = assert_cmd::Command::cargo_bin("cutover")
        .unwrap()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .arg("exec")
        .arg("-i")
        .arg(&inv)
        .arg("--ssh-config")
        .arg(&config)
        .arg("--known-hosts")
        .arg(&fleet.known_hosts)
        .args(["--json", "--", "true"])
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log = host.log_text();
    assert!(log.contains("Accepted publickey"), "{log}");
    assert!(
        !log.contains("Failed publickey"),
        "the agent's other key must not be offered:\n{log}"
    );
}
