//! Reaching hosts the way the operator's own `ssh` does, against real OpenSSH sshd on loopback:
//! `operator` (a non-root account's ~/.ssh/config with Include, Match, aliases, a ProxyJump
//! alias, per-host users and keys, no cutover flag), `certificates` (CA-signed host
//! certificates), `failures` (a wrong key at a bastion, a silent host) and `credentials`
//! (per-environment keys outside the digest).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/mod.rs"]
mod support;

#[path = "reach/certificates.rs"]
mod certificates;
#[path = "reach/credentials.rs"]
mod credentials;
#[path = "reach/failures.rs"]
mod failures;
#[path = "reach/operator.rs"]
mod operator;

use std::path::{Path, PathBuf};
use std::process::Output;

/// A native inventory naming each `(name, address, user)`.
fn inventory(path: &Path, hosts: &[(&str, &str, Option<&str>)]) -> PathBuf {
    let mut text = String::from("[inventory]\nname = \"reach\"\n\n");
    for (name, address, user) in hosts {
        text.push_str(&format!(
            "[[hosts]]\nname = \"{name}\"\naddress = \"{address}\"\n"
        ));
        if let Some(user) = user {
            text.push_str(&format!("user = \"{user}\"\n"));
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

/// What a cutover invocation printed.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Out {
    fn from(out: Output) -> Self {
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }
}

impl Out {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.stdout, self.stderr))
    }
}

/// `cutover exec --json` over `inventory` with `extra` options and no agent.
fn exec(inventory: &Path, extra: &[&str], command: &str) -> Out {
    assert_cmd::Command::cargo_bin("cutover")
        .unwrap()
        .env_remove("SSH_AUTH_SOCK")
        .arg("exec")
        .arg("-i")
        .arg(inventory)
        .arg("--json")
        .args(extra)
        .arg("--")
        .arg(command)
        .output()
        .unwrap()
        .into()
}

/// A small plan over `inventory` whose preflight and dry run reach every host.
fn plan(dir: &Path, inventory: &Path, ssh: &str) -> PathBuf {
    let text = format!(
        "[plan]\nname = \"reach\"\n\n[inventory]\npath = \"{inv}\"\n\n{ssh}\n\
         [[preflight]]\ncheck = \"clock\"\nmax_offset = \"5s\"\nntp_synchronized = false\n\n\
         [action]\nat = 2030-01-01T00:00:00Z\nrun = \"true\"\nsudo = false\nmechanism = \"waiter\"\n\n\
         [watch]\ntimeout = \"1m\"\ncomplete_when = [\"all_probes\"]\n\n\
         [[watch.probe]]\nname = \"up\"\nkind = \"command\"\ntargets = \"all\"\nrun = \"true\"\n",
        inv = inventory.display()
    );
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    path
}
