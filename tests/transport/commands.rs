//! Commands: timeouts kill the remote tree, sudo prompts fail fast, quoted values stay inert.

use crate::support::{Fleet, process};
use crate::{run, script};
use cutover::transport::{ExitStatus, RemoteCommand, Transport, quote};
use std::time::Duration;

#[tokio::test]
async fn hung_command_times_out_and_its_remote_process_is_gone() {
    let fleet = Fleet::builder(1).start();
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    let marker = format!("cutover-hang-{}", std::process::id());
    let cmd = RemoteCommand {
        timeout: Duration::from_secs(1),
        ..script(&format!("sh -c 'sleep 600; echo {marker}' & wait"))
    };
    let result = conn.run(&cmd).await.unwrap();
    assert_eq!(result.status, ExitStatus::TimedOut);
    assert!(
        result.elapsed < Duration::from_secs(6),
        "{:?}",
        result.elapsed
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        process::pids_with_marker(&marker),
        Vec::<u32>::new(),
        "remote tree killed"
    );
    assert!(
        run(&conn, "true").await.success(),
        "the connection survives a timeout"
    );
}

#[tokio::test]
async fn sudo_password_prompt_is_detected_fast() {
    let fleet = Fleet::builder(2).start();
    fleet.hosts[0].shim(
        "sudo",
        "#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n",
    );
    fleet.hosts[1].shim(
        "sudo",
        "#!/bin/sh\nprintf '[sudo] password for root: ' >&2\nsleep 600\n",
    );
    let transport = Transport::new(fleet.settings()).unwrap();
    for ep in fleet.endpoints() {
        let conn = transport.connect(&ep).await.unwrap();
        let cmd = RemoteCommand {
            sudo: true,
            ..script("echo ran")
        };
        let result = conn.run(&cmd).await.unwrap();
        assert!(result.sudo_password_required, "{}: {result:?}", ep.name);
        assert!(!result.success());
        assert_eq!(result.stdout.text(), "");
        assert!(
            result.elapsed < Duration::from_secs(3),
            "{:?}",
            result.elapsed
        );
    }
}

#[tokio::test]
async fn sudo_runs_the_script_through_sudo_non_interactive() {
    let fleet = Fleet::builder(1).start();
    // A stand-in sudo (the real one may be absent): insists on `-n --`, then runs the command.
    let shim = "#!/bin/sh\n[ \"$1 $2\" = '-n --' ] || { echo \"bad sudo args: $*\" >&2; exit 99; }\n\
                shift 2\nSUDO_USER=root exec \"$@\"\n";
    fleet.hosts[0].shim("sudo", shim);
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    let result = conn
        .run(&RemoteCommand {
            sudo: true,
            ..script("echo \"$SUDO_USER\"")
        })
        .await
        .unwrap();
    assert!(result.success(), "{result:?} {}", result.stderr.text());
    assert_eq!(result.stdout.text(), "root\n");
}

#[tokio::test]
async fn quoted_values_are_data_not_code() {
    let fleet = Fleet::builder(1).start();
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    let target = fleet.dir().join("pwned");
    let value = format!(
        "$(touch {}) `touch {}` ; touch {}",
        target.display(),
        target.display(),
        target.display()
    );
    let result = run(&conn, &format!("printf '%s\\n' {}", quote(&value))).await;
    assert!(result.success());
    assert_eq!(result.stdout.text(), format!("{value}\n"));
    assert!(!target.exists(), "nothing ran");
}

#[tokio::test]
async fn exit_signals_are_reported() {
    let fleet = Fleet::builder(1).start();
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    let result = run(&conn, "kill -KILL $$").await;
    // GNU `timeout` re-raises its child's fatal signal, so sshd reports it as an exit signal.
    assert_eq!(
        result.status,
        ExitStatus::Signal {
            signal: "KILL".into(),
            core_dumped: false,
            message: String::new()
        }
    );
}

/// How cutover's scripts reach a host once its login shell is known to be POSIX (the
/// test's sshd account's shell is `/bin/sh`): the operator's (`Remote`) under `timeout`
/// in a second shell; a self-bounded one without secrets (`Script`) as the command line
/// itself; a self-bounded one that carries secrets (`Sealed`) on stdin, read by the login
/// shell, so its text is never on a command line the host's `ps` can show.
#[tokio::test]
async fn a_sealed_script_travels_on_stdin_and_the_login_shell_reads_it() {
    use cutover::transport::Limit;
    let fleet = Fleet::builder(1).start();
    let conn = Transport::new(fleet.settings())
        .unwrap()
        .connect(&fleet.endpoints()[0])
        .await
        .unwrap();
    // The first command on a connection learns the login shell.
    assert!(run(&conn, "true").await.success());
    let cmdline = "tr '\\0' ' ' < /proc/$$/cmdline; echo; echo \"pid=$$ ppid=$PPID\"";
    let with = |limit: Limit, marker: &str| RemoteCommand {
        limit,
        ..script(&format!("# {marker}\n{cmdline}\n"))
    };
    let remote = conn.run(&with(Limit::Remote, "m-remote")).await.unwrap();
    assert!(remote.success());
    assert!(
        remote.stdout.text().starts_with("sh -s"),
        "{}",
        remote.stdout.text()
    );
    let own = conn.run(&with(Limit::Script, "m-script")).await.unwrap();
    assert!(
        own.stdout.text().contains("# m-script"),
        "a Script goes as the line: {}",
        own.stdout.text()
    );
    let sealed = conn.run(&with(Limit::Sealed, "m-sealed")).await.unwrap();
    let text = sealed.stdout.text();
    assert!(sealed.success(), "{text}");
    assert!(
        text.contains(". /dev/stdin"),
        "read by the login shell: {text}"
    );
    assert!(
        !text.contains("m-sealed"),
        "never on a command line: {text}"
    );
    // Its exit status is the script's own.
    let failing = conn
        .run(&RemoteCommand {
            limit: Limit::Sealed,
            ..script("echo before\nexit 7\necho after\n")
        })
        .await
        .unwrap();
    assert_eq!(failing.status, ExitStatus::Code(7));
    assert_eq!(failing.stdout.text(), "before\n");
}
