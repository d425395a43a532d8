//! Which of a probe's targets it polls: an even spread over them, the same at every poll.
//!
//! A command probe on every host of a large fleet, every second, is hundreds of SSH commands
//! a second on the machine the action runs on. A sample of hosts spread evenly over the
//! inventory order (so over its groups and racks, which inventories list together) keeps the
//! watch's load bounded while still seeing every part of the fleet. The sample is fixed, so
//! `stable_for` judges the same hosts at every poll.

use crate::plan::model::Sample;

/// The sampled items of `items`, in their order: every `len / n`-th, or all without a sample.
pub fn spread<T: Clone>(items: &[T], sample: Option<Sample>) -> Vec<T> {
    let Some(sample) = sample else {
        return items.to_vec();
    };
    let n = sample.size(items.len());
    (0..n).map(|k| items[k * items.len() / n].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    #[test]
    fn no_sample_polls_every_target() {
        assert_eq!(spread(&hosts(4), None), hosts(4));
    }

    #[test]
    fn a_count_is_spread_evenly_over_the_targets() {
        assert_eq!(spread(&hosts(10), Some(Sample::Count(5))), [0, 2, 4, 6, 8]);
        assert_eq!(spread(&hosts(255), Some(Sample::Count(20))).len(), 20);
        assert_eq!(spread(&hosts(3), Some(Sample::Count(20))), [0, 1, 2]);
    }

    #[test]
    fn a_percentage_rounds_up_and_takes_at_least_one_host() {
        assert_eq!(spread(&hosts(255), Some(Sample::Fraction(0.1))).len(), 26);
        assert_eq!(
            spread(&hosts(10_000), Some(Sample::Fraction(0.1))).len(),
            1000
        );
        assert_eq!(spread(&hosts(5), Some(Sample::Fraction(0.01))), [0]);
        assert_eq!(spread(&hosts(4), Some(Sample::Fraction(1.0))), hosts(4));
        assert!(spread(&hosts(0), Some(Sample::Count(3))).is_empty());
    }

    #[test]
    fn the_sample_has_no_duplicates_and_keeps_order() {
        for n in 1..40 {
            for k in 1..=n {
                let s = spread(&hosts(n), Some(Sample::Count(k)));
                assert_eq!(s.len(), k);
                assert!(s.windows(2).all(|w| w[0] < w[1]), "{n} {k} {s:?}");
            }
        }
    }
}
