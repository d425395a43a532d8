//! cutover's own client (fleet + transport, strict known_hosts) against embedded hosts.

use super::{Lab, run, script};
use cutover::fleet::FleetError;
use cutover::transport::{ExitStatus, RemoteCommand, TransportError};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_report_exit_codes_stdout_and_stderr() {
    let lab = Lab::start(2).await;
    let fleet = lab.fleet();
    let r = run(&fleet, "lab-001", &script("echo out; echo err >&2; exit 7")).await;
    assert_eq!(r.status, ExitStatus::Code(7));
    assert_eq!(r.stdout.text(), "out\n");
    assert_eq!(r.stderr.text(), "err\n");
    let ok = run(&fleet, "lab-002", &script("true")).await;
    assert!(ok.success(), "{ok:?}");
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_line_script_runs_from_stdin_with_the_host_env_and_cwd() {
    let lab = Lab::start(2).await;
    let fleet = lab.fleet();
    let text = "set -e\nx=$(( 6 * 7 ))\necho \"$x $LAB_HOST $HOME\"\npwd\nenv | sort | cut -d= -f1 | tr '\\n' ' '\n";
    for name in ["lab-001", "lab-002"] {
        let r = run(&fleet, name, &script(text)).await;
        assert!(r.success(), "{r:?}");
        let dir = lab.host_dir(name).display().to_string();
        let out = r.stdout.text();
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap(), format!("42 {name} {dir}"));
        assert_eq!(lines.next().unwrap(), dir);
        let vars = lines.next().unwrap();
        // Only the spec's variables (plus what sh itself sets) reach commands.
        assert!(vars.contains("LAB_HOST"), "{vars}");
        assert!(
            !vars.contains("CARGO"),
            "the server's environment leaked: {vars}"
        );
    }
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_channels_run_at_once_on_one_connection() {
    let lab = Lab::start(1).await;
    let fleet = std::sync::Arc::new(lab.fleet());
    let cmd = script("sleep 1; echo done");
    let started = cutover::clock::instant();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (fleet, cmd) = (fleet.clone(), cmd.clone());
            tokio::spawn(async move { run(&fleet, "lab-001", &cmd).await })
        })
        .collect();
    for task in tasks {
        let r = task.await.unwrap();
        assert!(r.success() && r.stdout.text() == "done\n", "{r:?}");
    }
    let took = cutover::clock::instant() - started;
    assert!(
        took < Duration::from_secs(4),
        "channels ran one by one: {took:?}"
    );
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_command_is_killed_at_its_timeout() {
    let lab = Lab::start(1).await;
    let fleet = lab.fleet();
    let pidfile = lab.dir().join("hung.pid");
    let cmd = RemoteCommand {
        timeout: Duration::from_secs(1),
        ..script(&format!("echo $$ > {}; sleep 60", pidfile.display()))
    };
    let r = run(&fleet, "lab-001", &cmd).await;
    assert_eq!(r.status, ExitStatus::TimedOut, "{r:?}");
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        super::wait_gone(pid, Duration::from_secs(5)).await,
        "pid {pid} survived"
    );
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_of_output_is_capped_by_the_client_and_streamed_by_the_server() {
    let lab = Lab::start(1).await;
    let fleet = lab.fleet();
    let before = rss_kib();
    let cmd = RemoteCommand {
        output_cap: 4096,
        ..script("head -c 67108864 /dev/zero | tr '\\0' x")
    };
    let r = run(&fleet, "lab-001", &cmd).await;
    assert!(r.success(), "{:?}", r.status);
    assert_eq!(r.stdout.total_bytes(), 64 << 20);
    assert!(r.stdout.kept_bytes() <= 4096);
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "the test process grew by {grown} KiB");
    fleet.close().await;
}

/// Resident memory of this process (server and client share it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_arrive_raw_and_the_client_sanitizes_them() {
    let lab = Lab::start(1).await;
    let fleet = lab.fleet();
    let r = run(
        &fleet,
        "lab-001",
        &script("printf 'a\\033[31mred\\033]0;title\\007b\\n'"),
    )
    .await;
    assert!(r.stdout.raw().contains(&0x1b), "{:?}", r.stdout.raw());
    assert!(!r.stdout.text().contains('\u{1b}'), "{:?}", r.stdout.text());
    fleet.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_client_key_is_refused() {
    let lab = Lab::start(1).await;
    let mut settings = lab.settings();
    settings.identities = vec![lab.stranger_key.clone()];
    let fleet = cutover::fleet::Fleet::with_endpoints(settings, lab.endpoints()).unwrap();
    let err = fleet.run("lab-001", &script("true")).await.unwrap_err();
    assert!(
        matches!(err, FleetError::Unreachable(TransportError::Auth { .. })),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_host_key_is_refused_by_the_client() {
    let lab = Lab::start(1).await;
    let (_, addr) = lab.hosts[0];
    let other = cutover::lab::embedded::generate_key();
    let line = cutover::lab::embedded::known_hosts_line(addr, other.public_key());
    std::fs::write(&lab.known_hosts, line + "\n").unwrap();
    let err = lab
        .fleet()
        .run("lab-001", &script("true"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FleetError::Unreachable(TransportError::HostKeyChanged { .. })
        ),
        "{err:?}"
    );
}
