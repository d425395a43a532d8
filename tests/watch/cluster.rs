//! A real etcd cluster on loopback: its own ports and data dirs, killed by pid on drop.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// One etcd process slot.
struct Slot {
    name: String,
    peer: u16,
    client: u16,
    child: Option<Child>,
}

/// N members with static bootstrap and short election timeouts (50ms heartbeat, 500ms election).
pub struct EtcdCluster {
    dir: TempDir,
    initial: String,
    slots: Vec<Slot>,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn require_etcd() {
    let ok = Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "etcd is not installed: apt-get install etcd-server etcd-client"
    );
}

impl EtcdCluster {
    /// Starts `n` members and waits until one leads.
    pub fn start(n: usize) -> Self {
        require_etcd();
        let slots: Vec<Slot> = (0..n)
            .map(|i| Slot {
                name: format!("m{i}"),
                peer: free_port(),
                client: free_port(),
                child: None,
            })
            .collect();
        let initial = slots
            .iter()
            .map(|s| format!("{}=http://127.0.0.1:{}", s.name, s.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = EtcdCluster {
            dir: tempfile::tempdir().expect("tempdir"),
            initial,
            slots,
        };
        for i in 0..n {
            c.start_member(i);
        }
        c.wait_for_leader();
        c
    }

    /// Client URLs, one per member.
    pub fn endpoints(&self) -> Vec<String> {
        self.slots
            .iter()
            .map(|s| format!("http://127.0.0.1:{}", s.client))
            .collect()
    }

    /// Client ports, one per member.
    pub fn client_ports(&self) -> Vec<u16> {
        self.slots.iter().map(|s| s.client).collect()
    }

    /// Starts member `i` (again); its data dir is kept, so a restart rejoins.
    pub fn start_member(&mut self, i: usize) {
        let s = &self.slots[i];
        let data = self.dir.path().join(&s.name);
        let log = std::fs::File::create(self.dir.path().join(format!("{}.log", s.name)))
            .expect("log file");
        let child = Command::new("etcd")
            .args(["--name", &s.name, "--data-dir"])
            .arg(&data)
            .args([
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{}", s.peer),
            ])
            .args([
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{}", s.peer),
            ])
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{}", s.client),
            ])
            .args([
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{}", s.client),
            ])
            .args([
                "--initial-cluster",
                &self.initial,
                "--initial-cluster-state",
                "new",
            ])
            .args(["--initial-cluster-token", "cutover-watch-test"])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn etcd");
        self.slots[i].child = Some(child);
    }

    /// Stops member `i`: SIGTERM, then SIGKILL after two seconds; waits for it.
    pub fn stop_member(&mut self, i: usize) {
        if let Some(child) = self.slots[i].child.take() {
            stop(child);
        }
    }

    /// Stops every member at the same moment: SIGTERM to all, then waits for each.
    pub fn stop_all(&mut self) {
        let children: Vec<Child> = self
            .slots
            .iter_mut()
            .filter_map(|s| s.child.take())
            .collect();
        for c in &children {
            signal(c.id(), "-TERM");
        }
        children.into_iter().for_each(stop);
    }

    /// Starts every member again.
    pub fn start_all(&mut self) {
        (0..self.slots.len()).for_each(|i| self.start_member(i));
    }

    /// Freezes member `i` (SIGSTOP): its ports accept connections but nothing answers.
    pub fn freeze_member(&self, i: usize) {
        if let Some(c) = &self.slots[i].child {
            signal(c.id(), "-STOP");
        }
    }

    fn wait_for_leader(&self) {
        let deadline = cutover::clock::instant() + Duration::from_secs(30);
        let eps = self.endpoints().join(",");
        while cutover::clock::instant() < deadline {
            let out = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args([
                    "--endpoints",
                    &eps,
                    "endpoint",
                    "status",
                    "-w",
                    "json",
                    "--command-timeout=1s",
                ])
                .output()
                .expect("etcdctl (apt-get install etcd-client)");
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && text.matches("\"leader\":").count() == self.slots.len() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "etcd cluster under {} did not elect a leader in 30s",
            self.dir.path().display()
        );
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(sig).arg(pid.to_string()).status();
}

fn stop(mut child: Child) {
    signal(child.id(), "-CONT");
    signal(child.id(), "-TERM");
    let deadline = cutover::clock::instant() + Duration::from_secs(2);
    while cutover::clock::instant() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.slots.len() {
            self.stop_member(i);
        }
    }
}
