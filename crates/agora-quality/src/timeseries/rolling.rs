//! Order statistics over windows of a series: the largest of the last values as each one
//! arrives ([`WindowMax`]), and the quantiles of sorted values.

use std::collections::VecDeque;

/// The largest of the last `capacity` values, kept as a deque of the values no later one
/// exceeds (each value enters and leaves once: O(1) amortised).
#[derive(Debug, Clone)]
pub struct WindowMax {
    capacity: u64,
    pushed: u64,
    candidates: VecDeque<(u64, f64)>,
}

impl WindowMax {
    pub fn new(capacity: usize) -> WindowMax {
        WindowMax {
            capacity: capacity.max(1) as u64,
            pushed: 0,
            candidates: VecDeque::new(),
        }
    }

    pub fn push(&mut self, value: f64) {
        while self.candidates.back().is_some_and(|(_, v)| *v <= value) {
            self.candidates.pop_back();
        }
        self.candidates.push_back((self.pushed, value));
        self.pushed += 1;
        while self
            .candidates
            .front()
            .is_some_and(|(i, _)| *i + self.capacity < self.pushed)
        {
            self.candidates.pop_front();
        }
    }

    pub fn max(&self) -> Option<f64> {
        self.candidates.front().map(|(_, v)| *v)
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

    proptest! {
        #[test]
        fn the_window_max_is_the_largest_of_the_last_values(
            values in proptest::collection::vec(-1e6f64..1e6, 1..300),
            capacity in 1usize..64,
        ) {
            let mut window = WindowMax::new(capacity);
            for (i, v) in values.iter().enumerate() {
                window.push(*v);
                let kept = &values[(i + 1).saturating_sub(capacity)..=i];
                prop_assert_eq!(window.max(), kept.iter().copied().reduce(f64::max));
            }
        }

        #[test]
        fn a_quantile_lies_between_the_values_around_it(
            mut values in proptest::collection::vec(-1e6f64..1e6, 1..200),
            q in 0.0f64..1.0,
        ) {
            values.sort_by(f64::total_cmp);
            let v = quantile_of_sorted(&values, q).unwrap();
            prop_assert!(values[0] <= v && v <= values[values.len() - 1]);
            prop_assert_eq!(quantile_of_sorted(&values, 0.0), Some(values[0]));
            prop_assert_eq!(quantile_of_sorted(&values, 1.0), Some(values[values.len() - 1]));
        }
    }
}
