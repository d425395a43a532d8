//! `lab up`, `lab status`, `lab down`: what they write, report and stop.

use super::harness::{Lab, cutover, processes_naming};

#[test]
fn lab_down_stops_every_recorded_process_and_removes_the_lab() {
    let lab = Lab::up(
        "127.0.46",
        &["--hosts", "3", "--etcd", "3", "--backend", "sshd"],
    );
    let pids = lab.pids();
    assert_eq!(pids.len(), 6, "3 sshd and 3 etcd members");
    assert!(pids.iter().all(|p| cutover::lab::procs::alive(*p)));
    let (_, status, _) = cutover(&["lab", "status", "--dir", lab.dir.to_str().unwrap()]);
    assert!(
        status.contains("lab-3") && status.contains("etcd healthy"),
        "{status}"
    );
    let (code, out, err) = cutover(&["lab", "down", "--dir", lab.dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        pids.iter().all(|p| !cutover::lab::procs::alive(*p)),
        "{out}"
    );
    assert!(processes_naming(lab.dir.to_str().unwrap()).is_empty());
    assert!(!lab.dir.exists());
}

#[test]
fn the_lab_writes_an_inventory_cutover_reads_and_refuses_a_second_up() {
    let faults = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(faults.path(), "[faults]\nlab-4 = [\"unreachable\"]\n").unwrap();
    let lab = Lab::up(
        "127.0.47",
        &["--hosts", "4", "--faults", faults.path().to_str().unwrap()],
    );
    let inv = lab.dir.join("inventory.toml");
    let (code, out, _) = cutover(&["inventory", "show", inv.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("lab-4") && out.contains("127.0.47.4"), "{out}");
    let d = lab.dir.to_str().unwrap();
    let (code, _, err) = cutover(&["lab", "up", "--dir", d, "--subnet", "127.0.47"]);
    assert_eq!(code, 2);
    assert!(err.contains("already up"), "{err}");
    let (code, out, _) = cutover(&[
        "exec",
        "-i",
        inv.to_str().unwrap(),
        "-k",
        lab.dir.join("client_key").to_str().unwrap(),
        "--known-hosts",
        lab.dir.join("known_hosts").to_str().unwrap(),
        "systemctl is-enabled chef-client && sudo -n true && command -v setsid",
    ]);
    assert_ne!(code, 0, "lab-4 is unreachable: {out}");
    assert!(
        out.contains("lab-[1-3] (3)") && out.contains("sysbin/setsid"),
        "{out}"
    );
    assert!(out.contains("[unreachable: lab-4"), "{out}");
}

#[test]
fn unknown_faults_and_hosts_are_refused_with_the_fix() {
    let (code, _, err) = cutover(&[
        "lab",
        "up",
        "--dir",
        "/nonexistent/x",
        "--fault",
        "lab-9=slow",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("lab-9"), "{err}");
    let (code, _, err) = cutover(&[
        "lab",
        "up",
        "--dir",
        "/nonexistent/x",
        "--fault",
        "lab-1=clock-skwe",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("known:"), "{err}");
}
