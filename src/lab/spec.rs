//! What a lab is: its hosts, addresses, directories, groups and faults, derived from the options.
//!
//! Pure: every path and address of the lab is computed here, once, from a `LabSpec`; the
//! shells (`lab::up`, the backends) only create what it describes.

use super::faults::{Fault, Faults};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Largest lab: the embedded backend serves ten thousand hosts (40 /24s of loopback
/// addresses, one listening socket and a few KiB each), so the scale benchmark is one
/// `lab up`.
pub const MAX_HOSTS: usize = 10_000;

/// Hosts one embedded server process serves: each needs a listening socket, a socket per
/// connection and pipes per running command, and a container's hard open-file limit can be
/// as low as 20,000 (this machine's), so a lab of 10,000 hosts runs four server processes.
pub const HOSTS_PER_SERVER: usize = 2_500;

/// The embedded server processes for `hosts` hosts, each a run of [`HOSTS_PER_SERVER`]
/// consecutive hosts (by index into the lab's host list): `(first, end)`.
pub fn server_parts(hosts: usize) -> Vec<(usize, usize)> {
    (0..hosts.div_ceil(HOSTS_PER_SERVER).max(1))
        .map(|k| {
            (
                k * HOSTS_PER_SERVER,
                ((k + 1) * HOSTS_PER_SERVER).min(hosts),
            )
        })
        .collect()
}

/// Largest lab on the `sshd` backend: one OpenSSH process per host, about 5 MiB each.
pub const MAX_SSHD_HOSTS: usize = 2000;
/// Hosts per /24: `.1` to `.250`; host 251 continues at the next third octet.
pub const HOSTS_PER_OCTET: usize = 250;
/// Where `cutover lab up` puts the lab without `--dir` (the lab plan's inventory points here).
pub const DEFAULT_DIR: &str = "/tmp/cutover-lab";
/// First three octets of lab addresses without `--subnet` (`127.0.10.1`, `127.0.10.2`, ...).
pub const DEFAULT_SUBNET: &str = "127.0.10";
/// First three octets of `nspawn` hosts without `--subnet`: a /24 inside namespaces the lab makes.
pub const DEFAULT_NSPAWN_SUBNET: &str = "10.253.0";
/// Largest `nspawn` lab: one /24 on one bridge (`.254` is the controller's side).
pub const MAX_NSPAWN_HOSTS: usize = 200;

/// SSH port of lab hosts when not running as root (22 needs privileges).
pub const UNPRIVILEGED_PORT: u16 = 2222;

/// The default SSH port for this user: 22 for root, else [`UNPRIVILEGED_PORT`].
pub fn default_port() -> u16 {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        22
    } else {
        UNPRIVILEGED_PORT
    }
}

/// Which SSH server the lab hosts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// russh servers in one detached `cutover lab serve` process: no system package needed.
    Embedded,
    /// One real OpenSSH `sshd` per host.
    Sshd,
    /// Real hosts: a `systemd-nspawn` container per host booting systemd, in its own network
    /// namespace on a bridge (root only; see `lab::nspawn`).
    Nspawn,
}

impl Backend {
    /// The name as typed.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Sshd => "sshd",
            Backend::Nspawn => "nspawn",
        }
    }

    /// `--subnet` when not given: loopback for the shim backends, `10.253.0` for `nspawn`.
    pub fn default_subnet(self) -> &'static str {
        match self {
            Backend::Nspawn => DEFAULT_NSPAWN_SUBNET,
            Backend::Embedded | Backend::Sshd => DEFAULT_SUBNET,
        }
    }
}

/// A lab as asked for: validated by [`LabSpec::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabSpec {
    /// Number of hosts.
    pub hosts: usize,
    /// etcd members (on the first hosts), if any.
    pub etcd: Option<usize>,
    /// SSH server kind.
    pub backend: Backend,
    /// The lab's directory (absolute).
    pub dir: PathBuf,
    /// First three octets of the hosts' loopback addresses.
    pub subnet: String,
    /// SSH port of every host: 22 as root, [`UNPRIVILEGED_PORT`] otherwise.
    pub port: u16,
    /// Injected faults by host name.
    pub faults: Faults,
}

/// One lab host, fully described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// `lab-1`, `lab-2`, ...
    pub name: String,
    /// Its loopback address.
    pub addr: String,
    /// Its SSH port.
    pub port: u16,
    /// Its state dir: the host's own `/etc`-like tree, shims, keys, logs.
    pub root: PathBuf,
    /// `servers` (etcd members, or the first three) or `clients`.
    pub group: &'static str,
    /// Whether an etcd member lives on this host.
    pub etcd_member: bool,
    /// Its faults.
    pub faults: Vec<Fault>,
}

