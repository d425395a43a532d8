//! The lab's embedded SSH server, driven by real clients: cutover's transport, the `cutover`
//! binary, OpenSSH `ssh` and pdsh. Hosts listen on private 127.X.Y.Z addresses, port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on purpose

#[path = "embedded/client.rs"]
mod client;
#[path = "embedded/lifecycle.rs"]
mod lifecycle;
#[path = "embedded/openssh.rs"]
mod openssh;
#[path = "embedded/scale.rs"]
mod scale;

use cutover::fleet::Fleet;
use cutover::lab::embedded::{self, HostSpec, Server};
use cutover::transport::{CommandResult, Endpoint, Limit, RemoteCommand, SshSettings};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Held by tests that measure process-wide memory or descriptors, and by the heavy ones
/// that would disturb those measurements.
pub static SOLO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Labs started by this test process; with the pid it picks a private 127.X.0.0/16 block.
static LABS: AtomicU32 = AtomicU32::new(0);

/// A running embedded server plus the files a client needs.
pub struct Lab {
    /// The server (taken by [`Lab::shutdown`]).
    pub server: Option<Server>,
    /// Host names and bound addresses, in order.
    pub hosts: Vec<(String, SocketAddr)>,
    /// The authorized client key (OpenSSH private key file).
    pub client_key: PathBuf,
    /// A key no host authorizes.
    pub stranger_key: PathBuf,
    /// known_hosts listing every host's real key.
    pub known_hosts: PathBuf,
    dir: tempfile::TempDir,
}

impl Lab {
    /// Starts `n` hosts named `lab-NNN`, each with its own dir as HOME and cwd.
    pub async fn start(n: usize) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("cutover-embedded-")
            .tempdir()
            .unwrap();
        let client = embedded::generate_key();
        let client_key = dir.path().join("client_key");
        embedded::write_private_key(&client_key, &client).unwrap();
        let stranger_key = dir.path().join("stranger_key");
        embedded::write_private_key(&stranger_key, &embedded::generate_key()).unwrap();
        let block = address_block();
        let specs: Vec<HostSpec> = (0..n)
            .map(|i| spec(dir.path(), &block, i, client.public_key().clone()))
            .collect();
        let keys: Vec<_> = specs
            .iter()
            .map(|s| s.host_key.public_key().clone())
            .collect();
        let server = Server::start(specs).await.unwrap();
        let hosts = server.addrs();
        let lines: Vec<String> = hosts
            .iter()
            .zip(&keys)
            .map(|((_, addr), key)| embedded::known_hosts_line(*addr, key))
            .collect();
        let known_hosts = dir.path().join("known_hosts");
        std::fs::write(&known_hosts, lines.join("\n") + "\n").unwrap();
        Lab {
            server: Some(server),
            hosts,
            client_key,
            stranger_key,
            known_hosts,
            dir,
        }
    }

    /// The running server.
    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    /// The lab's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A host's own directory (its HOME and cwd).
    pub fn host_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join("hosts").join(name)
    }

    /// Client settings: the lab key, strict known_hosts.
    pub fn settings(&self) -> SshSettings {
        SshSettings {
            identities: vec![self.client_key.clone()],
            known_hosts: vec![self.known_hosts.clone()],
            connect_timeout: Duration::from_secs(20),
            connect_rate: 500.0,
            connect_burst: 50,
            ..SshSettings::default()
        }
    }

    /// Endpoints of every host, user root.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.hosts
            .iter()
            .map(|(name, addr)| Endpoint {
                name: name.clone(),
                address: addr.ip().to_string(),
                port: addr.port(),
                user: "root".into(),
            })
            .collect()
    }

    /// A cutover fleet over every host.
    pub fn fleet(&self) -> Fleet {
        Fleet::with_endpoints(self.settings(), self.endpoints()).unwrap()
    }

    /// Stops the server (killing commands) and returns the lab's files for inspection.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

/// The spec of host `i`: its dir, env naming it, `/bin/sh`.
fn spec(root: &Path, block: &str, i: usize, client: russh::keys::PublicKey) -> HostSpec {
    let name = format!("lab-{:03}", i + 1);
    let cwd = root.join("hosts").join(&name);
    std::fs::create_dir_all(&cwd).unwrap();
    let addr = format!("{block}.{}.{}:0", i / 250, i % 250 + 1);
    let env = vec![
        ("HOME".to_string(), cwd.display().to_string()),
        (
            "PATH".into(),
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into(),
        ),
        ("USER".into(), "root".into()),
        ("LAB_HOST".into(), name.clone()),
    ];
    HostSpec {
        name,
        addr: addr.parse().unwrap(),
        host_key: embedded::generate_key(),
        authorized: vec![client],
        env,
        cwd,
        shell: "/bin/sh".into(),
    }
}

/// A `127.X` prefix private to this lab (port 0 avoids clashes anyway).
fn address_block() -> String {
    let n = LABS.fetch_add(1, Ordering::SeqCst);
    format!("127.{}", 100 + (std::process::id() + n * 13) % 150)
}

/// A plain command with a 30 s timeout and a 64 KiB cap.
pub fn script(text: &str) -> RemoteCommand {
    RemoteCommand {
        script: text.to_string(),
        sudo: false,
        timeout: Duration::from_secs(30),
        limit: Limit::Remote,
        output_cap: 64 * 1024,
    }
}

/// Runs `cmd` on `host` through the fleet, panicking on transport errors.
pub async fn run(fleet: &Fleet, host: &str, cmd: &RemoteCommand) -> CommandResult {
    fleet.run(host, cmd).await.unwrap()
}

/// Whether process `pid` is gone (or a zombie waiting for a parent that is not us).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits up to `limit` for `pid` to be gone.
pub async fn wait_gone(pid: u32, limit: Duration) -> bool {
    let step = Duration::from_millis(50);
    for _ in 0..=limit.as_millis() / step.as_millis() {
        if gone(pid) {
            return true;
        }
        tokio::time::sleep(step).await;
    }
    false
}

/// Resident memory of this process (the servers run in it), in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}
