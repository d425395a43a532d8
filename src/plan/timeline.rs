//! The T-minus arithmetic shared by validation and the runbook: how long arming takes.

use std::time::Duration;

/// Seconds budgeted per arming batch beyond the handshakes: one round trip to write the job
/// and one to verify it, with headroom for a slow host (the reference run needed about 1 s
/// per host with mussh; cutover keeps connections open from staging).
pub const ARM_SECONDS_PER_BATCH: u64 = 3;

/// A conservative estimate of arming `hosts` hosts: every handshake paced at `connect_rate`
/// (as if no connection survived from staging) plus a fixed cost per batch.
pub fn arming_estimate(hosts: usize, batch_size: usize, connect_rate: f64) -> Duration {
    if hosts == 0 {
        return Duration::ZERO;
    }
    let handshakes = Duration::from_secs_f64(hosts as f64 / connect_rate.max(0.001));
    let batches = hosts.div_ceil(batch_size.max(1)) as u64;
    handshakes + Duration::from_secs(batches * ARM_SECONDS_PER_BATCH)
}

/// The T-minus check must end this long before the fire time, leaving room for the commit
/// round; a check still running then disarms everything rather than race the fire.
pub const TMINUS_BY: Duration = Duration::from_millis(1000);

/// The commit round must be confirmed on every host this long before the fire time; past it
/// the run withdraws (disarms everything). Half a second is several round trips of a
/// parallel disarm on a LAN; a WAN fleet wants a longer `reverify_before`.
pub const COMMIT_BY: Duration = Duration::from_millis(500);

/// How long one parallel disarm round over open connections takes for `hosts` hosts: a
/// round trip and the script, plus the orchestrator's own work per host (measured at about
/// 0.5 ms per host on 2 cores; `just bench` holds it against the target).
pub fn disarm_estimate(hosts: usize) -> Duration {
    Duration::from_millis(500) + Duration::from_micros(500 * hosts as u64)
}

/// A duration as the runbook and diagnostics show it: `4m 30s`, `2s`, `250ms`.
pub fn human(d: Duration) -> String {
    let rounded = if d >= Duration::from_secs(1) {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(d.as_millis() as u64)
    };
    humantime::format_duration(rounded).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_fleet_arms_in_under_a_minute_at_ten_per_second() {
        let d = arming_estimate(255, 20, 10.0);
        assert_eq!(
            d,
            Duration::from_secs_f64(25.5) + Duration::from_secs(13 * 3)
        );
    }

    #[test]
    fn nothing_to_arm_takes_no_time() {
        assert_eq!(arming_estimate(0, 20, 10.0), Duration::ZERO);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(270)), "4m 30s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(64_500)), "1m 4s");
    }
}
