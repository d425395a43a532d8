//! One `exec` channel: `<shell> -c <command>` in its own process group, wired to the channel.
//!
//! Output is copied through russh's window-aware writers, so a command producing gigabytes
//! blocks on its pipe instead of buffering here. Stdin is fed from channel data until EOF.
//! The channel ends with exit-status (or exit-signal), EOF and close; if the client closes
//! the channel or the connection first, the command's process group is killed.
//!
//! Stdin has no per-channel flow control: russh widens the receive window as data arrives,
//! so a command that never reads stdin while the client keeps sending holds up its whole
//! connection (not the server) until it exits. cutover's scripts are small; sshd would
//! block only that channel.

use super::host::HostShared;
use super::procs::Group;
use russh::server::{Handle, Msg};
use russh::{Channel, ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};

/// SSH extended-data code of stderr (RFC 4254 §5.2).
const STDERR: u32 = 1;

/// Exit status sent when the command's status could not be read.
const UNKNOWN_STATUS: u32 = 255;

/// Shell exit status for a command that was not found.
const NOT_FOUND: u32 = 127;

/// Shell exit status for a command found but not runnable.
const CANNOT_RUN: u32 = 126;

/// A command started for a channel.
pub(super) struct Started {
    child: Child,
    group: Group,
}

/// Starts `<shell> -c <command>` with the host's environment and cwd, in a new process group.
pub(super) fn spawn(
    host: &HostShared,
    peer: SocketAddr,
    command: &[u8],
) -> std::io::Result<Started> {
    let child = Command::new(&host.shell)
        .arg("-c")
        .arg(OsStr::from_bytes(command))
        .env_clear()
        // What sshd sets about the connection; the spec's variables come after and win.
        .envs(connection_env(peer, host.addr))
        // sshd sets SHELL to the account's login shell, the one running the command.
        .env("SHELL", &host.shell)
        .envs(host.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&host.cwd)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the command exited at once"))?;
    let group = host.procs.register(pid);
    Ok(Started { child, group })
}

/// `SSH_CONNECTION` and `SSH_CLIENT` as sshd sets them.
fn connection_env(client: SocketAddr, server: SocketAddr) -> [(&'static str, String); 2] {
    let (cip, cport) = (client.ip(), client.port());
    [
        (
            "SSH_CONNECTION",
            format!("{cip} {cport} {} {}", server.ip(), server.port()),
        ),
        ("SSH_CLIENT", format!("{cip} {cport} {}", server.port())),
    ]
}

/// How the channel ended.
enum End {
    /// The command exited and its output was drained.
    Exited(std::io::Result<ExitStatus>),
    /// The client closed the channel or the connection went away.
    ClientGone,
}

/// Serves the channel until the command ends or the client goes away.
pub(super) async fn serve(channel: Channel<Msg>, started: Started, handle: Handle) {
    let Started {
        mut child,
        mut group,
    } = started;
    let id = channel.id();
    let (mut read, write) = channel.split();
    let end = run(&mut child, &mut read, &write, &group).await;
    // Never leave the session blocked on a full buffer of a channel no one reads.
    drop(read);
    match end {
        End::Exited(status) => {
            group.reaped();
            finish(&write, &handle, id, status).await;
        }
        End::ClientGone => {
            group.kill();
            let _ = child.wait().await;
            group.reaped();
        }
    }
}

/// Wires the command to the channel until it exits (output drained) or the client is gone.
async fn run(
    child: &mut Child,
    read: &mut ChannelReadHalf,
    write: &ChannelWriteHalf<Msg>,
    group: &Group,
) -> End {
    let stdin = child.stdin.take();
    let out = pump(child.stdout.take(), write.make_writer());
    let err = pump(child.stderr.take(), write.make_writer_ext(Some(STDERR)));
    let done = async {
        tokio::join!(out, err);
        child.wait().await
    };
    tokio::select! {
        status = done => End::Exited(status),
        () = feed(read, stdin, group) => End::ClientGone,
    }
}

/// Ends a channel whose command could not start the way a shell would: the reason on
/// stderr, exit status 127 (not found) or 126 (cannot run).
pub(super) async fn cannot_start(channel: Channel<Msg>, host: &HostShared, error: std::io::Error) {
    let code = match error.kind() {
        std::io::ErrorKind::NotFound => NOT_FOUND,
        _ => CANNOT_RUN,
    };
    let message = format!(
        "cutover lab: cannot start {} in {}: {error}\n",
        host.shell.display(),
        host.cwd.display()
    );
    let _ = channel
        .extended_data_bytes(STDERR, message.into_bytes())
        .await;
    let _ = channel.exit_status(code).await;
    let _ = channel.eof().await;
    let _ = channel.close().await;
}

/// Copies one output pipe to the channel; stops quietly when either side is gone.
async fn pump(pipe: Option<impl AsyncRead + Unpin>, mut to: impl AsyncWrite + Unpin) {
    if let Some(mut pipe) = pipe {
        let _ = tokio::io::copy(&mut pipe, &mut to).await;
    }
}

/// Feeds channel data to stdin until EOF, forwards signals; returns when the client is gone.
async fn feed(read: &mut ChannelReadHalf, mut stdin: Option<ChildStdin>, group: &Group) {
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                if let Some(pipe) = stdin.as_mut()
                    && pipe.write_all(&data).await.is_err()
                {
                    stdin = None;
                }
            }
            ChannelMsg::Eof => stdin = None,
            ChannelMsg::Signal { signal } => group.signal(&signal),
            ChannelMsg::Close => return,
            _ => {}
        }
    }
}

