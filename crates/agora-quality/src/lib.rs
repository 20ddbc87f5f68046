//! Data quality for Agora: the checks that run on every ingest and every event.
//!
//! - [`timeseries`]: window maxima, quantiles, autocorrelation and the [`StreamingDetector`], which judges each
//!   value of a series against the values before it only (no look-ahead). The forecasting
//!   work builds on the same module.
//! - [`rules`]: a contract's ODCS quality rules ([`rules_of`] checks them when the contract is
//!   applied) and their evaluation over an ingest's batches ([`RuleEvaluation`]).
//! - [`corrections`]: suggested corrections (misspelt categories, formats, unit slips, swapped
//!   fields) from what a table's columns hold, each with a confidence and its evidence.
//! - [`replay_series`]: a recorded `timestamp,value` series scored point by point by the same
//!   detector, as `agora quality detect --series` does.
//!
//! ```
//! use agora_quality::{DetectorConfig, StreamingDetector};
//! let mut detector = StreamingDetector::new(DetectorConfig::default());
//! let verdicts: Vec<_> = (0..500)
//!     .map(|i| detector.observe(if i == 400 { 500.0 } else { 10.0 + (i % 7) as f64 }))
//!     .collect();
//! assert!(verdicts[400].is_anomaly);
//! assert_eq!(verdicts.iter().filter(|v| v.is_anomaly).count(), 1);
//! ```

pub mod corrections;
mod error;
pub mod profile;
mod replay;
pub mod row_checks;
pub mod rules;
pub mod timeseries;

pub use corrections::{ColumnSample, ColumnValues, Suggestion, suggest};
pub use error::QualityError;
pub use profile::{BatchMetric, BatchProfile};
pub use replay::{ScoredPoint, replay_series};
pub use row_checks::RowCheck;
pub use rules::{
    QualityRule, RuleEvaluation, RuleOutcome, RuleResult, Severity, frequency_verdict, rules_of,
    sql_verdict,
};
pub use timeseries::{DetectorConfig, MetricJudgement, StreamingDetector, Verdict, judge_metric};
