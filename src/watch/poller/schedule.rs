//! When each source is polled: the loop ticks at the shortest interval, and the quorum and
//! each probe are polled when their own interval has come round.

use std::time::{Duration, Instant};

/// The loop's tick: the shortest of the intervals, never below `floor`.
pub(super) fn tick(
    poll_interval: Duration,
    probes: impl IntoIterator<Item = Duration>,
    floor: Duration,
) -> Duration {
    probes
        .into_iter()
        .fold(poll_interval, Duration::min)
        .max(floor)
}

/// Whether a source last polled at `last` is due at `now`: never polled, or its interval
/// has passed, less half a tick so the loop's own lateness does not skip a turn.
pub(super) fn due(last: Option<Instant>, interval: Duration, tick: Duration, now: Instant) -> bool {
    last.is_none_or(|l| now.saturating_duration_since(l) + tick / 2 >= interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_tick_is_the_shortest_interval_above_the_floor() {
        let floor = Duration::from_millis(100);
        assert_eq!(tick(S, [5 * S], floor), S);
        assert_eq!(tick(S, [5 * S, S / 2], floor), S / 2);
        assert_eq!(tick(S, [Duration::ZERO], floor), floor);
        assert_eq!(tick(S, [], floor), S);
    }

    #[test]
    fn a_slow_probe_is_polled_every_few_ticks_despite_a_late_loop() {
        let t0 = crate::clock::instant();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert!(due(None, 5 * S, S, t0));
        assert!(!due(Some(t0), 5 * S, S, at(1_010)));
        assert!(!due(Some(t0), 5 * S, S, at(4_400)));
        assert!(due(Some(t0), 5 * S, S, at(4_600)));
        assert!(due(Some(t0), S, S, at(990)));
    }
}