impl LabSpec {
    /// Every problem with the options, each with what to do.
    pub fn validate(&self) -> Result<(), String> {
        if self.hosts == 0 || self.hosts > MAX_HOSTS {
            return Err(format!("--hosts must be 1..={MAX_HOSTS}"));
        }
        if self.backend == Backend::Sshd && self.hosts > MAX_SSHD_HOSTS {
            return Err(format!(
                "--backend sshd runs one sshd per host and stops at {MAX_SSHD_HOSTS} hosts; use --backend embedded for {}",
                self.hosts
            ));
        }
        if let Some(n) = self.etcd {
            if n != 3 && n != 5 {
                return Err("--etcd takes 3 or 5 (an odd quorum)".into());
            }
            if n > self.hosts {
                return Err(format!("--etcd {n} needs at least {n} hosts (--hosts {n})"));
            }
        }
        if self.backend == Backend::Nspawn {
            return self.validate_nspawn();
        }
        if let Some(f) = self.faults.values().flatten().find(|f| f.is_network()) {
            return Err(format!(
                "--fault {f} needs real network namespaces: add --backend nspawn"
            ));
        }
        let Some((_, third)) = self.base() else {
            return Err(format!(
                "--subnet {}: expected three octets in 127.0.0.0/8, e.g. 127.0.10",
                self.subnet
            ));
        };
        if usize::from(third) + (self.hosts - 1) / HOSTS_PER_OCTET > 255 {
            return Err(format!(
                "--subnet {}: {} hosts need {} /24s above it; pick a lower third octet",
                self.subnet,
                self.hosts,
                self.hosts.div_ceil(HOSTS_PER_OCTET)
            ));
        }
        let is_host = |h: &str| {
            h.strip_prefix("lab-")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| (1..=self.hosts).contains(&n) && host_name(n) == h)
        };
        match self.faults.keys().find(|h| !is_host(h)) {
            Some(h) => Err(format!(
                "--fault names `{h}`, which is not a lab host (lab-1..lab-{})",
                self.hosts
            )),
            None => Ok(()),
        }
    }

    /// The hosts, in order.
    pub fn lab_hosts(&self) -> Vec<LabHost> {
        let servers = self.etcd.unwrap_or(self.hosts.min(3));
        (1..=self.hosts)
            .map(|i| {
                let name = host_name(i);
                LabHost {
                    addr: self.address(i),
                    port: self.port,
                    root: self.dir.join("hosts").join(&name),
                    group: if i <= servers { "servers" } else { "clients" },
                    etcd_member: self.etcd.is_some_and(|n| i <= n),
                    faults: self.faults.get(&name).cloned().unwrap_or_default(),
                    name,
                }
            })
            .collect()
    }

    /// The `nspawn` rules: one /24 in 10.0.0.0/8, only network faults.
    fn validate_nspawn(&self) -> Result<(), String> {
        if self.hosts > MAX_NSPAWN_HOSTS {
            return Err(format!(
                "--backend nspawn takes at most {MAX_NSPAWN_HOSTS} hosts (one /24)"
            ));
        }
        if self.base().is_none() {
            return Err(format!(
                "--subnet {}: expected three octets in 10.0.0.0/8, e.g. {DEFAULT_NSPAWN_SUBNET}",
                self.subnet
            ));
        }
        if let Some(f) = self.faults.values().flatten().find(|f| !f.is_network()) {
            return Err(format!(
                "--fault {f} is a shim fault of the loopback backends; nspawn hosts take network faults ({})",
                super::faults::NETWORK_KINDS
            ));
        }
        let names: Vec<String> = (1..=self.hosts).map(host_name).collect();
        let unknown = self.faults.iter().find_map(|(h, fs)| {
            (!names.contains(h)).then_some(h.as_str()).or_else(|| {
                fs.iter()
                    .flat_map(|f| f.peers())
                    .find(|p| !names.contains(p))
                    .map(String::as_str)
            })
        });
        match unknown {
            Some(h) => Err(format!(
                "--fault names `{h}`, which is not a lab host (lab-1..lab-{})",
                self.hosts
            )),
            None => Ok(()),
        }
    }

    /// The first two octets and the third of `--subnet`, if it is well formed for the backend
    /// (`127.x.y` on loopback, `10.x.y` for `nspawn`).
    fn base(&self) -> Option<(String, u8)> {
        let octets: Vec<&str> = self.subnet.split('.').collect();
        let [a, b, c] = octets[..] else { return None };
        let first = if self.backend == Backend::Nspawn {
            "10"
        } else {
            "127"
        };
        let valid = a == first && b.parse::<u8>().is_ok();
        let third = c.parse::<u8>().ok()?;
        valid.then(|| (format!("{a}.{b}"), third))
    }

    /// The controller's address on an `nspawn` lab's bridge (`SUBNET.254`).
    pub fn bridge_address(&self) -> String {
        format!("{}.254", self.subnet)
    }

    /// The address of the `i`th host (1-based): 250 per /24, from `--subnet` upwards.
    pub fn address(&self, i: usize) -> String {
        let (ab, third) = self.base().unwrap_or(("127.0".into(), 10));
        let (block, last) = ((i - 1) / HOSTS_PER_OCTET, (i - 1) % HOSTS_PER_OCTET + 1);
        format!("{ab}.{}.{last}", usize::from(third) + block)
    }

    /// The inventory the lab writes.
    pub fn inventory_path(&self) -> PathBuf {
        self.dir.join("inventory.toml")
    }

    /// The known_hosts file listing every host's key.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The client private key every host authorizes.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.join("client_key")
    }

    /// The lab's record of itself (spec and pids).
    pub fn state_path(&self) -> PathBuf {
        state_path(&self.dir)
    }

    /// etcd client URLs of the members.
    pub fn etcd_endpoints(&self) -> Vec<String> {
        self.lab_hosts()
            .iter()
            .filter(|h| h.etcd_member)
            .map(|h| format!("http://{}:2379", h.addr))
            .collect()
    }
}

