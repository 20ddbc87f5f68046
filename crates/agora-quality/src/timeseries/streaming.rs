//! The streaming anomaly detector: each value is judged against the values before it only.
//!
//! What a value is judged by is the stretch it ends: the last few values, at two lengths
//! (a short one for spikes and sudden changes, a long one for changes of shape and level),
//! compared with every earlier stretch of the series' recent past ([`NearestStretch`]). A
//! stretch like one seen before is ordinary however far it lies from the median — a nightly
//! batch job, a weekday's peak — and one unlike all of them is new. How new counts is judged
//! against the series itself: an alert needs the distance to the nearest earlier stretch, at
//! both lengths together, to pass the largest of the last few hundred such distances (the
//! idea of Numenta's "anomaly likelihood": a surprise unusual *for this series*). After an
//! alert the detector stays quiet for a while: one incident, one alert.
//!
//! Why this and not a rolling median with a robust z-score (the method before it): series
//! from machines repeat themselves (daily cycles, periodic jobs), and a distance from the
//! median calls every repetition an outlier; on the Numenta Anomaly Benchmark the stretch
//! search scores 63.7 and 68.1 where the median scored 45.8 and 45.6 (`docs/benchmarks.md`).

use std::collections::VecDeque;

use super::WindowMax;
use super::nearest_stretch::{Nearest, NearestStretch};

/// The detector's settings. One configuration serves every series (`Default`); the
/// benchmark in `docs/benchmarks.md` uses it unchanged for all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// The lengths of the stretches compared, shortest first.
    pub stretches: Vec<usize>,
    /// How many earlier stretches the nearest one is searched among.
    pub horizon: usize,
    /// How many of the latest nearest-stretch distances the bar is the largest of.
    pub memory: usize,
    /// No alert before this many values have been seen.
    pub warm_up: usize,
    /// An alert needs a distance this many times the bar.
    pub margin: f64,
    /// How many values after an alert raise no other.
    pub quiet_after_alert: usize,
}

impl Default for DetectorConfig {
    fn default() -> DetectorConfig {
        DetectorConfig {
            stretches: vec![20, 48],
            horizon: 5000,
            memory: 400,
            warm_up: 100,
            margin: 1.05,
            quiet_after_alert: 50,
        }
    }
}

/// The smallest bar, as a share of the range of the searched values per √(stretch length):
/// a series that repeated itself exactly so far makes its first wiggle new, but not a
/// rounding difference.
const BAR_FLOOR: f64 = 1e-3;

/// The detector's judgement of one value.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub value: f64,
    /// The newness over the bar: 0 for a stretch seen before, 1 at the bar (an alert needs
    /// more).
    pub score: f64,
    pub is_anomaly: bool,
    /// The range this value could have taken with the rest of its short stretch unchanged
    /// and stayed ordinary: the value the closest earlier stretch held here, give or take
    /// the bar. None until there is a stretch to compare with and a bar.
    pub expected: Option<(f64, f64)>,
    /// How many earlier values the judgement used.
    pub history: usize,
    /// What was surprising, for a person: empty for an ordinary value.
    pub reason: String,
}

/// One stretch length: its nearest-stretch search and the bar its distances set.
#[derive(Debug, Clone)]
struct Scale {
    search: NearestStretch,
    bar: WindowMax,
}

/// Scores a series value by value, keeping only bounded state: the last values searched,
/// one squared distance per earlier stretch and length, and the recent distances.
#[derive(Debug, Clone)]
pub struct StreamingDetector {
    config: DetectorConfig,
    values: VecDeque<f64>,
    kept: usize,
    /// The largest and (negated) the smallest of the last `horizon` values: their range.
    highest: WindowMax,
    lowest: WindowMax,
    scales: Vec<Scale>,
    seen: u64,
    quiet_until: u64,
}

impl StreamingDetector {
    pub fn new(config: DetectorConfig) -> StreamingDetector {
        let mut lengths = config.stretches.clone();
        lengths.sort_unstable();
        lengths.dedup();
        if lengths.is_empty() {
            lengths.push(1);
        }
        let scales: Vec<Scale> = lengths
            .iter()
            .map(|length| Scale {
                search: NearestStretch::new(*length, config.horizon),
                bar: WindowMax::new(config.memory),
            })
            .collect();
        let kept = scales
            .iter()
            .map(|s| s.search.values_needed())
            .max()
            .unwrap_or(1);
        StreamingDetector {
            values: VecDeque::with_capacity(kept + 1),
            kept,
            highest: WindowMax::new(config.horizon),
            lowest: WindowMax::new(config.horizon),
            scales,
            seen: 0,
            quiet_until: 0,
            config,
        }
    }

