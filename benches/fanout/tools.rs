//! The clients under test and how each is invoked against the fleet with the same key,
//! the same hosts and (where the tool can) the same strict known_hosts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// cutover's handshake pacing for a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// `exec`'s defaults: 20 handshakes/s, 5 in flight.
    Default,
    /// Unpaced: rate 10000/s and as many handshakes in flight as the fanout, as pdsh does.
    Unpaced,
}

/// One client configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tool {
    /// `cutover exec` at this pacing and `--fanout`.
    Cutover { pacing: Pacing, fanout: usize },
    /// `pdsh -R ssh -f fanout`; `same_kex` makes its `ssh` use curve25519-sha256, the key
    /// exchange cutover (russh) negotiates with OpenSSH 9.2, instead of OpenSSH's default
    /// sntrup761x25519, whose client side costs ~50 ms of CPU per connection.
    Pdsh { fanout: usize, same_kex: bool },
    /// parallel-ssh's `ParallelSSHClient(pool_size=pool)`.
    Pssh { pool: usize },
}

/// Files and programs every run uses.
pub struct Setup {
    /// The release-mode cutover binary.
    pub cutover: PathBuf,
    /// A Python that can `import pssh`.
    pub python: PathBuf,
    /// `pssh_client.py`.
    pub pssh_script: PathBuf,
    /// The client private key every host authorizes.
    pub key: PathBuf,
    /// known_hosts with every host's real key.
    pub known_hosts: PathBuf,
    /// Where inventories, host lists and run output go.
    pub dir: PathBuf,
}

impl Tool {
    /// A short label for tables.
    pub fn label(&self) -> String {
        match self {
            Tool::Cutover {
                pacing: Pacing::Default,
                fanout,
            } => format!("cutover, default pacing, fanout {fanout}"),
            Tool::Cutover { fanout, .. } => format!("cutover, unpaced, fanout {fanout}"),
            Tool::Pdsh {
                fanout,
                same_kex: false,
            } => format!("pdsh -f {fanout}"),
            Tool::Pdsh { fanout, .. } => format!("pdsh -f {fanout}, KEX curve25519"),
            Tool::Pssh { pool } => format!("parallel-ssh, pool {pool}"),
        }
    }

    /// The client command for `hosts` hosts running `script`, output into `out`/`err`.
    pub fn command(&self, s: &Setup, hosts: usize, script: &str) -> Command {
        let mut cmd = match *self {
            Tool::Cutover { pacing, fanout } => cutover(s, hosts, pacing, fanout),
            Tool::Pdsh { fanout, same_kex } => pdsh(s, hosts, fanout, same_kex),
            Tool::Pssh { pool } => {
                let mut c = Command::new(&s.python);
                c.arg(&s.pssh_script)
                    .arg(hostfile(&s.dir, hosts))
                    .arg(&s.key)
                    .arg(pool.to_string());
                c
            }
        };
        cmd.arg(script).stdin(Stdio::null());
        cmd
    }

    /// Whether the run did its job on every host; `Err` says what went wrong.
    pub fn verify(&self, code: i32, out: &str, err: &str, hosts: usize) -> Result<(), String> {
        let ok = match self {
            Tool::Cutover { .. } => err.contains(&format!("{hosts} ok, 0 failed, 0 unreachable")),
            Tool::Pssh { .. } => out.contains(&format!("{hosts} ok, 0 failed")),
            Tool::Pdsh { .. } => err.trim().is_empty(),
        };
        if code == 0 && ok {
            return Ok(());
        }
        let tail = |t: &str| t.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        Err(format!(
            "{}: exit {code}; stdout: {}; stderr: {}",
            self.label(),
            tail(out),
            tail(err)
        ))
    }
}

fn cutover(s: &Setup, hosts: usize, pacing: Pacing, fanout: usize) -> Command {
    let mut c = Command::new(&s.cutover);
    c.arg("exec")
        .arg("--inventory")
        .arg(inventory(&s.dir, hosts))
        .arg("--identity")
        .arg(&s.key)
        .arg("--known-hosts")
        .arg(&s.known_hosts)
        .arg("--fanout")
        .arg(fanout.to_string());
    if pacing == Pacing::Unpaced {
        c.args(["--connect-rate", "10000", "--connect-burst"])
            .arg(fanout.to_string());
    }
    c.env_remove("SSH_AUTH_SOCK").arg("--");
    c
}

fn pdsh(s: &Setup, hosts: usize, fanout: usize, same_kex: bool) -> Command {
    let mut append = format!(
        "-F /dev/null -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
         -o UserKnownHostsFile={} -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes",
        s.key.display(),
        s.known_hosts.display()
    );
    if same_kex {
        append.push_str(" -o KexAlgorithms=curve25519-sha256");
    }
    let mut c = Command::new("pdsh");
    c.args(["-R", "ssh", "-S", "-l", "root", "-f"])
        .arg(fanout.to_string())
        .arg("-w")
        .arg(format!("^{}", hostfile(&s.dir, hosts).display()))
        .env("PDSH_SSH_ARGS_APPEND", append)
        .env_remove("SSH_AUTH_SOCK");
    c
}

/// The native inventory of the first `hosts` hosts.
pub fn inventory(dir: &Path, hosts: usize) -> PathBuf {
    dir.join(format!("inventory-{hosts}.toml"))
}

/// One address per line, the first `hosts` hosts.
pub fn hostfile(dir: &Path, hosts: usize) -> PathBuf {
    dir.join(format!("hosts-{hosts}.txt"))
}

/// Writes the inventory and host list for the first `hosts` of `(name, address)`.
pub fn write_host_files(dir: &Path, all: &[(String, String)], hosts: usize) -> std::io::Result<()> {
    let mut inv = String::from("[inventory]\nname = \"bench\"\n\n");
    let mut list = String::new();
    for (name, address) in &all[..hosts] {
        inv.push_str(&format!(
            "[[hosts]]\nname = \"{name}\"\naddress = \"{address}\"\nuser = \"root\"\n\n"
        ));
        list.push_str(&format!("{address}\n"));
    }
    std::fs::write(inventory(dir, hosts), inv)?;
    std::fs::write(hostfile(dir, hosts), list)
}
