//! The T-minus arithmetic shared by validation and the runbook: how long arming takes.
//!
//! Arming is paced by the connection budget, by the work each host costs and by the batches.
//! Handshakes leave at `connect_rate` per second, but at most `connect_burst` are in flight at
//! once and each holds its slot for about [`HANDSHAKE_SECONDS`], so the effective rate is the
//! lower of `connect_rate` and `connect_burst / HANDSHAKE_SECONDS`. Each host then costs
//! [`HOST_WORK_SECONDS`] of machine time (its lease and arm commands' process starts, the SSH
//! server's and the orchestrator's share), measured where every host shares the
//! orchestrator's two cores. Batches run one after another (a barrier between them), and each
//! ends with its last host's [`ARM_ROUND_TRIPS`] commands. The estimate counts every handshake
//! as new (as if no connection survived from staging) and every host's work as done on one
//! machine, so on a fleet of real hosts it errs long: the safe side for an arming deadline.

use super::model::Execution;
use std::time::Duration;

/// Seconds a handshake holds its in-flight slot: TCP connect, key exchange and public-key
/// authentication. Measured at about 0.125 s per handshake on loopback on the 2-core
/// benchmark machine (40 handshakes/s with 5 in flight, at 500 and at 10,000 hosts); a
/// real network adds its round trips.
pub const HANDSHAKE_SECONDS: f64 = 0.125;

/// Machine time per host while taking the lease and arming (`scripts/bench-scale`, the
/// 10,000-host embedded lab, where every host's shell runs on the orchestrator's 2 shared
/// cores): the lease and the arming are one command each, and since 2026-12-01 (session 7)
/// the arming is read by the login shell itself with no `timeout` and no hash of the wrapper
/// it has just written, and the lease makes the job directory: about nine process starts per
/// host (each 1–2 ms on this VM), plus the SSH server's and the orchestrator's CPU. Fitted on
/// a quiet machine: 500 hosts armed in 4.3 s (estimate +11%), 2,000 in 16.9 s (+11%), 10,000
/// in 93.5 s (+0%). It was 9 ms before (119 s for 10,000) and 35 ms when arming took three
/// commands of about ten process starts each. The load of the machine moves it more than anything in the plan.
/// Real hosts do their share in parallel; the estimate keeps it whole.
pub const HOST_WORK_SECONDS: f64 = 0.0064;

/// Commands per host while arming: re-verify the staged change, then install, arm and prove
/// the job in one command.
pub const ARM_ROUND_TRIPS: u32 = 2;

/// Seconds per command round trip on an open connection (a channel, `sh -s`, the script),
/// with headroom for a slow host; each batch waits for its slowest host.
pub const ROUND_TRIP_SECONDS: f64 = 0.1;

/// How long arming `hosts` hosts takes, and where the time goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmingEstimate {
    /// Hosts to arm.
    pub hosts: usize,
    /// Handshakes per second actually achievable under the rate and the burst.
    pub handshakes_per_second: f64,
    /// Time spent on handshakes.
    pub handshakes: Duration,
    /// Time spent on the hosts' own work ([`HOST_WORK_SECONDS`] each).
    pub work: Duration,
    /// Batches, one after another.
    pub batches: usize,
    /// Time spent on each batch's last round trips.
    pub round_trips: Duration,
}

impl ArmingEstimate {
    /// The whole estimate.
    pub fn total(&self) -> Duration {
        self.handshakes + self.work + self.round_trips
    }

    /// The numbers behind it, for diagnostics: `2000 hosts at 40 handshakes/s (the lower of
    /// connect_rate 1000 and connect_burst 5 / 125ms per handshake) = 50s, plus 9ms of work
    /// per host = 18s, plus 2 batches of 1000 × 2 round trips = 400ms`.
    pub fn explain(&self, ex: &Execution) -> String {
        format!(
            "{} hosts at {:.0} handshakes/s (the lower of connect_rate {} and connect_burst {} / {}ms per handshake) = {}, plus {}ms of work per host = {}, plus {} batches of {} × {} round trips = {}",
            self.hosts,
            self.handshakes_per_second,
            ex.connect_rate,
            ex.connect_burst,
            (HANDSHAKE_SECONDS * 1000.0) as u64,
            human(self.handshakes),
            (HOST_WORK_SECONDS * 1000.0).round() as u64,
            human(self.work),
            self.batches,
            ex.batch_size,
            ARM_ROUND_TRIPS,
            human(self.round_trips),
        )
    }
}

