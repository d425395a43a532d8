//! The lab's etcd cluster: one member per server host. On the loopback backends it is started
//! and restarted by that host's `lab-service` (so restarting the "consul-like" service on a
//! host restarts its member); on real (`nspawn`) hosts it is a systemd unit, `etcd.service`,
//! part of `consul.service` (so `systemctl restart consul` restarts the member too).

use super::spec::{LabHost, LabSpec};
use crate::remote::quote;
use std::path::Path;
use std::time::Duration;

/// How long a fresh cluster gets to elect a leader.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Client port of every member (each on its own host address).
pub const CLIENT_PORT: u16 = 2379;
/// Peer port of every member.
pub const PEER_PORT: u16 = 2380;

/// What to install when etcd is missing.
pub const INSTALL_HINT: &str = "apt-get install etcd-server (etcd-client adds etcdctl)";

/// The member's unit on a real host.
pub const UNIT: &str = "etcd.service";
/// Where a real host finds the controller's `etcd` binary (bind-mounted read-only).
pub const HOST_BINARY: &str = "/usr/local/bin/etcd";
/// A real host member's data directory (in its overlay: kept across restarts and reboots).
pub const HOST_DATA_DIR: &str = "/var/lib/etcd";

/// The member's start script (`$LAB_ROOT/consul.sh`): `exec etcd` with static bootstrap and
/// short election timeouts, data kept in the host's tree so a restart rejoins.
pub fn member_script(spec: &LabSpec, host: &LabHost, etcd: &Path) -> String {
    let data = host.root.join("var/lib/etcd").display().to_string();
    let quoted: Vec<String> = member_args(spec, host, &data)
        .iter()
        .map(|a| quote(a))
        .collect();
    format!(
        "# The consul-like service of {}: its etcd member.\nexec {} {}\n",
        host.name,
        quote(&etcd.display().to_string()),
        quoted.join(" ")
    )
}

/// The member's systemd unit on a real host (`/etc/systemd/system/etcd.service`): etcd's own
/// `Type=notify` (active once the member serves, which takes a quorum), restarted on failure,
/// wanted by `multi-user.target` so a reboot brings it back, and `PartOf=consul.service` so the
/// lab plans' `lab-service restart consul` restarts the member, as on the loopback backends.
pub fn unit(spec: &LabSpec, host: &LabHost) -> String {
    format!(
        "# Written by `cutover lab up`: {name}'s member of the lab's etcd cluster.\n[Unit]\nDescription=etcd member {name} (part of the consul-like service)\nAfter=network.target\nPartOf=consul.service\n\n[Service]\nType=notify\nExecStart={bin} {args}\nRestart=on-failure\nRestartSec=1\nTimeoutStartSec=60\n\n[Install]\nWantedBy=multi-user.target\n",
        name = host.name,
        bin = HOST_BINARY,
        args = member_args(spec, host, HOST_DATA_DIR).join(" "),
    )
}

/// etcd's flags for `host`'s member: static bootstrap from every member's own address, data
/// in `data_dir` (so a restart rejoins), short election timeouts (a lab elects in about 1 s).
fn member_args(spec: &LabSpec, host: &LabHost, data_dir: &str) -> Vec<String> {
    let initial: Vec<String> = spec
        .lab_hosts()
        .iter()
        .filter(|h| h.etcd_member)
        .map(|h| format!("{}=http://{}:{PEER_PORT}", h.name, h.addr))
        .collect();
    let peer = format!("http://{}:{PEER_PORT}", host.addr);
    let client = format!("http://{}:{CLIENT_PORT}", host.addr);
    vec![
        "--name".to_string(),
        host.name.clone(),
        "--data-dir".into(),
        data_dir.to_string(),
        "--listen-peer-urls".into(),
        peer.clone(),
        "--initial-advertise-peer-urls".into(),
        peer,
        "--listen-client-urls".into(),
        client.clone(),
        "--advertise-client-urls".into(),
        client,
        "--initial-cluster".into(),
        initial.join(","),
        "--initial-cluster-state".into(),
        "new".into(),
        "--initial-cluster-token".into(),
        format!("cutover-lab-{}", spec.subnet),
        "--heartbeat-interval".into(),
        "50".into(),
        "--election-timeout".into(),
        "500".into(),
    ]
}

/// Whether the member at `addr` answers `/health` with `"health":"true"`.
pub fn healthy(addr: &str) -> bool {
    http_get(addr, CLIENT_PORT, "/health").is_some_and(|b| b.contains("\"health\":\"true\""))
}

/// A tiny blocking HTTP/1.0 GET on loopback (status line and body), for health probes.
fn http_get(addr: &str, port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let sock = format!("{addr}:{port}").parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(300)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// Waits until every member is healthy; returns the members that are not.
pub fn wait_healthy(members: &[&LabHost]) -> Vec<String> {
    let deadline = crate::clock::instant() + READY_TIMEOUT;
    loop {
        let sick: Vec<String> = members
            .iter()
            .filter(|h| !healthy(&h.addr))
            .map(|h| h.name.clone())
            .collect();
        if sick.is_empty() || crate::clock::instant() > deadline {
            return sick;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::faults::Faults;
    use crate::lab::spec::Backend;

    #[test]
    fn members_bootstrap_from_every_server_address() {
        let spec = LabSpec {
            hosts: 4,
            etcd: Some(3),
            backend: Backend::Sshd,
            dir: "/tmp/l".into(),
            subnet: "127.0.10".into(),
            port: 22,
            faults: Faults::new(),
        };
        let hosts = spec.lab_hosts();
        let s = member_script(&spec, &hosts[1], Path::new("/usr/bin/etcd"));
        assert!(s.contains(
            "lab-1=http://127.0.10.1:2380,lab-2=http://127.0.10.2:2380,lab-3=http://127.0.10.3:2380"
        ));
        assert!(s.contains("--listen-client-urls http://127.0.10.2:2379"));
        assert!(s.contains("/tmp/l/hosts/lab-2/var/lib/etcd"));
    }

    #[test]
    fn a_real_hosts_member_is_an_enabled_unit_that_restarts_with_consul() {
        let spec = LabSpec {
            hosts: 3,
            etcd: Some(3),
            backend: Backend::Nspawn,
            dir: "/tmp/l".into(),
            subnet: "10.253.46".into(),
            port: 22,
            faults: Faults::new(),
        };
        let hosts = spec.lab_hosts();
        let u = unit(&spec, &hosts[2]);
        assert!(u.contains("\nPartOf=consul.service\n"), "{u}");
        assert!(u.contains("\nRestart=on-failure\n"), "{u}");
        assert!(u.contains("\nWantedBy=multi-user.target\n"), "{u}");
        assert!(
            u.contains("\nExecStart=/usr/local/bin/etcd --name lab-3 --data-dir /var/lib/etcd ")
        );
        assert!(
            u.contains("--listen-client-urls http://10.253.46.3:2379 "),
            "{u}"
        );
        assert!(u.contains("lab-1=http://10.253.46.1:2380,"), "{u}");
    }
}
