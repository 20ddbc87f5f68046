//! How unlike everything before it the latest stretch of a series is: the Euclidean distance
//! from its last `length` values to the closest stretch of as many values among the earlier
//! ones (the "left matrix profile" of time-series data mining, kept one value at a time).
//!
//! A stretch that has happened before — tonight's nightly batch job, a weekday's morning
//! peak — is near an earlier one however far it lies from the median; a shape the series has
//! never made is far from all of them. The distances are not normalised: a stretch at a new
//! level is new, which is what a level shift is.
//!
//! Written here because no maintained crate keeps a streaming matrix profile with bounded
//! memory (the `augurs` crates forecast and decompose, they do not search subsequences). The
//! squared distance to each earlier stretch is kept per lag and updated in O(1) as a value
//! arrives (the newest pair enters, the oldest leaves), so a value costs O(horizon), not
//! O(horizon × length); the sums are recomputed exactly once every `horizon` values so that
//! rounding cannot build up.

use std::collections::VecDeque;

/// The nearest earlier stretch of one length, over a bounded horizon.
#[derive(Debug, Clone)]
pub(crate) struct NearestStretch {
    length: usize,
    horizon: usize,
    /// `squares[k]`: the squared distance between the latest stretch and the one `length + k`
    /// values before it (lags below `length` would overlap the latest stretch itself).
    squares: Vec<f64>,
}

/// The closest earlier stretch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Nearest {
    pub distance: f64,
    /// How many values before the latest one the closest stretch ends.
    pub lag: usize,
}

impl NearestStretch {
    pub fn new(length: usize, horizon: usize) -> NearestStretch {
        let length = length.max(1);
        let horizon = horizon.max(1);
        NearestStretch {
            length,
            horizon,
            squares: vec![0.0; horizon],
        }
    }

    pub fn length(&self) -> usize {
        self.length
    }

    /// How many values a caller must keep for this search: the latest stretch, the
    /// farthest one searched and the values leaving both.
    pub fn values_needed(&self) -> usize {
        2 * self.length + self.horizon
    }

    /// Takes in the value just pushed to `values` (the series' last values, at least
    /// [`Self::values_needed`] of them once that many have arrived; `seen` values in all, the
    /// newest last) and returns the closest complete earlier stretch, if there is one yet.
    pub fn advance(&mut self, values: &VecDeque<f64>, seen: u64) -> Option<Nearest> {
        let first = seen - values.len() as u64;
        let at = |t: u64| values[(t - first) as usize];
        let e = seen - 1;
        let w = self.length as u64;
        let exact = e > 0 && e.is_multiple_of(self.horizon as u64);
        let mut best: Option<Nearest> = None;
        for (k, square) in self.squares.iter_mut().enumerate() {
            let lag = w + k as u64;
            if e < lag {
                // Nothing this far back yet, nor for any longer lag.
                break;
            }
            if exact {
                let from = e.saturating_sub(w - 1).max(lag);
                *square = (from..=e).map(|t| (at(t) - at(t - lag)).powi(2)).sum();
            } else {
                *square += (at(e) - at(e - lag)).powi(2);
                if e >= w + lag {
                    *square -= (at(e - w) - at(e - w - lag)).powi(2);
                }
            }
            // The earlier stretch is whole once its first value exists.
            if e + 1 >= lag + w {
                let distance = square.max(0.0).sqrt();
                if best.is_none_or(|b| distance < b.distance) {
                    best = Some(Nearest {
                        distance,
                        lag: lag as usize,
                    });
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn brute_force(series: &[f64], length: usize, horizon: usize) -> Option<f64> {
        let e = series.len() - 1;
        let latest = |t: usize| series[e + 1 - length + t];
        (length..length + horizon)
            .filter(|lag| e + 1 >= lag + length)
            .map(|lag| {
                (0..length)
                    .map(|t| (latest(t) - series[e + 1 - length - lag + t]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            })
            .min_by(f64::total_cmp)
    }

    #[test]
    fn a_repeating_pattern_has_a_stretch_just_like_it_one_period_back() {
        let mut search = NearestStretch::new(4, 50);
        let mut values = VecDeque::new();
        let mut last = None;
        for i in 0..60u64 {
            values.push_back([1.0, 5.0, 2.0, 8.0, 3.0][i as usize % 5]);
            last = search.advance(&values, i + 1);
        }
        let nearest = last.unwrap();
        assert_eq!(nearest.distance, 0.0);
        assert_eq!(nearest.lag, 5);
    }

    proptest! {
        #[test]
        fn the_kept_distance_is_the_one_a_full_search_finds(
            series in proptest::collection::vec(-1e3f64..1e3, 1..260),
            length in 1usize..9,
            horizon in 1usize..40,
        ) {
            let mut search = NearestStretch::new(length, horizon);
            let mut values = VecDeque::new();
            for (i, v) in series.iter().enumerate() {
                values.push_back(*v);
                if values.len() > search.values_needed() {
                    values.pop_front();
                }
                let kept = search.advance(&values, i as u64 + 1).map(|n| n.distance);
                let full = brute_force(&series[..=i], length, horizon);
                match (kept, full) {
                    (Some(k), Some(f)) => prop_assert!((k - f).abs() <= 1e-6 * (1.0 + f), "{k} {f}"),
                    (k, f) => prop_assert_eq!(k, f),
                }
            }
        }
    }
}
