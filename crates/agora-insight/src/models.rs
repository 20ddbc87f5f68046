//! The candidate models, each fitted to a history and asked for `horizon` values with their
//! prediction intervals.
//!
//! - Seasonal naive (the period's last value again; period 1 is the naive forecast) is
//!   written here: it is one line, and its intervals are the textbook ones (the residual
//!   spread of one season back, widened with the square root of the seasons ahead).
//! - Automatic ETS is `augurs-ets`'s `AutoETS`: error, trend and damping selected by AICc.
//!   That crate has no seasonal ETS forms yet, so a seasonal series is modelled by
//! - MSTL (`augurs-mstl`): the seasons taken out by STL, one or several at once, and the
//!   remaining trend forecast by `AutoETS`; the seasons come back on top. STL's seasons are
//!   additive; for a positive series whose seasonal swing grows with its level (sales, energy
//!   use) the same model fitted to the logarithms (Box–Cox with λ = 0) makes them
//!   multiplicative, which is what augurs' missing multiplicative seasonal ETS would give. Its
//!   forecast and bounds are exponentiated back: the bounds stay quantiles, and the point is the
//!   median.

use augurs_core::{Fit, Forecast, Predict};
use augurs_ets::AutoETS;
use augurs_ets::trend::AutoETSTrendModel;
use augurs_mstl::MSTLModel;

use crate::InsightError;

/// A model to try.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidate {
    /// `period` 1 is the naive forecast.
    SeasonalNaive {
        period: usize,
    },
    AutoEts,
    Mstl {
        periods: Vec<usize>,
        /// Fitted to the logarithms of a positive series.
        log: bool,
    },
}

impl Prediction {
    /// Widens every interval by `factor` around the point, on the scale the model worked on
    /// (`log`: its logarithms, so a positive series keeps positive bounds).
    pub fn widen(&mut self, factor: f64, log: bool) {
        for b in &mut self.bands {
            for (h, p) in self.point.iter().enumerate() {
                for bound in [&mut b.lower[h], &mut b.upper[h]] {
                    *bound = match log {
                        true => p * (*bound / p).powf(factor),
                        false => p + (*bound - p) * factor,
                    };
                }
            }
        }
    }
}

/// Prediction intervals at one level.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    /// The probability the interval holds the value, in percent (80, 95).
    pub level: u32,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// A fitted model's forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The model as fitted, for a person: `ETS(A,Ad,N)`, `MSTL(7, 365) + ETS(A,N,N)`.
    pub model: String,
    pub point: Vec<f64>,
    pub bands: Vec<Band>,
}

impl Candidate {
    /// The fewest values this candidate can be fitted to.
    pub fn needs(&self) -> usize {
        match self {
            Candidate::SeasonalNaive { period } => period + 1,
            Candidate::AutoEts => 4,
            // STL needs two full cycles of the longest season.
            Candidate::Mstl { periods, .. } => 2 * periods.iter().max().copied().unwrap_or(1) + 1,
        }
    }

    /// Whether the candidate models the logarithms of the series.
    pub fn models_logarithms(&self) -> bool {
        matches!(self, Candidate::Mstl { log: true, .. })
    }

    pub fn name(&self) -> String {
        match self {
            Candidate::SeasonalNaive { period: 1 } => "naive".to_string(),
            Candidate::SeasonalNaive { period } => format!("seasonal naive (period {period})"),
            Candidate::AutoEts => "ETS".to_string(),
            Candidate::Mstl {
                periods,
                log: false,
            } => format!("MSTL({}) + ETS", join(periods)),
            Candidate::Mstl { periods, log: true } => {
                format!("MSTL({}) + ETS of the logarithm", join(periods))
            }
        }
    }

    /// Fits the candidate to `history` and forecasts `horizon` values with intervals at
    /// each of `levels` (percent). A forecast that is not finite everywhere is an error,
    /// never an output.
    pub fn forecast(
        &self,
        history: &[f64],
        horizon: usize,
        levels: &[u32],
    ) -> Result<Prediction, InsightError> {
        if history.len() < self.needs() {
            return Err(self.failed(format!(
                "needs at least {} values, the history has {}",
                self.needs(),
                history.len()
            )));
        }
        let prediction = match self {
            Candidate::SeasonalNaive { period } => {
                seasonal_naive(history, *period, horizon, levels, self.name())
            }
            Candidate::AutoEts => {
                let fitted = AutoETS::non_seasonal()
                    .fit(history)
                    .map_err(|e| self.failed(e.to_string()))?;
                let t = fitted.model().model_type();
                let model = format!("ETS({},{},{})", t.error, t.trend, t.season);
                augurs_prediction(&fitted, horizon, levels, model).map_err(|e| self.failed(e))?
            }
            Candidate::Mstl { periods, log } => {
                let trend = AutoETSTrendModel::from(AutoETS::non_seasonal());
                let logs: Vec<f64>;
                let values = match log {
                    false => history,
                    true => {
                        if history.iter().any(|v| *v <= 0.0) {
                            return Err(self.failed("its logarithm needs positive values".into()));
                        }
                        logs = history.iter().map(|v| v.ln()).collect();
                        &logs
                    }
                };
                let fitted = MSTLModel::new(periods.clone(), trend)
                    .fit(values)
                    .map_err(|e| self.failed(e.to_string()))?;
                let mut p = augurs_prediction(&fitted, horizon, levels, self.name())
                    .map_err(|e| self.failed(e))?;
                if *log {
                    let exp = |v: &mut Vec<f64>| v.iter_mut().for_each(|x| *x = x.exp());
                    exp(&mut p.point);
                    for b in &mut p.bands {
                        exp(&mut b.lower);
                        exp(&mut b.upper);
                    }
                }
                p
            }
        };
        let finite = prediction.point.iter().all(|v| v.is_finite())
            && prediction
                .bands
                .iter()
                .all(|b| b.lower.iter().chain(&b.upper).all(|v| v.is_finite()));
        if !finite {
            return Err(self.failed("its forecast is not a finite number everywhere".into()));
        }
        Ok(prediction)
    }

