//! The same rehearsal (the demo plan, with etcd) completes on both backends.

use super::harness::Lab;
use cutover::lab::demo::{DemoOptions, plan};
use cutover::lab::state::LabState;

fn rehearsal(backend: &str, subnet: &str) {
    let lab = Lab::up(
        subnet,
        &["--hosts", "4", "--etcd", "3", "--backend", backend],
    );
    let state = LabState::load(&lab.dir).unwrap();
    let before = lab.service_pids();
    let opts = DemoOptions {
        nominal_fire: "2030-01-01T00:00:00Z".parse().unwrap(),
        system_sudo: true,
    };
    let r = lab.run(&plan(&state.spec, &opts), "25s");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("fire spread:"), "{}", r.stdout);
    let spread = &r.of_kind("spread")[0]["spread"];
    assert!(spread["missing"].as_array().unwrap().is_empty(), "{spread}");
    let after = lab.service_pids();
    assert_eq!(after.len(), 3);
    assert!(
        before.iter().all(|p| !after.contains(p)),
        "every etcd member restarted: {before:?} -> {after:?}"
    );
    let config = std::fs::read_to_string(lab.dir.join("hosts/lab-4/etc/consul.json")).unwrap();
    assert!(config.contains("\"verify_outgoing\": false"), "{config}");
}

#[test]
fn the_rehearsal_completes_on_the_sshd_backend() {
    rehearsal("sshd", "127.0.43");
}

#[test]
fn the_rehearsal_completes_on_the_embedded_backend() {
    rehearsal("embedded", "127.0.44");
}