/// Handshakes per second under `connect_rate` and `connect_burst`.
pub fn handshake_rate(connect_rate: f64, connect_burst: u32) -> f64 {
    let by_burst = f64::from(connect_burst.max(1)) / HANDSHAKE_SECONDS;
    connect_rate.max(0.001).min(by_burst)
}

/// A conservative estimate of arming `hosts` hosts under the execution pacing.
pub fn arming_estimate(hosts: usize, ex: &Execution) -> ArmingEstimate {
    let rate = handshake_rate(ex.connect_rate, ex.connect_burst);
    let batches = hosts.div_ceil(ex.batch_size.max(1));
    let per_batch = f64::from(ARM_ROUND_TRIPS) * ROUND_TRIP_SECONDS;
    ArmingEstimate {
        hosts,
        handshakes_per_second: rate,
        handshakes: Duration::from_secs_f64(hosts as f64 / rate),
        work: Duration::from_secs_f64(hosts as f64 * HOST_WORK_SECONDS),
        batches,
        round_trips: Duration::from_secs_f64(batches as f64 * per_batch),
    }
}

/// The T-minus check must end this long before the fire time, leaving room for the commit
/// round; a check still running then disarms everything rather than race the fire.
pub const TMINUS_BY: Duration = Duration::from_millis(1000);

/// The commit round must be confirmed on every host this long before the fire time; past it
/// the run withdraws (disarms everything). Half a second is several round trips of a
/// parallel disarm on a LAN; a WAN fleet wants a longer `reverify_before`.
pub const COMMIT_BY: Duration = Duration::from_millis(500);

/// Machine time per host of the T-minus check (the armed job's hash and its waiter, timer
/// or `at` entry; a shell and `sha256sum` on the host): 4.85 s for 2,000 hosts on the 2-core
/// lab (`scripts/bench-scale`, 2026-12-01), where every host's shell shares the cores.
pub const RECHECK_HOST_SECONDS: f64 = 0.0025;

/// Machine time per host of the commit round (one shell writing the `committed` marker):
/// 2.5 s for 2,000 hosts on the same lab.
pub const COMMIT_HOST_SECONDS: f64 = 0.0013;

/// Machine time per host of a disarm round (one shell on the host, and the waiter it
/// signals): 3.7 s for 2,000 hosts on the same lab (in-run, after SIGTERM).
pub const DISARM_HOST_SECONDS: f64 = 0.002;

/// How long the T-minus check and the commit round after it take for `hosts` hosts: each a
/// round over every host (a round trip at least), plus each host's machine time counted
/// whole, as on the lab. A real fleet does its hosts' share in parallel: the estimate errs
/// long, the safe side for a bound that disarms everything when it is passed.
pub fn tminus_estimate(hosts: usize) -> Duration {
    if hosts == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(
        2.0 * ROUND_TRIP_SECONDS + hosts as f64 * (RECHECK_HOST_SECONDS + COMMIT_HOST_SECONDS),
    )
}

