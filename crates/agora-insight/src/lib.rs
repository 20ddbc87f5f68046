//! Forecasts of a data product's metrics, with honest uncertainty.
//!
//! - [`Every`]: calendar-aware intervals (`1h`, `1d`, `1w`, `1mo`, `1q`, `1y`).
//! - [`RegularSeries`]: one value per period, gaps filled explicitly and counted.
//! - [`Candidate`]: the models (seasonal naive, automatic ETS, MSTL with an ETS trend; the
//!   numerics are the `augurs` crates', see `models.rs` for what they lack).
//! - [`select`]: rolling-origin cross-validation that picks the model.
//! - [`forecast`]: all of it for one series: seasons detected, candidates backtested, the best
//!   refitted on the whole history, its forecast with intervals ([`fit`] without a calendar).
//! - [`predict_breach`]: how many checks ahead a quality metric breaks its rule.
//!
//! The time-series machinery shared with the quality checks (quantiles, the streaming
//! detector) is `agora_quality::timeseries`; this crate adds what forecasting needs on top.
//!
//! ```
//! use agora_insight::{Every, RegularSeries, forecast};
//! let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
//! let points: Vec<_> = (0..90)
//!     .map(|d| (start + chrono::Duration::days(d), Some(100.0 + [0.0, 5.0, 9.0, 4.0, 2.0, -30.0, -25.0][d as usize % 7])))
//!     .collect();
//! let series = RegularSeries::from_points(Every::Days(1), &points).unwrap();
//! let report = forecast(&series, 14, &[80, 95]).unwrap();
//! assert_eq!(report.rows.len(), 14);
//! assert!(report.seasons.contains(&7));
//! ```

mod breach;
mod every;
pub mod models;
pub mod select;
mod series;

use agora_quality::timeseries::autocorrelation;
use augurs_seasons::{Detector, PeriodogramDetector};
use chrono::NaiveDateTime;
use thiserror::Error;

pub use breach::{BREACH_LEVEL, BreachForecast, MIN_CHECKS, predict_breach};
pub use every::Every;
pub use models::{Band, Candidate, Prediction};
pub use series::{MAX_PERIODS, RegularSeries};

/// The fewest periods the periodogram is asked about.
const MIN_FOR_SEASONS: usize = 16;

/// How closely a series' differences must follow themselves one season back for the season
/// to be modelled.
const SEASON_CORRELATION: f64 = 0.3;

/// The most periods a forecast may reach ahead.
pub const MAX_HORIZON: usize = 10_000;

/// What went wrong in a forecast, naming what.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum InsightError {
    #[error("`--every {text}`: {why}")]
    BadInterval { text: String, why: String },
    #[error("{0}")]
    BadValue(String),
    #[error("the horizon must be between 1 and {MAX_HORIZON} periods, not {0}")]
    BadHorizon(usize),
    #[error("a prediction level must be a percentage between 1 and 99, not {0}")]
    BadLevel(String),
    #[error("the series has {periods} period(s) with data; a forecast needs at least {needed}")]
    TooShort { periods: usize, needed: usize },
    #[error("the series spans more than {limit} periods of {every}: choose a longer --every")]
    TooLong { every: Every, limit: usize },
    #[error("{model} cannot forecast this series: {why}")]
    ModelFailed { model: String, why: String },
    #[error("no model could be fitted to this series")]
    NoModel,
}

/// The levels of `--level 80,95`.
pub fn parse_levels(text: &str) -> Result<Vec<u32>, InsightError> {
    let levels = text
        .split(',')
        .map(|part| {
            part.trim()
                .parse()
                .map_err(|_| InsightError::BadLevel(part.trim().to_string()))
        })
        .collect::<Result<Vec<u32>, _>>()?;
    check_levels(levels)
}

/// Prediction levels in percent, each between 1 and 99, sorted, each once.
pub fn check_levels(mut levels: Vec<u32>) -> Result<Vec<u32>, InsightError> {
    if let Some(bad) = levels.iter().find(|l| !(1..=99).contains(*l)) {
        return Err(InsightError::BadLevel(bad.to_string()));
    }
    levels.sort_unstable();
    levels.dedup();
    Ok(levels)
}

/// One future period.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastRow {
    pub ts: NaiveDateTime,
    pub forecast: f64,
    /// (level, lower, upper), in the order of the levels asked for.
    pub bands: Vec<(u32, f64, f64)>,
}

