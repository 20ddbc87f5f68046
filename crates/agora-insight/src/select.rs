//! Which model forecasts a series: the candidates its length and seasons allow, each scored
//! by rolling-origin cross-validation (fitted on the history up to an origin, judged on the
//! values after it, for several origins), the lowest mean scaled error chosen.

use crate::InsightError;
use crate::models::{Candidate, Prediction};

/// How many origins the backtest uses, when the history allows.
pub const FOLDS: usize = 3;

/// One candidate's backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub candidate: String,
    /// Mean absolute scaled error over the folds (1 = as good in-sample as the seasonal
    /// naive forecast one step ahead); None when the candidate could not be scored.
    pub mase: Option<f64>,
    /// Symmetric mean absolute percentage error over the folds, in percent.
    pub smape: Option<f64>,
    /// How far the folds' errors reached past the candidate's own intervals: the root mean
    /// square of each error over the standard deviation its 80% interval implies (1: as the
    /// model said; 1.5: half as wide again). None when no interval had a width.
    pub spread: Option<f64>,
    /// Why the candidate was not scored.
    pub error: Option<String>,
}

/// The candidates for a series of `n` values with seasonal `periods` (longest last not
/// required), simplest first: ties go to the simpler model. A `positive` series also has
/// MSTL of its logarithms (seasons that swing in proportion to the level).
pub fn candidates(n: usize, periods: &[usize], positive: bool) -> Vec<Candidate> {
    let mut out = vec![Candidate::SeasonalNaive { period: 1 }];
    if let Some(first) = periods.first() {
        out.push(Candidate::SeasonalNaive { period: *first });
    }
    out.push(Candidate::AutoEts);
    let mut sets: Vec<Vec<usize>> = periods.iter().map(|p| vec![*p]).collect();
    if periods.len() > 1 {
        sets.push(periods.to_vec());
    }
    for log in [false, true] {
        if log && !positive {
            continue;
        }
        for set in &sets {
            out.push(Candidate::Mstl {
                periods: set.clone(),
                log,
            });
        }
    }
    out.retain(|c| c.needs() <= n);
    out
}

/// The backtest of every candidate over `history`, `horizon` values ahead (shortened to a
/// fifth of the history when that is less), with errors scaled by the in-sample error of
/// the seasonal naive forecast of period `scale_period`.
pub fn backtest(
    history: &[f64],
    horizon: usize,
    scale_period: usize,
    candidates: &[Candidate],
) -> Vec<Score> {
    let n = history.len();
    let step = horizon.min(n / 5).max(1);
    candidates
        .iter()
        .map(|candidate| {
            let origins: Vec<usize> = (1..=FOLDS)
                .map(|k| n.saturating_sub(k * step))
                .filter(|o| *o >= candidate.needs() && *o >= 2 * scale_period.max(1))
                .collect();
            if origins.is_empty() {
                return Score {
                    candidate: candidate.name(),
                    mase: None,
                    smape: None,
                    spread: None,
                    error: Some(format!(
                        "too little history to backtest ({n} values, {step} ahead)"
                    )),
                };
            }
            let mut mase = 0.0;
            let mut smape = 0.0;
            let mut standardised = Vec::new();
            for origin in &origins {
                let train = &history[..*origin];
                let actual = &history[*origin..(*origin + step).min(n)];
                let prediction = match candidate.forecast(train, actual.len(), &[CALIBRATION_LEVEL])
                {
                    Ok(p) => p,
                    Err(e) => {
                        return Score {
                            candidate: candidate.name(),
                            mase: None,
                            smape: None,
                            spread: None,
                            error: Some(e.to_string()),
                        };
                    }
                };
                mase += scaled_error(train, actual, &prediction.point, scale_period);
                smape += symmetric_percentage_error(actual, &prediction.point);
                standardised.extend(standardised_errors(candidate, actual, &prediction));
            }
            let spread = (!standardised.is_empty()).then(|| {
                (standardised.iter().map(|z| z * z).sum::<f64>() / standardised.len() as f64).sqrt()
            });
            Score {
                candidate: candidate.name(),
                mase: Some(mase / origins.len() as f64),
                smape: Some(smape / origins.len() as f64),
                spread,
                error: None,
            }
        })
        .collect()
}

