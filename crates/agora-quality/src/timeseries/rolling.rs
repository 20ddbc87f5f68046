//! A window over the last `capacity` values of a series that answers order statistics
//! (median, quantiles, median absolute deviation) as each value arrives.
//!
//! The values are kept twice: in arrival order, to know which one leaves, and sorted, for
//! the quantiles. An insertion or removal is a binary search and a shift of the sorted copy:
//! O(capacity) moves of eight bytes, which for the few thousand values a detector keeps is
//! well under a microsecond and needs no tree or heap pair.

use std::collections::VecDeque;

/// The last values of a series, with their order statistics.
#[derive(Debug, Clone)]
pub struct RollingWindow {
    capacity: usize,
    arrived: VecDeque<f64>,
    sorted: Vec<f64>,
    sum: f64,
}

impl RollingWindow {
    /// A window of at most `capacity` values (at least one).
    pub fn new(capacity: usize) -> RollingWindow {
        let capacity = capacity.max(1);
        RollingWindow {
            capacity,
            arrived: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
            sum: 0.0,
        }
    }

    /// Adds a value, dropping the oldest one when the window is full. Values that are not
    /// finite are not kept: a quantile of NaN means nothing.
    pub fn push(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        if self.arrived.len() == self.capacity
            && let Some(oldest) = self.arrived.pop_front()
        {
            let at = self.sorted.partition_point(|v| *v < oldest);
            self.sorted.remove(at);
            self.sum -= oldest;
        }
        let at = self.sorted.partition_point(|v| *v < value);
        self.sorted.insert(at, value);
        self.arrived.push_back(value);
        self.sum += value;
    }

    pub fn len(&self) -> usize {
        self.arrived.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arrived.is_empty()
    }

    /// The values from oldest to newest.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = f64> + ExactSizeIterator + '_ {
        self.arrived.iter().copied()
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.sum / self.len() as f64)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1), interpolated between the two nearest values.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantile_of_sorted(&self.sorted, q)
    }

    pub fn median(&self) -> Option<f64> {
        self.quantile(0.5)
    }

    /// The median and the median absolute deviation from it.
    pub fn median_and_mad(&self) -> Option<(f64, f64)> {
        let median = self.median()?;
        // The deviations of a sorted list from its median are two sorted runs (left of the
        // median descending, right ascending); merging them finds the middle one in O(n).
        let split = self.sorted.partition_point(|v| *v < median);
        let (mut left, mut right) = (split, split);
        let target = self.sorted.len() / 2;
        let mut taken = 0;
        let mut last = 0.0;
        let mut before_last = 0.0;
        while taken <= target {
            let from_left = left.checked_sub(1).map(|i| median - self.sorted[i]);
            let from_right = self.sorted.get(right).map(|v| v - median);
            before_last = last;
            last = match (from_left, from_right) {
                (Some(l), Some(r)) if l <= r => {
                    left -= 1;
                    l
                }
                (_, Some(r)) => {
                    right += 1;
                    r
                }
                (Some(l), None) => {
                    left -= 1;
                    l
                }
                (None, None) => break,
            };
            taken += 1;
        }
        let mad = if self.sorted.len().is_multiple_of(2) {
            (last + before_last) / 2.0
        } else {
            last
        };
        Some((median, mad))
    }
}

/// The `q`-quantile of sorted values, interpolated linearly (the "type 7" definition of R
/// and NumPy's default).
pub fn quantile_of_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    Some(sorted[below] + (sorted[above] - sorted[below]) * fraction)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sorted_copy(values: &[f64]) -> Vec<f64> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    fn mad_by_sorting(values: &[f64]) -> f64 {
        let sorted = sorted_copy(values);
        let median = quantile_of_sorted(&sorted, 0.5).unwrap();
        let deviations: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        quantile_of_sorted(&sorted_copy(&deviations), 0.5).unwrap()
    }

    #[test]
    fn the_oldest_value_leaves_a_full_window() {
        let mut window = RollingWindow::new(3);
        for v in [1.0, 2.0, 3.0, 100.0] {
            window.push(v);
        }
        assert_eq!(window.values().collect::<Vec<_>>(), vec![2.0, 3.0, 100.0]);
        assert_eq!(window.median(), Some(3.0));
        assert_eq!(window.mean(), Some(35.0));
    }

    #[test]
    fn values_that_are_not_finite_are_not_kept() {
        let mut window = RollingWindow::new(4);
        window.push(f64::NAN);
        window.push(f64::INFINITY);
        window.push(2.0);
        assert_eq!(window.len(), 1);
        assert_eq!(window.median_and_mad(), Some((2.0, 0.0)));
    }

    proptest! {
        #[test]
        fn order_statistics_match_a_full_sort(
            values in proptest::collection::vec(-1e6f64..1e6, 1..200),
            capacity in 1usize..64,
            q in 0.0f64..1.0,
        ) {
            let mut window = RollingWindow::new(capacity);
            for v in &values {
                window.push(*v);
            }
            let kept = &values[values.len().saturating_sub(capacity)..];
            let sorted = sorted_copy(kept);
            prop_assert_eq!(window.quantile(q), quantile_of_sorted(&sorted, q));
            let (_, mad) = window.median_and_mad().unwrap();
            prop_assert!((mad - mad_by_sorting(kept)).abs() <= 1e-9 * (1.0 + mad.abs()));
        }
    }
}
