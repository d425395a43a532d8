//! Running one script on a connection: fixed exec line, script on stdin, bounded drained output.

use super::command::{self, KILL_AFTER_SECS, TIMEOUT_EXIT, TIMEOUT_KILLED_EXIT};
use super::login::{self, LoginShell};
use super::ssh::Connection;
use super::{Captured, CommandResult, ExitStatus, Limit, RemoteCommand, TransportError};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig, client::Msg};
use std::time::Duration;

/// Extra time the client waits past the remote `timeout -k` before giving up on the channel.
const CLIENT_GRACE: Duration = Duration::from_secs(3);

/// Stderr bytes scanned for a sudo password prompt (prompts come first).
const PROMPT_SCAN_BYTES: usize = 4096;

/// What the reader saw on the channel.
struct Outcome {
    status: Option<ExitStatus>,
    stdout: Captured,
    stderr: Captured,
    sudo_prompt: bool,
    exec_refused: bool,
    /// `$SHELL` as the command's first line reported it (taken off stdout).
    login: Option<String>,
}

impl Connection {
    /// Runs `cmd` on one channel (waiting for a free channel slot) and collects its result.
    pub async fn run(&self, cmd: &RemoteCommand) -> Result<CommandResult, TransportError> {
        let _permit = self
            .inner
            .channels
            .acquire()
            .await
            .map_err(|e| self.channel_error(e))?;
        let started = crate::clock::instant();
        let channel = self
            .inner
            .handle
            .channel_open_session()
            .await
            .map_err(|e| self.channel_error(e))?;
        let login = self.inner.login.get().copied();
        let exec_line = command::exec_line(cmd.sudo, cmd.timeout, cmd.limit);
        // Under sudo `$SHELL` is the target user's: learn only from the account's own.
        let reports = login.is_none() && !cmd.sudo;
        let own = login == Some(LoginShell::Posix) && cmd.limit.self_bounded() && !cmd.sudo;
        let (line, stdin) = if own && cmd.limit == Limit::Script {
            // The login shell runs cutover's own bounded script itself: one process.
            (cmd.script.clone(), String::new())
        } else if own {
            // Sealed: on stdin, read by the login shell itself.
            (command::SOURCE_STDIN.to_string(), cmd.script.clone())
        } else if reports {
            (exec_line, format!("{}{}", login::report_line(), cmd.script))
        } else {
            (exec_line, cmd.script.clone())
        };
        channel
            .exec(true, line)
            .await
            .map_err(|e| self.channel_error(e))?;
        let (mut read, write) = channel.split();
        let limit = cmd.timeout + Duration::from_secs(KILL_AFTER_SECS) + CLIENT_GRACE;
        let both = drive(&write, &mut read, &stdin, cmd.output_cap, reports);
        let mut outcome = match tokio::time::timeout(limit, both).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::client_timeout(cmd.output_cap),
        };
        if let Some(shell) = outcome.login.take() {
            let _ = self.inner.login.set(login::classify(&shell));
        }
        if outcome.sudo_prompt || outcome.status == Some(ExitStatus::TimedOut) {
            let _ = write.signal(Sig::KILL).await;
        }
        let _ = write.close().await;
        if outcome.exec_refused {
            return Err(self.channel_error("the server refused to run `sh -s`"));
        }
        let elapsed = crate::clock::instant().saturating_duration_since(started);
        Ok(outcome.into_result(cmd.timeout, elapsed))
    }

    /// A channel error naming this host.
    fn channel_error(&self, e: impl std::fmt::Display) -> TransportError {
        TransportError::Channel {
            host: self.endpoint().name.clone(),
            message: e.to_string(),
        }
    }
}

/// Sends the script while draining output; done when the channel ends, sent or not.
async fn drive(
    write: &ChannelWriteHalf<Msg>,
    read: &mut ChannelReadHalf,
    script: &str,
    cap: usize,
    reports: bool,
) -> Outcome {
    let send = send_script(write, script);
    let collect = collect(read, cap, reports);
    tokio::pin!(send, collect);
    let mut sent = false;
    loop {
        tokio::select! {
            () = &mut send, if !sent => sent = true,
            outcome = &mut collect => return outcome,
        }
    }
}

