//! Latency for `nspawn` hosts: this kernel has no `sch_netem`, so a `delay` fault queues the
//! host's outgoing packets to NFQUEUE and a lab-owned delayer process holds each one.

use super::{LabError, Names};
use crate::lab::spec::LabHost;

/// Starts host `i`'s delayer (inside its namespace); returns its pid.
pub fn start(_names: &Names, _i: usize, h: &LabHost, _millis: u64) -> Result<u32, LabError> {
    Err(LabError::Usage(format!(
        "delay faults are not implemented yet (asked for {}); use blackhole, loss or partition",
        h.name
    )))
}
