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
    /// Why the candidate was not scored.
    pub error: Option<String>,
}

/// The candidates for a series of `n` values with seasonal `periods` (longest last not
/// required), simplest first: ties go to the simpler model.
pub fn candidates(n: usize, periods: &[usize]) -> Vec<Candidate> {
    let mut out = vec![Candidate::SeasonalNaive { period: 1 }];
    if let Some(first) = periods.first() {
        out.push(Candidate::SeasonalNaive { period: *first });
    }
    out.push(Candidate::AutoEts);
    for p in periods {
        out.push(Candidate::Mstl { periods: vec![*p] });
    }
    if periods.len() > 1 {
        out.push(Candidate::Mstl {
            periods: periods.to_vec(),
        });
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
                    error: Some(format!(
                        "too little history to backtest ({n} values, {step} ahead)"
                    )),
                };
            }
            let mut mase = 0.0;
            let mut smape = 0.0;
            for origin in &origins {
                let train = &history[..*origin];
                let actual = &history[*origin..(*origin + step).min(n)];
                let predicted = match candidate.forecast(train, actual.len(), &[]) {
                    Ok(Prediction { point, .. }) => point,
                    Err(e) => {
                        return Score {
                            candidate: candidate.name(),
                            mase: None,
                            smape: None,
                            error: Some(e.to_string()),
                        };
                    }
                };
                mase += scaled_error(train, actual, &predicted, scale_period);
                smape += symmetric_percentage_error(actual, &predicted);
            }
            Score {
                candidate: candidate.name(),
                mase: Some(mase / origins.len() as f64),
                smape: Some(smape / origins.len() as f64),
                error: None,
            }
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
        let cands = candidates(history.len(), &[7]);
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
