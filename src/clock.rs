//! The only place that reads the clock: everything else takes time as an argument.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A source of wall-clock and monotonic time, so tests can drive time by hand.
pub trait Clock: Send + Sync {
    /// Wall-clock time in UTC.
    fn now(&self) -> DateTime<Utc>;
    /// Monotonic time, for measuring durations.
    fn instant(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    #[allow(clippy::disallowed_methods)]
    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// Wall-clock time now, from the real clock (for shells that have no clock handle).
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// Monotonic time now, from the real clock (for shells that have no clock handle).
pub fn instant() -> Instant {
    SystemClock.instant()
}

/// A clock that only moves when told to, for tests.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<(DateTime<Utc>, Instant)>>,
}

impl ManualClock {
    /// A manual clock starting at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            inner: Arc::new(Mutex::new((start, instant()))),
        }
    }

    /// Moves both the wall clock and the monotonic clock forward.
    pub fn advance(&self, by: Duration) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        guard.0 += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        guard.1 += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    fn instant(&self) -> Instant {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

/// A clock that follows tokio's time from `start`: with tokio's time paused (`start_paused`),
/// every sleep of the engine advances it at once, so T-minus logic runs in milliseconds.
#[derive(Debug, Clone)]
pub struct TokioClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
    real_origin: Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    #[allow(clippy::disallowed_methods)]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            start,
            origin: tokio::time::Instant::now(),
            real_origin: instant(),
        }
    }
}

#[allow(clippy::disallowed_methods)]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let gone = tokio::time::Instant::now() - self.origin;
        self.start + chrono::Duration::from_std(gone).unwrap_or(chrono::Duration::zero())
    }

    fn instant(&self) -> Instant {
        self.real_origin + (tokio::time::Instant::now() - self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 2, 10, 0).unwrap();
        let clock = ManualClock::new(start);
        let t0 = clock.instant();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(
            clock.now(),
            Utc.with_ymd_and_hms(2026, 11, 25, 2, 11, 30).unwrap()
        );
        assert_eq!(clock.instant() - t0, Duration::from_secs(90));
    }
}
