//! Processes and hosts over time: disconnects kill commands, `setsid` survives, hosts stop
//! and start again, shutdown leaves no child behind.

use super::{Lab, gone, run, script, wait_gone};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::Path;
use std::time::Duration;

/// Reads a pid a command wrote, waiting for it to appear.
async fn read_pid(path: &Path) -> u32 {
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no pid in {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_kills_running_and_left_behind_commands() {
    let mut lab = Lab::start(2).await;
    let fleet = std::sync::Arc::new(lab.fleet());
    let running = lab.dir().join("running.pid");
    let left = lab.dir().join("left.pid");
    let long = script(&format!("echo $$ > {}; sleep 300", running.display()));
    let f = fleet.clone();
    let task = tokio::spawn(async move { f.run("lab-001", &long).await });
    let bg = format!(
        "sleep 300 >/dev/null 2>&1 </dev/null & echo $! > {}",
        left.display()
    );
    assert!(run(&fleet, "lab-002", &script(&bg)).await.success());
    let (running, left) = (read_pid(&running).await, read_pid(&left).await);
    assert!(!gone(running) && !gone(left));
    lab.shutdown().await;
    assert!(
        wait_gone(running, Duration::from_secs(5)).await,
        "running command {running} survived"
    );
    assert!(
        wait_gone(left, Duration::from_secs(5)).await,
        "background command {left} survived"
    );
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_kills_the_group_but_not_a_setsid_process() {
    let mut lab = Lab::start(1).await;
    let fleet = std::sync::Arc::new(lab.fleet());
    let (inner, detached) = (lab.dir().join("inner.pid"), lab.dir().join("detached.pid"));
    let text = format!(
        "setsid sleep 300 >/dev/null 2>&1 </dev/null & echo $! > {}\n\
         sleep 300 & echo $! > {}\nwait",
        detached.display(),
        inner.display()
    );
    let f = fleet.clone();
    let task = tokio::spawn(async move { f.run("lab-001", &script(&text)).await });
    let (inner, detached) = (read_pid(&inner).await, read_pid(&detached).await);
    fleet.close().await;
    let _ = task.await;
    assert!(
        wait_gone(inner, Duration::from_secs(5)).await,
        "{inner} outlived its client"
    );
    assert!(
        !gone(detached),
        "the setsid process {detached} must survive"
    );
    lab.shutdown().await;
    assert!(
        !gone(detached),
        "shutdown leaves detached processes to their owner"
    );
    kill(Pid::from_raw(detached as i32), Signal::SIGKILL).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_do_not_inherit_the_listening_sockets() {
    let lab = Lab::start(3).await;
    let fleet = lab.fleet();
    let r = run(
        &fleet,
        "lab-002",
        &script("ls -l /proc/$$/fd | grep -c socket || true"),
    )
    .await;
    assert_eq!(r.stdout.text().trim(), "0", "{r:?}");
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_host_is_unreachable_until_started_again() {
    let lab = Lab::start(2).await;
    let fleet = lab.fleet();
    let hostname = script("echo $LAB_HOST");
    assert!(run(&fleet, "lab-001", &hostname).await.success());
    lab.server().stop_host("lab-001").await.unwrap();
    assert!(
        fleet.run("lab-001", &hostname).await.is_err(),
        "a stopped host answered"
    );
    assert!(
        run(&fleet, "lab-002", &hostname).await.success(),
        "the others keep serving"
    );
    lab.server().start_host("lab-001").await.unwrap();
    let r = run(&fleet, "lab-001", &hostname).await;
    assert_eq!(r.stdout.text(), "lab-001\n");
    let err = lab.server().stop_host("nope").await.unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_in_use_names_the_host() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap();
    let spec = cutover::lab::embedded::HostSpec {
        name: "busy".into(),
        addr,
        host_key: cutover::lab::embedded::generate_key(),
        authorized: vec![],
        env: vec![],
        cwd: "/".into(),
        shell: "/bin/sh".into(),
    };
    let err = cutover::lab::embedded::Server::start(vec![spec])
        .await
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("busy") && text.contains(&addr.to_string()),
        "{text}"
    );
}
