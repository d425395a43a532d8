//! The schedule of one direction of a faulty link: when each packet may leave, given a `rate`
//! (a token bucket that holds packets until they fit, as a slow WAN link queues them) and a
//! `delay` (added after). Pure: arrival times come in as arguments.

use std::time::{Duration, Instant};

/// Bytes the bucket holds when full: two full Ethernet frames, so a link at rest passes a
/// short burst (a TCP ACK and a segment) at once, and a long transfer still runs at the rate.
pub const BURST_BYTES: u64 = 2 * 1514;

/// A token bucket of `kbit` kilobits per second, kept as the time the link is next free
/// (GCRA, its exact equivalent): a packet leaves once the bucket has room for it, never
/// dropped, and packets leave in arrival order.
#[derive(Debug, Clone)]
pub struct Bucket {
    kbit: u64,
    /// When the link has sent everything admitted so far (the theoretical arrival time).
    free_at: Option<Instant>,
}

impl Bucket {
    /// A full bucket of `kbit` kilobits (1000 bits) per second; `kbit` is at least 1.
    pub fn new(kbit: u64) -> Bucket {
        Bucket {
            kbit: kbit.max(1),
            free_at: None,
        }
    }

    /// How long `bytes` take on the wire at this rate.
    pub fn cost(&self, bytes: u64) -> Duration {
        // bits / (kbit * 1000) seconds = bytes * 8e6 / kbit nanoseconds.
        Duration::from_nanos(bytes.saturating_mul(8_000_000) / self.kbit)
    }

    /// When a packet of `bytes` that arrived at `arrived` may leave; admits it.
    pub fn departure(&mut self, arrived: Instant, bytes: u64) -> Instant {
        // Once sent, the link is busy until `done`; the packet may go as soon as that is no
        // more than a full bucket ahead (the bucket then holds the tokens it needs).
        let done = self.free_at.map_or(arrived, |t| t.max(arrived)) + self.cost(bytes);
        self.free_at = Some(done);
        done.checked_sub(self.cost(BURST_BYTES))
            .map_or(arrived, |t| t.max(arrived))
    }
}

/// One direction of a host's link: an optional rate, then a fixed delay.
#[derive(Debug, Clone)]
pub struct Link {
    bucket: Option<Bucket>,
    delay: Duration,
}

impl Link {
    /// A link that holds every packet `delay` after `kbit` (if any) lets it through.
    pub fn new(kbit: Option<u64>, delay: Duration) -> Link {
        Link {
            bucket: kbit.map(Bucket::new),
            delay,
        }
    }

    /// When a packet of `bytes` that arrived at `arrived` is released; in arrival order.
    pub fn due(&mut self, arrived: Instant, bytes: u64) -> Instant {
        let sent = match &mut self.bucket {
            Some(b) => b.departure(arrived, bytes),
            None => arrived,
        };
        sent + self.delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_byte_at_eight_kbit_takes_a_millisecond() {
        let b = Bucket::new(8);
        assert_eq!(b.cost(1), ms(1));
        assert_eq!(Bucket::new(1000).cost(1500), ms(12));
    }

    #[test]
    fn a_burst_passes_at_once_then_packets_wait_until_they_fit() {
        let t0 = crate::clock::instant();
        // 1000 kbit/s: a 1500-byte packet takes 12 ms; the bucket holds 3028 bytes.
        let mut b = Bucket::new(1000);
        let leaves: Vec<Duration> = (0..5).map(|_| b.departure(t0, 1500) - t0).collect();
        assert_eq!(leaves[0], Duration::ZERO);
        assert_eq!(leaves[1], Duration::ZERO, "the second fits in the burst");
        assert_eq!(
            leaves[2],
            ms(36) - b.cost(BURST_BYTES),
            "the third waits for its tokens"
        );
        assert_eq!(leaves[3] - leaves[2], ms(12), "then one every 12 ms");
        assert_eq!(leaves[4] - leaves[3], ms(12));
    }

    #[test]
    fn an_idle_link_refills_and_never_saves_up_more_than_the_burst() {
        let t0 = crate::clock::instant();
        let mut b = Bucket::new(1000);
        b.departure(t0, 1500);
        // A second later the link is idle again: a packet leaves as it arrives.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.departure(t1, 1500), t1);
        assert_eq!(b.departure(t1, 1500), t1);
        assert!(
            b.departure(t1, 1500) > t1,
            "a second idle is not a second of credit"
        );
    }

    #[test]
    fn the_delay_comes_after_the_rate_and_a_link_without_rate_only_delays() {
        let t0 = crate::clock::instant();
        let mut plain = Link::new(None, ms(40));
        assert_eq!(plain.due(t0, 60_000), t0 + ms(40));
        let mut slow = Link::new(Some(1000), ms(40));
        for _ in 0..2 {
            slow.due(t0, 1500);
        }
        let burst = Bucket::new(1000).cost(BURST_BYTES);
        assert_eq!(slow.due(t0, 1500), t0 + ms(36) - burst + ms(40));
    }

    proptest! {
        /// Whatever arrives, packets leave in order, never before they arrive, and no window
        /// of time carries more than its rate's worth plus the burst.
        #[test]
        fn departures_keep_order_and_the_rate(
            kbit in 8u64..100_000,
            packets in prop::collection::vec((0u64..50_000, 40u64..1515), 1..200),
        ) {
            let t0 = crate::clock::instant();
            let mut b = Bucket::new(kbit);
            let mut at = t0;
            let mut sent = Vec::new();
            let mut last = t0;
            for (gap_us, bytes) in packets {
                at += Duration::from_micros(gap_us);
                let d = b.departure(at, bytes);
                prop_assert!(d >= at && d >= last);
                last = d;
                sent.push((d, bytes));
            }
            let first = sent[0].0;
            for (i, (d, _)) in sent.iter().enumerate() {
                let bytes: u64 = sent[..=i].iter().map(|(_, n)| n).sum();
                // Less the burst and a nanosecond of rounding per packet.
                let slack = b.cost(BURST_BYTES) + Duration::from_micros(1);
                let allowed = b.cost(bytes).saturating_sub(slack);
                prop_assert!(*d - first >= allowed, "{bytes} bytes by {:?}", *d - first);
            }
        }
    }
}
