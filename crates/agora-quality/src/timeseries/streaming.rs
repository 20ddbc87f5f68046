//! The streaming anomaly detector: each value is judged against the values before it only.
//!
//! A point's surprise is how far it lies from the recent history in robust units (distance
//! from the median over the scaled median absolute deviation), at two time scales: the value
//! itself (spikes) and the mean of the last few values (level shifts and slow drifts a single
//! point hides in noise). A series that is always noisy would make every spike look alike, so
//! the surprise is judged a second time against the detector's own past surprises (the idea
//! of Numenta's "anomaly likelihood"): what counts is a surprise unusual *for this series*.
//! After an alert the detector stays quiet for a while — one incident, one alert.

use super::RollingWindow;

/// The detector's settings. One configuration serves every series (`Default`); the
/// benchmark in `docs/benchmarks.md` uses it unchanged for all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// How many earlier values a point is compared with.
    pub history: usize,
    /// No alert before this many values have been seen.
    pub warm_up: usize,
    /// The number of recent values whose mean is the level compared with the history.
    pub level_span: usize,
    /// The robust distance (in scaled MADs) at which a single value is surprising.
    pub point_threshold: f64,
    /// The robust distance at which the recent level is surprising.
    pub level_threshold: f64,
    /// How many values after an alert raise no other.
    pub quiet_after_alert: usize,
    /// An alert needs a surprise this many times the largest of the last `history` ones.
    pub record_margin: f64,
}

impl Default for DetectorConfig {
    fn default() -> DetectorConfig {
        DetectorConfig {
            history: 500,
            warm_up: 100,
            level_span: 24,
            point_threshold: 2.0,
            level_threshold: 1.0,
            quiet_after_alert: 100,
            record_margin: 1.0,
        }
    }
}

/// The detector's judgement of one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub value: f64,
    /// The surprise over the bar: 0 for the median itself, 1 at the bar (an alert needs more:
    /// a surprise equal to an earlier one is nothing new).
    pub score: f64,
    pub is_anomaly: bool,
    /// The range of values the history made ordinary, when there was enough of it.
    pub expected: Option<(f64, f64)>,
    /// How many earlier values the judgement used.
    pub history: usize,
    /// What was surprising, for a person: empty for an ordinary value.
    pub reason: String,
}

/// Scores a series value by value, keeping only bounded state.
#[derive(Debug, Clone)]
pub struct StreamingDetector {
    config: DetectorConfig,
    history: RollingWindow,
    recent: RollingWindow,
    surprises: RollingWindow,
    seen: u64,
    quiet_until: u64,
}

impl StreamingDetector {
    pub fn new(config: DetectorConfig) -> StreamingDetector {
        StreamingDetector {
            history: RollingWindow::new(config.history),
            recent: RollingWindow::new(config.level_span),
            surprises: RollingWindow::new(config.history),
            seen: 0,
            quiet_until: 0,
            config,
        }
    }

    /// Judges `value` against the values before it, then remembers it.
    pub fn observe(&mut self, value: f64) -> Verdict {
        self.seen += 1;
        if !value.is_finite() {
            return ordinary(value, self.history.len());
        }
        self.recent.push(value);
        let verdict = self.judge(value);
        self.history.push(value);
        verdict
    }

    fn judge(&mut self, value: f64) -> Verdict {
        let history = self.history.len();
        let Some((median, mad)) = self.history.median_and_mad() else {
            return ordinary(value, history);
        };
        let scale = self.scale(median, mad);
        let point = (value - median).abs() / scale / self.config.point_threshold;
        let level_mean = self.recent.mean().unwrap_or(value);
        let level = (level_mean - median).abs() / scale / self.config.level_threshold;
        let surprise = point.max(level);
        // The bar: the threshold, or the largest recent surprise if this series has had larger.
        let bar =
            (self.surprises.quantile(1.0).unwrap_or(0.0) * self.config.record_margin).max(1.0);
        let score = surprise / bar;
        let reach = self.config.point_threshold * scale * bar;
        let expected = Some((median - reach, median + reach));
        let warm = history >= self.config.warm_up;
        // Surprises against a history too short to mean anything would set the bar forever.
        if warm {
            self.surprises.push(surprise);
        }
        let is_anomaly = warm && score > 1.0 && self.seen > self.quiet_until;
        if is_anomaly {
            self.quiet_until = self.seen + self.config.quiet_after_alert as u64;
        }
        let reason = if score <= 1.0 || !warm {
            String::new()
        } else if point >= level {
            format!(
                "value {value} is outside the expected {:.6}..{:.6} (median {median} of the last {history} values, {:.1} robust deviations away)",
                median - reach,
                median + reach,
                point * self.config.point_threshold
            )
        } else {
            format!(
                "the mean {level_mean:.6} of the last {} values moved {:.1} robust deviations from the median {median} of the last {history} values",
                self.recent.len(),
                level * self.config.level_threshold
            )
        };
        Verdict {
            value,
            score,
            is_anomaly,
            expected,
            history,
            reason,
        }
    }

    /// The robust unit of distance: the MAD scaled to a normal standard deviation, but never
    /// so small that a flat series makes its first wiggle an incident.
    fn scale(&self, median: f64, mad: f64) -> f64 {
        let spread = match (self.history.quantile(0.99), self.history.quantile(0.01)) {
            (Some(high), Some(low)) => high - low,
            _ => 0.0,
        };
        (1.4826 * mad)
            .max(0.01 * spread)
            .max(1e-3 * median.abs())
            .max(1e-9)
    }
}

/// The verdict on a value nothing can be said of: not a number, or nothing to compare it with.
fn ordinary(value: f64, history: usize) -> Verdict {
    Verdict {
        value,
        score: 0.0,
        is_anomaly: false,
        expected: None,
        history,
        reason: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(values: impl IntoIterator<Item = f64>) -> Vec<usize> {
        let mut detector = StreamingDetector::new(DetectorConfig::default());
        values
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| detector.observe(v).is_anomaly.then_some(i))
            .collect()
    }

    fn wiggle(i: usize) -> f64 {
        ((i * 37) % 11) as f64 / 10.0
    }

    #[test]
    fn a_level_shift_raises_one_alert_where_it_starts() {
        let found = alerts((0..800).map(|i| wiggle(i) + if i >= 600 { 5.0 } else { 0.0 }));
        assert_eq!(found, vec![600]);
    }

    #[test]
    fn spikes_a_series_always_has_are_not_incidents() {
        // A spike of the same height every 50 values: after the first few, nothing new.
        let found = alerts((0..2000).map(|i| if i % 50 == 0 { 30.0 } else { wiggle(i) }));
        assert!(found.iter().all(|i| *i < 400), "{found:?}");
    }

    #[test]
    fn values_that_are_not_numbers_are_skipped_not_alerted() {
        let mut detector = StreamingDetector::new(DetectorConfig::default());
        for i in 0..200 {
            detector.observe(wiggle(i));
        }
        let verdict = detector.observe(f64::NAN);
        assert!(!verdict.is_anomaly);
        assert_eq!(verdict.history, 200);
    }
}
