//! Fleet-wide pacing of new SSH handshakes (a token bucket), apart from per-host concurrency.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// A token bucket handing out handshake slots in arrival order, plus a cap on handshakes in
/// flight: sshd's `MaxStartups` counts unauthenticated connections, so a slow handshake must
/// hold its slot until authentication ends, whatever the rate.
#[derive(Debug)]
pub struct Pacer {
    rate: f64,
    burst: f64,
    state: Mutex<Bucket>,
    in_flight: Semaphore,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available at `at`; negative means slots already promised to waiters.
    tokens: f64,
    at: Instant,
}

impl Pacer {
    /// A bucket refilling at `rate` per second holding at most `burst` tokens (at least one).
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            f64::INFINITY
        };
        Self {
            rate,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                at: now,
            }),
            in_flight: Semaphore::new(burst as usize),
        }
    }

    /// Reserves one slot at `now` and returns how long the caller must wait before using it.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * self.rate;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 || self.rate.is_infinite() {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(-b.tokens / self.rate)
    }

    /// Waits for a handshake slot: one of `burst` in flight, then a token (reads the clock, sleeps).
    /// Hold the permit until the handshake and authentication are over.
    pub async fn acquire(&self) -> Option<SemaphorePermit<'_>> {
        let permit = self.in_flight.acquire().await.ok();
        let wait = self.reserve(crate::clock::instant());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::Pacer;
    use std::time::Duration;

    #[test]
    fn burst_is_free_then_slots_are_spaced_by_the_rate() {
        let t0 = crate::clock::instant();
        let pacer = Pacer::new(10.0, 2, t0);
        let waits: Vec<Duration> = (0..5).map(|_| pacer.reserve(t0)).collect();
        let ms: Vec<u128> = waits.iter().map(|w| w.as_millis()).collect();
        assert_eq!(ms, vec![0, 0, 100, 200, 300]);
    }

    #[test]
    fn bucket_refills_over_time_up_to_burst() {
        let t0 = crate::clock::instant();
        let pacer = Pacer::new(10.0, 2, t0);
        pacer.reserve(t0);
        pacer.reserve(t0);
        let later = t0 + Duration::from_secs(5);
        assert_eq!(pacer.reserve(later), Duration::ZERO);
        assert_eq!(pacer.reserve(later), Duration::ZERO);
        assert_eq!(pacer.reserve(later).as_millis(), 100);
    }
}
