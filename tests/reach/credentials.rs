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