impl ForecastRow {
    /// The period's start as every output writes it: `2024-05-20 00:00:00`.
    pub fn ts_text(&self) -> String {
        self.ts.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// A series' forecast and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastReport {
    /// The chosen model as fitted (`ETS(A,Ad,N)`, `seasonal naive (period 7)`).
    pub model: String,
    /// Its backtest: mean absolute scaled error and sMAPE over the folds.
    pub backtest_mase: Option<f64>,
    pub backtest_smape: Option<f64>,
    /// Every candidate's backtest, chosen or not.
    pub scores: Vec<select::Score>,
    /// The seasonal periods found, in periods.
    pub seasons: Vec<usize>,
    /// How many periods of the history were filled.
    pub filled: usize,
    /// Fallbacks taken, for a person: empty when the forecast is the backtest's choice.
    pub notes: Vec<String>,
    pub history: Vec<(NaiveDateTime, f64)>,
    pub rows: Vec<ForecastRow>,
}

/// Forecasts `series` `horizon` periods ahead with intervals at `levels` (percent).
pub fn forecast(
    series: &RegularSeries,
    horizon: usize,
    levels: &[u32],
) -> Result<ForecastReport, InsightError> {
    let mut fitted = fit(
        &series.values,
        &series.every.calendar_seasons(),
        horizon,
        levels,
    )?;
    if series.filled > 0 {
        fitted.notes.insert(
            0,
            format!(
                "{} of {} periods had no data and were filled by straight lines between their neighbours",
                series.filled,
                series.values.len()
            ),
        );
    }
    let y = &series.values;
    let prediction = &fitted.prediction;
    let rows = (0..horizon)
        .map(|h| ForecastRow {
            ts: series.period(y.len() + h),
            forecast: prediction.point[h],
            bands: prediction
                .bands
                .iter()
                .map(|b| (b.level, b.lower[h], b.upper[h]))
                .collect(),
        })
        .collect();
    Ok(ForecastReport {
        model: fitted.prediction.model,
        backtest_mase: fitted.backtest_mase,
        backtest_smape: fitted.backtest_smape,
        scores: fitted.scores,
        seasons: fitted.seasons,
        filled: series.filled,
        notes: fitted.notes,
        history: y
            .iter()
            .enumerate()
            .map(|(i, v)| (series.period(i), *v))
            .collect(),
        rows,
    })
}

/// A model chosen and fitted to values one step apart, and its forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub prediction: Prediction,
    /// The chosen model's backtest (none when no model could be backtested).
    pub backtest_mase: Option<f64>,
    pub backtest_smape: Option<f64>,
    pub scores: Vec<select::Score>,
    pub seasons: Vec<usize>,
    /// Fallbacks taken, for a person.
    pub notes: Vec<String>,
}

/// Fits the values `y` (one per step, oldest first): seasons among `proposed` (the calendar's)
/// and the periodogram's, candidates backtested, the best refitted on all of `y` and forecast
/// `horizon` steps ahead with intervals at `levels` (percent). Series with no calendar (one
/// value per quality check) propose no season of their own.
pub fn fit(
    y: &[f64],
    proposed: &[usize],
    horizon: usize,
    levels: &[u32],
) -> Result<Fit, InsightError> {
    if horizon == 0 || horizon > MAX_HORIZON {
        return Err(InsightError::BadHorizon(horizon));
    }
    if y.len() < 2 {
        return Err(InsightError::TooShort {
            periods: y.len(),
            needed: 2,
        });
    }
    if let Some(bad) = y.iter().find(|v| !v.is_finite()) {
        return Err(InsightError::BadValue(format!(
            "the series holds {bad}, not a finite number"
        )));
    }
    let mut notes = Vec::new();
    let constant = y.iter().all(|v| *v == y[0]);
    let seasons = if constant {
        Vec::new()
    } else {
        seasons_of(y, proposed)
    };
    let candidates = select::candidates(y.len(), &seasons, y.iter().all(|v| *v > 0.0));
    let scores = if constant {
        Vec::new()
    } else {
        select::backtest(
            y,
            horizon,
            seasons.first().copied().unwrap_or(1),
            &candidates,
        )
    };
    let chosen = if constant {
        notes.push("the series is constant: its forecast is that value, with no spread".into());
        Candidate::SeasonalNaive { period: 1 }
    } else {
        match select::best(&candidates, &scores) {
            Ok(c) => c.clone(),
            Err(_) => {
                notes.push(format!(
                    "too little history ({} periods) to backtest any model: the naive forecast (the last value) is used",
                    y.len()
                ));
                Candidate::SeasonalNaive { period: 1 }
            }
        }
    };
    let score = scores.iter().find(|s| s.candidate == chosen.name());
    let prediction = match chosen.forecast(y, horizon, levels) {
        Ok(mut p) => {
            // The model's own intervals assume it is the true one; its backtest errors say
            // how far off it was on this series. Intervals the folds overran are widened by
            // as much (never narrowed: three folds are too few to trust a narrowing).
            if let Some(spread) = score.and_then(|s| s.spread).filter(|s| *s > 1.0) {
                p.widen(spread, chosen.models_logarithms());
            }
            p
        }
        Err(e) => {
            // The whole history can fail where the folds did not (an optimiser that does
            // not converge): say so and fall back to the simplest model.
            notes.push(format!("{e}: the naive forecast (the last value) is used"));
            Candidate::SeasonalNaive { period: 1 }.forecast(y, horizon, levels)?
        }
    };
    Ok(Fit {
        backtest_mase: score.and_then(|s| s.mase),
        backtest_smape: score.and_then(|s| s.smape),
        prediction,
        scores,
        seasons,
        notes,
    })
}

