//! Test harness: a fleet of real OpenSSH `sshd` processes on private loopback addresses.
//!
//! Include it from any integration-test binary with
//! `#[path = "support/mod.rs"] mod support;` and start a fleet with
//! `let fleet = support::Fleet::builder(50).start();`. Each host gets its own 127.X.Y.Z
//! address (port 22), host key, state dir, log (`sshd -e`, LogLevel VERBOSE) and PATH shim dir
//! (put fake commands there with [`Host::shim`]); HOME is the state dir, so root's own dotfiles
//! (a slow ~/.bashrc) never run in test sessions. Dropping the fleet stops exactly the sshd
//! processes it started (and their descendants) and removes its temp dir, even on panic.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

pub mod account;
pub mod atd;
pub mod process;
mod sshd_control;

use cutover::transport::{Endpoint, SshSettings};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";
/// How long each sshd gets to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Fleets started by this test process; with the pid it picks a unique 127.X.Y.0/24 block.
static FLEETS: AtomicU32 = AtomicU32::new(0);

/// Options for a fleet.
pub struct FleetBuilder {
    size: usize,
    max_startups: String,
}

/// One running sshd.
pub struct Host {
    /// Inventory-style name, `host-NN`.
    pub name: String,
    /// Loopback address it listens on (port 22).
    pub address: String,
    /// Its state dir (config, host key).
    pub dir: PathBuf,
    /// Directory first on the session PATH: drop fake `sudo` etc. here.
    pub shim: PathBuf,
    /// `sshd -e` log file.
    pub log: PathBuf,
    /// sshd's pid file: the harness's sshd, or one the host started itself (see [`Host::restart`]).
    pub pidfile: PathBuf,
    /// Host public key line (`ssh-ed25519 AAAA…`).
    pub host_key: String,
    child: Option<Child>,
}

/// A running fleet of sshds sharing one client key and one strict known_hosts file.
pub struct Fleet {
    /// The hosts, in order.
    pub hosts: Vec<Host>,
    /// The authorized client key (private key path).
    pub client_key: PathBuf,
    /// A key that no host authorizes.
    pub stranger_key: PathBuf,
    /// known_hosts listing every host's real key.
    pub known_hosts: PathBuf,
    dir: tempfile::TempDir,
}

impl FleetBuilder {
    /// Sets sshd's `MaxStartups` (default `10:30:100`).
    pub fn max_startups(mut self, value: &str) -> Self {
        self.max_startups = value.to_string();
        self
    }

    /// Starts every sshd concurrently and waits until each accepts connections.
    pub fn start(self) -> Fleet {
        assert!(self.size <= 250, "a fleet holds at most 250 hosts");
        require(SSHD, "openssh-server");
        require(SSH_KEYGEN, "openssh-client");
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd (privilege separation dir)");
        let dir = tempfile::Builder::new()
            .prefix("cutover-fleet-")
            .tempdir()
            .expect("temp dir");
        let block = address_block();
        let mut fleet = Fleet::empty(dir);
        let names: Vec<String> = (1..=self.size).map(|i| format!("host-{i:02}")).collect();
        let mut keygens = vec![keygen(&fleet.client_key), keygen(&fleet.stranger_key)];
        for (i, name) in names.iter().enumerate() {
            let host = Host::prepare(fleet.dir.path(), name, &format!("{block}.{}", i + 1));
            keygens.push(keygen(&host.dir.join("host_key")));
            fleet.hosts.push(host);
        }
        keygens.into_iter().for_each(wait_ok);
        fleet.write_shared_files();
        for host in &mut fleet.hosts {
            host.spawn(fleet.dir.path(), &self.max_startups);
        }
        fleet.hosts.iter_mut().for_each(Host::wait_ready);
        fleet
    }
}

impl Fleet {
    /// A builder for a fleet of `size` hosts.
    pub fn builder(size: usize) -> FleetBuilder {
        FleetBuilder {
            size,
            max_startups: "10:30:100".into(),
        }
    }

    fn empty(dir: tempfile::TempDir) -> Self {
        let client_key = dir.path().join("client_key");
        let stranger_key = dir.path().join("stranger_key");
        let known_hosts = dir.path().join("known_hosts");
        Fleet {
            hosts: Vec::new(),
            client_key,
            stranger_key,
            known_hosts,
            dir,
        }
    }

