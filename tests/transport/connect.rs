//! Connecting to many hosts, reusing connections, authentication and handshake pacing.

use crate::support::Fleet;
use crate::{run, script};
use cutover::transport::{ExitStatus, SshSettings, Transport, TransportError};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_hosts_each_answer_twice_on_one_connection() {
    let started = cutover::clock::instant();
    let fleet = Fleet::builder(50).start();
    eprintln!("50 sshds ready in {:?}", started.elapsed());
    let transport = Arc::new(Transport::new(fleet.settings()).unwrap());
    let tasks: Vec<_> = fleet
        .endpoints()
        .into_iter()
        .map(|ep| {
            let transport = transport.clone();
            tokio::spawn(async move {
                let conn = transport.connect(&ep).await.unwrap();
                let first = run(&conn, "echo \"$CUTOVER_HOST\"").await;
                let second = run(&conn, "echo again; exit 3").await;
                (ep.name, first, second)
            })
        })
        .collect();
    for task in tasks {
        let (name, first, second) = task.await.unwrap();
        assert!(
            first.success(),
            "{name}: {first:?}\n{}",
            log_of(&fleet, &name)
        );
        assert_eq!(first.stdout.text(), format!("{name}\n"));
        assert_eq!(second.status, ExitStatus::Code(3));
        assert_eq!(second.stdout.text(), "again\n");
    }
    let sessions: usize = fleet
        .hosts
        .iter()
        .map(|h| h.log_text().matches("Accepted publickey").count())
        .sum();
    assert_eq!(sessions, 50, "one connection per host, reused");
}

#[tokio::test]
async fn wrong_client_key_fails_once_per_host_without_retries() {
    let fleet = Fleet::builder(3).start();
    let settings = SshSettings {
        identities: vec![fleet.stranger_key.clone()],
        ..fleet.settings()
    };
    let transport = Transport::new(settings).unwrap();
    for ep in fleet.endpoints() {
        let err = transport.connect(&ep).await.err().expect("auth must fail");
        assert!(
            matches!(&err, TransportError::Auth { offered, .. } if offered.len() == 1),
            "{err}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for host in &fleet.hosts {
        let log = host.log_text();
        assert_eq!(
            log.matches("Failed publickey").count(),
            1,
            "{}:\n{log}",
            host.name
        );
        assert_eq!(log.matches("Accepted").count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paced_handshakes_get_through_a_tight_max_startups() {
    let fleet = Fleet::builder(1).max_startups("3:30:10").start();
    let settings = SshSettings {
        connect_rate: 20.0,
        connect_burst: 2,
        ..fleet.settings()
    };
    let transport = Arc::new(Transport::new(settings).unwrap());
    let ep = fleet.endpoints().remove(0);
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (transport, ep) = (transport.clone(), ep.clone());
            tokio::spawn(async move {
                let conn = transport.connect(&ep).await?;
                let result = conn.run(&script("true")).await;
                conn.close().await;
                result
            })
        })
        .collect();
    for task in tasks {
        let result = task
            .await
            .unwrap()
            .expect("every paced connection succeeds");
        assert!(
            result.success(),
            "{result:?}\n{}",
            fleet.hosts[0].log_text()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_sshd_fails_its_host_while_others_finish() {
    let mut fleet = Fleet::builder(3).start();
    let transport = Transport::new(fleet.settings()).unwrap();
    let mut conns = Vec::new();
    for ep in fleet.endpoints() {
        conns.push(transport.connect(&ep).await.unwrap());
    }
    let runs: Vec<_> = conns
        .iter()
        .cloned()
        .map(|c| tokio::spawn(async move { c.run(&script("sleep 2; echo done")).await }))
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    fleet.hosts[1].kill_hard();
    let results: Vec<_> = futures_join(runs).await;
    assert_eq!(results[0].as_ref().unwrap().stdout.text(), "done\n");
    assert_eq!(results[2].as_ref().unwrap().stdout.text(), "done\n");
    match &results[1] {
        Ok(r) => assert_eq!(r.status, ExitStatus::NoStatus),
        Err(e) => assert!(matches!(e, TransportError::Channel { .. }), "{e}"),
    }
    assert!(
        conns[1].run(&script("true")).await.is_err(),
        "a dead connection fails later commands"
    );
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn log_of(fleet: &Fleet, name: &str) -> String {
    fleet
        .hosts
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.log_text())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_jump_tunnels_every_host_through_one_bastion_connection() {
    let fleet = Fleet::builder(3).start();
    let settings = SshSettings {
        proxy_jump: Some(format!("root@{}", fleet.hosts[0].address)),
        ..fleet.settings()
    };
    let transport = Transport::new(settings).unwrap();
    for host in &fleet.hosts[1..] {
        let conn = transport.connect(&host.endpoint()).await.unwrap();
        let result = run(&conn, "echo \"$CUTOVER_HOST\"").await;
        assert_eq!(result.stdout.text(), format!("{}\n", host.name));
    }
    let bastion_log = fleet.hosts[0].log_text();
    assert_eq!(
        bastion_log.matches("Accepted publickey").count(),
        1,
        "{bastion_log}"
    );
}
