//! The process groups of commands the embedded server started, so they can be killed.
//!
//! A command's group is registered while its channel is served. When the command exits
//! normally, a group that still has members (a `cmd &` left behind without `setsid`) is
//! remembered as lingering, and [`Procs::kill_all`] kills it too: a lab that shuts down
//! leaves nothing behind except processes that detached on purpose with `setsid`.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use russh::Sig;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;

/// Every process group this server started that may still have members.
#[derive(Default)]
pub(super) struct Procs {
    inner: Mutex<Inner>,
    next: AtomicU64,
    changed: Notify,
}

/// Groups of running commands, and groups left behind by finished ones.
#[derive(Default)]
struct Inner {
    running: HashMap<u64, Pid>,
    lingering: HashSet<Pid>,
}

/// The process group of one running command; kills the group if dropped before it was reaped.
pub(super) struct Group {
    procs: Arc<Procs>,
    id: u64,
    pgid: Pid,
    reaped: bool,
}

impl Procs {
    /// Registers the group led by `pid` (the command was started with `process_group(0)`).
    pub fn register(self: &Arc<Self>, pid: u32) -> Group {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let pgid = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        self.lock().running.insert(id, pgid);
        Group {
            procs: self.clone(),
            id,
            pgid,
            reaped: false,
        }
    }

    /// Sends SIGKILL to every running and lingering group.
    pub fn kill_all(&self) {
        let inner = self.lock();
        for pgid in inner.running.values().chain(inner.lingering.iter()) {
            let _ = killpg(*pgid, Signal::SIGKILL);
        }
    }

    /// Waits until no command is running (each was reaped), at most `limit`.
    pub async fn wait_idle(&self, limit: Duration) {
        let idle = async {
            loop {
                let notified = self.changed.notified();
                if self.lock().running.is_empty() {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, idle).await;
    }

    /// The registry, even if a panicking thread poisoned it.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Group {
    /// Forwards a client's `signal` request to the whole group.
    pub fn signal(&self, sig: &Sig) {
        if let Some(signal) = signal_of(sig) {
            let _ = killpg(self.pgid, signal);
        }
    }

    /// Kills the whole group (the client went away before the command ended).
    pub fn kill(&self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
    }

    /// The leader was reaped: dropping the group no longer kills it.
    pub fn reaped(&mut self) {
        self.reaped = true;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
        }
        let mut inner = self.procs.lock();
        inner.running.remove(&self.id);
        // Signal 0 only checks whether the group still has members.
        if killpg(self.pgid, None).is_ok() {
            inner.lingering.insert(self.pgid);
        }
        drop(inner);
        self.procs.changed.notify_waiters();
    }
}

/// The signal an SSH `signal` request names.
fn signal_of(sig: &Sig) -> Option<Signal> {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(name) => name.as_str(),
    };
    format!("SIG{name}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::signal_of;
    use nix::sys::signal::Signal;
    use russh::Sig;

    #[test]
    fn ssh_signal_names_map_to_signals() {
        assert_eq!(signal_of(&Sig::KILL), Some(Signal::SIGKILL));
        assert_eq!(
            signal_of(&Sig::Custom("USR2".into())),
            Some(Signal::SIGUSR2)
        );
        assert_eq!(signal_of(&Sig::Custom("NOPE".into())), None);
    }
}