/// Sends the script then EOF; a remote that exits early just stops reading, which is fine.
async fn send_script(write: &ChannelWriteHalf<Msg>, script: &str) {
    let _ = write.data_bytes(script.as_bytes().to_vec()).await;
    let _ = write.eof().await;
}

/// Drains the channel to its end, keeping bounded output; stops early on a sudo prompt. When
/// the script `reports` the login shell, its first line of stdout is taken off first.
async fn collect(read: &mut ChannelReadHalf, cap: usize, reports: bool) -> Outcome {
    let mut out = Outcome::empty(cap);
    let mut probe = Vec::new();
    let mut first = reports.then(Vec::new);
    while let Some(msg) = read.wait().await {
        match msg {
            ChannelMsg::Data { data } => match first.as_mut() {
                Some(line) => {
                    line.extend_from_slice(&data);
                    match login::split_report(line) {
                        login::Report::Partial => {}
                        login::Report::Shell(shell, rest) => {
                            out.login = Some(shell);
                            out.stdout.push(&rest);
                            first = None;
                        }
                        login::Report::NotOne => {
                            out.stdout.push(line);
                            first = None;
                        }
                    }
                }
                None => out.stdout.push(&data),
            },
            ChannelMsg::ExtendedData { data, .. } => {
                out.stderr.push(&data);
                if probe.len() < PROMPT_SCAN_BYTES {
                    probe.extend_from_slice(&data[..data.len().min(PROMPT_SCAN_BYTES)]);
                    if command::sudo_wants_password(&probe) {
                        out.sudo_prompt = true;
                        break;
                    }
                }
            }
            ChannelMsg::ExitStatus { exit_status } => {
                out.status = Some(ExitStatus::Code(exit_status))
            }
            ChannelMsg::ExitSignal {
                signal_name,
                core_dumped,
                error_message,
                ..
            } => {
                out.status = Some(ExitStatus::Signal {
                    signal: signal_label(&signal_name),
                    core_dumped,
                    message: crate::sanitize::clean(error_message.as_bytes()),
                });
            }
            ChannelMsg::Failure if out.status.is_none() => out.exec_refused = true,
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    if let Some(line) = first {
        out.stdout.push(&line);
    }
    out
}

/// The signal's name as OpenSSH sends it (`KILL`, `TERM`, …).
fn signal_label(sig: &Sig) -> String {
    match sig {
        Sig::Custom(name) => crate::sanitize::clean(name.as_bytes()),
        other => format!("{other:?}"),
    }
}

impl Outcome {
    /// Nothing seen yet.
    fn empty(cap: usize) -> Self {
        Self {
            status: None,
            stdout: Captured::new(cap),
            stderr: Captured::new(cap),
            sudo_prompt: false,
            exec_refused: false,
            login: None,
        }
    }

    /// The client gave up waiting (the remote `timeout` should already have fired).
    fn client_timeout(cap: usize) -> Self {
        Self {
            status: Some(ExitStatus::TimedOut),
            ..Self::empty(cap)
        }
    }

    /// The result; `timeout`'s own exit codes after the deadline mean the command timed out.
    fn into_result(self, timeout: Duration, elapsed: Duration) -> CommandResult {
        let status = match self.status {
            Some(ExitStatus::Code(c)) if is_timeout_code(c) && elapsed >= timeout => {
                ExitStatus::TimedOut
            }
            Some(status) => status,
            None => ExitStatus::NoStatus,
        };
        CommandResult {
            status,
            stdout: self.stdout,
            stderr: self.stderr,
            elapsed,
            sudo_password_required: self.sudo_prompt,
        }
    }
}

/// Exit codes GNU `timeout` uses for a command it stopped.
fn is_timeout_code(code: u32) -> bool {
    code == TIMEOUT_EXIT || code == TIMEOUT_KILLED_EXIT
}
