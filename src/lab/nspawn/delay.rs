//! Latency for `nspawn` hosts: this kernel has no `sch_netem`, so a `delay` fault queues the
//! host's outgoing packets to NFQUEUE (`net::ruleset`) and a lab-owned delayer process, started
//! inside the host's namespace, holds each packet for the delay, in order, then accepts it.
//!
//! The delayer is `cutover lab delay` (hidden); `start` runs it detached with `ip netns exec`.

use super::{LabError, Names};
use crate::lab::procs;
use crate::lab::spec::LabHost;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How often held packets are checked while any are held (the delay's resolution).
pub const TICK: Duration = Duration::from_micros(250);

/// Starts host `i`'s delayer inside its namespace; returns its pid. Its command line names
/// the namespace, which `lab down` checks before stopping it.
pub fn start(names: &Names, i: usize, h: &LabHost, millis: u64) -> Result<u32, LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Start {
        what: format!("the delayer of {}", h.name),
        reason: format!("cannot find the cutover binary: {e}"),
    })?;
    let ip = procs::find("ip").ok_or_else(|| LabError::Missing {
        program: "ip".into(),
        package: "iproute2".into(),
    })?;
    let ns = names.netns(i);
    let args: Vec<String> = [
        "netns",
        "exec",
        &ns,
        &exe.display().to_string(),
        "lab",
        "delay",
        "--queue",
        &super::net::queue_number(i).to_string(),
        "--ms",
        &millis.to_string(),
        "--netns",
        &ns,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let log = h.root.join("state/delay.log");
    let pid = procs::spawn_detached(&ip, &args, &log, &[]).map_err(|e| LabError::Start {
        what: format!("the delayer of {}", h.name),
        reason: e.to_string(),
    })?;
    // Bound before the rule that feeds it (the rule bypasses a queue nobody reads, so an early
    // packet is only undelayed, never lost).
    std::thread::sleep(Duration::from_millis(300));
    if !procs::alive(pid) {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(LabError::Start {
            what: format!("the delayer of {}", h.name),
            reason: text.trim().to_string(),
        });
    }
    Ok(pid)
}

/// Runs the delayer on NFQUEUE `queue` in this process's namespace until killed: every packet
/// is held `delay`, in arrival order, then accepted.
pub fn serve(queue: u16, delay: Duration) -> std::io::Result<()> {
    let mut q = nfq::Queue::open()?;
    q.bind(queue)?;
    q.set_copy_range(queue, 0)?;
    q.set_queue_max_len(queue, 65_536)?;
    q.set_fail_open(queue, true)?;
    let mut held: VecDeque<(Instant, nfq::Message)> = VecDeque::new();
    loop {
        q.set_nonblocking(!held.is_empty());
        match q.recv() {
            Ok(msg) => {
                held.push_back((crate::clock::instant() + delay, msg));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let now = crate::clock::instant();
        while held.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, mut msg)) = held.pop_front() {
                msg.set_verdict(nfq::Verdict::Accept);
                q.verdict(msg)?;
            }
        }
        if let Some((due, _)) = held.front() {
            std::thread::sleep(due.saturating_duration_since(now).min(TICK));
        }
    }
}
