//! Host keys: unknown refused, changed refused naming file:line, scanning formats lines.

use crate::support::Fleet;
use cutover::transport::{Transport, TransportError, known_hosts_line, scan_host_keys};

#[tokio::test]
async fn unknown_host_key_is_refused() {
    let fleet = Fleet::builder(1).start();
    std::fs::write(&fleet.known_hosts, "").unwrap();
    let transport = Transport::new(fleet.settings()).unwrap();
    let err = transport
        .connect(&fleet.endpoints()[0])
        .await
        .err()
        .expect("refused");
    match &err {
        TransportError::HostKeyUnknown {
            fingerprint,
            searched,
            ..
        } => {
            assert!(fingerprint.starts_with("SHA256:"));
            assert_eq!(searched, &vec![fleet.known_hosts.clone()]);
        }
        other => panic!("expected HostKeyUnknown, got {other}"),
    }
    assert!(err.to_string().contains("cutover hostkeys scan"));
    assert!(!fleet.hosts[0].log_text().contains("Accepted"));
}

#[tokio::test]
async fn changed_host_key_is_refused_naming_file_and_line() {
    let fleet = Fleet::builder(2).start();
    let (a, b) = (&fleet.hosts[0], &fleet.hosts[1]);
    let lines = format!(
        "# fleet\n{} {}\n{} {}\n",
        b.address, b.host_key, a.address, b.host_key
    );
    std::fs::write(&fleet.known_hosts, lines).unwrap();
    let transport = Transport::new(fleet.settings()).unwrap();
    let err = transport
        .connect(&a.endpoint())
        .await
        .err()
        .expect("refused");
    match &err {
        TransportError::HostKeyChanged { file, line, .. } => {
            assert_eq!((file, *line), (&fleet.known_hosts, 3));
        }
        other => panic!("expected HostKeyChanged, got {other}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("{}:3", fleet.known_hosts.display()))
    );
    assert!(
        transport.connect(&b.endpoint()).await.is_ok(),
        "the unchanged host still connects"
    );
}

#[tokio::test]
async fn scanned_keys_form_the_fleet_known_hosts() {
    let fleet = Fleet::builder(3).start();
    let scanned = scan_host_keys(&fleet.endpoints(), &fleet.settings()).await;
    let lines: String = scanned
        .iter()
        .map(|(ep, key)| known_hosts_line(ep, key.as_ref().unwrap()) + "\n")
        .collect();
    assert_eq!(lines, std::fs::read_to_string(&fleet.known_hosts).unwrap());
}

#[tokio::test]
async fn non_strict_accepts_an_unknown_host_but_never_a_changed_key() {
    let fleet = Fleet::builder(2).start();
    let (a, b) = (&fleet.hosts[0], &fleet.hosts[1]);
    std::fs::write(
        &fleet.known_hosts,
        format!("{} {}\n", a.address, b.host_key),
    )
    .unwrap();
    let settings = cutover::transport::SshSettings {
        strict_host_keys: false,
        ..fleet.settings()
    };
    let transport = Transport::new(settings).unwrap();
    assert!(
        transport.connect(&b.endpoint()).await.is_ok(),
        "unknown host accepted"
    );
    let err = transport
        .connect(&a.endpoint())
        .await
        .err()
        .expect("changed key refused");
    assert!(
        matches!(err, TransportError::HostKeyChanged { line: 1, .. }),
        "{err}"
    );
}
