//! Splitting an ordered host list into fixed-size batches, decided once before execution.

use std::num::NonZeroUsize;

/// Hosts cut into consecutive batches; the executor runs them in order, never re-deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    hosts: Vec<String>,
    batch_size: NonZeroUsize,
}

impl BatchPlan {
    /// Cuts `hosts` (order kept) into batches of `batch_size`; the last one may be smaller.
    pub fn new(hosts: Vec<String>, batch_size: NonZeroUsize) -> Self {
        Self { hosts, batch_size }
    }

    /// Number of hosts across all batches.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// Number of batches (zero for an empty host list).
    pub fn batch_count(&self) -> usize {
        self.hosts.len().div_ceil(self.batch_size.get())
    }

    /// The configured batch size.
    pub fn batch_size(&self) -> NonZeroUsize {
        self.batch_size
    }

    /// All hosts in plan order.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The hosts of batch `index` (0-based), or `None` past the last batch.
    pub fn batch(&self, index: usize) -> Option<&[String]> {
        self.batches().nth(index)
    }

    /// Position range (into [`BatchPlan::hosts`]) of batch `index`; empty past the last batch.
    pub fn batch_range(&self, index: usize) -> std::ops::Range<usize> {
        let size = self.batch_size.get();
        let start = index.saturating_mul(size).min(self.hosts.len());
        start..start.saturating_add(size).min(self.hosts.len())
    }

    /// Iterates over the batches in order.
    pub fn batches(&self) -> impl Iterator<Item = &[String]> {
        self.hosts.chunks(self.batch_size.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn size(n: usize) -> NonZeroUsize {
        NonZeroUsize::new(n).unwrap()
    }

    fn hosts(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i:03}")).collect()
    }

    #[test]
    fn reference_story_255_hosts_in_batches_of_20() {
        let plan = BatchPlan::new(hosts(255), size(20));
        assert_eq!(plan.batch_count(), 13);
        assert_eq!(plan.batch(12).unwrap().len(), 15);
        assert_eq!(plan.batch_range(12), 240..255);
        assert!(plan.batch(13).is_none());
        assert!(plan.batch_range(13).is_empty());
    }

    #[test]
    fn empty_host_list_has_no_batches() {
        let plan = BatchPlan::new(vec![], size(20));
        assert_eq!(plan.batch_count(), 0);
        assert!(plan.batch(0).is_none());
    }

    proptest! {
        #[test]
        fn every_host_exactly_once_in_order(n in 0usize..300, s in 1usize..50) {
            let plan = BatchPlan::new(hosts(n), size(s));
            let flat: Vec<String> = plan.batches().flatten().cloned().collect();
            prop_assert_eq!(flat, hosts(n));
            prop_assert_eq!(plan.batch_count(), plan.batches().count());
            let count = plan.batch_count();
            for (i, batch) in plan.batches().enumerate() {
                prop_assert!(!batch.is_empty());
                if i + 1 < count {
                    prop_assert_eq!(batch.len(), s);
                } else {
                    prop_assert!(batch.len() <= s);
                }
                prop_assert_eq!(&plan.hosts()[plan.batch_range(i)], batch);
            }
        }
    }
}