/// The level of the intervals the backtest measures its errors against.
const CALIBRATION_LEVEL: u32 = 80;

/// Each error of a fold over the standard deviation the candidate's 80% interval implies, on
/// the scale the candidate models (logarithms for a model of them); steps whose interval has
/// no width say nothing and are left out.
fn standardised_errors(candidate: &Candidate, actual: &[f64], p: &Prediction) -> Vec<f64> {
    let Some(band) = p.bands.first() else {
        return Vec::new();
    };
    let z = crate::models::z_of(CALIBRATION_LEVEL);
    let scale = |v: f64| {
        if candidate.models_logarithms() {
            v.ln()
        } else {
            v
        }
    };
    actual
        .iter()
        .enumerate()
        .filter_map(|(h, a)| {
            let sd = (scale(band.upper[h]) - scale(band.lower[h])) / (2.0 * z);
            let e = scale(*a) - scale(p.point[h]);
            (sd > 0.0 && e.is_finite()).then(|| e / sd)
        })
        .collect()
}

/// The mean absolute error over the in-sample mean absolute error of the seasonal naive
/// forecast (Hyndman and Koehler's MASE); a history the naive forecast fits exactly scales
/// by 1 (the plain mean absolute error), which keeps a constant series' score finite.
pub fn scaled_error(train: &[f64], actual: &[f64], predicted: &[f64], period: usize) -> f64 {
    let m = period.max(1).min(train.len().saturating_sub(1)).max(1);
    let diffs: Vec<f64> = (m..train.len())
        .map(|t| (train[t] - train[t - m]).abs())
        .collect();
    let scale = if diffs.is_empty() {
        0.0
    } else {
        diffs.iter().sum::<f64>() / diffs.len() as f64
    };
    let mae = mean_abs(actual, predicted);
    if scale > 0.0 { mae / scale } else { mae }
}

/// sMAPE in percent: |a − f| over (|a| + |f|) / 2, a pair of zeros counting as no error.
pub fn symmetric_percentage_error(actual: &[f64], predicted: &[f64]) -> f64 {
    let terms: Vec<f64> = actual
        .iter()
        .zip(predicted)
        .map(|(a, f)| {
            let denom = (a.abs() + f.abs()) / 2.0;
            if denom == 0.0 {
                0.0
            } else {
                (a - f).abs() / denom
            }
        })
        .collect();
    100.0 * terms.iter().sum::<f64>() / terms.len().max(1) as f64
}

fn mean_abs(actual: &[f64], predicted: &[f64]) -> f64 {
    actual
        .iter()
        .zip(predicted)
        .map(|(a, f)| (a - f).abs())
        .sum::<f64>()
        / actual.len().max(1) as f64
}

/// The best-scored candidate, the first of equals (the simplest).
pub fn best<'a>(
    candidates: &'a [Candidate],
    scores: &[Score],
) -> Result<&'a Candidate, InsightError> {
    candidates
        .iter()
        .zip(scores)
        .filter_map(|(c, s)| s.mase.map(|m| (c, m)))
        .fold(None, |best: Option<(&Candidate, f64)>, (c, m)| match best {
            Some((_, b)) if b <= m => best,
            _ => Some((c, m)),
        })
        .map(|(c, _)| c)
        .ok_or(InsightError::NoModel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seasonal_series_chooses_a_seasonal_model() {
        let history: Vec<f64> = (0..120)
            .map(|i| {
                100.0 + [0.0, 8.0, 15.0, 9.0, 1.0, -20.0, -25.0][i % 7] + ((i * 13) % 5) as f64
            })
            .collect();
        let cands = candidates(history.len(), &[7], true);
        let scores = backtest(&history, 14, 7, &cands);
        let chosen = best(&cands, &scores).unwrap();
        assert!(
            matches!(
                chosen,
                Candidate::SeasonalNaive { period: 7 } | Candidate::Mstl { .. }
            ),
            "{chosen:?} {scores:?}"
        );
    }

    #[test]
    fn the_scale_of_a_constant_series_keeps_its_error_finite() {
        let e = scaled_error(&[5.0; 10], &[5.0, 6.0], &[5.0, 5.0], 1);
        assert_eq!(e, 0.5);
        assert_eq!(symmetric_percentage_error(&[0.0], &[0.0]), 0.0);
    }
}
