//! A scripted fleet for unit tests of the engine: it recognises the arming, verifying,
//! disarming and receipt scripts the engine sends and answers as a host would, on tokio's
//! (paused) clock, so arming, the T-minus check and the fire run in milliseconds.

use super::ctx::{BoxFuture, Hosts};
use crate::fleet::FleetError;
use crate::transport::{Captured, CommandResult, ExitStatus, RemoteCommand};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

/// What one script was, as the fake saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// The arming command: installing the job wrapper, arming it and verifying it.
    Install,
    /// Verifying the armed job (the T-minus check).
    Verify,
    /// Taking it back.
    Disarm,
    /// The commit round's write.
    Commit,
    /// Reading the receipt.
    Collect,
    /// Anything else (checks, probes).
    Other,
}

/// How one fake host behaves.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Every command takes this long.
    pub latency: Duration,
    /// Arming fails on this host.
    pub arm_fails: bool,
    /// The armed job disappears once verified (a killed waiter, a reboot).
    pub job_lost: bool,
    /// Receipt reads fail (exit 1, as a host out of processes says `Cannot fork`) until this
    /// long after the fire time: a host that answers but is too busy to read its receipt.
    pub busy_reads_for: Duration,
}

/// A fake fleet: per-host behaviour, and a log of every script with its clock time.
#[derive(Default)]
pub struct FakeHosts {
    behaviour: BTreeMap<String, Behaviour>,
    /// `(time, host, kind)` of every command, in the order they finished.
    pub log: Mutex<Vec<(DateTime<Utc>, String, Kind)>>,
    armed: Mutex<BTreeSet<String>>,
    committed: Mutex<BTreeSet<String>>,
    clock: Option<crate::clock::TokioClock>,
    fire: Option<DateTime<Utc>>,
}

impl FakeHosts {
    /// Hosts that answer at once and fire at `fire` unless disarmed.
    pub fn new(clock: crate::clock::TokioClock, fire: DateTime<Utc>) -> Self {
        Self {
            clock: Some(clock),
            fire: Some(fire),
            ..Self::default()
        }
    }

    /// Sets how `host` behaves.
    pub fn with(mut self, host: &str, b: Behaviour) -> Self {
        self.behaviour.insert(host.into(), b);
        self
    }

    /// Hosts still holding a job (armed, not disarmed).
    pub fn armed(&self) -> BTreeSet<String> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The log's entries of one kind.
    pub fn of(&self, kind: Kind) -> Vec<(DateTime<Utc>, String)> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter()
            .filter(|(_, _, k)| *k == kind)
            .map(|(t, h, _)| (*t, h.clone()))
            .collect()
    }

    fn now(&self) -> DateTime<Utc> {
        use crate::clock::Clock;
        self.clock.as_ref().map_or(DateTime::UNIX_EPOCH, Clock::now)
    }

    fn answer(&self, host: &str, script: &str) -> (Kind, u32, String) {
        let b = self.behaviour.get(host).cloned().unwrap_or_default();
        let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
        if script.contains("> \"$d/job.sh\" || exit 1") {
            if b.arm_fails {
                return (Kind::Install, 1, String::new());
            }
            armed.insert(host.to_string());
            return (Kind::Install, 0, "armed=42\nverified\n".into());
        }
        if script.contains("no armed job to commit") {
            if !armed.contains(host) {
                return (Kind::Commit, 1, String::new());
            }
            let mut committed = self.committed.lock().unwrap_or_else(|e| e.into_inner());
            committed.insert(host.to_string());
            return (Kind::Commit, 0, "committed".into());
        }
        if script.contains("sha256sum -c --status") {
            if b.job_lost && script.contains("the run was disarmed on this host") {
                armed.remove(host);
                return (Kind::Verify, 1, String::new());
            }
            return (Kind::Verify, 0, "verified".into());
        }
        if script.contains("/disarmed || exit 1") {
            armed.remove(host);
            return (Kind::Disarm, 0, "disarmed".into());
        }
        if script.contains("--- output tail") {
            let busy = self.fire.is_some_and(|f| {
                self.now() < f + chrono::Duration::from_std(b.busy_reads_for).unwrap_or_default()
            });
            if busy {
                return (Kind::Collect, 1, String::new());
            }
            let committed = self.committed.lock().unwrap_or_else(|e| e.into_inner());
            let fired = armed.contains(host)
                && committed.contains(host)
                && self.fire.is_some_and(|f| self.now() >= f);
            let text = match self.fire.and_then(|f| f.timestamp_nanos_opt()) {
                Some(ns) if fired => format!(
                    "planned_ns={ns}\nwoke_ns={ns}\nstarted_ns={ns}\nended_ns={ns}\nexit=0\ndone=1\n--- output tail\n"
                ),
                _ => "--- output tail\n".into(),
            };
            return (Kind::Collect, 0, text);
        }
        (Kind::Other, 0, String::new())
    }
}

impl Hosts for FakeHosts {
    fn run<'a>(
        &'a self,
        host: &'a str,
        cmd: &'a RemoteCommand,
    ) -> BoxFuture<'a, Result<CommandResult, FleetError>> {
        Box::pin(async move {
            let latency = self
                .behaviour
                .get(host)
                .map_or(Duration::ZERO, |b| b.latency);
            tokio::time::sleep(latency).await;
            let (kind, code, out) = self.answer(host, &cmd.script);
            let now = self.now();
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.push((now, host.to_string(), kind));
            let mut stdout = Captured::new(1 << 16);
            stdout.push(out.as_bytes());
            Ok(CommandResult {
                status: ExitStatus::Code(code),
                stdout,
                stderr: Captured::new(1 << 16),
                elapsed: latency,
                sudo_password_required: false,
            })
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