/// How long one parallel disarm round over open connections takes for `hosts` hosts: a
/// round trip and the script, plus each host's machine time ([`DISARM_HOST_SECONDS`]);
/// `just bench` holds it against the target.
pub fn disarm_estimate(hosts: usize) -> Duration {
    Duration::from_millis(500) + Duration::from_secs_f64(hosts as f64 * DISARM_HOST_SECONDS)
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
    use crate::plan::model::Budget;

    /// (hosts, seconds to armed) measured by `scripts/bench-scale` (docs/benchmarks.md).
    const MEASURED: [(usize, f64); 3] = [(500, 4.31), (2000, 16.88), (10_000, 93.46)];

    fn pacing(batch_size: usize, connect_rate: f64, connect_burst: u32) -> Execution {
        Execution {
            batch_size,
            max_failures: Budget::Count(0),
            connect_rate,
            connect_burst,
            command_timeout: Duration::from_secs(60),
            output_cap: 65536,
        }
    }

    #[test]
    fn the_reference_fleet_is_paced_by_its_rate() {
        let e = arming_estimate(255, &pacing(20, 10.0, 5));
        assert_eq!(e.handshakes_per_second, 10.0);
        assert_eq!(e.handshakes, Duration::from_secs_f64(25.5));
        assert_eq!(e.work, Duration::from_secs_f64(255.0 * HOST_WORK_SECONDS));
        assert_eq!(e.batches, 13);
        assert_eq!(
            e.total(),
            Duration::from_secs_f64(25.5) + e.work + Duration::from_secs_f64(13.0 * 0.2)
        );
    }

    #[test]
    fn a_high_rate_is_held_back_by_the_handshakes_in_flight() {
        // The 10,000-host run: rate 1000/s but 5 in flight, while the first estimate
        // (rate only) said 40 s.
        let e = arming_estimate(10_000, &pacing(1000, 1000.0, 5));
        assert_eq!(e.handshakes_per_second, 40.0);
        assert_eq!(e.handshakes, Duration::from_secs(250));
        let wide = arming_estimate(10_000, &pacing(1000, 1000.0, 64));
        assert_eq!(wide.handshakes_per_second, 512.0);
        assert!(wide.handshakes < Duration::from_secs(20), "{wide:?}");
    }

    /// `scripts/bench-scale` on the 10,000-host lab (batches of 200, rate 2000/s, 64 in
    /// flight): the measured time from the run's start to armed, quiet machine, 2026-12-01.
    /// The estimate must stay within 25% of each.
    #[test]
    fn the_estimate_holds_against_the_scale_benchmark() {
        for (hosts, measured) in MEASURED {
            let e = arming_estimate(hosts, &pacing(200, 2000.0, 64)).total();
            let off = (e.as_secs_f64() - measured) / measured;
            assert!(
                off.abs() <= 0.25,
                "{hosts} hosts: estimate {e:?}, measured {measured} s"
            );
        }
    }

    #[test]
    fn the_explanation_names_every_number() {
        let ex = pacing(1000, 1000.0, 5);
        let text = arming_estimate(2000, &ex).explain(&ex);
        assert_eq!(
            text,
            format!(
                "2000 hosts at 40 handshakes/s (the lower of connect_rate 1000 and connect_burst 5 / 125ms per handshake) = 50s, plus {}ms of work per host = {}, plus 2 batches of 1000 × 2 round trips = 400ms",
                (HOST_WORK_SECONDS * 1000.0).round(),
                human(Duration::from_secs_f64(2000.0 * HOST_WORK_SECONDS))
            )
        );
    }

    /// The lab's 2,000-host rounds (`scripts/bench-scale`, 2026-12-01): T-minus check 4.85 s,
    /// commit 2.5 s, in-run disarm 3.7 s. The estimates may err long, never short.
    #[test]
    fn the_round_estimates_cover_the_lab() {
        let t = tminus_estimate(2000).as_secs_f64();
        assert!((4.85 + 2.5..=(4.85 + 2.5) * 1.25).contains(&t), "{t}");
        let d = disarm_estimate(2000).as_secs_f64();
        assert!((3.7..=3.7 * 1.25).contains(&d), "{d}");
        assert_eq!(tminus_estimate(0), Duration::ZERO);
    }

    #[test]
    fn nothing_to_arm_takes_no_time() {
        assert_eq!(
            arming_estimate(0, &pacing(20, 10.0, 5)).total(),
            Duration::ZERO
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(270)), "4m 30s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(64_500)), "1m 4s");
    }
}
