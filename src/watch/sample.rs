//! Which of a probe's targets it polls: an even spread over them, the same at every poll.
//!
//! A command probe on every host of a large fleet, every second, is hundreds of SSH commands
//! a second on the machine the action runs on. A sample of hosts spread evenly over the
//! inventory order (so over its groups and racks, which inventories list together) keeps the
//! watch's load bounded while still seeing every part of the fleet. The sample is fixed, so
//! `stable_for` judges the same hosts at every poll.

use crate::plan::model::Sample;
use std::collections::{BTreeMap, BTreeSet};

/// The sampled items of `items`, in their order: every `len / n`-th, or all without a sample.
/// A per-group sample takes that spread within every group `groups_of` names for the items
/// (all of a smaller group), so each rack, zone or role is seen; a host in two groups counts
/// for both.
pub fn spread<T: Clone>(
    items: &[T],
    sample: Option<Sample>,
    groups_of: impl Fn(&T) -> Vec<String>,
) -> Vec<T> {
    let Some(sample) = sample else {
        return items.to_vec();
    };
    let picked: BTreeSet<usize> = match sample {
        Sample::PerGroup(n) => {
            let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, item) in items.iter().enumerate() {
                let mut named = groups_of(item);
                // Hosts in no group are a group of their own: none is ever unseen, and a
                // sample of targets is never empty (an empty one would mean the orchestrator).
                if named.is_empty() {
                    named.push(String::new());
                }
                for g in named {
                    groups.entry(g).or_default().push(i);
                }
            }
            groups
                .values()
                .flat_map(|members| even(members.len(), n).map(|k| members[k]))
                .collect()
        }
        _ => even(items.len(), sample.size(items.len())).collect(),
    };
    picked.into_iter().map(|i| items[i].clone()).collect()
}

/// `n` positions spread evenly over `0..len` (all of them when `n ≥ len`).
fn even(len: usize, n: usize) -> impl Iterator<Item = usize> {
    let n = n.min(len);
    (0..n).map(move |k| k * len / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<usize> {
        (0..n).collect()
    }

    fn spread_all(items: &[usize], sample: Option<Sample>) -> Vec<usize> {
        spread(items, sample, |_| Vec::new())
    }

    #[test]
    fn per_group_takes_that_many_of_every_group_and_all_of_a_small_one() {
        // Hosts 0..10 in rack a, 10..20 in rack b, 20..22 in rack c; 5 and 15 also in `db`.
        let rack = |h: &usize| {
            let mut g = vec![
                match h {
                    0..10 => "rack-a",
                    10..20 => "rack-b",
                    _ => "rack-c",
                }
                .to_string(),
            ];
            if *h == 5 || *h == 15 {
                g.push("db".into());
            }
            g
        };
        let s = spread(&hosts(22), Some(Sample::PerGroup(2)), rack);
        assert_eq!(s, [0, 5, 10, 15, 20, 21]);
        let one = spread(&hosts(22), Some(Sample::PerGroup(1)), rack);
        assert_eq!(
            one,
            [0, 5, 10, 20],
            "db's first member is 5, already a spread point"
        );
        let ungrouped = spread(&hosts(3), Some(Sample::PerGroup(2)), |_| Vec::new());
        assert_eq!(
            ungrouped,
            [0, 1],
            "hosts in no group are sampled as one group"
        );
    }

    #[test]
    fn no_sample_polls_every_target() {
        assert_eq!(spread_all(&hosts(4), None), hosts(4));
    }

    #[test]
    fn a_count_is_spread_evenly_over_the_targets() {
        assert_eq!(
            spread_all(&hosts(10), Some(Sample::Count(5))),
            [0, 2, 4, 6, 8]
        );
        assert_eq!(spread_all(&hosts(255), Some(Sample::Count(20))).len(), 20);
        assert_eq!(spread_all(&hosts(3), Some(Sample::Count(20))), [0, 1, 2]);
    }

    #[test]
    fn a_percentage_rounds_up_and_takes_at_least_one_host() {
        assert_eq!(
            spread_all(&hosts(255), Some(Sample::Fraction(0.1))).len(),
            26
        );
        assert_eq!(
            spread_all(&hosts(10_000), Some(Sample::Fraction(0.1))).len(),
            1000
        );
        assert_eq!(spread_all(&hosts(5), Some(Sample::Fraction(0.01))), [0]);
        assert_eq!(spread_all(&hosts(4), Some(Sample::Fraction(1.0))), hosts(4));
        assert!(spread_all(&hosts(0), Some(Sample::Count(3))).is_empty());
    }

    #[test]
    fn the_sample_has_no_duplicates_and_keeps_order() {
        for n in 1..40 {
            for k in 1..=n {
                let s = spread_all(&hosts(n), Some(Sample::Count(k)));
                assert_eq!(s.len(), k);
                assert!(s.windows(2).all(|w| w[0] < w[1]), "{n} {k} {s:?}");
            }
        }
    }
}