    /// The fleet's temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Endpoints for every host, as user root.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.hosts.iter().map(Host::endpoint).collect()
    }

    /// Settings that trust exactly this fleet and authenticate with its client key.
    pub fn settings(&self) -> SshSettings {
        SshSettings {
            identities: vec![self.client_key.clone()],
            known_hosts: vec![self.known_hosts.clone()],
            connect_timeout: Duration::from_secs(20),
            connect_rate: 200.0,
            connect_burst: 20,
            ..SshSettings::default()
        }
    }

    fn write_shared_files(&mut self) {
        for host in &mut self.hosts {
            let text = std::fs::read_to_string(host.dir.join("host_key.pub")).expect("host key");
            host.host_key = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
        }
        let known: String = self
            .hosts
            .iter()
            .map(|h| format!("{} {}\n", h.address, h.host_key))
            .collect();
        std::fs::write(&self.known_hosts, known).expect("write known_hosts");
        let client_pub = std::fs::read(self.client_key.with_extension("pub")).expect("client key");
        std::fs::write(self.dir.path().join("authorized_keys"), client_pub)
            .expect("authorized_keys");
    }
}

impl Host {
    fn prepare(root: &Path, name: &str, address: &str) -> Host {
        let dir = root.join(name);
        let shim = dir.join("bin");
        std::fs::create_dir_all(&shim).expect("host dir");
        let log = dir.join("sshd.log");
        let pidfile = dir.join("sshd.pid");
        let (name, address) = (name.to_string(), address.to_string());
        Host {
            name,
            address,
            dir,
            shim,
            log,
            pidfile,
            host_key: String::new(),
            child: None,
        }
    }

    /// This host as an endpoint for user root on port 22.
    pub fn endpoint(&self) -> Endpoint {
        let (name, address) = (self.name.clone(), self.address.clone());
        Endpoint {
            name,
            address,
            port: 22,
            user: "root".into(),
        }
    }

    /// Writes an executable `name` into this host's PATH shim dir.
    pub fn shim(&self, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.shim.join(name);
        std::fs::write(&path, script).expect("write shim");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    /// The sshd log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The listening sshd's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("sshd running")
    }

    /// Kills this sshd and every process it spawned (its connections die too), at once.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::kill_tree(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
        if let Some(pid) = self.daemon_pid() {
            process::kill_tree(pid, libc::SIGKILL);
        }
    }

    fn spawn(&mut self, root: &Path, max_startups: &str) {
        let config = self.dir.join("sshd_config");
        std::fs::write(&config, self.config(root, max_startups)).expect("write sshd_config");
        self.launch();
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(self.dir.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sshd");
        self.child = Some(child);
    }

    fn config(&self, root: &Path, max_startups: &str) -> String {
        let path = format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            self.shim.display()
        );
        format!(
            "ListenAddress {addr}:22\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {root}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             StrictModes no\nUsePAM no\nMaxStartups {max_startups}\nMaxSessions 10\nLogLevel VERBOSE\n\
             SetEnv CUTOVER_HOST={name} PATH={path} HOME={dir}\n",
            addr = self.address,
            dir = self.dir.display(),
            root = root.display(),
            name = self.name,
        )
    }

    fn wait_ready(&mut self) {
        let addr = format!("{}:22", self.address);
        let deadline = cutover::clock::instant() + READY_TIMEOUT;
        while cutover::clock::instant() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "sshd for {} exited ({status}) at start:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            if process::banner_ready(&addr) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "sshd for {} not ready after {READY_TIMEOUT:?}:\n{}",
            self.name,
            self.log_text()
        );
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop(&mut child);
        }
        if let Some(pid) = self.daemon_pid() {
            process::kill_tree(pid, libc::SIGKILL);
        }
    }
}

/// 127.X.Y: X from this process's pid, Y from a per-process fleet counter.
fn address_block() -> String {
    let n = FLEETS.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    format!("127.{}.{}", 10 + pid % 240, (pid / 240 + n * 7) % 250 + 1)
}

/// Starts `ssh-keygen` for an unencrypted ed25519 key at `path`.
fn keygen(path: &Path) -> Child {
    Command::new(SSH_KEYGEN)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn ssh-keygen")
}

fn wait_ok(mut child: Child) {
    let status = child.wait().expect("wait ssh-keygen");
    assert!(status.success(), "ssh-keygen failed: {status}");
}

/// Fails (never skips) when a system binary is missing, naming its apt package.
fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: apt-get install {package}"
    );
}
