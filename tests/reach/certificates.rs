//! sshd hosts presenting host certificates signed with `ssh-keygen -s`: a single
//! `@cert-authority` line is enough to reach them, and each bad certificate is refused with a
//! message that says why (expired, wrong principal, revoked, unknown CA).

use super::support::Fleet;
use super::{exec, inventory};
use std::path::Path;
use std::process::Command;

/// Makes an unencrypted ed25519 key pair at `path`.
fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen failed");
}

/// Signs `host`'s key with `ca` as a host certificate for `principal`, valid `validity`, and
/// restarts its sshd presenting it.
fn certify(fleet: &mut Fleet, i: usize, ca: &Path, principal: &str, validity: &str) {
    let host = &mut fleet.hosts[i];
    let ok = Command::new("ssh-keygen")
        .arg("-q")
        .arg("-s")
        .arg(ca)
        .args(["-I", &host.name, "-h", "-n", principal, "-V", validity])
        .arg(host.dir.join("host_key.pub"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen -s failed");
    let config = host.dir.join("sshd_config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "HostCertificate {}\n",
        host.dir.join("host_key-cert.pub").display()
    ));
    std::fs::write(&config, text).unwrap();
    host.restart();
}

#[test]
fn a_cert_authority_line_reaches_certified_hosts_and_bad_certificates_say_why() {
    let mut fleet = Fleet::builder(5).start();
    let (ca, other_ca) = (fleet.dir().join("ca"), fleet.dir().join("other_ca"));
    keygen(&ca);
    keygen(&other_ca);
    let addr = |i: usize| fleet.hosts[i].address.clone();
    let (a0, a1, a3, a4) = (addr(0), addr(1), addr(3), addr(4));
    certify(&mut fleet, 0, &ca, &a0, "-5m:+1h");
    certify(&mut fleet, 1, &ca, &a1, "20200101:20200102");
    certify(&mut fleet, 2, &ca, "other.example", "-5m:+1h");
    certify(&mut fleet, 3, &ca, &a3, "-5m:+1h");
    certify(&mut fleet, 4, &other_ca, &a4, "-5m:+1h");
    let ca_key = std::fs::read_to_string(ca.with_extension("pub")).unwrap();
    let known = format!(
        "@cert-authority * {}\n@revoked * {}\n",
        ca_key.trim(),
        fleet.hosts[3].host_key
    );
    let known_path = fleet.dir().join("ca_known_hosts");
    std::fs::write(&known_path, known).unwrap();
    let hosts: Vec<_> = fleet
        .hosts
        .iter()
        .map(|h| (h.name.as_str(), h.address.as_str(), Some("root")))
        .collect();
    let inv = inventory(&fleet.dir().join("inventory.toml"), &hosts);
    let key = fleet.client_key.to_str().unwrap().to_string();
    let r = exec(
        &inv,
        &[
            "--no-ssh-config",
            "--identity",
            &key,
            "--known-hosts",
            known_path.to_str().unwrap(),
        ],
        "echo certified",
    );
    let v = r.json();
    assert_eq!(v["summary"]["ok"], 1, "{v}");
    let reason = |i: usize| {
        let name = &fleet.hosts[i].name;
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host"] == name.as_str())
            .map(|h| h["outcome"]["reason"].as_str().unwrap_or("").to_string())
            .unwrap()
    };
    assert_eq!(reason(0), "", "the certified host is reached: {v}");
    assert!(reason(1).contains("refused: expired"), "{}", reason(1));
    assert!(
        reason(2).contains("refused: wrong principal"),
        "{}",
        reason(2)
    );
    assert!(reason(2).contains("other.example"), "{}", reason(2));
    assert!(
        reason(3).contains("refused: revoked: the host key"),
        "{}",
        reason(3)
    );
    assert!(reason(4).contains("refused: unknown CA"), "{}", reason(4));
}

#[test]
fn a_user_certificate_logs_in_where_only_its_ca_is_trusted_from_a_file_the_agent_or_the_config() {
    let mut fleet = Fleet::builder(1).start();
    let ca = fleet.dir().join("user_ca");
    keygen(&ca);
    let host = &mut fleet.hosts[0];
    let config = host.dir.join("sshd_config");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "TrustedUserCAKeys {}\n",
        ca.with_extension("pub").display()
    ));
    std::fs::write(&config, text).unwrap();
    host.restart();
    // A key no authorized_keys lists, certified by the CA for root.
    let key = fleet.dir().join("certified");
    keygen(&key);
    let ok = Command::new("ssh-keygen")
        .arg("-q")
        .arg("-s")
        .arg(&ca)
        .args(["-I", "operator", "-n", "root", "-V", "-5m:+1h"])
        .arg(key.with_extension("pub"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "ssh-keygen -s failed");
    let h = &fleet.hosts[0];
    let inv = inventory(
        &fleet.dir().join("inventory.toml"),
        &[(h.name.as_str(), h.address.as_str(), Some("root"))],
    );
    let known = fleet.known_hosts.to_str().unwrap().to_string();
    let r = exec(
        &inv,
        &[
            "--no-ssh-config",
            "--identity",
            key.to_str().unwrap(),
            "--known-hosts",
            &known,
        ],
        "true",
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(h.log_text().contains("ED25519-CERT"), "{}", h.log_text());

    let agent = super::credentials::Agent::start(fleet.dir(), &[&key]);
    let out: super::Out = assert_cmd::Command::cargo_bin("cutover")
        .unwrap()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .arg("exec")
        .arg("-i")
        .arg(&inv)
        .args([
            "--no-ssh-config",
            "--known-hosts",
            &known,
            "--json",
            "--",
            "true",
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        h.log_text().matches("ED25519-CERT").count(),
        2,
        "{}",
        h.log_text()
    );
    drop(agent);

    // Elsewhere, named by the ssh config's CertificateFile.
    let elsewhere = fleet.dir().join("operator-cert.pub");
    std::fs::rename(fleet.dir().join("certified-cert.pub"), &elsewhere).unwrap();
    let config = fleet.dir().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host {}\n  User root\n  IdentityFile {}\n  CertificateFile {}\n",
            h.address,
            key.display(),
            elsewhere.display()
        ),
    )
    .unwrap();
    let r = exec(
        &inv,
        &[
            "--ssh-config",
            config.to_str().unwrap(),
            "--known-hosts",
            &known,
        ],
        "true",
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(h.log_text().matches("ED25519-CERT").count(), 3);
}
