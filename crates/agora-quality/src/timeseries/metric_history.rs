//! A batch metric judged against its own history: the range the earlier batches make it
//! expect, and whether the new value falls outside it.
//!
//! The reference is robust and seasonal: with at least three earlier batches on the same
//! weekday over two weeks or more, the latest of those (weekly season); otherwise the latest
//! [`RECENT`] batches, so that a slow trend moves the reference with it. The expected range is
//! the reference's median ± [`SPREAD`] scaled median absolute deviations, widened to a floor so
//! that a metric that never moved does not flag noise: for a ratio over `n` rows, three binomial
//! standard deviations (with the ratio kept at least `1/n` from 0 and 1, so one null in a
//! column that never had any is within reach of chance), and at least half a percentage point;
//! for other metrics 5% of the median. This stands in for a seasonal decomposition (MSTL):
//! batches arrive irregularly and a table has tens of them, not the long regular series a
//! decomposition needs.

use chrono::{DateTime, Datelike, Utc};

use super::quantile_of_sorted;

/// Fewer earlier batches than this and a metric is not judged.
pub const MIN_HISTORY: usize = 8;
/// How many of the latest batches make the reference without a weekly season.
pub const RECENT: usize = 30;
/// Half the expected range, in scaled median absolute deviations.
pub const SPREAD: f64 = 4.0;

/// What a metric's history expected of a new value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricJudgement {
    pub low: f64,
    pub high: f64,
    /// The reference's median.
    pub typical: f64,
    pub is_anomaly: bool,
    /// How many earlier batches the reference holds.
    pub history: usize,
    /// Whether the reference is the same weekday's batches.
    pub seasonal: bool,
}

/// Judges `value`, measured at `at`, against `history` (earlier batches' `(time, value)`,
/// oldest first); a `ratio` metric is a share of `rows` rows. `None` with too little history.
pub fn judge_metric(
    history: &[(DateTime<Utc>, f64)],
    at: DateTime<Utc>,
    value: f64,
    ratio: Option<u64>,
) -> Option<MetricJudgement> {
    if history.len() < MIN_HISTORY {
        return None;
    }
    let same_weekday: Vec<f64> = history
        .iter()
        .filter(|(t, _)| t.weekday() == at.weekday())
        .map(|(_, v)| *v)
        .collect();
    let span_days = (at - history[0].0).num_days();
    let seasonal = same_weekday.len() >= 3 && span_days >= 14;
    let mut reference: Vec<f64> = if seasonal {
        same_weekday[same_weekday.len().saturating_sub(MIN_HISTORY)..].to_vec()
    } else {
        history[history.len().saturating_sub(RECENT)..]
            .iter()
            .map(|(_, v)| *v)
            .collect()
    };
    reference.sort_by(f64::total_cmp);
    let typical = quantile_of_sorted(&reference, 0.5)?;
    let mut deviations: Vec<f64> = reference.iter().map(|v| (v - typical).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    let mad = quantile_of_sorted(&deviations, 0.5)?;
    let floor = match ratio {
        Some(rows) => {
            let n = rows.max(1) as f64;
            // Kept off 0 and 1 by one row's share, at most a half (a batch of one row).
            let one_row = (1.0 / n).min(0.5);
            let p = typical.clamp(0.0, 1.0).clamp(one_row, 1.0 - one_row);
            (3.0 * (p * (1.0 - p) / n).sqrt()).max(0.005)
        }
        None => 0.05 * typical.abs(),
    };
    let half = (SPREAD * 1.4826 * mad).max(floor).max(f64::EPSILON);
    let (mut low, mut high) = (typical - half, typical + half);
    if ratio.is_some() {
        (low, high) = (low.max(0.0), high.min(1.0));
    }
    Some(MetricJudgement {
        low,
        high,
        typical,
        is_anomaly: value < low || value > high,
        history: reference.len(),
        seasonal,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn daily(values: &[f64]) -> Vec<(DateTime<Utc>, f64)> {
        let start = Utc.with_ymd_and_hms(2026, 1, 5, 6, 0, 0).unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + Duration::days(i as i64), *v))
            .collect()
    }

    #[test]
    fn a_batch_of_one_row_is_judged_like_any_other() {
        // A ratio of a one-row batch once made the band's clamp panic (its bounds crossed),
        // failing the ingest of every single-row batch once a table had a history.
        let history = daily(&[0.0; 30]);
        let at = history.last().unwrap().0 + Duration::days(1);
        // One row's ratio is 0 or 1 and says nothing about the table's usual share: the band
        // is the whole range.
        for value in [0.0, 1.0] {
            let judged = judge_metric(&history, at, value, Some(1)).unwrap();
            assert!(!judged.is_anomaly);
            assert_eq!((judged.low, judged.high), (0.0, 1.0));
        }
    }

    #[test]
    fn a_jump_in_a_steady_ratio_is_flagged_and_its_noise_is_not() {
        let history = daily(&[
            0.002, 0.003, 0.002, 0.001, 0.002, 0.003, 0.002, 0.002, 0.001,
        ]);
        let at = history.last().unwrap().0 + Duration::days(1);
        let jump = judge_metric(&history, at, 0.41, Some(1000)).unwrap();
        assert!(jump.is_anomaly);
        assert!(jump.low >= 0.0 && jump.high < 0.02, "{jump:?}");
        assert!(
            !judge_metric(&history, at, 0.004, Some(1000))
                .unwrap()
                .is_anomaly
        );
        assert!(
            judge_metric(&history[..5], at, 0.41, Some(1000)).is_none(),
            "too little history"
        );
        // In a small batch one null in a column that never had one is within chance.
        let never = daily(&[0.0; 10]);
        assert!(
            !judge_metric(&never, at, 1.0 / 48.0, Some(48))
                .unwrap()
                .is_anomaly
        );
        assert!(judge_metric(&never, at, 0.5, Some(48)).unwrap().is_anomaly);
    }

    #[test]
    fn a_weekly_pattern_is_expected_on_its_weekday() {
        // Weekend volumes are a tenth of weekday ones.
        let volumes: Vec<f64> = (0..28)
            .map(|d| {
                if d % 7 >= 5 {
                    100.0 + d as f64
                } else {
                    1000.0 + d as f64
                }
            })
            .collect();
        let history = daily(&volumes);
        // Day 28 is a Monday: a weekday volume is expected, a weekend one is not.
        let monday = history[0].0 + Duration::days(28);
        assert!(
            !judge_metric(&history, monday, 1030.0, None)
                .unwrap()
                .is_anomaly
        );
        let low = judge_metric(&history, monday, 120.0, None).unwrap();
        assert!(low.is_anomaly && low.seasonal, "{low:?}");
        // And on a Saturday the low volume is the expected one.
        let saturday = history[0].0 + Duration::days(33);
        assert!(
            !judge_metric(&history, saturday, 130.0, None)
                .unwrap()
                .is_anomaly
        );
    }
}
