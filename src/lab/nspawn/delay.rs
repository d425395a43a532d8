//! Latency and bandwidth for `nspawn` hosts: this kernel has no `sch_netem`, so a `delay` or
//! `rate` fault queues the host's packets to NFQUEUE (`net::delay_rules`) and a lab-owned
//! delayer process, started inside the host's namespace, holds each packet until its
//! [`link::Link`] lets it go (a token bucket for the rate, then the delay), in order, then
//! accepts it. `delay` holds what the host sends; `rate` shapes both directions, each on its own.
//!
//! The delayer is `cutover lab delay` (hidden); `start` runs it detached with `ip netns exec`.

pub mod link;

use super::{LabError, Names};
use crate::lab::faults::Fault;
use crate::lab::procs;
use crate::lab::spec::LabHost;
use link::Link;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a host's delayer does: the host's `delay` and `rate` faults together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shaping {
    /// Added one-way latency of what the host sends, in milliseconds (0: none).
    pub millis: u64,
    /// Rate of each direction in kbit/s, if shaped.
    pub kbit: Option<u64>,
}

impl Shaping {
    /// The shaping `faults` ask for; `None` when they need no delayer.
    pub fn of(faults: &[Fault]) -> Option<Shaping> {
        let millis = faults.iter().find_map(|f| match f {
            Fault::Delay { millis } => Some(*millis),
            _ => None,
        });
        let kbit = faults.iter().find_map(|f| match f {
            Fault::Rate { kbit } => Some(*kbit),
            _ => None,
        });
        (millis.is_some() || kbit.is_some()).then_some(Shaping {
            millis: millis.unwrap_or(0),
            kbit,
        })
    }

    /// Whether what the host receives goes through the delayer too (a rate is both ways).
    pub fn inbound(&self) -> bool {
        self.kbit.is_some()
    }
}

/// How often held packets are checked while any are held (the delay's resolution).
pub const TICK: Duration = Duration::from_micros(250);

/// Starts host `i`'s delayer inside its namespace; returns its pid. Its command line names
/// the namespace, which `lab down` checks before stopping it.
pub fn start(names: &Names, i: usize, h: &LabHost, shaping: Shaping) -> Result<u32, LabError> {
    let exe = std::env::current_exe().map_err(|e| LabError::Start {
        what: format!("the delayer of {}", h.name),
        reason: format!("cannot find the cutover binary: {e}"),
    })?;
    let ip = procs::find("ip").ok_or_else(|| LabError::Missing {
        program: "ip".into(),
        package: "iproute2".into(),
    })?;
    let ns = names.netns(i);
    let mut args: Vec<String> = [
        "netns",
        "exec",
        &ns,
        &exe.display().to_string(),
        "lab",
        "delay",
        "--queue",
        &super::net::queue_number(i).to_string(),
        "--ms",
        &shaping.millis.to_string(),
        "--netns",
        &ns,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(kbit) = shaping.kbit {
        args.extend(["--kbit".to_string(), kbit.to_string()]);
    }
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

/// Bytes of each packet copied to a delayer that shapes a rate: an IPv4 header, never used,
/// but with fewer than the packet the kernel sends its whole length
/// (`Message::get_original_len`).
const COPY_RANGE: u16 = 20;

/// The netfilter hook number of packets arriving for the host (`NF_INET_LOCAL_IN`).
const HOOK_LOCAL_IN: u8 = 1;

/// Packets of one direction waiting for their release time, in arrival order.
struct Held {
    link: Link,
    queue: VecDeque<(Instant, nfq::Message)>,
}

impl Held {
    fn release(&mut self, q: &mut nfq::Queue, now: Instant) -> std::io::Result<()> {
        while self.queue.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, mut msg)) = self.queue.pop_front() {
                msg.set_verdict(nfq::Verdict::Accept);
                q.verdict(msg)?;
            }
        }
        Ok(())
    }
}

/// Runs the delayer on NFQUEUE `queue` in this process's namespace until killed: every packet
/// is held until its direction's link releases it (`shaping`), in arrival order, then accepted.
pub fn serve(queue: u16, shaping: Shaping) -> std::io::Result<()> {
    let mut q = nfq::Queue::open()?;
    q.bind(queue)?;
    // A range of 0 copies only metadata, without the packet's length a rate needs: then copy
    // the first bytes, and the kernel tells the whole length of every longer packet (a delay
    // alone needs no length, and keeps the cheaper metadata-only copy).
    let range = if shaping.kbit.is_some() {
        COPY_RANGE
    } else {
        0
    };
    q.set_copy_range(queue, range)?;
    q.set_queue_max_len(queue, 65_536)?;
    q.set_fail_open(queue, true)?;
    let delay = Duration::from_millis(shaping.millis);
    let mut out = Held {
        link: Link::new(shaping.kbit, delay),
        queue: VecDeque::new(),
    };
    let mut inbound = Held {
        link: Link::new(shaping.kbit, Duration::ZERO),
        queue: VecDeque::new(),
    };
    loop {
        q.set_nonblocking(!out.queue.is_empty() || !inbound.queue.is_empty());
        match q.recv() {
            Ok(msg) => {
                let held = if msg.get_hook() == HOOK_LOCAL_IN {
                    &mut inbound
                } else {
                    &mut out
                };
                let bytes = u64::try_from(msg.get_original_len()).unwrap_or(u64::MAX);
                let due = held.link.due(crate::clock::instant(), bytes);
                held.queue.push_back((due, msg));
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        let now = crate::clock::instant();
        out.release(&mut q, now)?;
        inbound.release(&mut q, now)?;
        let next = [out.queue.front(), inbound.queue.front()]
            .into_iter()
            .flatten()
            .map(|(due, _)| *due)
            .min();
        if let Some(due) = next {
            std::thread::sleep(due.saturating_duration_since(now).min(TICK));
        }
    }
}