/// The seasonal periods worth trying: the periods the calendar suggests for the interval and
/// those augurs' periodogram proposes, kept when the series' differences correlate with
/// themselves one period back (the periodogram alone is coarse on short series: on 90 days
/// of a clean weekly pattern it proposes 6, on 400 days 126); at most two, strongest first
/// chosen, returned shortest first, each with two full cycles of history.
fn seasons_of(values: &[f64], calendar: &[usize]) -> Vec<usize> {
    let n = values.len();
    let differences: Vec<f64> = values.windows(2).map(|w| w[1] - w[0]).collect();
    let mut proposed = calendar.to_vec();
    // augurs-seasons' Welch periodogram underflows (panics) on a series too short for two
    // segments of two values; nothing seasonal can be told from so few anyway.
    if n >= MIN_FOR_SEASONS {
        proposed.extend(
            PeriodogramDetector::default()
                .detect(values)
                .into_iter()
                .map(|p| p as usize),
        );
    }
    let mut strong: Vec<(usize, f64)> = Vec::new();
    for p in proposed {
        if p < 2 || 2 * p >= n || strong.iter().any(|(q, _)| *q == p) {
            continue;
        }
        if let Some(r) = autocorrelation(&differences, p)
            && r >= SEASON_CORRELATION
        {
            strong.push((p, r));
        }
    }
    strong.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut seasons: Vec<usize> = strong.into_iter().take(2).map(|(p, _)| p).collect();
    seasons.sort_unstable();
    seasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(values: &[f64]) -> RegularSeries {
        let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let points: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (start + chrono::Duration::days(i as i64), Some(*v)))
            .collect();
        RegularSeries::from_points(Every::Days(1), &points).unwrap()
    }

    #[test]
    fn a_constant_series_is_forecast_as_itself_and_says_so() {
        let report = forecast(&daily(&[4.0; 30]), 5, &[80, 95]).unwrap();
        assert!(report.rows.iter().all(|r| r.forecast == 4.0));
        assert!(
            report
                .rows
                .iter()
                .all(|r| r.bands.iter().all(|b| b.1 == 4.0 && b.2 == 4.0))
        );
        assert!(
            report.notes.iter().any(|n| n.contains("constant")),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn two_values_are_forecast_naively_and_the_fallback_is_named() {
        let report = forecast(&daily(&[3.0, 5.0]), 3, &[95]).unwrap();
        assert_eq!(report.model, "naive");
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("too little history")),
            "{:?}",
            report.notes
        );
        assert!(
            report
                .rows
                .iter()
                .all(|r| r.forecast == 5.0 && r.bands[0].2.is_finite())
        );
    }

    #[test]
    fn a_horizon_of_zero_or_absurd_size_and_bad_levels_are_refused() {
        let s = daily(&[1.0, 2.0, 3.0]);
        assert_eq!(forecast(&s, 0, &[95]), Err(InsightError::BadHorizon(0)));
        assert_eq!(
            forecast(&s, 10_001, &[95]),
            Err(InsightError::BadHorizon(10_001))
        );
        assert_eq!(parse_levels("95,80,95").unwrap(), vec![80, 95]);
        for bad in ["", "0", "100", "ninety", "80,"] {
            assert!(parse_levels(bad).is_err(), "{bad}");
        }
    }
}
