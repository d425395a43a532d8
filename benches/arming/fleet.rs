//! The loopback fleet of the arming benchmark: harness sshd fleets of up to 250 hosts, one
//! client key and known_hosts for all, and the inventory, host list and plans each tool reads.

use crate::support;
use std::path::{Path, PathBuf};

/// sshd's MaxStartups for every host, so no tool's handshakes are ever dropped.
const MAX_STARTUPS: &str = "100:30:1000";
/// The harness starts at most this many sshds per fleet; bigger fleets are several.
const PER_FLEET: usize = 250;

/// One host as the tools see it.
pub struct HostRef {
    /// Inventory name.
    pub name: String,
    /// Loopback address (port 22).
    pub address: String,
    /// Its state dir: HOME of its sessions, where wake files and job dirs land.
    pub dir: PathBuf,
}

/// The running sshds of the benchmark, as one fleet.
pub struct Hosts {
    /// The harness fleets: held so their sshds run until this is dropped.
    #[allow(dead_code)]
    pub fleets: Vec<support::Fleet>,
    /// Every host, in fleet order.
    pub all: Vec<HostRef>,
    /// The client key every host authorizes.
    pub key: PathBuf,
    /// known_hosts with every host's real key.
    pub known_hosts: PathBuf,
}

/// Starts enough fleets for `total` hosts, all trusting the first fleet's client key.
pub fn start(total: usize, dir: &Path) -> std::io::Result<Hosts> {
    let mut fleets = Vec::new();
    for start in (0..total).step_by(PER_FLEET) {
        let n = PER_FLEET.min(total - start);
        eprintln!("starting sshd {}..{}", start + 1, start + n);
        fleets.push(
            support::Fleet::builder(n)
                .max_startups(MAX_STARTUPS)
                .start(),
        );
    }
    let key = fleets[0].client_key.clone();
    let key_pub = std::fs::read(key.with_extension("pub"))?;
    let mut known = Vec::new();
    let mut all = Vec::new();
    for (i, f) in fleets.iter().enumerate() {
        std::fs::write(f.dir().join("authorized_keys"), &key_pub)?;
        known.extend(std::fs::read(&f.known_hosts)?);
        all.extend(f.hosts.iter().map(|h| HostRef {
            name: format!("f{i}-{}", h.name),
            address: h.address.clone(),
            dir: h.dir.clone(),
        }));
    }
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, known)?;
    Ok(Hosts {
        fleets,
        all,
        key,
        known_hosts,
    })
}

/// One address per line, the first `n` hosts.
pub fn hostfile(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("hosts-{n}.txt"))
}

/// Writes the host list (for pdsh) of the first `n` hosts; each cutover plan writes its own
/// inventory (`write_plan`).
pub fn write_host_files(dir: &Path, all: &[HostRef], n: usize) -> std::io::Result<()> {
    let list: String = all[..n]
        .iter()
        .map(|h| format!("{}\n", h.address))
        .collect();
    std::fs::write(hostfile(dir, n), list)
}

/// Where a run by `mechanism` keeps its jobs on a host, under the host's dir. Each mechanism
/// has its own: the fire benchmark arms the waiter and the `at` runs on the same hosts at
/// once, which cutover refuses for one host (one run per host: its lease lives there), so to
/// cutover they are different hosts.
pub fn cutover_dir(mechanism: &str) -> String {
    format!("cutover-{mechanism}")
}

/// The inventory of the first `n` hosts for a run by `mechanism` (its own `cutover_dir`).
fn write_inventory(
    dir: &Path,
    all: &[HostRef],
    n: usize,
    mechanism: &str,
) -> std::io::Result<PathBuf> {
    let mut inv = String::from("[inventory]\nname = \"bench\"\n\n");
    for h in &all[..n] {
        inv.push_str(&format!(
            "[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nuser = \"root\"\nvars = {{ cutover_dir = \"{}/{}\" }}\n\n",
            h.name,
            h.address,
            h.dir.display(),
            cutover_dir(mechanism)
        ));
    }
    let path = dir.join(format!("inventory-{n}-{mechanism}.toml"));
    std::fs::write(&path, inv)?;
    Ok(path)
}

/// `reverify_before` for `n` lab hosts: the T-minus check re-verifies every armed job and
/// must leave time to disarm them all before the fire; on the 2-core lab each host costs a
/// few ms of the one machine's CPU (2 s was too short at 250 hosts: the run withdrew). The
/// arming deadline comes 3 s before it.
fn reverify_secs(n: usize) -> usize {
    4 + n / 50
}

/// A plan with only the action (`true`) by `mechanism`, arming in batches of `batch` at
/// `rate` handshakes/s; its name is per mechanism and fleet size.
pub fn write_plan(
    dir: &Path,
    hosts: &Hosts,
    n: usize,
    mechanism: &str,
    batch: usize,
    rate: f64,
) -> std::io::Result<PathBuf> {
    let plan = format!(
        "[plan]\nname = \"bench-{mechanism}-{n}\"\n\n[inventory]\npath = \"{inv}\"\n\n[ssh]\nidentities = [\"{key}\"]\nknown_hosts = [\"{kh}\"]\n\n[execution]\nbatch_size = {batch}\nconnect_rate = {rate}\ncommand_timeout = \"60s\"\n\n[action]\nat = 2030-01-01T00:00:00Z\nrun = \"true\"\nsudo = false\nmechanism = \"{mechanism}\"\narm_deadline = \"{deadline}s\"\nreverify_before = \"{reverify}s\"\n",
        inv = write_inventory(dir, &hosts.all, n, mechanism)?.display(),
        key = hosts.key.display(),
        kh = hosts.known_hosts.display(),
        reverify = reverify_secs(n),
        deadline = reverify_secs(n) + 3,
    );
    let path = dir.join(format!("plan-{mechanism}-{n}.toml"));
    std::fs::write(&path, plan)?;
    Ok(path)
}
