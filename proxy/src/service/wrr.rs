//! Smooth weighted round robin, precomputed: the pick order is built once per config
//! (nginx's smooth algorithm, so heavy members are interleaved rather than bunched) and a
//! request only bumps an atomic cursor: no lock on the request path.
use std::sync::atomic::{AtomicUsize, Ordering};

/// Total weight above which weights are scaled down, bounding the order's length.
const MAX_ORDER_LEN: u64 = 4096;

#[derive(Debug)]
pub(crate) struct WrrOrder {
    order: Box<[u32]>,
    cursor: AtomicUsize,
}

impl WrrOrder {
    /// Members with weight 0 never appear.
    pub(crate) fn new(weights: &[u32]) -> Self {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let weights: Vec<i64> = weights
            .iter()
            .map(|&w| {
                let w = u64::from(w);
                let scaled = if total > MAX_ORDER_LEN && w > 0 {
                    (w * MAX_ORDER_LEN / total).max(1)
                } else {
                    w
                };
                scaled as i64
            })
            .collect();
        let total: i64 = weights.iter().sum();
        let mut current = vec![0i64; weights.len()];
        let mut order = Vec::with_capacity(total as usize);
        for _ in 0..total {
            let mut best = 0;
            for (index, weight) in weights.iter().enumerate() {
                current[index] += weight;
                if current[index] > current[best] {
                    best = index;
                }
            }
            current[best] -= total;
            order.push(best as u32);
        }
        WrrOrder {
            order: order.into_boxed_slice(),
            cursor: AtomicUsize::new(0),
        }
    }

    /// The next member in the rotation that `is_available`; `None` after a whole turn
    /// without one.
    pub(crate) fn next(&self, is_available: impl Fn(usize) -> bool) -> Option<usize> {
        let len = self.order.len();
        for _ in 0..len {
            let slot = self.cursor.fetch_add(1, Ordering::Relaxed) % len;
            let member = self.order[slot] as usize;
            if is_available(member) {
                return Some(member);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(order: &WrrOrder, picks: usize, members: usize) -> Vec<usize> {
        let mut counts = vec![0; members];
        for _ in 0..picks {
            if let Some(member) = order.next(|_| true) {
                counts[member] += 1;
            }
        }
        counts
    }

    #[test]
    fn shares_follow_weights_exactly_over_whole_turns() {
        let order = WrrOrder::new(&[5, 1, 1]);
        assert_eq!(counts(&order, 70, 3), vec![50, 10, 10]);
    }

    #[test]
    fn heavy_members_are_interleaved() {
        let order = WrrOrder::new(&[5, 1, 1]);
        let picks: Vec<usize> = (0..7).filter_map(|_| order.next(|_| true)).collect();
        assert_eq!(picks, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn zero_weight_members_are_never_picked() {
        let order = WrrOrder::new(&[0, 2]);
        assert_eq!(counts(&order, 10, 2), vec![0, 10]);
        assert_eq!(WrrOrder::new(&[0, 0]).next(|_| true), None);
        assert_eq!(WrrOrder::new(&[]).next(|_| true), None);
    }

    #[test]
    fn unavailable_members_are_skipped_and_none_when_all_are() {
        let order = WrrOrder::new(&[1, 1, 1]);
        for _ in 0..10 {
            assert_ne!(order.next(|member| member != 1), Some(1));
        }
        assert_eq!(order.next(|_| false), None);
    }

    #[test]
    fn huge_weights_are_scaled_not_dropped() {
        let order = WrrOrder::new(&[1_000_000, 1]);
        assert!(order.order.len() as u64 <= MAX_ORDER_LEN + 1);
        let counts = counts(&order, order.order.len(), 2);
        assert!(counts[1] >= 1 && counts[0] > counts[1] * 1000);
    }
}