/// Sends exit-status or exit-signal, then EOF and close.
async fn finish(
    write: &ChannelWriteHalf<Msg>,
    handle: &Handle,
    id: ChannelId,
    status: std::io::Result<ExitStatus>,
) {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => {
                let _ = write.exit_status(code as u32).await;
            }
            (None, Some(signal)) => {
                let name = signal_name(signal);
                let _ = handle
                    .exit_signal_request(id, name, s.core_dumped(), String::new(), String::new())
                    .await;
            }
            (None, None) => {
                let _ = write.exit_status(UNKNOWN_STATUS).await;
            }
        },
        Err(_) => {
            let _ = write.exit_status(UNKNOWN_STATUS).await;
        }
    }
    let _ = write.eof().await;
    let _ = write.close().await;
}

/// The SSH name of a signal number (`KILL`, `TERM`, …; RFC 4254 §6.10 drops the `SIG`).
fn signal_name(signal: i32) -> Sig {
    let name = nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().trim_start_matches("SIG").to_string())
        .unwrap_or_else(|_| signal.to_string());
    match name.as_str() {
        "ABRT" => Sig::ABRT,
        "ALRM" => Sig::ALRM,
        "FPE" => Sig::FPE,
        "HUP" => Sig::HUP,
        "ILL" => Sig::ILL,
        "INT" => Sig::INT,
        "KILL" => Sig::KILL,
        "PIPE" => Sig::PIPE,
        "QUIT" => Sig::QUIT,
        "SEGV" => Sig::SEGV,
        "TERM" => Sig::TERM,
        "USR1" => Sig::USR1,
        _ => Sig::Custom(name),
    }
}

#[cfg(test)]
mod tests {
    use super::signal_name;
    use russh::Sig;

    #[test]
    fn signals_are_named_without_the_sig_prefix() {
        let name = |n| format!("{:?}", signal_name(n));
        assert_eq!(name(9), format!("{:?}", Sig::KILL));
        assert_eq!(name(15), format!("{:?}", Sig::TERM));
        assert_eq!(name(12), format!("{:?}", Sig::Custom("USR2".into())));
        assert_eq!(name(200), format!("{:?}", Sig::Custom("200".into())));
    }
}
