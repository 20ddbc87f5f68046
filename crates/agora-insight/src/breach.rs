//! Predicted breaches: how many checks ahead a quality metric, at its current trend, stops
//! meeting its rule. The history is one value per check (a batch's null ratio, row count, or
//! time since the batch before), so the series has no calendar: steps are checks, and the
//! caller turns them into time at the table's usual pace.

use agora_quality::rules::{Band, Comparison};

use crate::{InsightError, fit};

/// The fewest checks a prediction is made from: fewer say nothing about a trend.
pub const MIN_CHECKS: usize = 10;

/// The most recent checks a prediction is made from.
pub const MAX_CHECKS: usize = 500;

/// The prediction level of the interval around a breach, in percent.
pub const BREACH_LEVEL: u32 = 80;

/// When a rule is forecast to break.
#[derive(Debug, Clone, PartialEq)]
pub struct BreachForecast {
    /// Checks ahead (1: the next one) at which the point forecast first breaks the rule.
    pub checks: usize,
    /// The first check at which the 80% interval reaches the breach.
    pub earliest: usize,
    /// The first check at which the whole 80% interval breaks the rule; `None` when that is
    /// beyond the checks looked at.
    pub latest: Option<usize>,
    /// How many checks ahead were looked at.
    pub horizon: usize,
    /// The model as fitted, and the point forecast at the breach.
    pub model: String,
    pub value: f64,
}

/// The breach of `comparison` the metric's history `values` (oldest first) is heading for,
/// if its point forecast breaks the rule within as many checks as the history holds (at
/// least [`MIN_CHECKS`], at most 60). `None` when the history is shorter than
/// [`MIN_CHECKS`], when the latest value already breaks the rule (that is an incident, not a
/// prediction), for an equality rule (a continuous forecast never meets `mustBe` exactly),
/// or when the forecast stays within the rule.
pub fn predict_breach(
    values: &[f64],
    comparison: &Comparison,
) -> Result<Option<BreachForecast>, InsightError> {
    let values = &values[values.len().saturating_sub(MAX_CHECKS)..];
    let Some(&latest) = values.last() else {
        return Ok(None);
    };
    if values.len() < MIN_CHECKS
        || !comparison.holds(latest)
        || matches!(comparison, Comparison::MustBe(_) | Comparison::MustNotBe(_))
    {
        return Ok(None);
    }
    let horizon = values.len().clamp(MIN_CHECKS, 60);
    let fitted = fit(values, &[], horizon, &[BREACH_LEVEL])?;
    let p = &fitted.prediction;
    let band = p.bands.first().ok_or_else(|| InsightError::ModelFailed {
        model: p.model.clone(),
        why: "it gave no interval".into(),
    })?;
    let first = |judge: &dyn Fn(usize) -> bool| (0..horizon).find(|h| judge(*h));
    let Some(point) = first(&|h| comparison.band(p.point[h], p.point[h]) == Band::Breaks) else {
        return Ok(None);
    };
    let earliest =
        first(&|h| comparison.band(band.lower[h], band.upper[h]) != Band::Holds).unwrap_or(point);
    let latest = first(&|h| comparison.band(band.lower[h], band.upper[h]) == Band::Breaks);
    Ok(Some(BreachForecast {
        checks: point + 1,
        earliest: earliest.min(point) + 1,
        latest: latest.map(|l| l.max(point) + 1),
        horizon,
        model: p.model.clone(),
        value: p.point[point],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A null ratio creeping up by about 0.25 points a check from 1%, with a little noise.
    fn creeping(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 1.0 + 0.25 * i as f64 + [0.05, -0.04, 0.02, -0.03, 0.0][i % 5])
            .collect()
    }

    #[test]
    fn a_rising_null_ratio_is_predicted_to_pass_its_limit_with_an_interval_around_it() {
        // 20 checks reach about 5.75%; the limit of 9% is about 13 checks further on.
        let b = predict_breach(&creeping(20), &Comparison::LessThan(9.0))
            .unwrap()
            .expect("a steady climb towards the limit is a predicted breach");
        assert!((10..=17).contains(&b.checks), "{b:?}");
        assert!(b.earliest <= b.checks, "{b:?}");
        assert!(b.latest.is_none_or(|l| l >= b.checks), "{b:?}");
        assert!(b.value >= 9.0, "{b:?}");
        // Beyond the 20 checks looked at, nothing is said.
        assert_eq!(
            predict_breach(&creeping(20), &Comparison::LessThan(12.0)).unwrap(),
            None
        );
    }

    #[test]
    fn a_flat_metric_or_one_heading_away_is_no_breach() {
        let flat: Vec<f64> = (0..30).map(|i| 2.0 + [0.1, -0.1][i % 2]).collect();
        assert_eq!(
            predict_breach(&flat, &Comparison::LessThan(5.0)).unwrap(),
            None
        );
        let falling: Vec<f64> = creeping(30).iter().map(|v| 10.0 - v).collect();
        assert_eq!(
            predict_breach(&falling, &Comparison::LessThan(12.0)).unwrap(),
            None
        );
    }

    #[test]
    fn a_falling_row_count_is_predicted_to_drop_below_its_floor() {
        let rows: Vec<f64> = (0..30).map(|i| 1000.0 - 20.0 * i as f64).collect();
        let b = predict_breach(&rows, &Comparison::GreaterOrEqualTo(200.0))
            .unwrap()
            .expect("a steady fall towards the floor is a predicted breach");
        // 1000 - 20 × 29 = 420 now: 200 is 11 checks further, give or take the fit.
        assert!((9..=14).contains(&b.checks), "{b:?}");
    }

    #[test]
    fn too_short_a_history_an_open_breach_and_equality_rules_predict_nothing() {
        let short = creeping(MIN_CHECKS - 1);
        assert_eq!(
            predict_breach(&short, &Comparison::LessThan(5.0)).unwrap(),
            None
        );
        // The latest check already failed: an incident is open, nothing is predicted.
        assert_eq!(
            predict_breach(&creeping(30), &Comparison::LessThan(3.0)).unwrap(),
            None
        );
        assert_eq!(
            predict_breach(&creeping(30), &Comparison::MustBe(0.0)).unwrap(),
            None
        );
        assert_eq!(
            predict_breach(&[], &Comparison::LessThan(3.0)).unwrap(),
            None
        );
    }

    #[test]
    fn a_constant_history_predicts_nothing_and_a_non_finite_value_is_refused() {
        assert_eq!(
            predict_breach(&[1.0; 20], &Comparison::LessThan(5.0)).unwrap(),
            None
        );
        let mut bad = creeping(20);
        bad[3] = f64::NAN;
        assert!(predict_breach(&bad, &Comparison::LessThan(50.0)).is_err());
    }
}