    /// Judges `value` against the values before it, then remembers it. A value that is not
    /// a number is skipped: it neither raises an alert nor enters the history.
    pub fn observe(&mut self, value: f64) -> Verdict {
        let history = (self.seen as usize).min(self.config.horizon.max(1));
        if !value.is_finite() {
            return ordinary(value, history);
        }
        let spread = match (self.highest.max(), self.lowest.max()) {
            (Some(high), Some(minus_low)) => high + minus_low,
            _ => 0.0,
        };
        self.values.push_back(value);
        if self.values.len() > self.kept {
            self.values.pop_front();
        }
        self.seen += 1;
        let index = self.seen - 1;
        let warm = index >= self.config.warm_up as u64;
        // Every scale advances (and its bar learns) whether or not a verdict can be given.
        let judged: Vec<Option<(usize, Nearest, f64)>> = self
            .scales
            .iter_mut()
            .map(|scale| {
                let nearest = scale.search.advance(&self.values, self.seen);
                let length = scale.search.length();
                let floor = BAR_FLOOR * spread * (length as f64).sqrt();
                let bar = scale.bar.max().map(|b| b.max(floor));
                if warm && let Some(n) = nearest {
                    scale.bar.push(n.distance);
                }
                Some((length, nearest?, bar?))
            })
            .collect();
        self.highest.push(value);
        self.lowest.push(-value);
        match judged.into_iter().collect::<Option<Vec<_>>>() {
            Some(judged) => self.verdict(value, history, warm, &judged),
            None => ordinary(value, history),
        }
    }

    /// The verdict once every scale has a nearest earlier stretch and a bar (shortest first).
    fn verdict(
        &mut self,
        value: f64,
        history: usize,
        warm: bool,
        judged: &[(usize, Nearest, f64)],
    ) -> Verdict {
        let ratios: Vec<(usize, f64)> = judged
            .iter()
            .map(|(length, nearest, bar)| (*length, newness(nearest.distance, *bar)))
            .collect();
        let (short, nearest, bar) = judged[0];
        // The values before this one are in the buffer: the lag counts back from it.
        let held = self.values[self.values.len() - 1 - nearest.lag];
        let reach = self.config.margin * bar;
        let expected = Some((held - reach, held + reach));
        let score = geometric_mean(ratios.iter().map(|r| r.1)) / self.config.margin;
        let is_anomaly = warm && score > 1.0 && self.seen > self.quiet_until;
        if is_anomaly {
            self.quiet_until = self.seen + self.config.quiet_after_alert as u64;
        }
        let reason = if !is_anomaly {
            String::new()
        } else if (value - held).abs() > reach {
            format!(
                "value {value} is outside the expected {:.6}..{:.6} (the closest earlier stretch of {short} values held {held} here; the last {history} values searched)",
                held - reach,
                held + reach,
            )
        } else {
            let lengths: Vec<String> = ratios
                .iter()
                .map(|(length, ratio)| format!("the last {length} values {ratio:.1}×"))
                .collect();
            format!(
                "a stretch unlike any of the last {history} values: {} as far from the closest earlier stretch as the farthest of the last {} were",
                lengths.join(", "),
                self.config.memory,
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
}

/// How many times the bar a distance is; a distance where the bar is zero (a series that
/// so far repeated itself exactly, with nothing to set a floor) is as new as can be.
fn newness(distance: f64, bar: f64) -> f64 {
    const AS_NEW_AS_CAN_BE: f64 = 1e12;
    if distance == 0.0 {
        0.0
    } else if bar == 0.0 {
        AS_NEW_AS_CAN_BE
    } else {
        (distance / bar).min(AS_NEW_AS_CAN_BE)
    }
}

fn geometric_mean(ratios: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = ratios.len().max(1) as f64;
    let mut log_sum = 0.0;
    for r in ratios {
        if r == 0.0 {
            return 0.0;
        }
        log_sum += r.ln();
    }
    (log_sum / n).exp()
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
    fn a_sensor_stuck_inside_its_usual_range_is_found() {
        // A daily cycle; from value 1500 the sensor repeats its last reading, a value the
        // cycle passes through every day: no value is out of range, the shape is new.
        let cycle = |i: usize| 20.0 + 5.0 * (i as f64 * std::f64::consts::TAU / 96.0).sin();
        let found = alerts((0..2000).map(|i| {
            if i < 1500 {
                cycle(i) + wiggle(i) / 10.0
            } else {
                cycle(1500)
            }
        }));
        assert!(
            found.iter().any(|i| (1500..1560).contains(i)),
            "the stuck reading was not flagged: {found:?}"
        );
        assert!(found.iter().all(|i| *i < 400 || *i >= 1500), "{found:?}");
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