/// The lab state file inside a lab dir.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join("lab.json")
}

/// The name of the `i`th host (1-based).
pub fn host_name(i: usize) -> String {
    format!("lab-{i}")
}

impl LabHost {
    /// Directory first on the host's PATH: its `sudo`, `systemctl`, `lab-service`, ...
    pub fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// Where armed jobs live (the inventory's `cutover_dir`).
    pub fn cutover_dir(&self) -> PathBuf {
        self.root.join("var/cutover")
    }

    /// Whether the host has this fault.
    pub fn has(&self, pred: impl Fn(&Fault) -> bool) -> bool {
        self.faults.iter().any(pred)
    }

    /// The session environment: PATH with the shims first, and where the host's tree is.
    pub fn env(&self, lab_dir: &Path) -> Vec<(String, String)> {
        let sys = if self.has(|f| *f == Fault::NoScheduler) {
            "sysbin-nosched"
        } else {
            "sysbin"
        };
        let path = format!("{}:{}", self.bin().display(), lab_dir.join(sys).display());
        vec![
            ("PATH".into(), path),
            ("HOME".into(), self.root.display().to_string()),
            ("LAB_ROOT".into(), self.root.display().to_string()),
            ("CUTOVER_HOST".into(), self.name.clone()),
            ("TZ".into(), "UTC".into()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LabSpec {
        LabSpec {
            hosts: 5,
            etcd: Some(3),
            backend: Backend::Sshd,
            dir: "/tmp/l".into(),
            subnet: "127.0.10".into(),
            port: 22,
            faults: Faults::new(),
        }
    }

    #[test]
    fn hosts_get_addresses_groups_and_members() {
        let hosts = spec().lab_hosts();
        assert_eq!(hosts[4].addr, "127.0.10.5");
        assert_eq!(spec().address(250), "127.0.10.250");
        assert_eq!(spec().address(251), "127.0.11.1");
        assert_eq!(hosts[2].group, "servers");
        assert_eq!(hosts[3].group, "clients");
        assert!(hosts[2].etcd_member && !hosts[3].etcd_member);
        assert_eq!(spec().etcd_endpoints()[0], "http://127.0.10.1:2379");
    }

    #[test]
    fn validation_names_the_fix() {
        let mut s = spec();
        s.etcd = Some(4);
        assert!(s.validate().unwrap_err().contains("3 or 5"));
        s.etcd = None;
        s.faults.insert("lab-9".into(), vec![Fault::Unreachable]);
        assert!(s.validate().unwrap_err().contains("lab-9"));
        s.faults.clear();
        s.faults.insert("lab-05".into(), vec![Fault::Unreachable]);
        assert!(s.validate().unwrap_err().contains("lab-05"));
        s.faults.clear();
        s.subnet = "10.0.0".into();
        assert!(s.validate().is_err());
    }

    #[test]
    fn ten_thousand_hosts_fill_forty_24s_on_the_embedded_backend() {
        let mut s = spec();
        s.etcd = None;
        s.backend = Backend::Embedded;
        s.hosts = MAX_HOSTS;
        s.faults
            .insert("lab-10000".into(), vec![Fault::Unreachable]);
        assert_eq!(s.validate(), Ok(()));
        let hosts = s.lab_hosts();
        assert_eq!(hosts[0].addr, "127.0.10.1");
        assert_eq!(hosts[9_999].addr, "127.0.49.250");
        let addrs: std::collections::HashSet<&str> =
            hosts.iter().map(|h| h.addr.as_str()).collect();
        assert_eq!(addrs.len(), MAX_HOSTS, "every host has its own address");
        assert!(hosts[9_999].has(|f| *f == Fault::Unreachable));
        assert_eq!(server_parts(MAX_HOSTS).len(), 4);
        assert_eq!(server_parts(5), vec![(0, 5)]);
        assert_eq!(server_parts(2_501), vec![(0, 2_500), (2_500, 2_501)]);
        s.hosts = MAX_HOSTS + 1;
        assert!(s.validate().unwrap_err().contains("10000"));
    }

    #[test]
    fn ten_thousand_hosts_need_a_low_enough_subnet_and_the_embedded_backend() {
        let mut s = spec();
        s.etcd = None;
        s.hosts = MAX_HOSTS;
        s.backend = Backend::Embedded;
        s.subnet = "127.0.216".into();
        assert_eq!(s.validate(), Ok(()), "127.0.216.x up to 127.0.255.x");
        s.subnet = "127.0.217".into();
        assert!(s.validate().unwrap_err().contains("40 /24s"));
        s.subnet = "127.0.10".into();
        s.backend = Backend::Sshd;
        assert!(s.validate().unwrap_err().contains("--backend embedded"));
    }
}
