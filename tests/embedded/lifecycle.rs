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

/// Kills a process this test detached on purpose, even if the test fails.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.0 as i32), Signal::SIGKILL);
    }
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
        // The detached process writes its own pid once it has its own session, so the
        // client cannot go away while it is still in the command's group.
        "setsid sh -c 'echo $$ > {}; exec sleep 300' >/dev/null 2>&1 </dev/null &\n\
         sleep 300 & echo $! > {}\nwait",
        detached.display(),
        inner.display()
    );
    let f = fleet.clone();
    let task = tokio::spawn(async move { f.run("lab-001", &script(&text)).await });
    let (inner, detached) = (read_pid(&inner).await, read_pid(&detached).await);
    let _reaper = KillOnDrop(detached);
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_made_inside_a_command_die_with_it() {
    let lab = Lab::start(1).await;
    let fleet = std::sync::Arc::new(lab.fleet());
    let inner = lab.dir().join("nested.pid");
    // The inner `timeout` moves itself and the sleep into a process group of its own.
    let text = format!(
        "timeout 100 sh -c 'sleep 300 & echo $! > {}; wait'; echo after",
        inner.display()
    );
    let f = fleet.clone();
    let task = tokio::spawn(async move { f.run("lab-001", &script(&text)).await });
    let inner = read_pid(&inner).await;
    fleet.close().await;
    let _ = task.await;
    assert!(
        wait_gone(inner, Duration::from_secs(5)).await,
        "{inner} escaped in its own group"
    );
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
    let fleet = std::sync::Arc::new(lab.fleet());
    let hostname = script("echo $LAB_HOST");
    assert!(run(&fleet, "lab-001", &hostname).await.success());
    let pidfile = lab.dir().join("cut-off.pid");
    let long = script(&format!("echo $$ > {}; sleep 300", pidfile.display()));
    let f = fleet.clone();
    let task = tokio::spawn(async move { f.run("lab-001", &long).await });
    let pid = read_pid(&pidfile).await;
    lab.server().stop_host("lab-001").await.unwrap();
    match task.await.unwrap() {
        Ok(r) => assert_eq!(r.status, cutover::transport::ExitStatus::NoStatus, "{r:?}"),
        Err(e) => assert!(matches!(e, cutover::fleet::FleetError::Broken(_)), "{e:?}"),
    }
    assert!(
        wait_gone(pid, Duration::from_secs(5)).await,
        "{pid} outlived its host"
    );
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
async fn a_slow_host_delays_new_connections_past_the_client_timeout() {
    let lab = Lab::start(1).await;
    lab.server()
        .set_delay("lab-001", Duration::from_secs(3))
        .unwrap();
    let mut settings = lab.settings();
    settings.connect_timeout = Duration::from_secs(1);
    let endpoints = lab.endpoints();
    let fleet = cutover::fleet::Fleet::with_endpoints(settings.clone(), endpoints.clone()).unwrap();
    let err = fleet.run("lab-001", &script("true")).await.unwrap_err();
    assert!(
        matches!(
            err,
            cutover::fleet::FleetError::Unreachable(
                cutover::transport::TransportError::ConnectTimeout { .. }
            )
        ),
        "{err:?}"
    );
    lab.server().set_delay("lab-001", Duration::ZERO).unwrap();
    let fleet = cutover::fleet::Fleet::with_endpoints(settings, endpoints).unwrap();
    assert!(run(&fleet, "lab-001", &script("true")).await.success());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_shell_is_missing_fails_commands_like_a_shell_would() {
    let lab = Lab::start(1).await;
    let (name, addr) = lab.hosts[0].clone();
    lab.server().stop_host(&name).await.unwrap();
    let client = russh::keys::load_secret_key(&lab.client_key, None).unwrap();
    let spec = cutover::lab::embedded::HostSpec {
        name: name.clone(),
        addr,
        host_key: cutover::lab::embedded::generate_key(),
        authorized: vec![client.public_key().clone()],
        env: vec![],
        cwd: "/".into(),
        shell: "/nonexistent/sh".into(),
    };
    let key = spec.host_key.public_key().clone();
    let broken = cutover::lab::embedded::Server::start(vec![spec])
        .await
        .unwrap();
    std::fs::write(
        &lab.known_hosts,
        cutover::lab::embedded::known_hosts_line(addr, &key) + "\n",
    )
    .unwrap();
    let r = lab.fleet().run(&name, &script("true")).await.unwrap();
    assert_eq!(r.status, cutover::transport::ExitStatus::Code(127), "{r:?}");
    assert!(r.stderr.text().contains("/nonexistent/sh"), "{r:?}");
    broken.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_host_costs_one_file_descriptor_and_little_memory() {
    let _solo = super::SOLO.lock().await;
    let (before, rss_before) = (open_fds(), super::rss_kib());
    let mut lab = Lab::start(1000).await;
    let per_host = (open_fds() - before) as f64 / 1000.0;
    let kib = super::rss_kib().saturating_sub(rss_before) as f64 / 1000.0;
    eprintln!("idle host: {per_host:.3} fds, {kib:.1} KiB resident");
    assert!(per_host <= 1.05, "{per_host} fds per idle host");
    assert!(kib < 256.0, "{kib} KiB per idle host");
    lab.shutdown().await;
    assert!(open_fds() <= before + 50, "listeners were not closed");
}

/// File descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}