    fn failed(&self, why: String) -> InsightError {
        InsightError::ModelFailed {
            model: self.name(),
            why,
        }
    }
}

fn join(periods: &[usize]) -> String {
    periods
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The two-sided normal quantile for an interval holding `level` percent.
pub(crate) fn z_of(level: u32) -> f64 {
    distrs::Normal::ppf(0.5 + level as f64 / 200.0, 0.0, 1.0)
}

fn seasonal_naive(
    history: &[f64],
    period: usize,
    horizon: usize,
    levels: &[u32],
    model: String,
) -> Prediction {
    let n = history.len();
    let point: Vec<f64> = (0..horizon)
        .map(|h| history[n - period + h % period])
        .collect();
    let residuals: Vec<f64> = (period..n)
        .map(|t| history[t] - history[t - period])
        .collect();
    let sigma = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
    let bands = levels
        .iter()
        .map(|level| {
            let z = z_of(*level);
            let reach: Vec<f64> = (0..horizon)
                .map(|h| z * sigma * ((h / period) as f64 + 1.0).sqrt())
                .collect();
            Band {
                level: *level,
                lower: point.iter().zip(&reach).map(|(p, r)| p - r).collect(),
                upper: point.iter().zip(&reach).map(|(p, r)| p + r).collect(),
            }
        })
        .collect();
    Prediction {
        model,
        point,
        bands,
    }
}

fn augurs_prediction<P: Predict>(
    fitted: &P,
    horizon: usize,
    levels: &[u32],
    model: String,
) -> Result<Prediction, String> {
    let mut point = Vec::new();
    let mut bands = Vec::with_capacity(levels.len());
    for level in levels {
        let Forecast {
            point: p,
            intervals,
        } = fitted
            .predict(horizon, *level as f64 / 100.0)
            .map_err(|e| e.to_string())?;
        let intervals = intervals.ok_or("the model gave no prediction intervals")?;
        point = p;
        bands.push(Band {
            level: *level,
            lower: intervals.lower,
            upper: intervals.upper,
        });
    }
    if levels.is_empty() {
        point = fitted
            .predict(horizon, None)
            .map_err(|e| e.to_string())?
            .point;
    }
    Ok(Prediction {
        model,
        point,
        bands,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_naive_repeats_the_last_season_and_widens_with_each_season_ahead() {
        let history: Vec<f64> = (0..21)
            .map(|i| [1.0, 5.0, 3.0][i % 3] + (i / 3) as f64)
            .collect();
        let p = Candidate::SeasonalNaive { period: 3 }
            .forecast(&history, 6, &[95])
            .unwrap();
        assert_eq!(p.point, vec![7.0, 11.0, 9.0, 7.0, 11.0, 9.0]);
        let width = |h: usize| p.bands[0].upper[h] - p.bands[0].lower[h];
        assert!((width(3) / width(0) - 2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn ets_follows_a_trend_and_its_95_band_holds_its_80_band() {
        let history: Vec<f64> = (0..60)
            .map(|i| 10.0 + 2.0 * i as f64 + ((i * 7) % 5) as f64)
            .collect();
        let p = Candidate::AutoEts
            .forecast(&history, 10, &[80, 95])
            .unwrap();
        assert!(p.model.starts_with("ETS("), "{}", p.model);
        assert!(p.point[9] > history[59], "{:?}", p.point);
        for h in 0..10 {
            assert!(p.bands[1].lower[h] <= p.bands[0].lower[h]);
            assert!(p.bands[0].upper[h] <= p.bands[1].upper[h]);
        }
    }

    #[test]
    fn too_little_history_is_named_not_fitted() {
        let err = Candidate::Mstl {
            periods: vec![7],
            log: false,
        }
        .forecast(&[1.0; 10], 3, &[95])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "MSTL(7) + ETS cannot forecast this series: needs at least 15 values, the history has 10"
        );
    }
}
