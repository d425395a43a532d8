//! SSH transport: one verified connection per host, bounded command capture, paced handshakes.
//!
//! Everything cutover does on a host goes through [`Connection::run`]: a fixed remote command
//! (`timeout … sh -s`, optionally under `sudo -n`) with the script sent on stdin, so no value is
//! ever interpolated into a shell line. Host keys are always checked against known_hosts.

pub mod command;
pub mod error;
pub mod exec;
pub mod exhaustion;
pub mod fd_limit;
pub mod host_cert;
pub mod known_hosts;
pub mod login;
pub mod output;
pub mod pacer;
pub mod route;
pub mod scan;
pub mod ssh;
pub mod ssh_config;
pub mod verify;

pub use error::TransportError;
pub use exhaustion::Exhausted;
pub use output::Captured;
pub use route::Route;
pub use scan::{fingerprint, known_hosts_line, scan_host_keys};
pub use ssh::{Connection, Transport};

use std::path::PathBuf;
use std::time::Duration;

/// Where to reach one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The inventory host name (used in messages and events).
    pub name: String,
    /// Address or DNS name to connect to; also the known_hosts lookup name.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Login user.
    pub user: String,
}

/// How to connect and authenticate.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// Private key files to offer, in order, each once.
    pub identities: Vec<PathBuf>,
    /// Also offer the keys held by the agent at `SSH_AUTH_SOCK`.
    pub use_agent: bool,
    /// known_hosts files to search.
    pub known_hosts: Vec<PathBuf>,
    /// Also search the known_hosts files ssh would (those the ssh config names, else
    /// OpenSSH's defaults under the account's home); off when `--known-hosts` names the files.
    pub ssh_known_hosts: bool,
    /// Refuse unknown hosts (default). When false, unknown hosts are accepted like
    /// `StrictHostKeyChecking=accept-new`; changed and revoked keys are always refused.
    pub strict_host_keys: bool,
    /// Limit on TCP connect plus SSH handshake and authentication.
    pub connect_timeout: Duration,
    /// Interval of SSH keepalives; three unanswered ones drop the connection.
    pub keepalive: Duration,
    /// Concurrent channels per connection; default 8, below sshd's default `MaxSessions 10`.
    pub max_channels_per_host: usize,
    /// Bastions to tunnel through with direct-tcpip, as `ssh -J`: `[user@]host[:port]`, comma
    /// separated; each hop is resolved through the ssh config when that is on.
    pub proxy_jump: Option<String>,
    /// `proxy_jump` came from the command line: it wins over a host's own bastion from its
    /// inventory (otherwise the inventory's wins).
    pub force_proxy_jump: bool,
    /// Login user given on the command line or in the plan: it overrides the ssh config's
    /// `User` (an inventory host's own user overrides it in turn).
    pub user: Option<String>,
    /// Which ssh config resolves host names, users, keys and bastions.
    pub ssh_config: SshConfigSource,
    /// New handshakes per second, fleet-wide, to stay under sshd `MaxStartups`.
    pub connect_rate: f64,
    /// Handshakes allowed in a burst and in flight at once; keep it below sshd's `MaxStartups` start.
    pub connect_burst: u32,
}

impl Default for SshSettings {
    fn default() -> Self {
        Self {
            identities: Vec::new(),
            use_agent: false,
            known_hosts: Vec::new(),
            ssh_known_hosts: false,
            strict_host_keys: true,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
            max_channels_per_host: 8,
            proxy_jump: None,
            force_proxy_jump: false,
            user: None,
            ssh_config: SshConfigSource::Default,
            // sshd's default `MaxStartups 10:30:100` starts dropping at 10 unauthenticated
            // connections; 20/s with a burst of 5 keeps well under that for ~0.3 s handshakes.
            connect_rate: 20.0,
            connect_burst: 5,
        }
    }
}

/// Where host names are resolved the way the operator's `ssh` would.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SshConfigSource {
    /// OpenSSH's own files: `~/.ssh/config` of the account (password database home), then
    /// `/etc/ssh/ssh_config`.
    #[default]
    Default,
    /// This file only (as `ssh -F FILE`).
    File(PathBuf),
    /// No ssh config: inventory addresses, ports and users are used as written.
    Off,
}

/// One script to run on a host.
#[derive(Debug, Clone)]
pub struct RemoteCommand {
    /// Shell script, sent to `sh -s` on stdin.
    pub script: String,
    /// Run under `sudo -n` (never prompts).
    pub sudo: bool,
    /// Wall-clock limit; the remote process group is killed when it passes.
    pub timeout: Duration,
    /// Who enforces `timeout` on the host.
    pub limit: Limit,
    /// Bytes kept per stream (half head, half tail).
    pub output_cap: usize,
}

/// Who ends a command on the host once its `timeout` passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    /// GNU `timeout` around `sh -s` kills the command's whole process group: any script that
    /// can hang (the operator's commands, anything that asks a daemon).
    #[default]
    Remote,
    /// The script bounds every wait itself (cutover's own file-only scripts: a waiter's
    /// disarm, the commit write, a receipt read); the client still gives up at `timeout`.
    /// Spares the `timeout` process on every host, which is what a disarm of thousands of
    /// hosts at once costs. Such a script carries no secret and reads no stdin, so on a
    /// POSIX login shell it may go as the command line itself (see [`login`]).
    Script,
    /// Bounded by itself like [`Limit::Script`], but it carries what must never be on a
    /// command line (arming: the job wrapper, with the action's secrets): it always travels
    /// on stdin. On a POSIX login shell that shell reads it itself (`. /dev/stdin`) rather
    /// than starting a second one.
    Sealed,
}

impl Limit {
    /// Whether the script bounds every wait itself (no `timeout` process on the host).
    pub fn self_bounded(self) -> bool {
        matches!(self, Limit::Script | Limit::Sealed)
    }
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct CommandResult {
    /// How it ended.
    pub status: ExitStatus,
    /// Captured standard output.
    pub stdout: Captured,
    /// Captured standard error.
    pub stderr: Captured,
    /// Time from channel open to close.
    pub elapsed: Duration,
    /// sudo wanted a password: the command did not run.
    pub sudo_password_required: bool,
}

impl CommandResult {
    /// True only for exit code 0 with no sudo prompt.
    pub fn success(&self) -> bool {
        self.status == ExitStatus::Code(0) && !self.sudo_password_required
    }
}

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(u32),
    /// Killed by a signal.
    Signal {
        /// Signal name, e.g. `KILL`.
        signal: String,
        /// Whether it dumped core.
        core_dumped: bool,
        /// The server's message, sanitized.
        message: String,
    },
    /// Passed its timeout and was killed.
    TimedOut,
    /// The channel closed without an exit status: a failure, never success.
    NoStatus,
}

/// Quotes one value for a POSIX shell, for scripts that must embed data.
pub fn quote(value: &str) -> String {
    match shlex::try_quote(value) {
        Ok(quoted) => quoted.into_owned(),
        // Only NUL bytes are unquotable; a shell cannot receive them anyway, so drop them.
        Err(_) => quote(&value.replace('\0', "")),
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quote_neutralises_substitutions() {
        assert_eq!(quote("$(touch /tmp/x)"), "'$(touch /tmp/x)'");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("a\0b"), "ab");
    }
}
